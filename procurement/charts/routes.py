"""Charts of a route comparison: the three totals, and each organisation's share."""

from __future__ import annotations

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip

ROUTE_ORDER = ["solo", "collaborative", "central"]


def route_totals_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """A bar per route's total over the term, labelled, solo first.

    ``frame`` has ``route``, ``total_cost`` and ``saving_vs_solo`` (as made by
    :func:`procurement.app_state.routes_frame`); a route with no plan has no bar.
    """
    data = frame[frame["total_cost"].notna()] if "total_cost" in frame else frame
    base = alt.Chart(data, title="Total over the term on each route")
    x = alt.X("route:N", title="Route", sort=ROUTE_ORDER, axis=alt.Axis(labelAngle=0))
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("total_cost:Q", axis=money_axis("Total over the term")),
        color=alt.Color("route:N", sort=ROUTE_ORDER, legend=None),
        tooltip=[
            alt.Tooltip("route:N", title="Route"),
            money_tooltip("total_cost", "Total"),
            money_tooltip("saving_vs_solo", "Saving against solo"),
        ],
    )
    labels = (
        base.mark_text(dy=-8)
        .encode(x=x, y=alt.Y("total_cost:Q"), text=alt.Text("label:N"))
        .transform_calculate(label="'£' + format(datum.total_cost, ',.0f')")
    )
    return alt.layer(bars, labels)


def allocation_long_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The allocation table as one row per organisation and measure (solo, allocated)."""
    measures = {"solo_cost": "buying alone (solo)", "allocated_cost": "share of the consortium"}
    rows = []
    for _, r in frame.iterrows():
        for column, words in measures.items():
            rows.append(
                {"organisation": r["organisation"], "measure": words, "cost": r[column],
                 "saving": r.get("saving")}
            )
    return pd.DataFrame(rows, columns=["organisation", "measure", "cost", "saving"])


def allocation_chart(frame: pd.DataFrame) -> alt.Chart:
    """Each organisation's solo cost beside its share of the collaborative total."""
    data = allocation_long_frame(frame)
    return (
        alt.Chart(data, title="Each organisation's share against buying alone")
        .mark_bar()
        .encode(
            y=alt.Y("organisation:N", title="Organisation"),
            yOffset=alt.YOffset("measure:N"),
            x=alt.X("cost:Q", axis=money_axis("Cost over the term")),
            color=alt.Color("measure:N", title=""),
            tooltip=[
                alt.Tooltip("organisation:N", title="Organisation"),
                alt.Tooltip("measure:N", title="Measure"),
                money_tooltip("cost", "Cost"),
                money_tooltip("saving", "Saving"),
            ],
        )
    )
