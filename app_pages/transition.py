"""Transition page: when each site moves, against supplier install capacity.

UI only: the schedule comes from :mod:`procurement.schedule`, the charts from
:mod:`procurement.charts.schedule`, the downloads from
:mod:`procurement.exports`. The plan is the one in ``st.session_state`` (set
by the planning page); with none there, the sample consortium is planned
here so the page always shows something.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from procurement.charts.schedule import gantt_chart, monthly_spend_chart
from procurement.exports import frames_to_csv, schedule_to_json
from procurement.models import Catalog, Organisation, Scenario, Site
from procurement.plan import Plan
from procurement.schedule import (
    DEFAULT_HORIZON_MONTHS,
    CapacityAwareResult,
    Schedule,
    schedule,
    schedule_to_xlsx,
    solve_with_capacity,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = ROOT / "catalog"
SAMPLE_SITES = ROOT / "examples" / "sites.csv"
SAMPLE_ORGANISATIONS = ROOT / "examples" / "organisations.csv"
SAMPLE_SCENARIO = ROOT / "examples" / "scenario.yaml"

#: Session keys this page reads: plain models that app_pages/_shared.py sets after a solve.
STATE_KEYS = ("plan", "catalog", "sites", "organisations", "scenario")
#: This page's own keys.
PREFIX = "transition_"


@dataclass(frozen=True)
class Inputs:
    catalog: Catalog
    sites: tuple[Site, ...]
    organisations: tuple[Organisation, ...] | None
    scenario: Scenario
    plan: Plan
    source: str


def _state(name: str) -> Any:
    return st.session_state.get(name)


@st.cache_resource(show_spinner=False, max_entries=1)
def _sample_inputs() -> Inputs:
    """The sample consortium, planned once per server (read-only, shared)."""
    from procurement import inputs
    from procurement.optimiser import solve

    catalog = inputs.load_catalog(SAMPLE_CATALOG)
    sites = tuple(inputs.load_sites(SAMPLE_SITES))
    organisations = tuple(inputs.load_organisations(SAMPLE_ORGANISATIONS))
    scenario = inputs.load_scenario(SAMPLE_SCENARIO)
    scenario = scenario.model_copy(update={"time_limit_s": min(scenario.time_limit_s, 30.0)})
    plan = solve(catalog, sites, scenario, organisations)
    return Inputs(catalog, sites, organisations, scenario, plan, "the sample consortium")


def _inputs() -> Inputs | None:
    plan, catalog = _state("plan"), _state("catalog")
    sites, scenario = _state("sites"), _state("scenario")
    if isinstance(plan, Plan) and catalog is not None and sites is not None:
        scenario = scenario or plan.scenario
        if scenario is not None:
            return Inputs(
                catalog=catalog,
                sites=tuple(sites),
                organisations=_state("organisations"),
                scenario=scenario,
                plan=plan,
                source="the plan from the planning page",
            )
    st.info(
        "No plan has been solved in this session yet, so this page schedules the sample "
        "consortium. Solve on the Plan page to schedule your own sites."
    )
    try:
        with st.spinner("Planning the sample consortium..."):
            return _sample_inputs()
    except Exception as exc:  # the page must still explain itself
        st.error(f"No plan in this session, and the sample could not be planned: {exc}")
        return None


def _result(inp: Inputs, horizon: int, capacity_aware: bool) -> tuple[Plan, Schedule, Any]:
    """The schedule (and joint result), kept in the session per plan and settings."""
    key = (id(inp.plan), horizon, capacity_aware)
    cache = st.session_state.setdefault(PREFIX + "cache", {})
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        if capacity_aware:
            with st.spinner("Choosing suppliers with install capacity in the model..."):
                joint: CapacityAwareResult = solve_with_capacity(
                    inp.catalog,
                    inp.sites,
                    inp.scenario,
                    inp.organisations,
                    horizon,
                    base_plan=inp.plan,
                )
            cache[key] = (joint.plan, joint.schedule, joint)
        else:
            with st.spinner("Scheduling installs..."):
                result = schedule(inp.plan, inp.catalog, inp.sites, inp.scenario, horizon)
            cache[key] = (inp.plan, result, None)
    return cache[key]


def _gbp(value: float | None) -> str:
    return "-" if value is None else f"£{value:,.0f}"


def render() -> None:
    st.title("Transition schedule")
    st.caption(
        "Every served site gets an install month: lead times met, go-live dates met, each "
        "supplier within its installs per month. Higher-priority sites, then those whose "
        "current contracts cost most, go first. Month m ends 30·m days after the start date."
    )
    inp = _inputs()
    if inp is None:
        return
    st.caption(f"Scheduling {inp.source} (start {inp.scenario.start_date.isoformat()}).")
    if not inp.plan.has_plan:
        st.error("The plan is infeasible, so there is nothing to schedule. Fix the plan first.")
        for d in inp.plan.diagnostics:
            st.write(f"[{d.level}] {d.message}")
        return

    left, right = st.columns(2)
    horizon = left.number_input(
        "Horizon (months)",
        min_value=1,
        max_value=120,
        value=DEFAULT_HORIZON_MONTHS,
        step=1,
        key=PREFIX + "horizon",
        help="Every served site must be installed within this many months.",
    )
    capacity_aware = right.checkbox(
        "Let install capacity shape the supplier choice",
        key=PREFIX + "capacity_aware",
        help=(
            "If the cheapest plan cannot be installed in time, re-plan so that no supplier is "
            "given more sites than it can install, and show what that costs."
        ),
    )
    plan, result, joint = _result(inp, int(horizon), bool(capacity_aware))
    frames = result.to_frames()

    if result.feasible:
        st.success(
            f"Schedule {result.status}: all {len(result.sites)} served sites installed by "
            f"month {result.months_used} of {result.horizon_months}."
        )
    else:
        head = result.diagnostics[0].message if result.diagnostics else "no schedule fits"
        st.error(f"No schedule fits: {head}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Last install month", result.months_used)
    c2.metric("Sites late or beyond horizon", len(result.late_sites))
    c3.metric("Supplier-months at capacity", len(result.binding))
    c4.metric(
        "Smallest horizon that works",
        result.smallest_horizon if result.smallest_horizon is not None else "-",
    )
    if joint is not None:
        st.info(
            f"Capacity-aware plan: {_gbp(plan.total_cost)}; cost of install capacity "
            f"{_gbp(joint.cost_of_capacity)} over the cheapest plan "
            f"({_gbp(joint.unconstrained_plan.total_cost)})."
        )
        changes = joint.supplier_changes()
        if changes:
            st.dataframe(changes, hide_index=True)

    st.subheader("Installs per supplier")
    st.altair_chart(gantt_chart(frames, horizon_months=result.horizon_months), width="stretch")

    st.subheader("Cash profile")
    whole = st.toggle("Show the whole term", key=PREFIX + "whole_term")
    spend_key = "cash_profile" if whole else "monthly_spend"
    st.altair_chart(
        monthly_spend_chart(frames, key=spend_key, horizon_months=result.horizon_months),
        width="stretch",
    )
    st.caption(
        "One-off charges fall in the install month; recurring charges (after discount, "
        "spread over the term) start the month after; today's contracts run until each "
        "site's install month ends. Onboarding fees fall with a supplier's first install."
    )
    st.dataframe(frames[spend_key], hide_index=True)

    st.subheader("Capacity by supplier and month")
    capacity = frames["capacity"]
    if capacity.empty:
        st.write("No supplier to install.")
    else:
        show_all = st.toggle("Show every month", key=PREFIX + "all_months")
        st.dataframe(capacity if show_all else capacity[capacity["installs"] > 0], hide_index=True)

    st.subheader("Sites")
    st.dataframe(frames["sites"], hide_index=True)

    if result.diagnostics:
        st.subheader("Diagnostics")
        st.dataframe(frames["diagnostics"], hide_index=True)

    st.subheader("Download")
    d1, d2, d3 = st.columns(3)
    d1.download_button(
        "Schedule (CSV)",
        frames_to_csv(frames["sites"]),
        file_name="transition-schedule.csv",
        mime="text/csv",
        key=PREFIX + "csv",
    )
    d2.download_button(
        "Plan and schedule (Excel)",
        schedule_to_xlsx(result, plan),
        file_name="transition-schedule.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=PREFIX + "xlsx",
    )
    d3.download_button(
        "Schedule (JSON)",
        schedule_to_json(result),
        file_name="transition-schedule.json",
        mime="application/json",
        key=PREFIX + "json",
    )


if __name__ == "__main__":  # streamlit runs a page file as __main__
    render()
