"""Charts of one plan: cost by supplier and technology, organisations against budget,
and one-off against recurring spend over the term."""

from __future__ import annotations

import altair as alt
import pandas as pd

from procurement.charts import money_axis, money_tooltip
from procurement.plan import Plan

#: Components of a supplier's cost, in stacking order.
FEES = "supplier fees"
ONE_OFF = "one-off charges"
RECURRING = "recurring (after discount)"
BASELINE = "today's spend"


# --------------------------------------------------------------------------- cost by supplier


def supplier_cost_frame(plan: Plan) -> pd.DataFrame:
    """Cost per supplier and technology over the term, with each supplier's fees as a row.

    ``cost`` is the links' one-off plus discounted recurring charges; fees
    (onboarding and annual management over the term) are their own
    ``technology`` row, ``supplier fees``, so the rows add up to the plan total.
    """
    rows: dict[tuple[str, str], float] = {}
    for site in plan.sites:
        for link in site.links:
            key = (link.supplier_id, link.technology)
            rows[key] = rows.get(key, 0.0) + link.one_off + link.recurring
    for line in plan.suppliers:
        if line.fees:
            key = (line.supplier_id, FEES)
            rows[key] = rows.get(key, 0.0) + line.fees
    return pd.DataFrame(
        [{"supplier_id": s, "technology": t, "cost": c} for (s, t), c in sorted(rows.items())],
        columns=["supplier_id", "technology", "cost"],
    )


def cost_by_supplier_chart(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars, one per supplier (largest first), stacked by technology and fees."""
    order = (
        frame.groupby("supplier_id")["cost"].sum().sort_values(ascending=False).index.tolist()
        if not frame.empty
        else []
    )
    return (
        alt.Chart(frame, title="Cost over the term by supplier and technology")
        .mark_bar()
        .encode(
            y=alt.Y("supplier_id:N", title="Supplier", sort=order),
            x=alt.X("sum(cost):Q", axis=money_axis("Cost over the term")),
            color=alt.Color("technology:N", title="Technology"),
            tooltip=[
                alt.Tooltip("supplier_id:N", title="Supplier"),
                alt.Tooltip("technology:N", title="Technology"),
                money_tooltip("cost", "Cost"),
            ],
        )
    )


# --------------------------------------------------------------------------- organisations


def organisation_cost_frame(plan: Plan) -> pd.DataFrame:
    """Each organisation's cost (attributed on collaborative) and budget, if any."""
    return pd.DataFrame(
        [
            {
                "organisation": o.organisation,
                "name": o.name or o.organisation,
                "cost": o.cost,
                "budget": o.budget,
                "over_budget": o.budget is not None and o.cost > o.budget + 0.01,
                "against_budget": (
                    "no budget" if o.budget is None
                    else "over budget" if o.cost > o.budget + 0.01
                    else "within budget"
                ),
            }
            for o in plan.organisations
        ],
        columns=["organisation", "name", "cost", "budget", "over_budget", "against_budget"],
    )


def organisation_budget_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """A bar per organisation's cost with a black tick at its budget (where it has one)."""
    base = alt.Chart(frame, title="Cost per organisation against its budget")
    y = alt.Y("organisation:N", title="Organisation", sort="-x")
    bars = base.mark_bar().encode(
        y=y,
        x=alt.X("cost:Q", axis=money_axis("Cost over the term")),
        color=alt.Color(
            "against_budget:N",
            title="Budget",
            scale=alt.Scale(
                domain=["within budget", "over budget", "no budget"],
                range=["#005eb8", "#d5281b", "#768692"],
            ),
        ),
        tooltip=[
            alt.Tooltip("name:N", title="Organisation"),
            money_tooltip("cost", "Cost"),
            money_tooltip("budget", "Budget"),
        ],
    )
    ticks = (
        base.transform_filter("isValid(datum.budget)")
        .mark_tick(color="black", thickness=3, size=24)
        .encode(
            y=y,
            x=alt.X("budget:Q"),
            tooltip=[
                alt.Tooltip("name:N", title="Organisation"),
                money_tooltip("budget", "Budget"),
            ],
        )
    )
    return alt.layer(bars, ticks)


# --------------------------------------------------------------------------- over the term


def spend_over_term_frame(plan: Plan) -> pd.DataFrame:
    """Cumulative spend by month: one-off charges at the start, recurring charges and fees
    spread evenly over the term, and today's spend on the sites that report it.

    Columns ``month`` (0..T), ``component`` and ``cumulative``. Fees are shown
    spread evenly, which is how a budget holder accrues them.
    """
    term = max(plan.term_months, 1)
    b = plan.breakdown
    recurring = b.recurring_list - b.discount
    rows = []
    for month in range(term + 1):
        share = month / term
        rows.append({"month": month, "component": ONE_OFF, "cumulative": b.one_off})
        rows.append({"month": month, "component": RECURRING, "cumulative": recurring * share})
        rows.append({"month": month, "component": FEES, "cumulative": b.fees * share})
        if plan.baseline.sites:
            rows.append(
                {"month": month, "component": BASELINE, "cumulative": plan.baseline.cost * share}
            )
    return pd.DataFrame(rows, columns=["month", "component", "cumulative"])


def spend_over_term_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Stacked areas for the plan's one-off, recurring and fee spend; a dashed line for
    today's spend on the same sites."""
    plan_part = frame[frame["component"] != BASELINE]
    base_part = frame[frame["component"] == BASELINE]
    x = alt.X("month:Q", title="Month of the term")
    areas = (
        alt.Chart(plan_part, title="One-off against recurring spend over the term")
        .mark_area(opacity=0.85)
        .encode(
            x=x,
            y=alt.Y("cumulative:Q", stack="zero", axis=money_axis("Cumulative spend")),
            color=alt.Color(
                "component:N",
                title="Spend",
                sort=[ONE_OFF, RECURRING, FEES],
                scale=alt.Scale(domain=[ONE_OFF, RECURRING, FEES, BASELINE],
                                range=["#330072", "#005eb8", "#41b6e6", "#d5281b"]),
            ),
            order=alt.Order("component_order:Q"),
            tooltip=[
                alt.Tooltip("month:Q", title="Month"),
                alt.Tooltip("component:N", title="Spend"),
                money_tooltip("cumulative", "Cumulative"),
            ],
        )
        .transform_calculate(
            component_order=f"indexof(['{ONE_OFF}', '{RECURRING}', '{FEES}'], datum.component)"
        )
    )
    line = (
        alt.Chart(base_part)
        .mark_line(strokeDash=[6, 4], strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("cumulative:Q"),
            color=alt.Color("component:N"),
            tooltip=[
                alt.Tooltip("month:Q", title="Month"),
                alt.Tooltip("component:N", title="Spend"),
                money_tooltip("cumulative", "Cumulative"),
            ],
        )
    )
    return alt.layer(areas, line)
