"""Price a concrete choice of links exactly as the SPEC's "Cost" section says.

The optimiser only *chooses*; every number a buyer sees is computed here from
the chosen links: volume tiers from the real site counts, fees once per
contracting party and supplier, fee shares for attribution and baselines.
Keeping one pricing function means the plan JSON, the exports, shortlists and
schedules can never disagree about what a plan costs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from procurement.models import CONSORTIUM, Organisation, Route, Scenario, Site
from procurement.options import Bundle, Candidate, SupplierTerms
from procurement.plan import (
    Baseline,
    Breakdown,
    Link,
    OrganisationCost,
    SitePlan,
    SupplierLine,
)


def party_of(site: Site, route: Route) -> str:
    """Who signs for this site: the consortium on collaborative, else its organisation."""
    return CONSORTIUM if route == Route.COLLABORATIVE else site.organisation


@dataclass(frozen=True)
class PricedPlan:
    """Everything a :class:`~procurement.plan.Plan` reports about money."""

    sites: tuple[SitePlan, ...]
    suppliers: tuple[SupplierLine, ...]
    organisations: tuple[OrganisationCost, ...]
    breakdown: Breakdown
    baseline: Baseline
    total_cost: float
    quality: float
    party_costs: dict[str, float]


def _link(c: Candidate, discount: float) -> Link:
    o = c.offering
    return Link(
        offering_id=o.id,
        supplier_id=c.supplier_id,
        technology=o.technology.value,
        quantity=c.quantity,
        one_off=c.one_off,
        recurring=(1 - discount) * c.recurring_list,
        recurring_list=c.recurring_list,
        offering_name=o.name,
        download_mbps=o.download_mbps,
        availability_pct=o.availability_pct,
        quality_score=o.quality_score,
    )


def price(
    choice: Mapping[str, Bundle | None],
    sites: Sequence[Site],
    organisations: Sequence[Organisation],
    scenario: Scenario,
    terms: Mapping[str, SupplierTerms],
) -> PricedPlan:
    """Price ``choice`` (site id -> bundle, or None for an unserved site).

    ``terms`` gives each used supplier's fees and discounts on the route.
    """
    route = scenario.route
    # distinct sites per (party, supplier), and their one-off and list recurring sums
    users: dict[tuple[str, str], list[str]] = defaultdict(list)
    one_off: dict[tuple[str, str], float] = defaultdict(float)
    recurring: dict[tuple[str, str], float] = defaultdict(float)
    for site in sites:
        bundle = choice.get(site.site_id)
        if bundle is None:
            continue
        party = party_of(site, route)
        for supplier_id, o, r in bundle.charges:
            users[(party, supplier_id)].append(site.site_id)
            one_off[(party, supplier_id)] += o
            recurring[(party, supplier_id)] += r

    discount = {key: terms[key[1]].discount(len(ids)) for key, ids in users.items()}
    fees = {key: terms[key[1]].fees for key in users}

    lines = []
    party_costs: dict[str, float] = defaultdict(float)
    for key in sorted(users):
        party, supplier_id = key
        cost = one_off[key] + (1 - discount[key]) * recurring[key] + fees[key]
        party_costs[party] += cost
        lines.append(
            SupplierLine(
                party=party,
                supplier_id=supplier_id,
                sites=len(users[key]),
                discount=discount[key],
                fees=fees[key],
                cost=cost,
                one_off=one_off[key],
                recurring_list=recurring[key],
            )
        )

    site_plans = []
    links: dict[tuple[int, float], Link] = {}
    fee_share: dict[str, float] = {}  # each site's even share of its suppliers' fees
    quality = 0.0
    for site in sites:
        bundle = choice.get(site.site_id)
        common = {
            "site_id": site.site_id,
            "organisation": site.organisation,
            "name": site.name,
            "region": site.region.value,
            "priority": site.priority,
        }
        if bundle is None:
            site_plans.append(SitePlan(served=False, **common))
            continue
        party = party_of(site, route)

        def link(c: Candidate | None, party: str = party) -> Link | None:
            if c is None:
                return None
            d = discount[(party, c.supplier_id)]
            key = (id(c), d)  # links are immutable: sites buying the same share one
            found = links.get(key)
            if found is None:
                found = links[key] = _link(c, d)
            return found

        primary, secondary, wifi = link(bundle.primary), link(bundle.secondary), link(bundle.wifi)
        cost = sum(x.cost for x in (primary, secondary, wifi) if x is not None)
        fee_share[site.site_id] = sum(
            fees[(party, p)] / len(users[(party, p)]) for p in bundle.suppliers
        )
        quality += bundle.quality
        site_plans.append(
            SitePlan(
                served=True,
                primary=primary,
                secondary=secondary,
                wifi=wifi,
                availability_pct=bundle.availability_pct,
                cost=cost,
                **common,
            )
        )

    by_org: dict[str, list[SitePlan]] = defaultdict(list)
    for sp in site_plans:
        by_org[sp.organisation].append(sp)
    org_costs = []
    for org in organisations:
        own = by_org.get(org.organisation, [])
        if route == Route.COLLABORATIVE:
            cost = sum(sp.cost + fee_share.get(sp.site_id, 0.0) for sp in own if sp.served)
        else:
            cost = party_costs.get(org.organisation, 0.0)
        org_costs.append(
            OrganisationCost(
                organisation=org.organisation,
                cost=cost,
                budget=org.budget,
                name=org.name,
                sites=len(own),
            )
        )

    breakdown = Breakdown(
        one_off=sum(x.one_off for x in lines),
        recurring_list=sum(x.recurring_list for x in lines),
        discount=sum(x.discount_amount for x in lines),
        fees=sum(x.fees for x in lines),
    )
    total = sum(x.cost for x in lines)

    baseline_sites = [
        (site, sp)
        for site, sp in zip(sites, site_plans, strict=True)
        if sp.served and site.current_monthly_cost is not None
    ]
    baseline_cost = sum(site.current_monthly_cost or 0.0 for site, _ in baseline_sites) * (
        scenario.term_months
    )
    planned = sum(sp.cost + fee_share[sp.site_id] for _, sp in baseline_sites)
    baseline = Baseline(
        sites=len(baseline_sites), cost=baseline_cost, saving=baseline_cost - planned
    )
    return PricedPlan(
        sites=tuple(site_plans),
        suppliers=tuple(lines),
        organisations=tuple(org_costs),
        breakdown=breakdown,
        baseline=baseline,
        total_cost=total,
        quality=quality,
        party_costs=dict(party_costs),
    )
