"""Runner-ups: hand-worked tier and fee effects, and exactness against full re-pricing.

The property tests build plans without the optimiser (a random valid option
per site, from the brute-force reference), so runner-ups are checked on
optimal and far-from-optimal plans alike: the extra cost must equal the
difference of two full pricings (by :func:`procurement.costing.price` and by
the independent brute-force pricer), and the runner-up must be the cheapest
valid alternative found by enumerating every option of the site.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import bruteforce as bf
import pytest
from conftest import catalog, instances, offering, org, scenario, site, supplier
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from procurement.costing import price
from procurement.inputs import resolve_organisations
from procurement.models import Catalog, Fees, Organisation, Scenario, Site, VolumeTier
from procurement.optimiser import solve
from procurement.options import BundleBuilder, eligible_suppliers, requirement_of
from procurement.plan import Plan, PlanStatus
from procurement.runner_up import (
    RunnerUpDetail,
    RunnerUpFinder,
    bundle_for,
    plan_choice,
    with_runner_ups,
)

ROOT = Path(__file__).resolve().parent.parent


def close(a: float, b: float) -> bool:
    return abs(a - b) <= bf.money_tol(max(abs(a), abs(b)))


def plan_from_options(
    cat: Catalog,
    sites: Sequence[Site],
    sc: Scenario,
    organisations: Sequence[Organisation] | None,
    options: dict[str, bf.Option | None],
) -> Plan:
    """A Plan for a given choice of options per site, priced by the library."""
    by_id = {s.site_id: s for s in sites}
    choice = {
        sid: None if opt is None else bundle_for(
            by_id[sid], [o.id for o in opt if o is not None], cat, sc
        )
        for sid, opt in options.items()
    }
    orgs = resolve_organisations(sites, organisations or ())
    priced = price(choice, sites, orgs, sc, eligible_suppliers(cat, sc))
    unserved = any(b is None for b in choice.values())
    return Plan(
        status=PlanStatus.PARTIAL if unserved else PlanStatus.FEASIBLE,
        route=sc.route,
        objective=sc.objective,
        term_months=sc.term_months,
        total_cost=priced.total_cost,
        breakdown=priced.breakdown,
        quality=priced.quality,
        gap=0.0,
        solve_seconds=0.0,
        baseline=priced.baseline,
        sites=priced.sites,
        suppliers=priced.suppliers,
        organisations=priced.organisations,
        scenario=sc,
    )


def as_option(cat: Catalog, offering_ids: Sequence[str]) -> bf.Option:
    """RunnerUp.offering_ids (primary, secondary, wifi order) as a brute-force option."""
    links = [cat.offering_by_id[x] for x in offering_ids]
    wifi = [o for o in links if o.technology == "wifi"]
    wired = [o for o in links if o.technology != "wifi"]
    return (wired[0], wired[1] if len(wired) > 1 else None, wifi[0] if wifi else None)


def offering_set(option: bf.Option | None) -> frozenset[str]:
    return frozenset(o.id for o in option or () if o is not None)


# --------------------------------------------------------------------------- hand-worked

# Supplier A: fibre at 100/month, 10 % off from 2 sites; a pricier fibre at
# 101/month. Supplier B: fibre at 105/month. No fees. Term 12 months.
TIERED = catalog(
    supplier(
        "sup-a",
        [offering("a-fibre", monthly_cost=100), offering("a-fibre-plus", monthly_cost=101)],
        volume_discounts=(VolumeTier(min_sites=2, discount=0.10),),
    ),
    supplier("sup-b", [offering("b-fibre", monthly_cost=105)]),
)
SC12 = scenario(term_months=12, route="collaborative")


def test_same_supplier_next_product_is_the_runner_up_even_though_pruned() -> None:
    sites = [site("s1", technologies=["fibre"]), site("s2", technologies=["fibre"])]
    plan = solve(TIERED, sites, SC12)
    assert [sp.primary.offering_id for sp in plan.sites] == ["a-fibre", "a-fibre"]
    # the optimiser's dominance pruning drops a-fibre-plus; the runner-up must not
    out = with_runner_ups(plan, TIERED, sites, SC12)
    ru = out.sites[0].runner_up
    assert isinstance(ru, RunnerUpDetail)
    assert ru.offering_ids == ("a-fibre-plus",) and ru.suppliers == ("sup-a",)
    assert ru.extra_cost == pytest.approx(12 * 1 * 0.9)  # 1/month more, still 10 % off
    assert ru.breaks == ()


def test_moving_a_site_away_loses_the_others_tier_and_brings_fees() -> None:
    sites = [site("s1", technologies=["fibre"]), site("s2", technologies=["fibre"])]
    only_a_b = catalog(
        supplier(
            "sup-a", [offering("a-fibre", monthly_cost=100)], fees=Fees(onboarding=100),
            volume_discounts=(VolumeTier(min_sites=2, discount=0.10),),
        ),
        supplier("sup-b", [offering("b-fibre", monthly_cost=105)],
                 fees=Fees(onboarding=50, annual_management=10)),
    )
    plan = solve(only_a_b, sites, SC12)
    out = with_runner_ups(plan, only_a_b, sites, SC12)
    ru = out.sites[0].runner_up
    assert ru is not None and ru.offering_ids == ("b-fibre",)
    # s1 on B: 1260 + B's fees 60; s1 no longer on A: -1080; s2 loses A's 10 %: +120
    assert ru.extra_cost == pytest.approx(1260 + 60 - 1080 + 120)


def test_an_equally_priced_twin_is_a_zero_cost_runner_up() -> None:
    twins = catalog(
        supplier("sup-a", [offering("a-one", monthly_cost=100),
                           offering("a-two", monthly_cost=100)])
    )
    sites = [site("s1", technologies=["fibre"])]
    plan = solve(twins, sites, SC12)
    out = with_runner_ups(plan, twins, sites, SC12)
    ru = out.sites[0].runner_up
    assert ru is not None and ru.extra_cost == pytest.approx(0.0)
    assert set(ru.offering_ids) | {out.sites[0].primary.offering_id} == {"a-one", "a-two"}


def test_no_alternative_means_no_runner_up_and_unserved_sites_get_none() -> None:
    alone = catalog(supplier("sup-a", [offering("a-fibre")]))
    sites = [site("s1", technologies=["fibre"]), site("s2", bandwidth_mbps=5000)]
    sc = scenario(allow_partial=True)
    plan = solve(alone, sites, sc)
    out = with_runner_ups(plan, alone, sites, sc)
    assert out.sites[0].served and out.sites[0].runner_up is None
    assert not out.sites[1].served and out.sites[1].runner_up is None


def test_runner_up_that_breaks_a_supplier_limit_says_so_and_may_be_cheaper() -> None:
    cat = catalog(
        supplier("sup-a", [offering("a-fibre", monthly_cost=100)]),
        supplier("sup-b", [offering("b-fibre", monthly_cost=50)]),
    )
    sites = [site("s1", technologies=["fibre"]), site("s2", technologies=["fibre"])]
    # max_supplier_share 0.5 forces one site onto the dearer supplier
    sc = scenario(term_months=12, max_supplier_share=0.5)
    plan = solve(cat, sites, sc)
    out = with_runner_ups(plan, cat, sites, sc)
    on_a = next(sp for sp in out.sites if sp.primary.supplier_id == "sup-a")
    ru = on_a.runner_up
    assert ru is not None and ru.offering_ids == ("b-fibre",)
    assert ru.extra_cost == pytest.approx(-600.0)
    assert ru.breaks == ("max_supplier_share",) and not ru.within_constraints


def test_runner_up_in_plan_json_and_frames() -> None:
    sites = [site("s1", technologies=["fibre"]), site("s2", technologies=["fibre"])]
    plan = with_runner_ups(solve(TIERED, sites, SC12), TIERED, sites, SC12)
    data = json.loads(json.dumps(plan.to_dict()))
    ru = data["sites"][0]["runner_up"]
    assert set(ru) == {"offering_ids", "suppliers", "extra_cost", "breaks"}
    assert ru["offering_ids"] == ["a-fibre-plus"] and ru["breaks"] == []
    frame = plan.to_frames()["sites"]
    assert frame.loc[0, "runner_up"] == "a-fibre-plus"
    assert frame.loc[0, "runner_up_extra_cost"] == pytest.approx(10.8)


def test_infeasible_plan_is_returned_unchanged() -> None:
    cat = catalog(supplier("sup-a", [offering("a-fibre")]))
    sites = [site("s1", bandwidth_mbps=5000)]
    plan = solve(cat, sites, scenario())
    assert plan.status is PlanStatus.INFEASIBLE
    assert with_runner_ups(plan, cat, sites, scenario()) is plan


# --------------------------------------------------------------------------- properties


@st.composite
def planned_instances(draw: st.DrawFn):
    inst = draw(instances())
    sc = scenario(
        route=draw(st.sampled_from(("solo", "collaborative", "central"))),
        term_months=draw(st.sampled_from((12, 24, 36))),
        max_suppliers=draw(st.sampled_from((None, None, 1, 2))),
        max_supplier_share=draw(st.sampled_from((None, None, 0.5))),
        max_supplier_changes=draw(st.sampled_from((None, None, 0, 1))),
        required_certifications=draw(st.sampled_from(((), (), ("iso27001",)))),
    )
    options = {}
    for s in inst.sites:
        opts = bf.site_options(s, inst.catalog, sc)
        if not opts:
            options[s.site_id] = None
            continue
        k = draw(st.integers(-1 if len(opts) > 1 else 0, len(opts) - 1))
        options[s.site_id] = opts[k] if k >= 0 else None
    return inst, sc, options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planned_instances())
def test_alternatives_scored_are_exactly_the_valid_options(case) -> None:
    """The unpruned role tables give every valid option of the reference, and no other."""
    inst, sc, _ = case
    finder = RunnerUpFinder(inst.catalog, sc)
    items = finder.offerings.items
    for s in inst.sites:
        roles = finder.roles(requirement_of(s, sc.start_date))
        got = set()
        for i, p in enumerate(roles.p):
            for j, x in enumerate(roles.s):
                if not roles.valid[i, j]:
                    continue
                for w in roles.w:
                    got.add(tuple(None if ix < 0 else items[ix][0].id for ix in (p, x, w)))
        want = {bf.option_ids(o) for o in bf.site_options(s, inst.catalog, sc)}
        assert got == want


def check_runner_ups(inst, sc: Scenario, options: dict[str, bf.Option | None]) -> Plan:
    cat, sites, orgs = inst.catalog, inst.sites, inst.organisations
    plan = plan_from_options(cat, sites, sc, orgs, options)
    out = with_runner_ups(plan, cat, sites, sc, orgs)
    assert out.total_cost == plan.total_cost
    terms = eligible_suppliers(cat, sc)
    choice = plan_choice(plan, cat, sites, sc)
    all_orgs = resolve_organisations(sites, orgs or ())
    ref_total = bf.price(options, sites, cat, sc, orgs)["total"]
    assert close(ref_total, plan.total_cost)
    for s, sp in zip(sites, out.sites, strict=True):
        chosen = options[s.site_id]
        if chosen is None:
            assert sp.runner_up is None
            continue
        # every alternative, priced in full by the independent reference
        deltas = []
        for opt in bf.site_options(s, cat, sc):
            if offering_set(opt) == offering_set(chosen):
                continue
            moved = dict(options)
            moved[s.site_id] = opt
            deltas.append(bf.price(moved, sites, cat, sc, orgs)["total"] - ref_total)
        ru = sp.runner_up
        if not deltas:
            assert ru is None
            continue
        assert ru is not None
        assert offering_set(as_option(cat, ru.offering_ids)) != offering_set(chosen)
        valid = {bf.option_ids(o) for o in bf.site_options(s, cat, sc)}
        assert bf.option_ids(as_option(cat, ru.offering_ids)) in valid
        # the cheapest alternative ...
        assert close(ru.extra_cost, min(deltas)), (ru, min(deltas))
        # ... and its extra cost is exactly a full re-price's delta
        moved_choice = dict(choice)
        moved_choice[s.site_id] = bundle_for(s, ru.offering_ids, cat, sc)
        repriced = price(moved_choice, sites, all_orgs, sc, terms).total_cost
        assert close(repriced - plan.total_cost, ru.extra_cost)
        assert ru.suppliers == tuple(sorted({cat.supplier_of[x].id for x in ru.offering_ids}))
        event("extra cost < 0" if ru.extra_cost < -0.01 else "extra cost >= 0")
        event("runner-up on another supplier set" if set(ru.suppliers) != set(sp.suppliers)
              else "runner-up on the same suppliers")
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planned_instances())
def test_runner_up_is_the_cheapest_alternative_and_its_extra_cost_is_exact(case) -> None:
    inst, sc, options = case
    check_runner_ups(inst, sc, options)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planned_instances())
def test_breaks_name_exactly_when_the_moved_plan_violates_the_scenario(case) -> None:
    inst, sc, _ = case
    cat, sites, orgs = inst.catalog, inst.sites, inst.organisations
    plan = solve(cat, sites, sc, orgs, explain=False)
    if not plan.has_plan:
        return
    options = {
        sp.site_id: as_option(cat, [x.offering_id for x in sp.links]) if sp.served else None
        for sp in plan.sites
    }
    assert bf.violations(options, sites, cat, sc, orgs) == []
    out = with_runner_ups(plan, cat, sites, sc, orgs)
    for sp in out.sites:
        if sp.runner_up is None:
            continue
        moved = dict(options)
        moved[sp.site_id] = as_option(cat, sp.runner_up.offering_ids)
        broken = bf.violations(moved, sites, cat, sc, orgs)
        assert bool(sp.runner_up.breaks) == bool(broken), (sp.runner_up, broken)
        # an optimal plan has no cheaper alternative within the constraints
        if plan.status is PlanStatus.OPTIMAL and not sp.runner_up.breaks:
            assert sp.runner_up.extra_cost >= -bf.money_tol(plan.total_cost)


def test_budget_and_organisation_budget_breaks() -> None:
    cat = catalog(
        supplier("sup-a", [offering("a-fibre", monthly_cost=100)]),
        supplier("sup-b", [offering("b-fibre", monthly_cost=150)]),
    )
    sites = [site("s1", technologies=["fibre"])]
    sc = scenario(term_months=12, route="solo", budget=1300)
    plan = solve(cat, sites, sc, [org("org-a", budget=1250)])
    out = with_runner_ups(plan, cat, sites, sc, [org("org-a", budget=1250)])
    ru = out.sites[0].runner_up
    assert ru is not None and ru.extra_cost == pytest.approx(600)
    assert ru.breaks == ("budget", "organisation_budget")


# --------------------------------------------------------------------------- speed


def _sample_inputs():
    inputs = pytest.importorskip("procurement.inputs")
    paths = [ROOT / "catalog", ROOT / "examples" / "sites.csv", ROOT / "examples" / "scenario.yaml"]
    if not all(p.exists() for p in paths):
        pytest.skip("sample catalogue or examples missing")
    cat = inputs.load_catalog(str(paths[0]))
    sites = inputs.load_sites(str(paths[1]))
    sc = inputs.load_scenario(str(paths[2]))
    return cat, sites, sc


def test_runner_ups_for_the_sample_portfolio_are_fast_and_exact() -> None:
    """150 sites, ~100 bundles each: well under a second (plan built without a MILP)."""
    cat, sites, sc = _sample_inputs()
    builder = BundleBuilder(cat, sc)
    choice = {}
    for s in sites:
        bundles = builder.bundles(requirement_of(s, sc.start_date))
        choice[s.site_id] = min(bundles, key=lambda b: b.one_off + b.recurring_list)
    options = {
        sid: as_option(cat, b.offering_ids) for sid, b in choice.items()
    }
    plan = plan_from_options(cat, sites, sc, None, options)
    t0 = time.perf_counter()
    out = with_runner_ups(plan, cat, sites, sc, builder=builder)
    seconds = time.perf_counter() - t0
    assert seconds < 2.0, seconds
    assert all(sp.runner_up is not None for sp in out.sites)
    terms = builder.terms
    orgs = resolve_organisations(sites, ())
    for s, sp in list(zip(sites, out.sites, strict=True))[::15]:
        moved = dict(choice)
        moved[s.site_id] = bundle_for(s, sp.runner_up.offering_ids, cat, sc)
        delta = price(moved, sites, orgs, sc, terms).total_cost - plan.total_cost
        assert close(delta, sp.runner_up.extra_cost)
