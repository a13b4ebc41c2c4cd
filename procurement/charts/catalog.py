"""Chart of the catalogue: monthly price against bandwidth, per technology."""

from __future__ import annotations

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip


def price_bandwidth_chart(frame: pd.DataFrame) -> alt.Chart:
    """Each offering's monthly price against its download speed, coloured by technology.

    ``frame`` is :func:`procurement.app_state.offering_frame` (or a filter of
    it). Wi-Fi is priced per access point and has no speed, so it is left out.
    Both axes are logarithmic: speeds run from tens of Mbps to 10 Gbps.
    Offerings whose supplier cannot be used are drawn hollow.
    """
    data = frame[frame["download_mbps"].notna() & (frame["download_mbps"] > 0)].copy()
    data["monthly_cost_plot"] = data["monthly_cost"].clip(lower=1)
    return (
        alt.Chart(data, title="Monthly price against bandwidth, per technology")
        .mark_point(size=70)
        .encode(
            x=alt.X(
                "download_mbps:Q", title="Download (Mbps)", scale=alt.Scale(type="log")
            ),
            y=alt.Y(
                "monthly_cost_plot:Q",
                axis=money_axis("Monthly price"),
                scale=alt.Scale(type="log"),
            ),
            color=alt.Color("technology:N", title="Technology"),
            shape=alt.Shape("technology:N", title="Technology"),
            fill=alt.condition("datum.usable", alt.Color("technology:N"), alt.value("white")),
            tooltip=[
                alt.Tooltip("supplier:N", title="Supplier"),
                alt.Tooltip("name:N", title="Offering"),
                alt.Tooltip("technology:N", title="Technology"),
                alt.Tooltip("download_mbps:Q", title="Download (Mbps)", format=",.0f"),
                money_tooltip("monthly_cost", "Monthly"),
                money_tooltip("install_cost", "Install"),
                alt.Tooltip("availability_pct:Q", title="Availability (%)"),
                alt.Tooltip("usable:N", title="Supplier usable"),
            ],
        )
    )
