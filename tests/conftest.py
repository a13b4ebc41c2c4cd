"""Shared builders for small catalogues in code, and hypothesis strategies.

The builders keep hand-worked tests short: every field has a plain default
(one region, London; start date 2025-01-01; term 36 months) so a test only
spells out the numbers it is about.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from procurement.models import (
    Catalog,
    CentralFramework,
    Fees,
    Offering,
    Organisation,
    Scenario,
    Site,
    Supplier,
    VolumeTier,
)

START = date(2025, 1, 1)
LONDON = "london"
SOUTH_EAST = "south-east"
SAMPLE_CATALOG = Path(__file__).resolve().parents[1] / "catalog"


@functools.cache
def sample_catalog() -> Catalog:
    """The sample catalogue, loaded once (and not a test argument: hypothesis would print it)."""
    from procurement.inputs import load_catalog

    return load_catalog(SAMPLE_CATALOG)


@functools.cache
def _generated(n_sites: int, n_orgs: int, seed: int) -> tuple[tuple, tuple, Scenario]:
    from procurement.generate import generate_portfolio, write_portfolio
    from procurement.inputs import load_organisations, load_scenario, load_sites

    out = Path(tempfile.mkdtemp(prefix=f"generated_{n_sites}_{n_orgs}_{seed}_"))
    write_portfolio(generate_portfolio(n_sites, n_orgs, seed=seed), out)
    return (
        tuple(load_sites(out / "sites.csv")),
        tuple(load_organisations(out / "organisations.csv")),
        load_scenario(out / "scenario.yaml"),
    )


def generated_inputs(
    n_sites: int, n_orgs: int, seed: int
) -> tuple[list[Site], list[Organisation], Scenario]:
    """``hscn-procure generate``'s portfolio, written and read back as the CLI reads it.

    Generated once per arguments; each call gets its own lists.
    """
    sites, organisations, scenario = _generated(n_sites, n_orgs, seed)
    return list(sites), list(organisations), scenario

# --------------------------------------------------------------------------- builders


def offering(oid: str, technology: str = "fibre", **kw: Any) -> Offering:
    """An offering with round numbers: 100 Mbps, 99.5 %, install 0, 100/month."""
    if technology == "wifi":
        base: dict[str, Any] = {"unit": "access_point", "install_cost": 0, "monthly_cost": 10}
    else:
        base = {"download_mbps": 100, "upload_mbps": 20, "availability_pct": 99.5,
                "install_cost": 0, "monthly_cost": 100}
    base.update(kw)
    return Offering(id=oid, name=oid, technology=technology, **base)


def supplier(sid: str, offerings: list[Offering], **kw: Any) -> Supplier:
    """A compliant supplier selling in London, no fees, no tiers, unless told."""
    base: dict[str, Any] = {"name": sid, "hscn_compliant": True, "regions": [LONDON]}
    base.update(kw)
    return Supplier(id=sid, offerings=tuple(offerings), **base)


def catalog(*suppliers: Supplier) -> Catalog:
    return Catalog(suppliers=suppliers)


def site(sid: str, org: str = "org-a", **kw: Any) -> Site:
    """A London site needing 50 Mbps, single resilience, no wifi, unless told."""
    base: dict[str, Any] = {"region": LONDON, "bandwidth_mbps": 50}
    base.update(kw)
    return Site(site_id=sid, organisation=org, **base)


def scenario(**kw: Any) -> Scenario:
    base: dict[str, Any] = {"start_date": START, "term_months": 36}
    base.update(kw)
    return Scenario(**base)


def cost_model(
    cat: Catalog,
    sites: list[Site],
    scn: Scenario,
    orgs: list[Organisation] | None = None,
    *,
    budgets: bool = False,
) -> tuple[Any, list[Any], Any]:
    """(context, profiles, model) of one model over every party; budget rows if ``budgets``."""
    from procurement import optimiser

    ctx = optimiser._context(cat, sites, scn, orgs, None)
    profiles = optimiser.build_profiles(ctx.sites, ctx.scenario, ctx.builder)
    model = optimiser.build_model(
        profiles,
        ctx.builder.terms,
        ctx.scenario,
        total_budget=ctx.total_budget if budgets else None,
        party_budgets=ctx.party_budgets if budgets else {},
    )
    return ctx, profiles, model


def costlier_start(profiles: list[Any], terms: Any) -> dict:
    """The local search's plan with each profile's first choice moved to its dearest pair.

    A complete, feasible plan that is (almost always) not the optimum: what
    probing and branching must improve on or at least not mistake for optimal.
    """
    from procurement.incumbent import find_start

    start = find_start(profiles, terms, seconds=1.0)
    assert start is not None
    worse = {}
    for g, combos in start.items():
        pairs = profiles[g].pairs
        dearest = max(range(len(pairs)), key=lambda k: pairs[k].one_off + pairs[k].recurring_list)
        moved: dict[tuple[int, int], int] = {}
        for i, ((j, o), n) in enumerate(combos.items()):
            key = (dearest, o) if i == 0 else (j, o)
            moved[key] = moved.get(key, 0) + n
        worse[g] = moved
    return worse


def loaded_highs(model: Any) -> tuple[Any, Any]:
    """The cost model loaded into HiGHS as the optimiser loads it, and its variables' values."""
    import numpy as np
    import pulp

    from procurement import optimiser

    model.prob.sense = pulp.LpMinimize
    model.prob.setObjective(model.total_cost)
    solver = optimiser.make_solver("highs", time_limit=60, gap=0, verbose=False)
    solver.createAndConfigureSolver(model.prob)
    solver.buildSolverModel(model.prob)
    return model.prob.solverModel, np.array([v.varValue or 0.0 for v in model.prob.variables()])


