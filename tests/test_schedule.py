"""Transition schedules: hand-checked small cases, a brute-force reference, properties.

Month ``m`` ends ``30 * m`` days after the start date (2025-01-01 here), so a
lead time of 45 days means month 2 at the earliest, and a ``go_live_by`` 59
days after the start means month 1 at the latest.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from conftest import (
    START,
    Instance,
    catalog,
    instances,
    offering,
    scenario,
    site,
    supplier,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from procurement.charts.schedule import gantt_chart, monthly_spend_chart
from procurement.costing import price
from procurement.errors import InputError
from procurement.inputs import resolve_organisations
from procurement.models import Catalog, Scenario, Site
from procurement.optimiser import solve
from procurement.options import BundleBuilder, requirement_of
from procurement.plan import Plan, PlanStatus
from procurement.schedule import (
    DAYS_PER_MONTH,
    WEIGHT_BANDS,
    Schedule,
    ScheduleStatus,
    earliest_month,
    latest_month,
    schedule,
    schedule_to_xlsx,
    solve_with_capacity,
)

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-6


def day(n: int) -> date:
    return START + timedelta(days=n)


def months_of(result: Schedule) -> dict[str, int | None]:
    return {s.site_id: s.install_month for s in result.sites}


def one_supplier(cap: int | None, lead: int = 0, **kw) -> Catalog:
    return catalog(
        supplier(
            "alpha",
            [offering("alpha-fibre", lead_time_days=lead, install_cost=100, monthly_cost=50)],
            install_capacity_per_month=cap,
            **kw,
        )
    )


def plan_for(cat: Catalog, sites: Sequence[Site], sc: Scenario | None = None) -> Plan:
    plan = solve(cat, sites, sc or scenario())
    assert plan.has_plan, plan.diagnostics
    return plan


def run(cat: Catalog, sites: Sequence[Site], horizon: int = 12, **kw) -> Schedule:
    sc = scenario(**kw)
    return schedule(plan_for(cat, sites, sc), cat, sites, sc, horizon)


def messages(result: Schedule) -> str:
    return "\n".join(d.message for d in result.diagnostics)


# --------------------------------------------------------------------------- month rules


def test_month_arithmetic() -> None:
    assert [earliest_month(d) for d in (0, 1, 30, 31, 45, 60, 61, 180)] == [1, 1, 1, 2, 2, 2, 3, 6]
    assert latest_month(START, None) is None
    assert [latest_month(START, day(d)) for d in (0, 29, 30, 59, 60, 365)] == [0, 0, 1, 1, 2, 12]


# --------------------------------------------------------------------------- hand-checked


def test_capacity_binding_puts_higher_priority_first() -> None:
    # capacity 2 a month, five sites: months 1, 1, 2, 2, 3, by priority
    sites = [site(f"s{k}", priority=p) for k, p in enumerate([1, 5, 3, 4, 2])]
    result = run(one_supplier(2), sites)
    assert result.status is ScheduleStatus.OPTIMAL
    assert months_of(result) == {"s1": 1, "s3": 1, "s2": 2, "s4": 2, "s0": 3}
    rows = {(r.supplier_id, r.month): r for r in result.capacity}
    assert [rows[("alpha", m)].installs for m in range(1, 13)] == [2, 2, 1] + [0] * 9
    assert rows[("alpha", 1)].binding and rows[("alpha", 2)].binding
    assert not rows[("alpha", 3)].binding
    assert result.months_used == 3
    # weight = priority (no costs given): 5*1 + 4*1 + 3*2 + 2*2 + 1*3
    assert result.weighted_completion == pytest.approx(22)
    assert "capacity binds: alpha installs its maximum of 2 sites a month in month(s) 1-2" in (
        messages(result)
    )


def test_current_cost_breaks_ties_within_a_priority_but_never_beats_priority() -> None:
    sites = [
        site("cheap", priority=3, current_monthly_cost=10),
        site("dear", priority=3, current_monthly_cost=1000),
        site("urgent", priority=4),
        site("none", priority=3),
    ]
    result = run(one_supplier(1), sites)
    assert months_of(result) == {"urgent": 1, "dear": 2, "cheap": 3, "none": 4}
    weights = {s.site_id: s.weight for s in result.sites}
    # band = min(19, floor(20 * c / c_max)): dear 19, cheap 0, none 0
    assert weights == {"cheap": 3.0, "dear": 3 + 19 / WEIGHT_BANDS, "urgent": 4.0, "none": 3.0}


def test_lead_time_binding() -> None:
    # lead 75 days: 30*2 = 60 < 75 <= 90 = 30*3, so month 3; lead 60 days: month 2 exactly
    cat = catalog(
        supplier("slow", [offering("slow-fibre", lead_time_days=75)]),
        supplier("edge", [offering("edge-eth", "ethernet", lead_time_days=60, monthly_cost=300)]),
    )
    sites = [site("a", technologies=["fibre"]), site("b", technologies=["ethernet"])]
    result = run(cat, sites)
    assert result.status is ScheduleStatus.OPTIMAL
    assert months_of(result) == {"a": 3, "b": 2}
    by_id = {s.site_id: s for s in result.sites}
    assert by_id["a"].earliest_month == 3 and by_id["a"].lead_time_days == 75
    assert by_id["a"].live_date == day(90)
    # a horizon of 2 months cannot hold a: lead time, not capacity, binds
    short = run(cat, sites, horizon=2)
    assert short.status is ScheduleStatus.INFEASIBLE
    assert short.smallest_horizon == 3
    text = messages(short)
    assert "smallest horizon that works is 3 months" in text
    assert "lead time binds: 1 site(s)" in text and "(a)" in text
    assert "capacity binds" not in text


def test_secondary_links_lead_time_counts() -> None:
    # the primary is quick but the backup takes 100 days: month 4
    cat = catalog(
        supplier(
            "alpha",
            [offering("a-fibre", lead_time_days=5), offering("a-4g", "4g", lead_time_days=100)],
        )
    )
    sites = [site("s", resilience="backup", technologies=["fibre", "4g"])]
    result = run(cat, sites)
    assert months_of(result) == {"s": 4}
    assert result.sites[0].lead_time_days == 100


def test_deadline_missed_by_lead_time_is_reported() -> None:
    # lead 40 days fits go_live_by +50 days for the plan (SPEC usability), but in whole
    # months: earliest month 2 (60 days), latest month 1 (30 days <= 50 < 60)
    cat = one_supplier(None, lead=40)
    sites = [site("late", go_live_by=day(50)), site("fine")]
    result = run(cat, sites)
    assert result.status is ScheduleStatus.INFEASIBLE
    assert result.smallest_horizon is None
    text = messages(result)
    assert "no horizon works" in text
    assert any(
        d.site_id == "late"
        and "cannot meet its go_live_by" in d.message
        and "month 2 the earliest" in d.message
        and "month 1 or earlier" in d.message
        for d in result.diagnostics
    )
    # the best effort still installs both, as early as the lead time allows
    assert months_of(result) == {"late": 2, "fine": 2}
    assert [s.site_id for s in result.late_sites] == ["late"]


def test_deadline_before_month_one_ends_is_reported() -> None:
    result = run(one_supplier(None), [site("soon", go_live_by=day(20))])
    assert result.status is ScheduleStatus.INFEASIBLE
    assert "less than 30 days after the start date" in messages(result)


def test_deadline_missed_because_capacity_binds() -> None:
    # capacity 1, three sites due by the end of month 1: two must miss, the top one goes
    sites = [
        site("p5", priority=5, go_live_by=day(35)),
        site("p4", priority=4, go_live_by=day(35)),
        site("p2", priority=2, go_live_by=day(35)),
    ]
    result = run(one_supplier(1), sites)
    assert result.status is ScheduleStatus.INFEASIBLE
    assert months_of(result) == {"p5": 1, "p4": 2, "p2": 3}
    late = {d.site_id for d in result.diagnostics if d.site_id and "misses" in d.message}
    assert late == {"p4", "p2"}
    text = messages(result)
    assert "alpha (full in month(s) 1)" in text
    assert "2 site(s) cannot meet their go_live_by" in text
    assert result.smallest_horizon is None


def test_horizon_too_short_names_binding_supplier_and_smallest_horizon() -> None:
    sites = [site(f"s{k}") for k in range(5)]
    result = run(one_supplier(1), sites, horizon=3)
    assert result.status is ScheduleStatus.INFEASIBLE
    assert result.smallest_horizon == 5
    assert sorted(months_of(result).values()) == [1, 2, 3, 4, 5]
    text = messages(result)
    assert "cannot all be installed within 3 months; the smallest horizon that works is 5" in text
    assert "capacity binds: alpha installs its maximum of 1 sites a month in month(s) 1-3" in text
    beyond = {d.site_id for d in result.diagnostics if d.site_id and "after month 3" in d.message}
    assert len(beyond) == 2
    # capacity and spend rows reach the proposed last month
    assert max(r.month for r in result.capacity) == 5
    assert len(result.monthly_spend) == 5
    # and the smallest horizon does work
    assert run(one_supplier(1), sites, horizon=5).status is ScheduleStatus.OPTIMAL


def test_a_site_counts_once_for_each_supplier_it_buys_from() -> None:
    cat = catalog(
        supplier("a", [offering("a-fibre", monthly_cost=100)], install_capacity_per_month=1),
        supplier(
            "b", [offering("b-eth", "ethernet", monthly_cost=100)], install_capacity_per_month=1
        ),
    )
    sites = [
        site("both", resilience="diverse", priority=5),
        site("only-a", technologies=["fibre"], priority=2),
        site("only-b", technologies=["ethernet"], priority=2),
    ]
    result = run(cat, sites)
    months = months_of(result)
    assert months == {"both": 1, "only-a": 2, "only-b": 2}
    assert next(s for s in result.sites if s.site_id == "both").suppliers == ("a", "b")
    # the objective is a weighted sum: two priority-3 sites (weight 6) outweigh one
    # priority-5 site that blocks both suppliers (weight 5)
    sites[1:] = [s.model_copy(update={"priority": 3}) for s in sites[1:]]
    assert months_of(run(cat, sites)) == {"both": 2, "only-a": 1, "only-b": 1}


def test_zero_capacity_supplier_can_never_install() -> None:
    result = run(one_supplier(0), [site("x"), site("y")])
    assert result.status is ScheduleStatus.INFEASIBLE
    assert months_of(result) == {"x": None, "y": None}
    assert result.smallest_horizon is None
    assert "alpha has install_capacity_per_month 0" in messages(result)


def test_no_capacity_limit_installs_everything_at_once() -> None:
    result = run(one_supplier(None), [site(f"s{k}") for k in range(40)])
    assert set(months_of(result).values()) == {1}
    assert {r.capacity for r in result.capacity} == {None}
    assert not result.binding


def test_cash_profile_by_hand() -> None:
    # install 100, 50/month for a 12-month term, today's contract 80/month;
    # fees: onboarding 300 and 120 a year (10 a month); lead 45 days: month 2
    cat = one_supplier(None, lead=45, fees={"onboarding": 300, "annual_management": 120})
    sites = [site("s", current_monthly_cost=80)]
    sc = scenario(term_months=12)
    plan = plan_for(cat, sites, sc)
    assert plan.total_cost == pytest.approx(100 + 50 * 12 + 300 + 120)
    result = schedule(plan, cat, sites, sc, 4)
    assert [r.to_dict() for r in result.monthly_spend] == [
        {"month": 1, "one_off": 0.0, "recurring": 0.0, "baseline": 80.0, "total": 80.0},
        {"month": 2, "one_off": 400.0, "recurring": 0.0, "baseline": 80.0, "total": 480.0},
        {"month": 3, "one_off": 0.0, "recurring": 60.0, "baseline": 0.0, "total": 60.0},
        {"month": 4, "one_off": 0.0, "recurring": 60.0, "baseline": 0.0, "total": 60.0},
    ]
    whole = result.cash_profile()
    assert len(whole) == 2 + 12  # recurring runs months 3..14
    assert whole[-1].recurring == pytest.approx(60) and whole[-1].month == 14
    assert sum(r.one_off + r.recurring for r in whole) == pytest.approx(plan.total_cost)
    assert sum(r.baseline for r in whole) == pytest.approx(160)


def test_unserved_and_infeasible_plans() -> None:
    cat = one_supplier(None)
    sc = scenario(budget=1.0)
    sites = [site("s")]
    plan = solve(cat, sites, sc)
    assert plan.status is PlanStatus.INFEASIBLE
    result = schedule(plan, cat, sites, sc)
    assert result.status is ScheduleStatus.INFEASIBLE
    assert result.sites == () and "no plan to schedule" in messages(result)
    assert len(result.to_dict()["monthly_spend"]) == 12


def test_bad_horizon_and_unknown_offering() -> None:
    cat = one_supplier(None)
    sites = [site("s")]
    plan = plan_for(cat, sites)
    with pytest.raises(InputError, match="horizon_months"):
        schedule(plan, cat, sites, scenario(), 0)
    other = catalog(supplier("beta", [offering("beta-fibre")]))
    with pytest.raises(InputError, match="alpha-fibre"):
        schedule(plan, other, sites, scenario())
    with pytest.raises(InputError, match="not among the sites"):
        schedule(plan, cat, [site("other")], scenario())


# --------------------------------------------------------------------------- output shapes


def test_json_is_exactly_the_spec_shape() -> None:
    result = run(one_supplier(1), [site("a", current_monthly_cost=10), site("b")])
    data = json.loads(json.dumps(result.to_dict()))
    assert list(data) == [
        "status",
        "horizon_months",
        "plan_total_cost",
        "sites",
        "capacity",
        "monthly_spend",
        "diagnostics",
    ]
    assert data["status"] == "optimal" and data["horizon_months"] == 12
    assert set(data["sites"][0]) == {"site_id", "suppliers", "install_month"}
    assert set(data["capacity"][0]) == {"supplier_id", "month", "installs", "capacity"}
    assert set(data["monthly_spend"][0]) == {"month", "one_off", "recurring", "baseline", "total"}
    assert [r["month"] for r in data["monthly_spend"]] == list(range(1, 13))
    assert set(data["diagnostics"][0]) == {"level", "site_id", "message"}
    assert data["sites"][0]["suppliers"] == ["alpha"]


def test_frames_excel_and_charts() -> None:
    sites = [site("=evil", name="=HYPERLINK(1)"), site("b", current_monthly_cost=50)]
    cat = one_supplier(1)
    sc = scenario()
    plan = plan_for(cat, sites, sc)
    result = schedule(plan, cat, sites, sc)
    frames = result.to_frames()
    assert set(frames) == {
        "summary",
        "sites",
        "capacity",
        "monthly_spend",
        "cash_profile",
        "diagnostics",
    }
    assert list(frames["monthly_spend"]["month"]) == list(range(1, 13))
    book = openpyxl.load_workbook(io.BytesIO(schedule_to_xlsx(result, plan)))
    assert "Transition" in book.sheetnames and "Sites" in book.sheetnames
    sheet = book["Transition"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["site_id", "name"]
    cells = {c.value for row in sheet.iter_rows(min_row=2) for c in row}
    assert "'=evil" in cells and "'=HYPERLINK(1)" in cells
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)
    only = openpyxl.load_workbook(io.BytesIO(schedule_to_xlsx(result)))
    assert only.sheetnames[0] == "Transition"

    gantt = gantt_chart(frames, horizon_months=12).to_dict()
    marks = [layer["mark"]["type"] for layer in gantt["layer"]]
    assert marks == ["bar", "text", "rule"]
    values = next(iter(gantt["datasets"].values()))
    assert {(v["supplier_id"], v["month"], v["label"]) for v in values} == {
        ("alpha", 1, "1/1"),
        ("alpha", 2, "1/1"),
    }
    spend = monthly_spend_chart(frames).to_dict()
    assert spend["layer"][0]["mark"]["type"] == "bar"
    whole = monthly_spend_chart(frames, key="cash_profile", horizon_months=12).to_dict()
    assert len(whole["layer"]) == 3


# --------------------------------------------------------------------------- joint mode


def test_capacity_aware_plan_moves_sites_to_a_supplier_that_can_install_them() -> None:
    # alpha is cheaper (100 vs 110 a month) but installs 1 a month; beta has no limit
    cat = catalog(
        supplier(
            "alpha", [offering("alpha-fibre", monthly_cost=100)], install_capacity_per_month=1
        ),
        supplier("beta", [offering("beta-fibre", monthly_cost=110)]),
    )
    sites = [site("s1", priority=5), site("s2", priority=4), site("s3", priority=1)]
    sc = scenario(term_months=36)
    result = solve_with_capacity(cat, sites, sc, None, horizon_months=2)
    assert result.unconstrained_plan.total_cost == pytest.approx(3 * 100 * 36)
    assert result.unconstrained_schedule.status is ScheduleStatus.INFEASIBLE
    assert result.unconstrained_schedule.smallest_horizon == 3
    assert result.changed
    assert result.plan.total_cost == pytest.approx(2 * 100 * 36 + 110 * 36)
    assert result.cost_of_capacity == pytest.approx(360)
    assert result.schedule.status is ScheduleStatus.OPTIMAL
    assert result.schedule.months_used <= 2
    assert result.supplier_changes() == [
        {"supplier_id": "alpha", "sites_before": 3, "sites_after": 2},
        {"supplier_id": "beta", "sites_before": 0, "sites_after": 1},
    ]
    assert "£360.00 more" in result.schedule.diagnostics[0].message
    data = json.loads(json.dumps(result.to_dict()))
    assert data["cost_of_capacity"] == pytest.approx(360)
    # with room enough, nothing changes and capacity costs nothing
    easy = solve_with_capacity(cat, sites, sc, None, horizon_months=3)
    assert not easy.changed and easy.cost_of_capacity == 0
    assert easy.plan is easy.unconstrained_plan


def test_capacity_aware_reports_when_no_plan_fits() -> None:
    cat = one_supplier(1)
    sites = [site(f"s{k}") for k in range(3)]
    result = solve_with_capacity(cat, sites, scenario(), None, horizon_months=2)
    assert not result.changed and result.cost_of_capacity is None
    assert "no plan can be installed within 2 months" in result.diagnostics[0].message
    assert result.schedule.status is ScheduleStatus.INFEASIBLE
    assert result.exact  # proven: even the relaxation has no plan
    # a date before month 1 ends cannot be met by any supplier
    rushed = solve_with_capacity(
        cat, [site("soon", go_live_by=day(20))], scenario(), None, horizon_months=12
    )
    assert rushed.cost_of_capacity is None
    assert "(soon)" in rushed.diagnostics[0].message


# --------------------------------------------------------------------------- reference


def weights_of(sites: Sequence[Site], served: Sequence[str]) -> dict[str, float]:
    """The documented weight, computed independently: priority + band / 20."""
    by_id = {s.site_id: s for s in sites}
    costs = {sid: by_id[sid].current_monthly_cost or 0.0 for sid in served}
    top = max(costs.values(), default=0.0)
    return {
        sid: by_id[sid].priority + (min(19, math.floor(20 * c / top)) if top > 0 else 0) / 20
        for sid, c in costs.items()
    }


def least_weighted(
    jobs: Sequence[tuple[tuple[str, ...], int, date | None, float]],
    cat: Catalog,
    start: date,
    horizon: int,
) -> float | None:
    """Least sum of weight * month over schedules obeying the SPEC rules, or None.

    ``jobs`` are (suppliers, longest lead time in days, go_live_by, weight).
    """
    options = [
        [
            m
            for m in range(1, horizon + 1)
            if 30 * m >= lead and (deadline is None or start + timedelta(days=30 * m) <= deadline)
        ]
        for _, lead, deadline, _ in jobs
    ]
    best = None
    for months in itertools.product(*options):
        load = Counter((p, m) for job, m in zip(jobs, months, strict=True) for p in job[0])
        if any(
            (cap := cat.supplier_by_id[p].install_capacity_per_month) is not None and n > cap
            for (p, _), n in load.items()
        ):
            continue
        value = sum(job[3] * m for job, m in zip(jobs, months, strict=True))
        best = value if best is None or value < best else best
    return best


def brute_force(
    plan: Plan, cat: Catalog, sites: Sequence[Site], start: date, horizon: int
) -> float | None:
    """The least weighted completion of any schedule of ``plan``, or None."""
    served = plan.served_sites
    by_id = {s.site_id: s for s in sites}
    weights = weights_of(sites, [s.site_id for s in served])
    jobs = [
        (
            sp.suppliers,
            max(cat.offering_by_id[link.offering_id].lead_time_days for link in sp.links),
            by_id[sp.site_id].go_live_by,
            weights[sp.site_id],
        )
        for sp in served
    ]
    return least_weighted(jobs, cat, start, horizon)


@st.composite
def scheduled_instances(draw: st.DrawFn, max_sites: int = 4) -> tuple[Instance, Catalog, Plan]:
    """A conftest instance, install capacities for its suppliers, and a random valid plan."""
    inst = draw(instances())
    caps = [draw(st.sampled_from((None, 1, 1, 2, 3, 0))) for _ in inst.catalog.suppliers]
    suppliers = tuple(
        s.model_copy(update={"install_capacity_per_month": c})
        for s, c in zip(inst.catalog.suppliers, caps, strict=True)
    )
    cat = Catalog(suppliers=suppliers)
    sites = inst.sites[:max_sites]
    plan = random_plan(draw, cat, sites, scenario())
    return Instance(cat, sites, inst.organisations), cat, plan


def random_plan(draw: st.DrawFn, cat: Catalog, sites: Sequence[Site], sc: Scenario) -> Plan:
    """Any valid bundle per site (unservable sites unserved), priced by the SPEC."""
    builder = BundleBuilder(cat, sc)
    choice = {}
    for s in sites:
        bundles = builder.bundles(requirement_of(s, sc.start_date))
        choice[s.site_id] = draw(st.sampled_from(bundles)) if bundles else None
    return plan_of(choice, cat, sites, sc, builder)


def plan_of(choice, cat: Catalog, sites: Sequence[Site], sc: Scenario, builder) -> Plan:
    priced = price(choice, sites, resolve_organisations(sites, ()), sc, builder.terms)
    from procurement.plan import Baseline

    return Plan(
        status=PlanStatus.FEASIBLE,
        route=sc.route,
        objective=sc.objective,
        term_months=sc.term_months,
        total_cost=priced.total_cost,
        breakdown=priced.breakdown,
        quality=priced.quality,
        gap=0.0,
        solve_seconds=0.0,
        baseline=priced.baseline or Baseline(),
        sites=priced.sites,
        suppliers=priced.suppliers,
        organisations=priced.organisations,
        scenario=sc,
    )


def check_rules(result: Schedule, plan: Plan, cat: Catalog, sites: Sequence[Site]) -> None:
    """Every served site once; no install before its lead time; capacity never exceeded;
    and, when the schedule fits, every date and the horizon kept."""
    by_id = {s.site_id: s for s in sites}
    served = {s.site_id: s for s in plan.served_sites}
    assert Counter(s.site_id for s in result.sites) == Counter(list(served))
    load: Counter[tuple[str, int]] = Counter()
    for row in result.sites:
        sp = served[row.site_id]
        assert row.suppliers == sp.suppliers
        m = row.install_month
        caps = [cat.supplier_by_id[p].install_capacity_per_month for p in sp.suppliers]
        if m is None:
            assert 0 in caps and result.status is ScheduleStatus.INFEASIBLE
            continue
        assert m >= 1
        for link in sp.links:
            assert DAYS_PER_MONTH * m >= cat.offering_by_id[link.offering_id].lead_time_days
        for p in sp.suppliers:
            load[(p, m)] += 1
        if result.feasible:
            assert m <= result.horizon_months
            deadline = by_id[row.site_id].go_live_by
            assert deadline is None or START + timedelta(days=DAYS_PER_MONTH * m) <= deadline
    for (p, _), n in load.items():
        cap = cat.supplier_by_id[p].install_capacity_per_month
        assert cap is None or n <= cap
    reported = {(r.supplier_id, r.month): r.installs for r in result.capacity if r.installs}
    assert reported == dict(load)
    assert [r.month for r in result.monthly_spend] == list(
        range(1, max(result.horizon_months, result.months_used) + 1)
    )
    if all(s.install_month is not None for s in result.sites):
        whole = result.cash_profile()
        total = sum(r.one_off + r.recurring for r in whole)
        assert math.isclose(total, plan.total_cost, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheduled_instances(), st.integers(1, 4))
def test_schedule_matches_brute_force(drawn: tuple[Instance, Catalog, Plan], horizon: int) -> None:
    inst, cat, plan = drawn
    result = schedule(plan, cat, inst.sites, scenario(), horizon)
    check_rules(result, plan, cat, inst.sites)
    best = brute_force(plan, cat, inst.sites, START, horizon)
    if best is None:
        assert result.status is ScheduleStatus.INFEASIBLE
        if result.smallest_horizon is not None:
            h = result.smallest_horizon
            assert h > horizon
            assert brute_force(plan, cat, inst.sites, START, h) is not None
            assert brute_force(plan, cat, inst.sites, START, h - 1) is None
        else:  # no horizon works: not even a generous one
            assert brute_force(plan, cat, inst.sites, START, 8) is None
    else:
        assert result.status is ScheduleStatus.OPTIMAL
        assert result.weighted_completion == pytest.approx(best, abs=TOL)


@st.composite
def large_plans(draw: st.DrawFn) -> tuple[Catalog, tuple[Site, ...], Plan, Scenario]:
    """Hundreds of sites on generated suppliers, each with a random valid bundle."""
    inst = draw(instances())
    caps = [draw(st.sampled_from((None, 3, 10, 25))) for _ in inst.catalog.suppliers]
    cat = Catalog(
        suppliers=tuple(
            s.model_copy(update={"install_capacity_per_month": c})
            for s, c in zip(inst.catalog.suppliers, caps, strict=True)
        )
    )
    n = draw(st.integers(50, 400))
    templates = inst.sites
    sites = tuple(
        templates[k % len(templates)].model_copy(
            update={
                "site_id": f"site-{k:04d}",
                "priority": draw(st.integers(1, 5)),
                "current_monthly_cost": draw(st.sampled_from((None, 90.0, 200.0, 450.0))),
                "go_live_by": draw(st.sampled_from((None, None, None, day(95), day(200)))),
            }
        )
        for k in range(n)
    )
    sc = scenario()
    return cat, sites, random_plan(draw, cat, sites, sc), sc


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(large_plans(), st.sampled_from((3, 6, 12)))
def test_properties_on_generated_plans(drawn, horizon: int) -> None:
    cat, sites, plan, sc = drawn
    result = schedule(plan, cat, sites, sc, horizon)
    check_rules(result, plan, cat, sites)
    if result.status is ScheduleStatus.INFEASIBLE and result.smallest_horizon is not None:
        again = schedule(plan, cat, sites, sc, result.smallest_horizon)
        assert again.feasible
        check_rules(again, plan, cat, sites)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheduled_instances(max_sites=3), st.integers(1, 3))
def test_capacity_aware_matches_brute_force(
    drawn: tuple[Instance, Catalog, Plan], horizon: int
) -> None:
    """Against every plan the SPEC allows (tests/bruteforce.py), priced and scheduled."""
    import bruteforce as bf

    inst, cat, _ = drawn
    sc = scenario()
    sites = inst.sites
    base = solve(cat, sites, sc)
    if not base.has_plan:
        return
    # three sites of many options each can be too many plans to list
    assume(bf.count_assignments(cat, sites, sc) <= 200_000)
    enum = bf.enumerate_plans(cat, sites, sc)
    fitting = []
    for record in enum.records:
        if any(k < 0 for k in record.choice):
            continue
        assignment = enum.assignment(record.choice)
        jobs = []
        for s in sites:
            links = [o for o in assignment[s.site_id] if o is not None]
            suppliers = tuple(sorted({cat.supplier_of[o.id].id for o in links}))
            jobs.append((suppliers, max(o.lead_time_days for o in links), s.go_live_by, 1.0))
        if least_weighted(jobs, cat, START, horizon) is not None:
            fitting.append(record.total)
    cheapest = min(fitting, default=None)
    result = solve_with_capacity(cat, sites, sc, None, horizon, base_plan=base)
    if result.schedule.feasible:
        check_rules(result.schedule, result.plan, cat, sites)
        assert cheapest is not None
        assert result.plan.total_cost >= cheapest - 0.01
        if result.exact:
            assert result.plan.total_cost == pytest.approx(cheapest, abs=0.01)
    else:
        assert not result.changed and result.cost_of_capacity is None
        if result.exact:
            assert cheapest is None


def test_thousands_of_sites_are_fast() -> None:
    cat = catalog(
        supplier("a", [offering("a-fibre", lead_time_days=45)], install_capacity_per_month=300),
        supplier(
            "b",
            [offering("b-eth", "ethernet", lead_time_days=90, monthly_cost=150)],
            install_capacity_per_month=200,
        ),
        supplier("c", [offering("c-4g", "4g", lead_time_days=10, monthly_cost=30)]),
    )
    sites = tuple(
        site(
            f"s{k:05d}",
            priority=1 + k % 5,
            current_monthly_cost=float(50 + (k * 37) % 400),
            resilience=("single", "backup", "diverse")[k % 3],
            go_live_by=day(200) if k % 7 == 0 else None,
        )
        for k in range(3000)
    )
    sc = scenario()
    builder = BundleBuilder(cat, sc)
    choice = {s.site_id: builder.bundles(requirement_of(s, START))[0] for s in sites}
    plan = plan_of(choice, cat, sites, sc, builder)
    t0 = time.perf_counter()
    result = schedule(plan, cat, sites, sc, 12)
    assert time.perf_counter() - t0 < 30
    check_rules(result, plan, cat, sites)
    assert result.status is ScheduleStatus.OPTIMAL


# --------------------------------------------------------------------------- CLI

CATALOG_YAML = """\
schema_version: 1
currency: GBP
suppliers:
  - id: alpha
    name: Alpha Networks
    hscn_compliant: true
    regions: [london]
    install_capacity_per_month: 1
    offerings:
      - id: alpha-fibre
        name: Alpha fibre
        technology: fibre
        download_mbps: 100
        upload_mbps: 20
        availability_pct: 99.5
        install_cost: 100
        monthly_cost: 50
        lead_time_days: 45
