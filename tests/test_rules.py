"""One small, hand-worked example per SPEC rule.

Every expected number is worked out in a comment from the SPEC's formulas.
Each example is solved twice, by the optimiser and by the brute-force
reference (:mod:`bruteforce`), and both must give the hand-worked answer; every
plan is also re-priced from its links and re-checked against the rules.

Unless a test says otherwise: start 2025-01-01, term T = 12 months, London,
sites need 50 Mbps, offerings are 100 Mbps at 99.5 % with no install charge and
no fees, so an offering's recurring list price is ``12 * monthly``.
"""

from __future__ import annotations

import re
from datetime import date

import bruteforce as bf
import pytest
from conftest import LONDON, SOUTH_EAST, START, catalog, offering, org, scenario, site, supplier

from procurement.models import CentralFramework, Fees, VolumeTier
from procurement.plan import Level, PlanStatus

optimiser = pytest.importorskip("procurement.optimiser")

T12 = {"term_months": 12}


def run(cat, sites, scn, orgs=None):
    """Solve with the MILP and the brute force; check the plan; return both."""
    ref = bf.brute_force(cat, sites, scn, orgs)
    plan = optimiser.solve(cat, sites, scn, orgs)
    assert (plan.status == PlanStatus.INFEASIBLE) == ref.infeasible, (plan.status, ref.status)
    if plan.status != PlanStatus.INFEASIBLE:
        bf.assert_plan_consistent(plan, cat, sites, scn, orgs)
    return ref, plan


def chosen(plan, site_id: str, role: str = "primary") -> str | None:
    sp = next(s for s in plan.sites if s.site_id == site_id)
    link = getattr(sp, role)
    return None if link is None else link.offering_id


def ref_chosen(ref, site_id: str, role: str = "primary") -> str | None:
    option = ref.assignment[site_id]
    if option is None:
        return None
    o = option[("primary", "secondary", "wifi").index(role)]
    return None if o is None else o.id


def same_total(ref, plan, expected: float) -> None:
    assert ref.total == pytest.approx(expected, abs=0.01)
    assert plan.total_cost == pytest.approx(expected, abs=0.01)


def errors(plan) -> list:
    return [d for d in plan.diagnostics if d.level == Level.ERROR]


def digits(text: str) -> str:
    """Message text with thousands separators and currency signs removed."""
    return re.sub(r"(?<=\d),(?=\d)", "", text).replace("£", "")


# --------------------------------------------------------------------------- cost


@pytest.mark.parametrize(("n_sites", "expected"), [(2, 2400.0), (3, 3240.0)])
def test_volume_tier_starts_at_min_sites(n_sites, expected):
    # tier {min_sites: 3, discount: 0.1}; each site 100/month * 12 = 1200 list.
    # 2 sites: n=2 < 3, no discount: 2400.  3 sites: 3600 * 0.9 = 3240.
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)],
                           volume_discounts=[VolumeTier(min_sites=3, discount=0.1)]))
    sites = [site(f"s{k}") for k in range(n_sites)]
    ref, plan = run(cat, sites, scenario(**T12))
    same_total(ref, plan, expected)
    line = plan.suppliers[0]
    assert line.sites == n_sites
    assert line.discount == pytest.approx(0.1 if n_sites >= 3 else 0.0)


@pytest.mark.parametrize(("route", "expected", "lines"),
                         [("collaborative", 7000.0, 1), ("solo", 9200.0, 2)])
def test_fees_once_per_consortium_but_once_per_organisation_solo(route, expected, lines):
    # fees = onboarding 1000 + annual 600 * 24/12 = 2200 per contracting party.
    # Two organisations, one site each at 100/month for 24 months = 2400 each.
    # collaborative: 4800 + 2200 once = 7000; solo: 4800 + 2 * 2200 = 9200.
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)],
                           fees=Fees(onboarding=1000, annual_management=600)))
    sites = [site("s1", "org-a"), site("s2", "org-b")]
    ref, plan = run(cat, sites, scenario(term_months=24, route=route))
    same_total(ref, plan, expected)
    assert len(plan.suppliers) == lines
    assert plan.breakdown.fees == pytest.approx(2200.0 * lines)


@pytest.mark.parametrize(("term", "expected"), [(12, 3600.0), (48, 4800.0)])
def test_recurring_charged_for_max_of_term_and_min_term(term, expected):
    # min_term_months 36, 100/month: T=12 -> 100 * max(12, 36) = 3600;
    # T=48 -> 100 * 48 = 4800.
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100, min_term_months=36)]))
    ref, plan = run(cat, [site("s1")], scenario(term_months=term))
    same_total(ref, plan, expected)
    assert plan.sites[0].primary.recurring_list == pytest.approx(expected)


