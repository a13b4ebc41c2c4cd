"""Chart of a budget sweep: the best quality reachable at each budget."""

from __future__ import annotations

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip


def tradeoff_chart(frame: pd.DataFrame, *, per_site: bool = False) -> alt.LayerChart:
    """Best total quality (or average per served site) against the budget, as steps.

    ``frame`` is :attr:`procurement.app_state.SweepResult.frame`: ``budget``,
    ``quality``, ``quality_per_site``, ``total_cost``, ``served``, ``suppliers``.
    Budgets where no plan fits have no point.
    """
    field = "quality_per_site" if per_site else "quality"
    title = "Average quality score per site" if per_site else "Total quality (sum of scores)"
    data = frame[frame[field].notna()] if field in frame else frame
    base = alt.Chart(data, title="What more money buys: best quality at each budget")
    x = alt.X("budget:Q", axis=money_axis("Budget for the whole term"), scale=alt.Scale(zero=False))
    y = alt.Y(f"{field}:Q", title=title, scale=alt.Scale(zero=False))
    tooltip = [
        money_tooltip("budget", "Budget"),
        alt.Tooltip(f"{field}:Q", title=title, format=",.1f"),
        money_tooltip("total_cost", "Plan cost"),
        alt.Tooltip("served:Q", title="Sites served"),
        alt.Tooltip("suppliers:N", title="Suppliers"),
    ]
    line = base.mark_line(interpolate="step-after", color="#005eb8").encode(x=x, y=y)
    points = base.mark_point(filled=True, size=80, color="#005eb8").encode(
        x=x, y=y, tooltip=tooltip
    )
    return alt.layer(line, points)
