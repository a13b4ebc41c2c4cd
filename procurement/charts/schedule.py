"""Charts of a transition schedule: installs per supplier (Gantt) and monthly spend.

Pure functions from the tables of :meth:`procurement.schedule.Schedule.to_frames`
to Altair charts; the app renders them with ``st.altair_chart`` and tests
read them through ``chart.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip

__all__ = ["SPEND_COMPONENTS", "gantt_chart", "monthly_spend_chart"]

#: Stacked parts of the monthly spend, bottom to top, with their legend labels.
SPEND_COMPONENTS: dict[str, str] = {
    "baseline": "today's contracts",
    "one_off": "one-off (install)",
    "recurring": "new recurring",
}

Frames = Mapping[str, pd.DataFrame] | pd.DataFrame


def _table(frames: Frames, key: str) -> pd.DataFrame:
    if isinstance(frames, pd.DataFrame):
        return frames
    return frames[key]


def gantt_data(frames: Frames) -> pd.DataFrame:
    """One row per supplier and month with installs: bar ends, labels and use of capacity."""
    capacity = _table(frames, "capacity")
    df = capacity[capacity["installs"] > 0].copy()
    df["start"] = df["month"] - 1
    df["end"] = df["month"]
    cap = pd.to_numeric(df["capacity"], errors="coerce").astype(float)
    df["capacity"] = cap
    df["utilisation"] = (df["installs"] / cap).where(cap > 0)
    df["use"] = [
        "no limit" if pd.isna(c) else ("at capacity" if n >= c else "spare capacity")
        for n, c in zip(df["installs"], cap, strict=True)
    ]
    df["label"] = [
        f"{n}" if pd.isna(c) else f"{n}/{int(c)}" for n, c in zip(df["installs"], cap, strict=True)
    ]
    if "month_end" in df.columns:
        df["month_end"] = df["month_end"].astype(str)
    return df.reset_index(drop=True)


def gantt_chart(frames: Frames, *, horizon_months: int | None = None) -> alt.LayerChart:
    """Installs per supplier by month as a Gantt: one row per supplier, one bar per month.

    ``frames`` is ``Schedule.to_frames()`` (its ``capacity`` table is used) or
    that table itself. Bars are coloured by whether the supplier is at its
    install capacity that month and labelled ``installs/capacity``; a rule
    marks the end of the horizon when ``horizon_months`` is given.
    """
    df = gantt_data(frames)
    months = int(df["end"].max()) if not df.empty else (horizon_months or 1)
    if horizon_months:
        months = max(months, horizon_months)
    x_scale = alt.Scale(domain=[0, months], nice=False)
    base = alt.Chart(df).encode(
        y=alt.Y("supplier_id:N", title="supplier", sort="ascending"),
    )
    bars = base.mark_bar(stroke="white", strokeWidth=1).encode(
        x=alt.X(
            "start:Q",
            title="month (install month m ends 30·m days after the start date)",
            scale=x_scale,
            axis=alt.Axis(tickMinStep=1, format="d"),
        ),
        x2="end:Q",
        color=alt.Color(
            "use:N",
            title="capacity",
            scale=alt.Scale(
                domain=["at capacity", "spare capacity", "no limit"],
                range=["#d62728", "#1f77b4", "#7f7f7f"],
            ),
        ),
        tooltip=[
            alt.Tooltip("supplier_id:N", title="supplier"),
            alt.Tooltip("month:Q", title="month"),
            *(
                [alt.Tooltip("month_end:N", title="month ends")]
                if "month_end" in df.columns
                else []
            ),
            alt.Tooltip("installs:Q", title="installs"),
            alt.Tooltip("capacity:Q", title="capacity"),
            alt.Tooltip("utilisation:Q", title="use of capacity", format=".0%"),
        ],
    )
    labels = (
        base.mark_text(color="white", fontSize=10)
        .encode(x=alt.X("mid:Q", scale=x_scale), text="label:N")
        .transform_calculate(mid="(datum.start + datum.end) / 2")
    )
    layers: list[alt.Chart] = [bars, labels]
    if horizon_months:
        rule = (
            alt.Chart(pd.DataFrame({"horizon": [horizon_months]}))
            .mark_rule(strokeDash=[4, 4], color="black")
            .encode(x=alt.X("horizon:Q", scale=x_scale), tooltip=["horizon:Q"])
        )
        layers.append(rule)
    n_suppliers = max(df["supplier_id"].nunique(), 1) if not df.empty else 1
    return alt.layer(*layers).properties(
        title="Installs per supplier and month", height=max(120, 32 * n_suppliers)
    )


def spend_data(frames: Frames, key: str = "monthly_spend") -> pd.DataFrame:
    """Monthly spend in long form: month, component, amount (plus total for tooltips)."""
    spend = _table(frames, key)
    parts = [c for c in SPEND_COMPONENTS if c in spend.columns]
    keep = ["month", "total", *parts]
    if "month_end" in spend.columns:
        keep.insert(1, "month_end")
    long = spend[keep].melt(
        id_vars=[c for c in keep if c not in parts], var_name="part", value_name="amount"
    )
    long["component"] = long["part"].map(SPEND_COMPONENTS)
    long["order"] = long["part"].map({p: i for i, p in enumerate(SPEND_COMPONENTS)})
    if "month_end" in long.columns:
        long["month_end"] = long["month_end"].astype(str)
    return long


def monthly_spend_chart(
    frames: Frames, *, key: str = "monthly_spend", horizon_months: int | None = None
) -> alt.LayerChart:
    """Cash out per month, stacked: today's contracts, one-off installs, new recurring.

    ``frames`` is ``Schedule.to_frames()`` (``key`` picks ``monthly_spend``, the
    horizon, or ``cash_profile``, the whole term) or one such table. A line
    shows the month's total.
    """
    long = spend_data(frames, key)
    order = list(SPEND_COMPONENTS.values())
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("month:O", title="month"),
            y=alt.Y("sum(amount):Q", axis=money_axis("spend")),
            color=alt.Color(
                "component:N",
                title="",
                sort=order,
                scale=alt.Scale(domain=order, range=["#bab0ac", "#f58518", "#4c78a8"]),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("month:O", title="month"),
                *(
                    [alt.Tooltip("month_end:N", title="month ends")]
                    if "month_end" in long.columns
                    else []
                ),
                alt.Tooltip("component:N"),
                money_tooltip("amount", "amount"),
                money_tooltip("total", "month total"),
            ],
        )
    )
    totals = long.drop_duplicates("month")[["month", "total"]]
    line = (
        alt.Chart(totals)
        .mark_line(point=True, color="black")
        .encode(
            x=alt.X("month:O"),
            y=alt.Y("total:Q"),
            tooltip=[alt.Tooltip("month:O"), money_tooltip("total", "month total")],
        )
    )
    layers: list[alt.Chart] = [bars, line]
    if horizon_months and not long.empty and horizon_months < long["month"].max():
        layers.append(
            alt.Chart(pd.DataFrame({"month": [horizon_months]}))
            .mark_rule(strokeDash=[4, 4], color="black")
            .encode(x="month:O")
        )
    return alt.layer(*layers).properties(title="Monthly spend during the transition")
