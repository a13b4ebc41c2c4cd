"""When no plan fits, the plan says which constraint to relax and by how much.

Hand-worked examples on a two-supplier catalogue, one per relaxable scenario
constraint, plus the solver choice (CBC agrees with HiGHS) and quiet solvers.
"""

from __future__ import annotations

from datetime import date

import pytest

from procurement.models import Catalog, Offering, Organisation, Scenario, Site, Supplier
from procurement.optimiser import solve
from procurement.plan import Level, PlanStatus

START = date(2027, 1, 1)


def _offering(id_: str, tech: str, mbps: float, avail: float, install: float, monthly: float):
    return Offering(
        id=id_,
        name=id_,
        technology=tech,
        download_mbps=mbps,
        upload_mbps=mbps,
        availability_pct=avail,
        install_cost=install,
        monthly_cost=monthly,
    )


@pytest.fixture
def catalog() -> Catalog:
    """Supplier a: fibre and 4G, a 10% tier from 2 sites, onboarding 100.
    Supplier b: fibre, ethernet and the only wifi."""
    return Catalog(
        suppliers=[
            Supplier(
                id="a",
                name="A",
                hscn_compliant=True,
                regions=["london"],
                fees={"onboarding": 100},
                volume_discounts=[{"min_sites": 2, "discount": 0.1}],
                offerings=[
                    _offering("a-f", "fibre", 100, 99.5, 100, 50),
                    _offering("a-4g", "4g", 50, 97, 0, 20),
                ],
            ),
            Supplier(
                id="b",
                name="B",
                hscn_compliant=True,
                regions=["london"],
                offerings=[
                    _offering("b-f", "fibre", 1000, 99.5, 0, 60),
                    _offering("b-e", "ethernet", 1000, 99.9, 1000, 300),
                    Offering(
                        id="b-w",
                        name="w",
                        technology="wifi",
                        install_cost=10,
                        monthly_cost=5,
                        unit="access_point",
                    ),
                ],
            ),
        ]
    )


def _site(site_id: str, org: str = "o1", **kw) -> Site:
    fields = {"site_id": site_id, "organisation": org, "region": "london", "bandwidth_mbps": 80}
    return Site(**(fields | kw))


def _errors(plan) -> list[str]:
    return [d.message for d in plan.diagnostics if d.level == Level.ERROR]


def test_budget_short_by_the_cheapest_plans_excess(catalog: Catalog) -> None:
    # s1: a-f 100 + 36*50 = 1,900; a-4g 36*20 = 720; b-w 2*10 + 2*5*36 = 380.
    # s2: a-f 1,900. Supplier a has 2 sites: 10% off its recurring 4,320 (432),
    # plus onboarding 100. Cheapest = 1,900*2 + 720 - 432 + 100 + 380 = 4,568.
    sites = [_site("s1", resilience="backup", wifi_aps=2), _site("s2")]
    plan = solve(catalog, sites, Scenario(start_date=START, budget=1000))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any("budget short by £3,568.00" in m and "£4,568.00" in m for m in _errors(plan))


def test_max_suppliers_says_how_many_are_needed(catalog: Catalog) -> None:
    # fibre and 4G only: the backup must be a's 4G, the wifi comes only from b
    sites = [_site("s1", resilience="backup", wifi_aps=2, technologies=["fibre", "4g"])]
    plan = solve(catalog, sites, Scenario(start_date=START, max_suppliers=1))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any("max_suppliers 1 is too few: it would need to be 2" in m for m in _errors(plan))


def test_min_suppliers_says_how_many_can_serve(catalog: Catalog) -> None:
    plan = solve(catalog, [_site("s1"), _site("s2")], Scenario(start_date=START, min_suppliers=3))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any("min_suppliers 3 cannot be met: at most 2" in m for m in _errors(plan))


def test_share_cap_names_the_smallest_cap_that_works(catalog: Catalog) -> None:
    # two sites, a cap of 0.4 lets no supplier serve even one of them (0.8 sites);
    # one site each from a and b is the best spread: a cap of 0.5
    sites = [_site("s1"), _site("s2")]
    plan = solve(catalog, sites, Scenario(start_date=START, max_supplier_share=0.4))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any("share cap 0.4 cannot hold" in m and "is 0.5" in m for m in _errors(plan))


def test_supplier_changes_say_how_many_are_needed(catalog: Catalog) -> None:
    # today's supplier is not in the catalogue: every served site is a change
    sites = [_site(f"s{i}", current_supplier="legacy") for i in range(3)]
    plan = solve(catalog, sites, Scenario(start_date=START, max_supplier_changes=1))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any(
        "max_supplier_changes 1 is too few: it would need to be 3" in m for m in _errors(plan)
    )


def test_organisation_budget_shortfall_on_solo(catalog: Catalog) -> None:
    # o1 alone: a-f 1,900 + onboarding 100 = 2,000 against a budget of 1,500
    sites = [_site("s1", org="o1"), _site("s2", org="o2")]
    orgs = [Organisation(organisation="o1", budget=1500), Organisation(organisation="o2")]
    plan = solve(catalog, sites, Scenario(start_date=START, route="solo"), orgs)
    assert plan.status == PlanStatus.INFEASIBLE
    assert any("o1's budget is short by £500.00" in m for m in _errors(plan))


def test_site_without_any_option_is_named_with_its_reason(catalog: Catalog) -> None:
    far = Site(site_id="far", organisation="o1", region="south-west", bandwidth_mbps=80)
    fast = _site("fast", bandwidth_mbps=10_000)
    plan = solve(catalog, [far, fast, _site("ok")], Scenario(start_date=START))
    assert plan.status == PlanStatus.INFEASIBLE
    by_site = {d.site_id: d.message for d in plan.diagnostics if d.site_id}
    assert "covers south-west" in by_site["far"]
    assert "10000 Mb" in by_site["fast"] and "fastest is 1000 Mb" in by_site["fast"]
    assert "ok" not in by_site


def test_cbc_finds_the_same_optimum_as_highs(catalog: Catalog) -> None:
    sites = [_site("s1", resilience="backup", wifi_aps=2), _site("s2"), _site("s3")]
    scenario = Scenario(start_date=START)
    highs = solve(catalog, sites, scenario)
    cbc = solve(catalog, sites, scenario, solver="cbc")
    assert highs.status == cbc.status == PlanStatus.OPTIMAL
    assert cbc.total_cost == pytest.approx(highs.total_cost, abs=0.01)


def test_unknown_solver_is_bad_input(catalog: Catalog) -> None:
    from procurement.errors import InputError

    with pytest.raises(InputError, match="unknown solver"):
        solve(catalog, [_site("s1")], Scenario(start_date=START), solver="gurobi")


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_solvers_write_nothing_to_stdout(
    catalog: Catalog, solver: str, capfd: pytest.CaptureFixture[str]
) -> None:
    solve(catalog, [_site("s1"), _site("s2")], Scenario(start_date=START), solver=solver)
    out, _ = capfd.readouterr()
    assert out == ""