def test_total_is_breakdown_and_collaborative_attribution_sums_to_total():
    # a: install 50, 100/month, tier {3: 0.1}, onboarding 300; T = 12.
    # org-a has 2 sites, org-b 1 site; n = 3 so d = 0.1.
    # one_off 150, recurring_list 3600, discount 360, fees 300: total 3690.
    # attributed: org-a 2 * (50 + 1080) + 300 * 2/3 = 2460;
    #             org-b 1 * (50 + 1080) + 300 * 1/3 = 1230; 2460 + 1230 = 3690.
    cat = catalog(supplier("a", [offering("a-f", install_cost=50, monthly_cost=100)],
                           volume_discounts=[VolumeTier(min_sites=3, discount=0.1)],
                           fees=Fees(onboarding=300)))
    sites = [site("s1", "org-a"), site("s2", "org-a"), site("s3", "org-b")]
    ref, plan = run(cat, sites, scenario(route="collaborative", **T12))
    same_total(ref, plan, 3690.0)
    b = plan.breakdown
    assert (b.one_off, b.recurring_list, b.discount, b.fees) == pytest.approx((150, 3600, 360, 300))
    assert plan.total_cost == pytest.approx(b.one_off + b.recurring_list - b.discount + b.fees)
    costs = {o.organisation: o.cost for o in plan.organisations}
    assert costs == pytest.approx({"org-a": 2460.0, "org-b": 1230.0})
    assert sum(costs.values()) == pytest.approx(plan.total_cost)
    # a site's cost is its links without fees: 50 + 1080
    assert plan.sites[0].cost == pytest.approx(1130.0)


def test_baseline_saving_shares_fees_evenly_and_skips_sites_without_baseline():
    # a: 100/month, onboarding 1200; T = 12; both sites on a (n = 2).
    # only s1 has a baseline: 200 * 12 = 2400.  s1's share: 1200 link + 1200/2 fees.
    # saving = 2400 - 1800 = 600.
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)], fees=Fees(onboarding=1200)))
    sites = [site("s1", current_monthly_cost=200), site("s2")]
    ref, plan = run(cat, sites, scenario(**T12))
    same_total(ref, plan, 3600.0)
    b = plan.baseline
    assert (b.sites, b.cost, b.saving) == (1, pytest.approx(2400.0), pytest.approx(600.0))
    assert ref.priced["baseline"] == {"sites": 1, "cost": pytest.approx(2400.0),
                                      "saving": pytest.approx(600.0)}


def test_baseline_saving_is_baseline_minus_total_when_every_site_has_one():
    # baselines 200 + 150 = 350/month * 12 = 4200; total 3600; saving 600.
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)], fees=Fees(onboarding=1200)))
    sites = [site("s1", current_monthly_cost=200), site("s2", current_monthly_cost=150)]
    _, plan = run(cat, sites, scenario(**T12))
    assert plan.baseline.cost == pytest.approx(4200.0)
    assert plan.baseline.saving == pytest.approx(4200.0 - plan.total_cost)


# --------------------------------------------------------------------------- links


def test_availability_product_two_99_links_meet_99_99():
    # one 99 % link gives 99 % < 99.99; fibre + 4g: 100 * (1 - 0.01 * 0.01) = 99.99.
    # cost (100 + 40) * 12 = 1680.
    cat = catalog(supplier("a", [
        offering("a-f", availability_pct=99.0, monthly_cost=100),
        offering("a-4g", "4g", download_mbps=20, availability_pct=99.0, monthly_cost=40),
    ]))
    ref, plan = run(cat, [site("s1", min_availability_pct=99.99)], scenario(**T12))
    same_total(ref, plan, 1680.0)
    assert chosen(plan, "s1", "secondary") == "a-4g"
    assert plan.sites[0].availability_pct == pytest.approx(99.99)


def test_availability_target_above_the_product_is_infeasible():
    # the best pair gives 99.99 < 99.995: no bundle.
    cat = catalog(supplier("a", [
        offering("a-f", availability_pct=99.0, monthly_cost=100),
        offering("a-4g", "4g", download_mbps=20, availability_pct=99.0, monthly_cost=40),
    ]))
    _, plan = run(cat, [site("s1", min_availability_pct=99.995)], scenario(**T12))
    assert plan.status == PlanStatus.INFEASIBLE
    assert any(d.site_id == "s1" for d in errors(plan))


def test_single_link_meets_a_target_alone():
    # 99.5 >= 99.4 with one link: the optional 4g is not bought; 100 * 12 = 1200.
    cat = catalog(supplier("a", [
        offering("a-f", availability_pct=99.5, monthly_cost=100),
        offering("a-4g", "4g", download_mbps=20, availability_pct=99.0, monthly_cost=40),
    ]))
    ref, plan = run(cat, [site("s1", min_availability_pct=99.4)], scenario(**T12))
    same_total(ref, plan, 1200.0)
    assert chosen(plan, "s1", "secondary") is None


