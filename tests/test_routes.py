"""Routes compared and the consortium's saving shared: properties on generated consortia,
the coalition engine, the rules for infeasible coalitions, the sample data and the CLI.

Consortia are small catalogues and site lists built in code (two to four
organisations, a few sites each), so every coalition is solved exactly in
milliseconds; the textbook games themselves are in ``test_allocation.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import START, catalog, offering, org, scenario, site, supplier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import cli as cli_package
from procurement.allocation import allocate
from procurement.coalitions import (
    CoalitionEngine,
    default_workers,
    popcount,
    sampled_coalitions,
)
from procurement.inputs import load_catalog, load_organisations, load_sites
from procurement.models import CentralFramework, Fees, Route, Site, VolumeTier
from procurement.routes import (
    RouteComparison,
    _cover_infeasible,
    compare,
    compare_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
SPEC_ROUTE_KEYS = {"status", "total_cost"}
SPEC_MEMBER_KEYS = {"organisation", "solo_cost", "allocated_cost", "saving", "std_error"}


def close(a: float, b: float, scale: float = 1.0) -> bool:
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6 * max(1.0, scale))


# --------------------------------------------------------------------------- generated consortia


@st.composite
def consortia(draw: st.DrawFn, min_orgs: int = 2, max_orgs: int = 4) -> tuple:
    """A catalogue of 2-3 suppliers with fees and volume tiers, and 2-4 organisations
    of 1-3 London sites each; ``org-twin`` owns a copy of ``org-0``'s sites."""
    suppliers = []
    for k in range(draw(st.integers(2, 3))):
        sid = f"s{k}"
        offers = [
            offering(f"{sid}-fibre", monthly_cost=draw(st.sampled_from((60, 90, 120))),
                     install_cost=draw(st.sampled_from((0, 200)))),
            offering(f"{sid}-4g", "4g", download_mbps=50, monthly_cost=20,
                     availability_pct=98.0),
        ]
        if draw(st.booleans()):
            offers.append(offering(f"{sid}-eth", "ethernet",
                                   monthly_cost=draw(st.sampled_from((110, 150)))))
        if k == 0 or draw(st.booleans()):
            offers.append(offering(f"{sid}-wifi", "wifi", monthly_cost=8))
        tiers: tuple[VolumeTier, ...] = ()
        if draw(st.booleans()):
            tiers = (VolumeTier(min_sites=2, discount=0.05), VolumeTier(min_sites=4, discount=0.2))
        suppliers.append(
            supplier(
                sid,
                offers,
                fees=Fees(onboarding=draw(st.sampled_from((0, 500, 2000))),
                          annual_management=draw(st.sampled_from((0, 300)))),
                volume_discounts=tiers,
                central_framework=(
                    CentralFramework(discount=0.05) if k == 0 or draw(st.booleans()) else None
                ),
            )
        )
    n_orgs = draw(st.integers(min_orgs, max_orgs))
    sites: list[Site] = []

    def add_sites(owner: str, specs: list[dict[str, Any]]) -> None:
        for spec in specs:
            sites.append(site(f"{owner}-{len(sites)}", owner, **spec))

    spec_st = st.fixed_dictionaries(
        {
            "resilience": st.sampled_from(("single", "single", "backup")),
            "wifi_aps": st.sampled_from((0, 0, 2)),
        }
    )
    first = draw(st.lists(spec_st, min_size=1, max_size=3))
    add_sites("org-0", first)
    add_sites("org-twin", first)
    for k in range(1, n_orgs - 1):
        add_sites(f"org-{k}", draw(st.lists(spec_st, min_size=1, max_size=3)))
    return catalog(*suppliers), tuple(sites)