"""
SITES_CSV = """\
site_id,organisation,name,region,bandwidth_mbps,priority,current_monthly_cost
s1,org-a,=Main site,london,50,5,80
s2,org-a,Clinic,london,50,3,
s3,org-b,Hospice,london,50,1,40
"""


def cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from procurement.cli import common
    from procurement.cli import schedule as command

    parser = argparse.ArgumentParser(prog="hscn-procure")
    command.register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args([str(a) for a in argv])
        code = common.run_command(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "catalog.yaml").write_text(CATALOG_YAML, encoding="utf-8")
    (tmp_path / "sites.csv").write_text(SITES_CSV, encoding="utf-8")
    return {"catalog": tmp_path / "catalog.yaml", "sites": tmp_path / "sites.csv"}


def base_args(files: dict[str, Path]) -> list[str]:
    return [
        "schedule",
        "--catalog",
        files["catalog"],
        "--sites",
        files["sites"],
        "--start-date",
        "2025-01-01",
        "--term-months",
        "12",
    ]


def test_cli_json_feasible(files: dict[str, Path], capsys) -> None:
    code, out, err = cli([*base_args(files), "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "optimal"
    # lead 45 days: month 2 first; capacity 1: priority order s1, s2, s3
    assert {s["site_id"]: s["install_month"] for s in data["sites"]} == {"s1": 2, "s2": 3, "s3": 4}
    assert len(data["monthly_spend"]) == 12


def test_cli_infeasible_exits_3_with_json(files: dict[str, Path], capsys) -> None:
    code, out, err = cli([*base_args(files), "--horizon-months", "3", "--format", "json"], capsys)
    assert code == 3, err
    data = json.loads(out)
    assert data["status"] == "infeasible"
    assert any(
        "smallest horizon that works is 4 months" in d["message"] for d in data["diagnostics"]
    )


def test_cli_table_csv_and_xlsx(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    code, out, err = cli(base_args(files), capsys)
    assert code == 0, err
    assert "Transition schedule: optimal" in out and "alpha" in out
    assert "Monthly spend" in out
    code, out, err = cli([*base_args(files), "--format", "csv"], capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith("site_id,name,organisation")
    assert "'=Main site" in out
    target = tmp_path / "pack.xlsx"
    code, out, err = cli([*base_args(files), "--format", "xlsx", "--out", target], capsys)
    assert code == 0, err
    assert out == ""
    assert "Transition" in openpyxl.load_workbook(target).sheetnames


def test_cli_bad_input_exits_2(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    code, _, err = cli([*base_args(files), "--horizon-months", "0"], capsys)
    assert code == 2 and "at least 1" in err
    code, _, err = cli([*base_args(files), "--format", "xlsx"], capsys)
    assert code == 2 and "--out" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("site_id,organisation,region,bandwidth_mbps\nx,o,atlantis,50\n", "utf-8")
    code, out, err = cli(
        ["schedule", "--catalog", files["catalog"], "--sites", bad, "--format", "json"], capsys
    )
    assert code == 2 and out == "" and "region" in err and "Traceback" not in err


def test_cli_capacity_aware(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    beta = CATALOG_YAML.replace("alpha", "beta").replace("Alpha", "Beta")
    beta = beta.replace("    install_capacity_per_month: 1\n", "").replace(
        "monthly_cost: 50", "monthly_cost: 60"
    )
    beta = beta.split("suppliers:\n", 1)[1]
    files["catalog"].write_text(CATALOG_YAML + beta, encoding="utf-8")
    args = [*base_args(files), "--horizon-months", "3", "--format", "json"]
    code, out, _ = cli(args, capsys)
    assert code == 3 and json.loads(out)["status"] == "infeasible"
    code, out, err = cli([*args, "--capacity-aware"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "optimal"
    # one site moves to beta: 10 a month dearer over 12 months
    assert data["plan_total_cost"] == pytest.approx(2 * (100 + 50 * 12) + 100 + 60 * 12)
    assert "£120.00 more" in data["diagnostics"][0]["message"]


# --------------------------------------------------------------------------- app page


def test_transition_page_renders_the_session_plan() -> None:
    from streamlit.testing.v1 import AppTest

    cat = one_supplier(1)
    sites = (site("a", priority=5), site("b"))
    sc = scenario()
    plan = plan_for(cat, sites, sc)
    at = AppTest.from_file(str(ROOT / "app_pages" / "transition.py"), default_timeout=60)
    at.session_state["plan"] = plan
    at.session_state["catalog"] = cat
    at.session_state["sites"] = sites
    at.session_state["scenario"] = sc
    at.run()
    assert not at.exception, at.exception
    assert any("Schedule optimal" in s.value for s in at.success)
    at.number_input(key="transition_horizon").set_value(1).run()
    assert not at.exception
    assert any("No schedule fits" in e.value for e in at.error)


# --------------------------------------------------------------------------- the sample


@pytest.mark.slow
def test_sample_consortium_fits_twelve_months() -> None:
    from procurement import inputs

    cat = inputs.load_catalog(ROOT / "catalog")
    sites = inputs.load_sites(ROOT / "examples" / "sites.csv")
    orgs = inputs.load_organisations(ROOT / "examples" / "organisations.csv")
    sc = inputs.load_scenario(ROOT / "examples" / "scenario.yaml")
    sc = sc.model_copy(update={"time_limit_s": 20.0})
    plan = solve(cat, sites, sc, orgs)
    assert plan.has_plan
    result = schedule(plan, cat, sites, sc, 12)
    assert result.feasible, messages(result)
    assert result.months_used <= 12
    check_rules(result, plan, cat, sites)
    assert gantt_chart(result.to_frames(), horizon_months=12).to_dict()["layer"]


def test_plan_serving_nothing_has_an_empty_schedule() -> None:
    cat = one_supplier(None)
    sites = [site("s", current_monthly_cost=70)]
    sc = scenario(budget=1.0, allow_partial=True)
    plan = solve(cat, sites, sc)
    assert plan.status is PlanStatus.PARTIAL and not plan.served_sites
    result = schedule(plan, cat, sites, sc, 3)
    assert result.status is ScheduleStatus.OPTIMAL
    assert result.sites == () and result.capacity == ()
    # unserved sites keep today's service and are left out of the baseline, as in the plan
    assert [r.total for r in result.monthly_spend] == [0.0, 0.0, 0.0]