def test_diverse_needs_two_suppliers():
    # a-f 100 + a-e 150 would be cheapest (250) but is one supplier: refused.
    # diverse pair: a-f 100 + b-f 300 = 400/month * 12 = 4800.
    cat = catalog(
        supplier("a", [offering("a-f", monthly_cost=100),
                       offering("a-e", "ethernet", monthly_cost=150)]),
        supplier("b", [offering("b-f", monthly_cost=300)]),
    )
    ref, plan = run(cat, [site("s1", resilience="diverse")], scenario(**T12))
    same_total(ref, plan, 4800.0)
    assert {chosen(plan, "s1"), chosen(plan, "s1", "secondary")} == {"a-f", "b-f"}


def test_diverse_from_one_supplier_is_infeasible_and_says_which_site():
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100),
                                 offering("a-e", "ethernet", monthly_cost=150)]))
    ref, plan = run(cat, [site("s1", resilience="diverse")], scenario(**T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
    assert [d.site_id for d in errors(plan)] == ["s1"]
    assert errors(plan)[0].message.strip()


def test_diverse_secondary_must_be_wired_and_fast_enough():
    # b's only alternatives are 4g, and a 20 Mbps fibre below the 50 Mbps need.
    cat = catalog(
        supplier("a", [offering("a-f", monthly_cost=100)]),
        supplier("b", [offering("b-4g", "4g", monthly_cost=10),
                       offering("b-slow", download_mbps=20, monthly_cost=10)]),
    )
    ref, plan = run(cat, [site("s1", resilience="diverse")], scenario(**T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE


def test_backup_must_differ_in_technology():
    # fibre+fibre (20 + 30) would be cheapest but is one technology: refused.
    # a-f1 20 + a-4g 60 = 80/month * 12 = 960.
    cat = catalog(supplier("a", [
        offering("a-f1", monthly_cost=20),
        offering("a-f2", monthly_cost=30),
        offering("a-4g", "4g", download_mbps=20, monthly_cost=60),
    ]))
    ref, plan = run(cat, [site("s1", resilience="backup")], scenario(**T12))
    same_total(ref, plan, 960.0)
    assert chosen(plan, "s1") == "a-f1"
    assert chosen(plan, "s1", "secondary") == "a-4g"


def test_backup_below_backup_mbps_is_refused():
    # backup_mbps 50: the 20 Mbps 4g (10/month) cannot back up; the 100 Mbps
    # ethernet (90/month) can: (20 + 90) * 12 = 1320.
    cat = catalog(supplier("a", [
        offering("a-f", monthly_cost=20),
        offering("a-4g", "4g", download_mbps=20, monthly_cost=10),
        offering("a-e", "ethernet", monthly_cost=90),
    ]))
    ref, plan = run(cat, [site("s1", resilience="backup", backup_mbps=50)], scenario(**T12))
    same_total(ref, plan, 1320.0)
    # (a-e primary with a-f backup costs the same; either way no 4g)
    assert {chosen(plan, "s1"), chosen(plan, "s1", "secondary")} == {"a-f", "a-e"}


def test_optional_secondary_of_single_site_not_bought_on_cost():
    # a 4g backup is allowed on a single site but only adds cost: 100 * 12 = 1200.
    cat = catalog(supplier("a", [
        offering("a-f", monthly_cost=100),
        offering("a-4g", "4g", download_mbps=20, monthly_cost=5),
    ]))
    ref, plan = run(cat, [site("s1")], scenario(**T12))
    same_total(ref, plan, 1200.0)
    assert chosen(plan, "s1", "secondary") is None
    assert ref_chosen(ref, "s1", "secondary") is None


def test_optional_secondary_bought_when_it_reaches_a_volume_tier():
    # A SPEC consequence: a link counts its site for its supplier's tier.
    # b: tier {min_sites: 2, discount: 0.5}; s1 buys b-f (100/month); s2 can only
    # have a-f (10/month) as primary.  Without a secondary: 1200 + 120 = 1320.
    # Adding b-4g (1/month) to s2 makes n(b) = 2, d = 0.5:
    # b: (1200 + 12) * 0.5 = 606; a: 120; total 726 < 1320.
    cat = catalog(
        supplier("a", [offering("a-f", monthly_cost=10, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
        supplier("b", [offering("b-f", monthly_cost=100, regions=[LONDON]),
                       offering("b-4g", "4g", download_mbps=20, monthly_cost=1)],
                 regions=[LONDON, SOUTH_EAST],
                 volume_discounts=[VolumeTier(min_sites=2, discount=0.5)]),
    )
    sites = [site("s1"), site("s2", region=SOUTH_EAST)]
    ref, plan = run(cat, sites, scenario(**T12))
    same_total(ref, plan, 726.0)
    assert chosen(plan, "s2", "secondary") == "b-4g"


def test_uncontended_needs_contention_one_and_ethernet_defaults_to_one():
    # fibre without a ratio (40) and fibre 1:20 (30) are refused; ethernet
    # (no ratio, so 1) at 80 is chosen: 960.  With a fibre at ratio 1 (60): 720.
    offers = [
        offering("a-f", monthly_cost=40),
        offering("a-f20", monthly_cost=30, contention_ratio=20),
        offering("a-e", "ethernet", monthly_cost=80),
    ]
    sites = [site("s1", uncontended=True)]
    ref, plan = run(catalog(supplier("a", offers)), sites, scenario(**T12))
    same_total(ref, plan, 960.0)
    assert chosen(plan, "s1") == "a-e"
    offers.append(offering("a-f1", monthly_cost=60, contention_ratio=1))
    ref, plan = run(catalog(supplier("a", offers)), sites, scenario(**T12))
    same_total(ref, plan, 720.0)
    assert chosen(plan, "s1") == "a-f1"


@pytest.mark.parametrize(("allow", "expected", "primary"),
                         [(False, 1200.0, "a-f"), (True, 360.0, "a-4g")])
def test_4g_primary_only_when_allowed(allow, expected, primary):
    cat = catalog(supplier("a", [
        offering("a-f", monthly_cost=100),
        offering("a-4g", "4g", monthly_cost=30),
    ]))
    ref, plan = run(cat, [site("s1", allow_4g_primary=allow)], scenario(**T12))
    same_total(ref, plan, expected)
    assert chosen(plan, "s1") == primary


def test_primary_needs_bandwidth():
    # 50 Mbps site: the 20 Mbps fibre (10) is too slow; the 100 Mbps one (100): 1200.
    cat = catalog(supplier("a", [offering("a-slow", download_mbps=20, monthly_cost=10),
                                 offering("a-f", monthly_cost=100)]))
    ref, plan = run(cat, [site("s1")], scenario(**T12))
    same_total(ref, plan, 1200.0)


def test_wifi_quantity_is_wifi_aps_and_counts_the_site_for_the_tier():
    # a sells fibre 100/month; b sells wifi 10/AP/month, install 50/AP,
    # tier {min_sites: 2, discount: 0.2}.  s1 has 3 APs, s2 has 2 APs.
    # b: n = 2 sites (wifi counts), d = 0.2; one_off 5 * 50 = 250;
    #    recurring list 5 * 10 * 12 = 600, after discount 480 -> 730.
    # a: 2 * 1200 = 2400.  total 3130.
    cat = catalog(
        supplier("a", [offering("a-f", monthly_cost=100)]),
        supplier("b", [offering("b-w", "wifi", install_cost=50, monthly_cost=10)],
                 volume_discounts=[VolumeTier(min_sites=2, discount=0.2)]),
    )
    sites = [site("s1", wifi_aps=3), site("s2", wifi_aps=2)]
    ref, plan = run(cat, sites, scenario(**T12))
    same_total(ref, plan, 3130.0)
    wifi = {s.site_id: s.wifi for s in plan.sites}
    assert (wifi["s1"].quantity, wifi["s2"].quantity) == (3, 2)
    line = next(x for x in plan.suppliers if x.supplier_id == "b")
    assert (line.sites, line.discount) == (2, pytest.approx(0.2))


def test_no_wifi_bought_without_access_points():
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100),
                                 offering("a-w", "wifi", monthly_cost=0)]))
    _, plan = run(cat, [site("s1", wifi_aps=0)], scenario(**T12))
    assert plan.sites[0].wifi is None


def test_site_technologies_exclude_a_technology_but_not_wifi():
    # technologies: ethernet only.  fibre (50) refused, ethernet (100) chosen,
    # and wifi is still bought: 1 AP * 10 * 12.  total 1200 + 120 = 1320.
    cat = catalog(supplier("a", [
        offering("a-f", monthly_cost=50),
        offering("a-e", "ethernet", monthly_cost=100),
        offering("a-w", "wifi", monthly_cost=10),
    ]))
    ref, plan = run(cat, [site("s1", technologies=["ethernet"], wifi_aps=1)], scenario(**T12))
    same_total(ref, plan, 1320.0)
    assert chosen(plan, "s1") == "a-e"
    assert chosen(plan, "s1", "wifi") == "a-w"


# --------------------------------------------------------------------------- usable suppliers

DEAR = [offering("b-f", monthly_cost=200)]  # b: 200 * 12 = 2400


def _cheap_a(**kw):
    return supplier("a", [offering("a-f", monthly_cost=100)], **kw)  # 1200


@pytest.mark.parametrize(("kw", "scn_kw"), [
    ({"hscn_compliant": False}, {}),
    ({}, {"exclude_suppliers": ("a",)}),
    ({"certifications": ["cep"]}, {"required_certifications": ("iso27001",)}),
    ({}, {"route": "central"}),  # a has no central_framework
], ids=["non-compliant", "excluded", "certification", "central-without-framework"])
def test_unusable_supplier_is_never_chosen(kw, scn_kw):
    # a (1200) is cheaper than b (2400) but unusable: 2400, or on central with
    # b's framework (discount 0, no fees) also 2400.
    b = supplier("b", DEAR, certifications=["iso27001"],
                 central_framework=CentralFramework(discount=0.0))
    cat = catalog(_cheap_a(**kw), b)
    ref, plan = run(cat, [site("s1")], scenario(**T12, **scn_kw))
    same_total(ref, plan, 2400.0)
    assert chosen(plan, "s1") == "b-f"


def test_required_certification_held_keeps_supplier():
    cat = catalog(_cheap_a(certifications=["iso27001", "cep"]),
                  supplier("b", DEAR))
    ref, plan = run(cat, [site("s1")], scenario(required_certifications=("iso27001",), **T12))
    same_total(ref, plan, 1200.0)


def test_expired_supplier_ignored_with_a_warning():
    # oldnet (1200) expired the day before start: b is used (2400); a warning names oldnet.
    oldnet = supplier("oldnet", [offering("old-f", monthly_cost=100)],
                      compliance_expires=date(2024, 12, 31))
    cat = catalog(oldnet, supplier("b", DEAR))
    ref, plan = run(cat, [site("s1")], scenario(**T12))
    same_total(ref, plan, 2400.0)
    warnings = [d for d in plan.diagnostics if d.level == Level.WARNING]
    assert any("oldnet" in d.message for d in warnings), plan.diagnostics


def test_supplier_expiring_on_start_date_is_still_usable():
    # "not selectable if before the scenario's start_date": on the day is fine.
    cat = catalog(_cheap_a(compliance_expires=START), supplier("b", DEAR))
    ref, plan = run(cat, [site("s1")], scenario(**T12))
    same_total(ref, plan, 1200.0)


def test_central_route_uses_framework_discount_and_fees_not_tiers():
    # b on central: framework discount 0.1, onboarding 100, annual 120 -> fees 220;
    # its own tier (0.5) and fees (5000) do not apply.  1200 * 0.9 + 220 = 1300.
    # a has no framework and is not usable although cheaper.
    b = supplier("b", [offering("b-f", monthly_cost=100)],
                 fees=Fees(onboarding=5000),
                 volume_discounts=[VolumeTier(min_sites=1, discount=0.5)],
                 central_framework=CentralFramework(discount=0.1, onboarding=100,
                                                    annual_management=120))
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=50)]), b)
    ref, plan = run(cat, [site("s1")], scenario(route="central", **T12))
    same_total(ref, plan, 1300.0)
    (line,) = plan.suppliers
    assert (line.supplier_id, line.discount, line.fees) == ("b", pytest.approx(0.1),
                                                          pytest.approx(220.0))
    # on solo the tier and the normal fees apply: 1200 * 0.5 + 5000 = 5600 > a's 600
    ref, plan = run(cat, [site("s1")], scenario(route="solo", **T12))
    same_total(ref, plan, 600.0)