def assert_game_properties(r: RouteComparison) -> None:
    """Efficiency (every method), the collaborative total against solo, subadditivity,
    the nucleolus in the core when the core is not empty, twins' equal shares."""
    collab = r.totals[Route.COLLABORATIVE]
    solo = r.totals[Route.SOLO]
    assert collab is not None and solo is not None
    scale = max(r.coalition_costs.values())
    # no supplier-count limits: buying together never costs more than alone
    assert collab <= solo + 1e-6 * scale
    # the solo route is each organisation on its own, and its cost is c({i})
    assert close(solo, math.fsum(r.solo_costs.values()), scale)
    for p, cost in r.solo_costs.items():
        assert close(r.coalition_costs[frozenset((p,))], cost, scale)
    assert close(r.coalition_costs[frozenset(r.players)], collab, scale)
    # two disjoint groups can always buy as one (no limits): c is subadditive
    game = r.game
    assert game is not None
    for a in game.costs:
        for b in game.costs:
            if not a & b and a | b in game.costs:
                assert game.costs[a | b] <= game.costs[a] + game.costs[b] + 1e-6 * scale
    allocations = {
        "shapley": r.allocation,
        "nucleolus": r.reallocate("nucleolus"),
        "proportional": r.reallocate("proportional"),
    }
    for method, allocation in allocations.items():
        assert allocation is not None and allocation.exact
        shares = allocation.shares
        assert close(math.fsum(shares.values()), collab, scale), method
        # identical organisations under different ids pay the same
        if {"org-0", "org-twin"} <= set(shares):
            assert close(shares["org-0"], shares["org-twin"], scale), (method, shares)
    nucleolus = allocations["nucleolus"]
    if not nucleolus.core.empty:
        assert nucleolus.core.blocking_coalitions == ()
    # the Shapley value recomputed from the stored game is the reported one
    again = allocate(game, "shapley", solo_costs=dict(r.solo_costs))
    for p in r.players:
        assert close(again.shares[p], r.allocation.shares[p], scale)
    # what-if: marginal contribution to the grand coalition
    everyone = frozenset(r.players)
    for w in r.what_if:
        without = game.cost(everyone - {w.organisation})
        assert close(w.marginal_cost, collab - without, scale)
        assert close(w.joining_saving, without + r.solo_costs[w.organisation] - collab, scale)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(consortia())
def test_properties_on_generated_consortia(instance: tuple) -> None:
    cat, sites = instance
    r = compare(cat, sites, scenario(), None, "shapley", workers=1)
    assert r.has_collaborative_plan
    assert r.stats.infeasible == 0 and r.stats.time_limited == 0
    assert r.allocation is not None and r.allocation.core.checked
    assert_game_properties(r)


