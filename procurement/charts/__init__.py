"""Altair charts for the app: pure functions from tables to ``alt.Chart``.

Each chart builder takes a pandas DataFrame (made by a ``*_frame`` helper in
the same module from a plan, comparison or catalogue) and returns an Altair
chart; nothing here draws on screen, so tests check ``chart.to_dict()``.
Money axes read ``£1,234``.
"""

from __future__ import annotations

import altair as alt

#: Vega expression that shows an axis value as pounds with thousands separators.
MONEY_LABEL_EXPR = "'£' + format(datum.value, ',.0f')"


def money_axis(title: str) -> alt.Axis:
    """An axis whose labels read ``£1,234``."""
    return alt.Axis(title=title, labelExpr=MONEY_LABEL_EXPR)


def money_tooltip(field: str, title: str) -> alt.Tooltip:
    """A tooltip showing ``field`` as a whole number of pounds."""
    return alt.Tooltip(f"{field}:Q", title=f"{title} (£)", format=",.0f")


from procurement.charts.catalog import price_bandwidth_chart  # noqa: E402
from procurement.charts.plan import (  # noqa: E402
    cost_by_supplier_chart,
    organisation_budget_chart,
    spend_over_term_chart,
)
from procurement.charts.routes import allocation_chart, route_totals_chart  # noqa: E402
from procurement.charts.scenarios import scenario_comparison_chart  # noqa: E402
from procurement.charts.tradeoff import tradeoff_chart  # noqa: E402

__all__ = [
    "MONEY_LABEL_EXPR",
    "allocation_chart",
    "cost_by_supplier_chart",
    "money_axis",
    "money_tooltip",
    "organisation_budget_chart",
    "price_bandwidth_chart",
    "route_totals_chart",
    "scenario_comparison_chart",
    "spend_over_term_chart",
    "tradeoff_chart",
]