def test_offering_regions_override_supplier_regions():
    # a sells in London and the South East, but a-cheap only in the South East.
    # London site: a-dear (200 -> 2400); South East site: a-cheap (100 -> 1200).
    cat = catalog(supplier("a", [
        offering("a-cheap", monthly_cost=100, regions=[SOUTH_EAST]),
        offering("a-dear", monthly_cost=200),
    ], regions=[LONDON, SOUTH_EAST]))
    ref, plan = run(cat, [site("s1"), site("s2", region=SOUTH_EAST)], scenario(**T12))
    same_total(ref, plan, 3600.0)
    assert (chosen(plan, "s1"), chosen(plan, "s2")) == ("a-dear", "a-cheap")


def test_region_not_covered_is_infeasible_with_reason():
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)]))
    ref, plan = run(cat, [site("s1"), site("s2", region=SOUTH_EAST)], scenario(**T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
    errs = errors(plan)
    assert [d.site_id for d in errs] == ["s2"]
    # in plain words: the region by name or code
    message = errs[0].message.lower()
    assert "region" in message or "south-east" in message or "south east" in message


def test_every_unservable_site_is_named_when_a_builder_is_reused():
    # servability is memoised per requirement: sites sharing one (and a second
    # solve on the same builder) must get the same answer as the first site
    from procurement.options import BundleBuilder

    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)]))
    sites = [site("s1"), site("s2", region=SOUTH_EAST), site("s3", region=SOUTH_EAST)]
    scn = scenario(**T12)
    builder = BundleBuilder(cat, scn)
    for _ in range(2):
        plan = optimiser.solve(cat, sites, scn, builder=builder)
        assert plan.status == PlanStatus.INFEASIBLE
        assert [d.site_id for d in errors(plan)] == ["s2", "s3"]