# derandomized: a bound of three standard errors fails for about one player in
# 300 by chance, and a search over instances and seeds finds such a case
# (hypothesis did: four one-site organisations, seed 192, 3.7 errors off)
@settings(
    max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(consortia(min_orgs=4, max_orgs=4), st.integers(0, 2**16))
def test_sampled_shapley_within_three_standard_errors(instance: tuple, seed: int) -> None:
    cat, sites = instance
    exact = compare(cat, sites, scenario(), None, "shapley", workers=1)
    sampled = compare(
        cat, sites, scenario(), None, "shapley", workers=1, exact_limit=3,
        n_permutations=60, seed=seed,
    )
    assert exact.allocation is not None and sampled.allocation is not None
    assert not sampled.allocation.exact and not sampled.allocation.core.checked
    scale = max(exact.coalition_costs.values())
    collab = exact.totals[Route.COLLABORATIVE]
    assert close(math.fsum(sampled.allocation.shares.values()), collab, scale)
    for member in sampled.allocation.members:
        assert member.std_error is not None
        truth = exact.allocation.shares[member.organisation]
        assert abs(member.allocated_cost - truth) <= 3 * member.std_error + 1e-6 * scale
    # every coalition the sampled orders reach was solved up front, once
    n = len(sampled.players)
    assert len(sampled.coalition_costs) == len(
        sampled_coalitions(n, 60, seed) | {1 << i for i in range(n)}
        | {((1 << n) - 1) ^ (1 << i) for i in range(n)}
    )
    assert sampled.what_if and all(w.best_without is None for w in sampled.what_if)


def test_symmetric_organisations_share_equally_by_every_method() -> None:
    cat = catalog(
        supplier("s0", [offering("s0-f", monthly_cost=100), offering("s0-4g", "4g",
                 download_mbps=50, monthly_cost=20, availability_pct=98)],
                 fees=Fees(onboarding=3000), volume_discounts=(VolumeTier(min_sites=3,
                 discount=0.1),)),
        supplier("s1", [offering("s1-f", monthly_cost=95)], fees=Fees(onboarding=1000)),
    )
    sites = [
        site("a1", "alpha"), site("a2", "alpha", resilience="backup"),
        site("b1", "beta"), site("b2", "beta", resilience="backup"),
        site("c1", "gamma"),
    ]
    r = compare(cat, sites, scenario(), None, "nucleolus", workers=1)
    for method in ("nucleolus", "shapley", "proportional"):
        shares = r.allocation.shares if method == "nucleolus" else r.reallocate(method).shares
        assert close(shares["alpha"], shares["beta"], 1e4), (method, shares)


# ----------------------------------------------------------------- one consortium in detail


def small_consortium() -> tuple:
    cat = catalog(
        supplier(
            "s0",
            [offering("s0-fibre", monthly_cost=100), offering("s0-eth", "ethernet",
             monthly_cost=150), offering("s0-wifi", "wifi", monthly_cost=8)],
            fees=Fees(onboarding=2000, annual_management=600),
            volume_discounts=(VolumeTier(min_sites=3, discount=0.1),
                              VolumeTier(min_sites=5, discount=0.2)),
            central_framework=CentralFramework(discount=0.05),
        ),
        supplier(
            "s1",
            [offering("s1-fibre", monthly_cost=90), offering("s1-4g", "4g", monthly_cost=20,
             download_mbps=50, availability_pct=98)],
            fees=Fees(onboarding=3000),
            volume_discounts=(VolumeTier(min_sites=4, discount=0.15),),
        ),
    )
    sites = (
        site("a1", "org-a"), site("a2", "org-a", wifi_aps=2),
        site("b1", "org-b", resilience="backup"), site("b2", "org-b"),
        site("c1", "org-c"),
        site("d1", "org-d"), site("d2", "org-d", resilience="backup"),
    )
    return cat, sites


@pytest.fixture(scope="module")
def comparison() -> RouteComparison:
    cat, sites = small_consortium()
    return compare(cat, sites, scenario(budget=1.0), [org("org-a", 10.0)], "shapley", workers=1)


def test_compare_plans_three_routes_and_reports_savings(comparison: RouteComparison) -> None:
    r = comparison
    assert set(r.routes) == {Route.SOLO, Route.COLLABORATIVE, Route.CENTRAL}
    assert all(p.has_plan for p in r.routes.values())
    solo = r.routes[Route.SOLO]
    # budgets (the scenario's, and org-a's 10 GBP) do not bind a comparison
    assert r.scenario.budget is None and "budget" in " ".join(d.message for d in r.diagnostics)
    # the merged solo plan: every site in input order, one party per organisation
    assert [s.site_id for s in solo.sites] == ["a1", "a2", "b1", "b2", "c1", "d1", "d2"]
    assert {line.party for line in solo.suppliers} <= set(r.players)
    assert close(solo.total_cost, solo.breakdown.total, 1e4)
    assert close(solo.total_cost, sum(o.cost for o in solo.organisations), 1e4)
    for route in (Route.COLLABORATIVE, Route.CENTRAL):
        saving = r.savings[route]
        assert close(saving.absolute, r.totals[Route.SOLO] - r.totals[route], 1e4)
        assert close(saving.percent, 100 * saving.absolute / r.totals[Route.SOLO], 1)
    assert r.routes[Route.CENTRAL].supplier_ids == ("s0",)  # s1 is not on the framework
    assert r.stats.coalitions == 15 and r.stats.solved == 10
    assert r.stats.warm_started == 10  # every union of smaller plans was a valid start
    assert_game_properties(r)


def test_compare_json_has_the_spec_keys(comparison: RouteComparison) -> None:
    d = json.loads(json.dumps(comparison.to_dict()))
    assert set(d["routes"]) == {"solo", "collaborative", "central"}
    for route in d["routes"].values():
        assert set(route) >= SPEC_ROUTE_KEYS
    assert set(d["savings"]) == {"collaborative_vs_solo", "central_vs_solo"}
    allocation = d["allocation"]
    assert {"method", "exact", "members", "core"} <= set(allocation)
    assert allocation["method"] == "shapley" and allocation["exact"] is True
    assert [m["organisation"] for m in allocation["members"]] == list(comparison.players)
    for member in allocation["members"]:
        assert set(member) >= SPEC_MEMBER_KEYS
    assert {"checked", "blocking_coalitions"} <= set(allocation["core"])
    assert isinstance(allocation["core"]["statement"], str)
    assert d["core_empty"] is False
    assert len(d["what_if"]) == 4 and d["coalitions"]["coalitions"] == 15
    frames = comparison.to_frames()
    assert {"summary", "routes", "allocation", "blocking", "what_if", "coalitions"} <= set(frames)
    assert len(frames["coalitions"]) == 15 and len(frames["allocation"]) == 4


def test_engine_choices_price_like_the_plans_and_warm_starts_do_not_change_costs() -> None:
    cat, sites = small_consortium()
    base, _ = compare_scenario(scenario())
    engine = CoalitionEngine(cat, sites, base, [org(p) for p in ("org-a", "org-b", "org-c",
                                                                  "org-d")])
    solved = {}
    for mask in range(1, 16):
        outcome, choice = engine.solve(mask)
        assert outcome.optimal and choice is not None
        assert close(engine.choice_cost(choice), outcome.cost, 1e4)
        np.testing.assert_array_equal(
            np.flatnonzero(choice[:, 0] >= 0), engine.site_indices(mask)
        )
        solved[mask] = (outcome.cost, choice)
    # the collaborative plan of the same sites costs the same, and maps to a choice
    plan, plan_choice = engine.route_plan(Route.COLLABORATIVE, 15)
    assert close(plan.total_cost, solved[15][0], 1e4)
    assert plan_choice is not None and close(engine.choice_cost(plan_choice), plan.total_cost)
    # a union of disjoint plans is a plan of the union, never cheaper than its optimum
    union = engine.union(solved[3][1], solved[12][1])
    assert engine.choice_cost(union) >= solved[15][0] - 1e-6
    warm, _ = engine.solve(15, [union, solved[1][1]])  # the second does not cover 15: ignored
    assert warm.warm_started and close(warm.cost, solved[15][0], 1e4)


def test_runner_in_processes_matches_serial() -> None:
    cat, sites = small_consortium()
    sites = (*sites, site("e1", "org-e"), site("e2", "org-e", wifi_aps=1))
    serial = compare(cat, sites, scenario(), None, "shapley", workers=1)
    pooled = compare(cat, sites, scenario(), None, "shapley", workers=2)
    assert pooled.stats.workers == 2 and serial.stats.workers == 1
    assert set(pooled.coalition_costs) == set(serial.coalition_costs)
    for coalition, cost in serial.coalition_costs.items():
        assert close(pooled.coalition_costs[coalition], cost, 1e4), coalition
    for p in serial.players:
        assert close(pooled.allocation.shares[p], serial.allocation.shares[p], 1e4)
    assert pooled.to_dict()["routes"] == {
        k: {**v, "solve_seconds": pooled.to_dict()["routes"][k]["solve_seconds"]}
        for k, v in serial.to_dict()["routes"].items()
    }


def test_default_workers_keeps_small_games_serial() -> None:
    assert default_workers(4, 10_000) == 1
    assert default_workers(10, 5) == 1
    assert default_workers(10, 1000) >= 1


# --------------------------------------------------------------------------- infeasible coalitions


def test_cover_infeasible_uses_the_cheapest_split() -> None:
    # players 0, 1, 2: {0, 1} cannot buy together; {0, 1, 2} can
    raw = {1: 10.0, 2: 20.0, 4: 5.0, 3: None, 5: 14.0, 6: 22.0, 7: 30.0}
    costs, unresolved = _cover_infeasible(raw, exact=True)
    assert costs[3] == 30.0 and unresolved == []
    raw[3], raw[5] = None, None  # no plan for {0, 1} nor {0, 2}: {0, 1} still splits
    costs, _ = _cover_infeasible(raw, exact=True)
    assert costs[3] == 30.0 and costs[5] == 15.0
    costs, unresolved = _cover_infeasible({1: None, 2: 3.0, 3: None}, exact=True)
    assert unresolved == [1, 3] and 2 in costs
    costs, _ = _cover_infeasible({1: 1.0, 2: 2.0, 4: 4.0, 7: None, 3: 2.5, 5: 5.0, 6: 6.0},
                                 exact=False)
    assert costs[7] == 6.5  # splits off one member only: min(2.5 + 4, 5 + 2, 6 + 1)


def test_infeasible_collaborative_route_has_no_allocation() -> None:
    # one change of supplier allowed per party; each organisation must change one site
    cat = catalog(supplier("s0", [offering("s0-f")]))
    sites = [
        site("a1", "org-a", current_supplier="legacy"),
        site("b1", "org-b", current_supplier="legacy"),
        site("c1", "org-c"),
    ]
    r = compare(cat, sites, scenario(max_supplier_changes=1), None, "shapley", workers=1)
    assert not r.has_collaborative_plan and r.routes[Route.SOLO].has_plan
    assert r.allocation is None and r.to_dict()["allocation"] is None
    assert r.savings[Route.COLLABORATIVE].absolute is None
    assert any("no collaborative plan" in d.message for d in r.diagnostics)
    assert r.stats.solved == 0  # nothing to share: the coalitions were not solved


def test_central_route_infeasible_alone_keeps_the_comparison() -> None:
    cat = catalog(
        supplier("s0", [offering("s0-f")], central_framework=CentralFramework(discount=0.1)),
        supplier("s1", [offering("s1-e", "ethernet", monthly_cost=80)]),
    )
    sites = [site("a1", "org-a"), site("b1", "org-b", technologies=["ethernet"])]
    r = compare(cat, sites, scenario(), None, "proportional", workers=1)
    assert r.has_collaborative_plan and not r.routes[Route.CENTRAL].has_plan
    assert r.totals[Route.CENTRAL] is None and r.savings[Route.CENTRAL].absolute is None
    assert r.allocation is not None
    assert [s.served for s in r.routes[Route.CENTRAL].sites] == [False, False]


def test_organisation_without_solo_plan_gets_no_split() -> None:
    # min_suppliers 2: a one-site, fibre-only organisation can use only one supplier
    cat = catalog(supplier("s0", [offering("s0-f")]), supplier("s1", [offering("s1-f")]))
    sites = [
        site("a1", "org-a", technologies=["fibre"]),
        site("b1", "org-b"), site("b2", "org-b"),
    ]
    r = compare(cat, sites, scenario(min_suppliers=2), None, "shapley", workers=1)
    assert not r.routes[Route.SOLO].has_plan and r.has_collaborative_plan
    assert r.allocation is None
    assert any("org-a" in d.message for d in r.diagnostics if str(d.level) == "error")


def test_unknown_allocation_and_nucleolus_beyond_the_limit_are_input_errors() -> None:
    from procurement.errors import InputError

    cat, sites = small_consortium()
    with pytest.raises(InputError):
        compare(cat, sites, scenario(), None, "banzhaf")
    with pytest.raises(InputError):
        compare(cat, sites, scenario(), None, "nucleolus", exact_limit=3)


def test_sampled_coalitions_are_the_orders_prefixes() -> None:
    masks = sampled_coalitions(5, 10, seed=3)
    assert 31 in masks and all(1 <= popcount(m) <= 5 for m in masks)
    assert masks == sampled_coalitions(5, 10, seed=3)


# --------------------------------------------------------------------------- the sample data


def sample_subset(per_org: int = 3, orgs: int = 3) -> tuple:
    cat = load_catalog(ROOT / "catalog")
    sites = load_sites(ROOT / "examples" / "sites.csv")
    organisations = load_organisations(ROOT / "examples" / "organisations.csv")
    keep: dict[str, list[Site]] = {}
    for s in sites:
        if s.resilience.value == "diverse":
            continue  # the big hospitals: slow to solve, not needed for the shape of it
        group = keep.setdefault(s.organisation, [])
        if len(group) < per_org:
            group.append(s)
    chosen = [s for owner in list(keep)[-orgs:] for s in keep[owner]]
    return cat, chosen, organisations


def test_compare_on_the_sample_data_has_the_spec_json() -> None:
    cat, sites, organisations = sample_subset()
    r = compare(cat, sites, scenario(start_date=START), organisations, "shapley")
    d = r.to_dict()
    assert set(d["routes"]) == {"solo", "collaborative", "central"}
    assert all(set(v) >= SPEC_ROUTE_KEYS for v in d["routes"].values())
    assert set(d["savings"]) == {"collaborative_vs_solo", "central_vs_solo"}
    assert d["allocation"]["exact"] is True and len(d["allocation"]["members"]) == 3
    assert all(set(m) >= SPEC_MEMBER_KEYS for m in d["allocation"]["members"])
    assert {"checked", "blocking_coalitions"} <= set(d["allocation"]["core"])
    # organisations in the file without sites here take no part
    assert any("without sites" in x["message"] for x in d["diagnostics"])
    assert_game_properties(r)


# --------------------------------------------------------------------------- command line

CLI_CATALOG = """\
schema_version: 1
currency: GBP
suppliers:
  - id: acme-net
    name: Acme Networks
    hscn_compliant: true
    regions: [london]
    fees: {onboarding: 1000, annual_management: 400}
    volume_discounts:
      - {min_sites: 3, discount: 0.1}
    central_framework: {discount: 0.07}
    offerings:
      - {id: acme-fttp, name: FTTP 100, technology: fibre, download_mbps: 100,
         upload_mbps: 20, availability_pct: 99.5, install_cost: 200, monthly_cost: 50}
      - {id: acme-4g, name: 4G backup, technology: 4g, download_mbps: 30, upload_mbps: 10,
         availability_pct: 98, install_cost: 50, monthly_cost: 20}
  - id: beta-link
    name: Beta Link
    hscn_compliant: true
    regions: [london]
    fees: {onboarding: 300}
    offerings:
      - {id: beta-fttp, name: FTTP 100, technology: fibre, download_mbps: 100,
         upload_mbps: 20, availability_pct: 99.5, install_cost: 100, monthly_cost: 58}
"""

CLI_SITES = """\
site_id,organisation,region,bandwidth_mbps,resilience,current_supplier
s1,org-a,london,50,single,
s2,org-a,london,50,backup,
s3,org-b,london,50,single,legacy
s4,=evil,london,80,single,
"""


@pytest.fixture
def cli_files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "catalog.yaml").write_text(CLI_CATALOG, encoding="utf-8")
    (tmp_path / "sites.csv").write_text(CLI_SITES, encoding="utf-8")
    return {"catalog": tmp_path / "catalog.yaml", "sites": tmp_path / "sites.csv",
            "dir": tmp_path}


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``main(argv)`` with ``compare`` registered (whether or not it is yet)."""
    if "compare" not in cli_package.COMMANDS:
        monkeypatch.setattr(cli_package, "COMMANDS", (*cli_package.COMMANDS, "compare"))

    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = cli_package.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def compare_args(files: dict[str, Path], *extra: str) -> list[str | Path]:
    return ["compare", "--catalog", files["catalog"], "--sites", files["sites"],
            "--start-date", "2025-01-01", *extra]


def test_cli_table_shows_routes_split_and_stability(cli_files, run_cli) -> None:
    code, out, err = run_cli(*compare_args(cli_files))
    assert code == 0, err
    for word in ("solo", "collaborative", "central", "shapley", "org-a", "org-b", "=evil",
                 "saving", "core"):
        assert word in out, out
    assert "Traceback" not in err


def test_cli_json_nucleolus_and_exit_codes(cli_files, run_cli) -> None:
    code, out, err = run_cli(*compare_args(cli_files, "--format", "json",
                                           "--allocation", "nucleolus"))
    assert code == 0, err
    d = json.loads(out)
    assert d["allocation"]["method"] == "nucleolus"
    assert set(d["routes"]) == {"solo", "collaborative", "central"}
    # no change of supplier allowed, but s3's current supplier is not in the catalogue:
    # no collaborative plan, exit 3, and the JSON still says why
    code, out, err = run_cli(*compare_args(cli_files, "--format", "json",
                                           "--max-supplier-changes", "0"))
    assert code == 3, err
    d = json.loads(out)
    assert d["routes"]["collaborative"]["status"] == "infeasible"
    assert d["allocation"] is None
    code, out, err = run_cli(*compare_args(cli_files, "--format", "xlsx"))
    assert code == 2 and "--out" in err
    code, out, err = run_cli(*compare_args(cli_files, "--allocation", "equal"))
    assert code == 2


def test_cli_verbose_tells_how_the_coalitions_go(cli_files, run_cli) -> None:
    code, out, err = run_cli(*compare_args(cli_files, "--format", "json", "--verbose"))
    assert code == 0, err
    lines = [line for line in err.splitlines() if "groups of organisations" in line]
    assert lines[0].startswith("hscn-procure: costed 0 of 3 groups of organisations (0 min ")
    assert lines[-1].startswith("hscn-procure: costed 3 of 3 groups of organisations (")
    assert json.loads(out)["allocation"]["method"] == "shapley"  # stdout: the JSON alone
    code, out, err = run_cli(*compare_args(cli_files, "--format", "json"))
    assert code == 0 and "groups of organisations" not in err  # no terminal, not asked


def test_progress_lines_are_spaced_out_but_the_last_always_shown(capsys) -> None:
    from procurement.cli.compare import progress_printer

    now = [100.0]
    tell = progress_printer(every=2.0, clock=lambda: now[0])
    tell(0, 10)
    now[0] = 101.0
    tell(1, 10)  # too soon after the first line
    now[0] = 102.5
    tell(2, 10)
    now[0] = 162.6
    tell(10, 10)  # the last: shown however soon
    tell(0, 0)  # nothing to cost: nothing said
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "hscn-procure: costed 0 of 10 groups of organisations (0 min 00 s)",
        "hscn-procure: costed 2 of 10 groups of organisations (0 min 02 s)",
        "hscn-procure: costed 10 of 10 groups of organisations (1 min 02 s)",
    ]


def _bench_module(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_reads_how_far_a_killed_comparison_got(cli_files, run_cli, monkeypatch) -> None:
    """benchmarks/run.py reports, for a Shapley run it had to kill, the progress
    that ``compare --verbose`` printed: read here from a real run's stderr."""
    bench = _bench_module(monkeypatch)
    _, _, err = run_cli(*compare_args(cli_files, "--format", "json", "--verbose"))
    assert bench.progress_note(err).startswith("3 of 3 coalitions costed after ")
    line = "hscn-procure: costed 120 of 1,013 groups of organisations (4 min 51 s)\n"
    assert bench.progress_note("log\n" + line) == (
        "120 of 1,013 coalitions costed after 291 s; at that pace all 1,013 would take "
        "at least 41 min"
    )
    assert bench.progress_note("no progress here") == ""