def org(oid: str, budget: float | None = None) -> Organisation:
    return Organisation(organisation=oid, budget=budget)


# --------------------------------------------------------------------------- strategies

REGIONS = (LONDON, SOUTH_EAST)
SUPPLIER_IDS = ("s0", "s1", "s2")


@dataclass(frozen=True)
class Instance:
    catalog: Catalog
    sites: tuple[Site, ...]
    organisations: tuple[Organisation, ...] | None

    @property
    def org_ids(self) -> list[str]:
        return list(dict.fromkeys(s.organisation for s in self.sites))


def one_in(draw: st.DrawFn, k: int) -> bool:
    """True about once in ``k`` draws (and False is the simple, shrunk-to case)."""
    return draw(st.sampled_from((False,) * (k - 1) + (True,)))


def _nonempty_subset(draw: st.DrawFn, items: tuple[str, ...]) -> list[str]:
    return draw(st.lists(st.sampled_from(items), min_size=1, max_size=len(items), unique=True))


@st.composite
def offerings_st(draw: st.DrawFn, sid: str, regions: list[str]) -> list[Offering]:
    techs = draw(st.lists(st.sampled_from(("fibre", "ethernet")), min_size=1, max_size=3))
    techs += ["4g"] * (not one_in(draw, 3)) + ["wifi"] * (not one_in(draw, 3))
    if len(techs) < 2:
        techs.append(draw(st.sampled_from(("fibre", "ethernet", "4g", "wifi"))))
    out = []
    for k, tech in enumerate(techs):
        kw: dict[str, Any] = {
            "min_term_months": draw(st.sampled_from((1, 12, 36, 60))),
            "lead_time_days": draw(st.sampled_from((0, 0, 10, 30, 45, 90))),
            "quality_score": draw(st.sampled_from((30, 50, 60, 70, 90))),
        }
        generalist = k == 0  # the first offering sells fast, everywhere, from day one
        if generalist:
            kw["lead_time_days"] = 0
        elif one_in(draw, 6):
            kw["regions"] = _nonempty_subset(draw, tuple(regions))
        if tech == "wifi":
            kw["install_cost"] = draw(st.sampled_from((0, 50, 120)))
            kw["monthly_cost"] = draw(st.sampled_from((5, 8, 15)))
        else:
            kw["download_mbps"] = draw(st.sampled_from((100, 500) if generalist
                                                      else (20, 50, 100, 100, 500)))
            kw["upload_mbps"] = 10
            kw["availability_pct"] = draw(st.sampled_from((99.0, 99.5, 99.9, 99.95)))
            kw["install_cost"] = draw(st.sampled_from((0, 100, 250, 1000)))
            kw["monthly_cost"] = draw(st.sampled_from((20, 45, 85, 150, 400)))
            kw["contention_ratio"] = draw(st.sampled_from((1, None) if generalist
                                                        else (None, None, 1, 20)))
        out.append(offering(f"{sid}-o{k}", tech, **kw))
    return out


@st.composite
def supplier_st(draw: st.DrawFn, sid: str) -> Supplier:
    regions = [draw(st.sampled_from(REGIONS))] if one_in(draw, 6) else list(REGIONS)
    tiers = []
    if one_in(draw, 2):
        lo = draw(st.integers(1, 3))
        tiers.append(VolumeTier(min_sites=lo, discount=draw(st.sampled_from((0.05, 0.1)))))
        if one_in(draw, 2):
            tiers.append(VolumeTier(min_sites=lo + draw(st.integers(1, 2)),
                                    discount=draw(st.sampled_from((0.15, 0.25)))))
    central = None
    if not one_in(draw, 4):
        central = CentralFramework(
            discount=draw(st.sampled_from((0.0, 0.05, 0.12))),
            onboarding=draw(st.sampled_from((0, 300))),
            annual_management=draw(st.sampled_from((0, 240))),
        )
    expires = draw(st.sampled_from((None,) * 5 + (START + timedelta(days=400), START,
                                                START - timedelta(days=1))))
    return supplier(
        sid,
        draw(offerings_st(sid, regions)),
        hscn_compliant=not one_in(draw, 12),
        compliance_expires=expires,
        regions=regions,
        certifications=() if one_in(draw, 4) else ("iso27001",),
        fees=Fees(onboarding=draw(st.sampled_from((0, 500, 2000))),
                  annual_management=draw(st.sampled_from((0, 600, 1200)))),
        volume_discounts=tuple(tiers),
        central_framework=central,
    )


