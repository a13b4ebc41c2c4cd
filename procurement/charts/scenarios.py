"""Chart of saved scenarios side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip


def scenario_comparison_chart(frame: pd.DataFrame) -> alt.Chart:
    """A bar per saved scenario's total over the term, coloured by route.

    ``frame`` is :func:`procurement.app_state.saved_comparison_frame`.
    Scenarios with no plan (infeasible) have no bar.
    """
    data = frame[frame["total_cost"].notna()] if "total_cost" in frame else frame
    return (
        alt.Chart(data, title="Saved scenarios: total over the term")
        .mark_bar()
        .encode(
            y=alt.Y("scenario:N", title="Scenario", sort=list(data["scenario"])),
            x=alt.X("total_cost:Q", axis=money_axis("Total over the term")),
            color=alt.Color("route:N", title="Route"),
            tooltip=[
                alt.Tooltip("scenario:N", title="Scenario"),
                alt.Tooltip("route:N", title="Route"),
                alt.Tooltip("status:N", title="Status"),
                money_tooltip("total_cost", "Total"),
                money_tooltip("per_site_per_month", "Per site per month"),
                money_tooltip("saving", "Saving against today"),
                alt.Tooltip("suppliers_used:Q", title="Suppliers"),
            ],
        )
    )