@pytest.mark.parametrize(
    ("sites", "times", "runs", "shown", "slowest"),
    [
        (25000, [13.8, 10.8, 12.0], 3, 10.8, 13.8),  # noise only adds: the fastest is shown
        (500, [1.2, 1.1, 1.5], 3, 1.1, 1.5),
        (5000, [42.0], 1, 42.0, 42.0),  # too slow to repeat
    ],
)
def test_benchmark_shows_the_fastest_of_repeated_runs_and_the_slowest_beside_it(
    monkeypatch, tmp_path, sites, times, runs, shown, slowest
) -> None:
    bench = _bench_module(monkeypatch)
    args = bench.parse_args(["--catalog", str(ROOT / "catalog")])
    left = list(times)

    def fake_run(argv, workdir, hard_limit, tag):
        out = Path(argv[argv.index("--out") + 1])
        out.write_text(json.dumps({"status": "optimal", "gap": 0.0, "solve_seconds": 0.5}))
        return bench.Run(argv=argv, exit_code=0, end_to_end=left.pop(0), peak_mb=100.0)

    monkeypatch.setattr(bench, "run_timed", fake_run)
    monkeypatch.setattr(bench, "read_probe", lambda run, path: None)
    case = bench.Case("generated", sites, 10, "solo")
    bench.solve_case(case, tmp_path, tmp_path, args)
    assert case.runs == runs and not left
    assert case.run.end_to_end == shown
    assert case.slowest == slowest
    verdict = bench.verdicts([case], bench.ShapleyResult(), args)
    if sites == 25000:
        assert "the fastest of 3 runs (slowest 13.80 s)" in verdict[2].measured