def test_bandwidth_too_high_is_infeasible_with_reason():
    cat = catalog(supplier("a", [offering("a-f", monthly_cost=100)]))
    _, plan = run(cat, [site("s1", bandwidth_mbps=1000)], scenario(**T12))
    assert plan.status == PlanStatus.INFEASIBLE
    errs = errors(plan)
    assert [d.site_id for d in errs] == ["s1"]
    # in plain words: the bandwidth, or the speed asked for
    message = errs[0].message.lower()
    assert "bandwidth" in message or "1000" in digits(message)


def test_lead_time_against_go_live_by():
    # go_live_by 2025-01-31 is 30 days after start: a-slow (31 days, 100/month)
    # misses it, a-ok (30 days, exactly on time, 150/month) makes it: 1800.
    cat = catalog(supplier("a", [offering("a-slow", monthly_cost=100, lead_time_days=31),
                                 offering("a-ok", monthly_cost=150, lead_time_days=30)]))
    ref, plan = run(cat, [site("s1", go_live_by=date(2025, 1, 31))], scenario(**T12))
    same_total(ref, plan, 1800.0)
    assert chosen(plan, "s1") == "a-ok"


# --------------------------------------------------------------------------- budget and objective

TWO_SITES = [site("s1", "org-a"), site("s2", "org-b")]  # 2 * 1200 = 2400 on a