@st.composite
def site_st(draw: st.DrawFn, k: int, org_ids: list[str]) -> Site:
    kw: dict[str, Any] = {
        "region": draw(st.sampled_from(REGIONS)),
        "bandwidth_mbps": draw(st.sampled_from((10, 20, 50, 50, 100))),
        "resilience": draw(st.sampled_from(("single", "single", "backup", "diverse"))),
        "backup_mbps": draw(st.sampled_from((10, 10, 50))),
        "wifi_aps": draw(st.sampled_from((0, 0, 0, 0, 0, 0, 1, 2, 3))),
        "technologies": (
            draw(st.sampled_from((["fibre", "4g"], ["ethernet", "4g"], ["fibre", "ethernet"],
                                  ["fibre"])))
            if one_in(draw, 4) else ["fibre", "ethernet", "4g"]
        ),
        "allow_4g_primary": one_in(draw, 5),
        "priority": draw(st.integers(1, 5)),
        "uncontended": one_in(draw, 8),
    }
    if one_in(draw, 4):
        kw["min_availability_pct"] = draw(st.sampled_from((99.4, 99.85, 99.97)))
    if one_in(draw, 4):
        kw["go_live_by"] = START + timedelta(days=draw(st.sampled_from((30, 60))))
    if one_in(draw, 2):
        kw["current_supplier"] = draw(st.sampled_from((*SUPPLIER_IDS, "legacy-co")))
    if one_in(draw, 2):
        kw["current_monthly_cost"] = draw(st.sampled_from((90, 200, 450)))
    return site(f"site-{k}", draw(st.sampled_from(org_ids)), **kw)


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    """2-4 sites, 2-3 suppliers of 2-5 offerings, 1-3 organisations, 2 regions."""
    n_sup = draw(st.integers(2, 3))
    suppliers = [draw(supplier_st(sid)) for sid in SUPPLIER_IDS[:n_sup]]
    org_ids = [f"org-{k}" for k in range(draw(st.integers(1, 3)))]
    sites = tuple(draw(site_st(k, org_ids)) for k in range(draw(st.integers(2, 4))))
    owners = list(dict.fromkeys(s.organisation for s in sites))
    organisations = None
    if not one_in(draw, 4):
        organisations = tuple(org(o) for o in owners)
    return Instance(catalog(*suppliers), sites, organisations)


#: Scenario rules a property test can insist on, one at a time.
FOCUSES = ("none", "max_suppliers", "min_suppliers", "max_supplier_share",
           "max_supplier_changes", "allow_partial", "budget")


@st.composite
def scenario_shapes(draw: st.DrawFn, focus: str = "none") -> dict[str, Any]:
    """Scenario fields plus budget factors (applied to a reference cost by the test).

    ``focus`` (one of :data:`FOCUSES`) is always set; the other rules only now and then.
    """
    shape: dict[str, Any] = {
        "route": draw(st.sampled_from(("solo", "collaborative", "central"))),
        "objective": draw(st.sampled_from(("cost", "cost", "quality"))),
        "term_months": draw(st.sampled_from((12, 24, 36))),
        "allow_partial": one_in(draw, 6),
        "max_suppliers": draw(st.sampled_from((None,) * 5 + (1, 2))),
        "min_suppliers": draw(st.sampled_from((None,) * 7 + (2,))),
        "max_supplier_share": draw(st.sampled_from((None,) * 6 + (0.5, 0.75, 1.0))),
        "max_supplier_changes": draw(st.sampled_from((None,) * 5 + (0, 1))),
        "exclude_suppliers": ("s1",) if one_in(draw, 6) else (),
        "required_certifications": ("iso27001",) if one_in(draw, 6) else (),
        "budget_factor": draw(st.sampled_from((None, None, None, 0.8, 0.97, 1.04, 1.3))),
        "org_budget_factors": draw(st.lists(st.sampled_from((None, 0.9, 1.05, 1.5)),
                                            min_size=3, max_size=3)),
        # relax the needs of sites no bundle can serve (most of the time), so that
        # most instances have plans; the rest keep testing infeasibility
        "relax_unservable": not one_in(draw, 5),
    }
    forced = {
        "max_suppliers": st.sampled_from((1, 2)),
        "min_suppliers": st.sampled_from((2, 3)),
        "max_supplier_share": st.sampled_from((0.5, 0.67, 0.75)),
        "max_supplier_changes": st.sampled_from((0, 1)),
        "allow_partial": st.just(True),
        "budget": st.sampled_from((0.6, 0.8, 0.97, 1.04, 1.3)),
    }
    if focus == "budget":
        shape["budget_factor"] = draw(forced["budget"])
    elif focus == "allow_partial":
        shape["allow_partial"] = True
        shape["budget_factor"] = draw(st.sampled_from((None, 0.6, 0.8, 0.97)))
    elif focus != "none":
        shape[focus] = draw(forced[focus])
    if (shape["min_suppliers"] is not None and shape["max_suppliers"] is not None
            and shape["min_suppliers"] > shape["max_suppliers"]):
        shape["min_suppliers" if focus != "min_suppliers" else "max_suppliers"] = None
    return shape