def test_benchmark_times_the_package_with_its_bytecode_written(monkeypatch) -> None:
    """Every module's bytecode is current before the CLI is timed, whatever
    ``PYTHONDONTWRITEBYTECODE`` says (an installed wheel has it)."""
    import importlib.util

    import procurement

    bench = _bench_module(monkeypatch)
    bench.compile_package()
    for source in Path(procurement.__file__).parent.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        assert cached.is_file(), source
        assert cached.stat().st_mtime >= source.stat().st_mtime, source


def test_cli_writes_csv_and_xlsx(cli_files, run_cli) -> None:
    out_csv = cli_files["dir"] / "split.csv"
    code, _, err = run_cli(*compare_args(cli_files, "--format", "csv", "--out", str(out_csv)))
    assert code == 0, err
    text = out_csv.read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("organisation,name,sites,solo_cost")
    assert "'=evil" in text
    out_xlsx = cli_files["dir"] / "compare.xlsx"
    code, _, err = run_cli(*compare_args(cli_files, "--format", "xlsx", "--out", str(out_xlsx)))
    assert code == 0, err
    assert out_xlsx.read_bytes()[:2] == b"PK"


def test_cli_json_on_stdout_is_clean_in_a_fresh_process(cli_files) -> None:
    """HiGHS prints a banner on first use in a process: it must not reach stdout."""
    script = (
        "import sys; from procurement import cli; "
        "cli.COMMANDS = tuple(dict.fromkeys((*cli.COMMANDS, 'compare'))); "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    argv = [str(a) for a in compare_args(cli_files, "--format", "json", "--workers", "2")]
    result = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["coalitions"]["workers"] == 2
    assert d["allocation"]["method"] == "shapley"


@pytest.mark.slow
def test_cli_on_the_whole_sample_consortium() -> None:  # pragma: no cover - minutes
    if "compare" not in cli_package.COMMANDS:
        pytest.skip("compare is not registered yet")
    result = subprocess.run(
        [sys.executable, "-m", "procurement", "compare", "--catalog", "catalog",
         "--sites", "examples/sites.csv", "--organisations", "examples/organisations.csv",
         "--scenario", "examples/scenario.yaml", "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=1800, check=False,
    )
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert len(d["allocation"]["members"]) == 6
    assert d["coalitions"]["coalitions"] == 63