def test_budget_equal_to_cheapest_is_enough():
    cat = catalog(_cheap_a())
    ref, plan = run(cat, TWO_SITES, scenario(budget=2400, **T12))
    same_total(ref, plan, 2400.0)


def test_budget_shortfall_reports_the_cheapest_cost():
    # cheapest plan 2400 > budget 2399: infeasible, and the answer names 2400.
    cat = catalog(_cheap_a())
    ref, plan = run(cat, TWO_SITES, scenario(budget=2399, **T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
    assert any("2400" in digits(d.message) for d in plan.diagnostics), plan.diagnostics


def test_organisation_budgets_bind_on_solo_but_only_sum_on_collaborative():
    # each organisation's cheapest is 1200; org-a's budget 1000 is too small.
    # solo: infeasible.  collaborative: the default budget is 1000 + 2000 = 3000 >= 2400.
    cat = catalog(_cheap_a())
    orgs = [org("org-a", 1000), org("org-b", 2000)]
    ref, plan = run(cat, TWO_SITES, scenario(route="solo", **T12), orgs)
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
    ref, plan = run(cat, TWO_SITES, scenario(route="collaborative", **T12), orgs)
    same_total(ref, plan, 2400.0)


@pytest.mark.parametrize(("budget_a", "feasible"), [(1199, False), (1200, True)])
def test_organisation_budgets_bind_on_central(budget_a, feasible):
    # central, framework discount 0 and no fees: each organisation pays 1200.
    cat = catalog(_cheap_a(central_framework=CentralFramework(discount=0.0)))
    orgs = [org("org-a", budget_a), org("org-b", 5000)]
    ref, plan = run(cat, TWO_SITES, scenario(route="central", **T12), orgs)
    assert (plan.status != PlanStatus.INFEASIBLE) is feasible
    assert (not ref.infeasible) is feasible


def test_collaborative_default_budget_is_the_sum_of_organisation_budgets():
    # 1100 + 1200 = 2300 < 2400: infeasible; a scenario budget of 5000 overrides it.
    cat = catalog(_cheap_a())
    orgs = [org("org-a", 1100), org("org-b", 1200)]
    ref, plan = run(cat, TWO_SITES, scenario(route="collaborative", **T12), orgs)
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
    ref, plan = run(cat, TWO_SITES, scenario(route="collaborative", budget=5000, **T12), orgs)
    same_total(ref, plan, 2400.0)


def test_organisation_budgets_shape_a_solo_quality_plan():
    # cheap fibre q40 (1200) or premium ethernet q90 (2400) per site.
    # org-a's budget 1500 affords only the cheap one; org-b's 3000 affords premium.
    # quality 40 + 90 = 130, total 3600.
    cat = catalog(supplier("a", [
        offering("a-f", monthly_cost=100, quality_score=40),
        offering("a-e", "ethernet", monthly_cost=200, quality_score=90),
    ]))
    orgs = [org("org-a", 1500), org("org-b", 3000)]
    scn = scenario(route="solo", objective="quality", budget=100_000, **T12)
    ref, plan = run(cat, TWO_SITES, scn, orgs)
    same_total(ref, plan, 3600.0)
    assert plan.quality == pytest.approx(130.0) and ref.quality == pytest.approx(130.0)
    assert (chosen(plan, "s1"), chosen(plan, "s2")) == ("a-f", "a-e")
    assert {o.organisation: o.cost for o in plan.organisations} == pytest.approx(
        {"org-a": 1200.0, "org-b": 2400.0})


@pytest.mark.parametrize(("budget", "primary", "expected"),
                         [(3500, "b-q90", 3000.0), (2000, "c-q50", 1200.0)])
def test_quality_objective_best_quality_within_budget_then_cheapest(budget, primary, expected):
    # a-q90 300/month (3600), b-q90 250/month (3000), c-q50 100/month (1200).
    # budget 3500: quality 90 fits only via b (3000 < 3600).  budget 2000: only c.
    cat = catalog(
        supplier("a", [offering("a-q90", monthly_cost=300, quality_score=90)]),
        supplier("b", [offering("b-q90", monthly_cost=250, quality_score=90)]),
        supplier("c", [offering("c-q50", monthly_cost=100, quality_score=50)]),
    )
    ref, plan = run(cat, [site("s1")], scenario(objective="quality", budget=budget, **T12))
    same_total(ref, plan, expected)
    assert chosen(plan, "s1") == primary


def test_quality_objective_cheaper_among_equal_quality():
    # ample budget: both q90 offerings fit; the cheaper b-q90 (3000) is chosen.
    cat = catalog(
        supplier("a", [offering("a-q90", monthly_cost=300, quality_score=90)]),
        supplier("b", [offering("b-q90", monthly_cost=250, quality_score=90)]),
    )
    ref, plan = run(cat, [site("s1")], scenario(objective="quality", budget=10_000, **T12))
    same_total(ref, plan, 3000.0)


def test_allow_partial_serves_highest_priority_subset():
    # three sites at 1200 each, priorities 5, 1, 3; budget 2500 serves two:
    # {5, 3} = 8 beats {5, 1} and {1, 3}.  total 2400.
    cat = catalog(_cheap_a())
    sites = [site("s1", priority=5), site("s2", priority=1), site("s3", priority=3)]
    ref, plan = run(cat, sites, scenario(budget=2500, allow_partial=True, **T12))
    assert plan.status == PlanStatus.PARTIAL and ref.status == "partial"
    same_total(ref, plan, 2400.0)
    served = {s.site_id for s in plan.sites if s.served}
    assert served == {"s1", "s3"}


def test_allow_partial_serves_everything_when_it_can():
    cat = catalog(_cheap_a())
    sites = [site("s1", priority=5), site("s2", priority=1)]
    _, plan = run(cat, sites, scenario(budget=2400, allow_partial=True, **T12))
    assert plan.status == PlanStatus.OPTIMAL
    assert all(s.served for s in plan.sites)


def test_without_allow_partial_budget_too_small_is_infeasible():
    cat = catalog(_cheap_a())
    sites = [site("s1", priority=5), site("s2", priority=1)]
    _, plan = run(cat, sites, scenario(budget=2000, **T12))
    assert plan.status == PlanStatus.INFEASIBLE


# --------------------------------------------------------------------------- supplier limits

# Two sites in two regions.  a: London 100, South East 130; b: London 150, South East 100.
REGIONAL = catalog(
    supplier("a", [offering("a-l", monthly_cost=100, regions=[LONDON]),
                   offering("a-s", monthly_cost=130, regions=[SOUTH_EAST])],
             regions=[LONDON, SOUTH_EAST]),
    supplier("b", [offering("b-l", monthly_cost=150, regions=[LONDON]),
                   offering("b-s", monthly_cost=100, regions=[SOUTH_EAST])],
             regions=[LONDON, SOUTH_EAST]),
)
REGIONAL_SITES = [site("s1"), site("s2", region=SOUTH_EAST)]


def test_max_suppliers_binds():
    # unconstrained: a-l + b-s = 200 * 12 = 2400 with two suppliers.
    # max 1: all a = 230 * 12 = 2760 (all b would be 250 * 12 = 3000).
    ref, plan = run(REGIONAL, REGIONAL_SITES, scenario(**T12))
    same_total(ref, plan, 2400.0)
    ref, plan = run(REGIONAL, REGIONAL_SITES, scenario(max_suppliers=1, **T12))
    same_total(ref, plan, 2760.0)
    assert plan.supplier_ids == ("a",)


def test_min_suppliers_binds():
    # a cheaper everywhere (a-l 100, a-s 100) -> 2400 with one supplier.
    # min 2: cheapest split a-l 100 + b-s 120 = 220 * 12 = 2640.
    cat = catalog(
        supplier("a", [offering("a-l", monthly_cost=100, regions=[LONDON]),
                       offering("a-s", monthly_cost=100, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
        supplier("b", [offering("b-l", monthly_cost=150, regions=[LONDON]),
                       offering("b-s", monthly_cost=120, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
    )
    ref, plan = run(cat, REGIONAL_SITES, scenario(**T12))
    same_total(ref, plan, 2400.0)
    ref, plan = run(cat, REGIONAL_SITES, scenario(min_suppliers=2, **T12))
    same_total(ref, plan, 2640.0)


def test_min_suppliers_does_not_bind_a_party_that_buys_nothing():
    # solo, allow_partial: org-b's only site (South West) has no usable bundle,
    # so org-b buys nothing and min_suppliers=2 does not bind it; org-a buys
    # a-l (100) and b-s (120) for its two sites: 2640.
    cat = catalog(
        supplier("a", [offering("a-l", monthly_cost=100, regions=[LONDON]),
                       offering("a-s", monthly_cost=100, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
        supplier("b", [offering("b-l", monthly_cost=150, regions=[LONDON]),
                       offering("b-s", monthly_cost=120, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
    )
    sites = [site("s1", "org-a"), site("s2", "org-a", region=SOUTH_EAST),
             site("s3", "org-b", region="south-west")]
    scn = scenario(route="solo", min_suppliers=2, allow_partial=True, **T12)
    ref, plan = run(cat, sites, scn)
    assert plan.status == PlanStatus.PARTIAL
    same_total(ref, plan, 2640.0)


def test_max_supplier_share_binds():
    # share 0.5 of 2 served sites: no supplier may serve more than 1.
    # a-l 100 + b-s 100 is already split: 2400.  Make a cheaper in the South East
    # too (REGIONAL with a-s at 90 would go all-a at 2280); with share 0.5: 2400.
    cat = catalog(
        supplier("a", [offering("a-l", monthly_cost=100, regions=[LONDON]),
                       offering("a-s", monthly_cost=90, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
        supplier("b", [offering("b-l", monthly_cost=150, regions=[LONDON]),
                       offering("b-s", monthly_cost=100, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
    )
    ref, plan = run(cat, REGIONAL_SITES, scenario(**T12))
    same_total(ref, plan, 2280.0)
    ref, plan = run(cat, REGIONAL_SITES, scenario(max_supplier_share=0.5, **T12))
    same_total(ref, plan, 2400.0)


def test_max_supplier_share_counts_wifi_links():
    # both sites need 1 AP; only a sells wifi (0/month).  With share 0.5 a would
    # serve both sites through wifi alone: infeasible.
    cat = catalog(
        supplier("a", [offering("a-l", monthly_cost=100, regions=[LONDON]),
                       offering("a-w", "wifi", monthly_cost=0)],
                 regions=[LONDON, SOUTH_EAST]),
        supplier("b", [offering("b-s", monthly_cost=100, regions=[SOUTH_EAST])],
                 regions=[LONDON, SOUTH_EAST]),
    )
    sites = [site("s1", wifi_aps=1), site("s2", region=SOUTH_EAST, wifi_aps=1)]
    ref, plan = run(cat, sites, scenario(**T12))
    same_total(ref, plan, 2400.0)
    ref, plan = run(cat, sites, scenario(max_supplier_share=0.5, **T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE


@pytest.mark.parametrize(("changes", "expected"), [(None, 2400.0), (1, 3000.0), (0, 3600.0)])
def test_max_supplier_changes_binds(changes, expected):
    # s1 and s2 are with b today; a-l is 100/month (1200), b-l 150/month (1800).
    # unlimited: both move to a, 2400; one change: 1200 + 1800 = 3000;
    # no change: 2 * 1800 = 3600.
    cat = catalog(supplier("a", [offering("a-l", monthly_cost=100)]),
                  supplier("b", [offering("b-l", monthly_cost=150)]))
    sites = [site("s1", current_supplier="b"), site("s2", current_supplier="b")]
    ref, plan = run(cat, sites, scenario(max_supplier_changes=changes, **T12))
    same_total(ref, plan, expected)


def test_max_supplier_changes_ignores_sites_without_current_supplier():
    # s3 has no current supplier: moving it to a is not a change.  0 changes:
    # s1, s2 stay on b (1800 each), s3 on a (1200): 4800.
    cat = catalog(supplier("a", [offering("a-l", monthly_cost=100)]),
                  supplier("b", [offering("b-l", monthly_cost=150)]))
    sites = [site("s1", current_supplier="b"), site("s2", current_supplier="b"), site("s3")]
    ref, plan = run(cat, sites, scenario(max_supplier_changes=0, **T12))
    same_total(ref, plan, 4800.0)
    assert chosen(plan, "s3") == "a-l"


def test_current_supplier_outside_the_catalogue_is_a_change():
    # s1 is with "legacy-co" (not in the catalogue): any plan changes it.
    cat = catalog(supplier("a", [offering("a-l", monthly_cost=100)]))
    sites = [site("s1", current_supplier="legacy-co")]
    ref, plan = run(cat, sites, scenario(max_supplier_changes=0, **T12))
    assert ref.infeasible and plan.status == PlanStatus.INFEASIBLE
