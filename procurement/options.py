"""Which offerings may serve a site, and the bundles of links worth considering.

Every per-site rule of the SPEC ("Which offerings may serve a site") is applied
here, before any model is built: usability (compliance, expiry, exclusions,
certifications, central framework, region, lead time, technology), the
primary / secondary / wifi roles per resilience level, contention and the
availability product. The optimiser then only chooses among *bundles* that are
already valid, so the MILP carries no per-site logic at all.

Bundles are pruned for dominance, exactly: a bundle is dropped only when
another bundle of the same site uses the same suppliers (so it changes no
supplier's site count, fees or share) and costs no more with each of them in
every discount state, with no lower quality, no lower availability where that
matters, and the same primary supplier where supplier changes are limited.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from procurement.models import (
    LINK_TECHNOLOGIES,
    WIRED_TECHNOLOGIES,
    Catalog,
    Objective,
    Offering,
    Resilience,
    Route,
    Scenario,
    Site,
    Supplier,
    Technology,
)

#: Comparisons of availability percentages allow for floating-point noise.
AVAILABILITY_TOLERANCE = 1e-9


def term_months(offering: Offering, scenario: Scenario) -> int:
    """Months that are paid for: the term, or the offering's minimum if longer."""
    return max(scenario.term_months, offering.min_term_months)


def combined_availability(*percentages: float | None) -> float | None:
    """Availability of links that fail independently: 1 - product of failure rates."""
    values = [p for p in percentages if p is not None]
    if not values:
        return None
    failure = math.prod(1 - p / 100 for p in values)
    return 100 * (1 - failure)


@dataclass(frozen=True)
class SupplierTerms:
    """What a supplier charges a contracting party on the scenario's route."""

    supplier: Supplier
    fees: float  # onboarding + annual management over the term
    flat_discount: float | None  # central route: the framework's discount
    tiers: tuple[tuple[int, float], ...]  # (min_sites, discount), route solo/collaborative

    @property
    def max_discount(self) -> float:
        if self.flat_discount is not None:
            return self.flat_discount
        return max((d for _, d in self.tiers), default=0.0)

    def discount(self, n_sites: int) -> float:
        if self.flat_discount is not None:
            return self.flat_discount
        return max((d for m, d in self.tiers if m <= n_sites), default=0.0)


def supplier_terms(supplier: Supplier, scenario: Scenario) -> SupplierTerms:
    """Fees and discounts of ``supplier`` on the scenario's route, for one party."""
    years = scenario.term_months / 12
    if scenario.route == Route.CENTRAL:
        framework = supplier.central_framework
        onboarding = framework.onboarding if framework else 0.0
        annual = framework.annual_management if framework else 0.0
        return SupplierTerms(
            supplier, onboarding + annual * years, framework.discount if framework else 0.0, ()
        )
    tiers = tuple((t.min_sites, t.discount) for t in supplier.volume_discounts)
    return SupplierTerms(
        supplier, supplier.fees.onboarding + supplier.fees.annual_management * years, None, tiers
    )


def supplier_exclusion(supplier: Supplier, scenario: Scenario) -> str | None:
    """Why a supplier cannot be used at all in this scenario, or None if it can."""
    if not supplier.hscn_compliant:
        return "not HSCN compliant"
    if (
        supplier.compliance_expires is not None
        and supplier.compliance_expires < scenario.start_date
    ):
        return (
            f"HSCN compliance expired on {supplier.compliance_expires.isoformat()}, "
            f"before the start date {scenario.start_date.isoformat()}"
        )
    if supplier.id in scenario.exclude_suppliers:
        return "excluded by the scenario"
    missing = [c for c in scenario.required_certifications if c not in supplier.certifications]
    if missing:
        return f"lacks required certification {', '.join(missing)}"
    if scenario.route == Route.CENTRAL and supplier.central_framework is None:
        return "not on the central framework"
    return None


def eligible_suppliers(catalog: Catalog, scenario: Scenario) -> dict[str, SupplierTerms]:
    """Suppliers that may be used, with their terms, in catalogue order."""
    return {
        s.id: supplier_terms(s, scenario)
        for s in catalog.suppliers
        if supplier_exclusion(s, scenario) is None
    }


@dataclass(frozen=True)
class Requirement:
    """What a site needs, reduced to the fields that decide its valid bundles.

    Sites with equal requirements (in one region) have the same bundles, so
    bundles are enumerated once per requirement, not once per site.
    """

    region: str
    bandwidth_mbps: float
    resilience: Resilience
    backup_mbps: float
    min_availability_pct: float | None
    wifi_aps: int
    technologies: frozenset[Technology]
    allow_4g_primary: bool
    uncontended: bool
    max_lead_time_days: int | None  # from go_live_by; None when there is no deadline


def requirement_of(site: Site, start_date: date) -> Requirement:
    max_lead = None if site.go_live_by is None else (site.go_live_by - start_date).days
    return Requirement(
        region=site.region.value,
        bandwidth_mbps=site.bandwidth_mbps,
        resilience=site.resilience,
        backup_mbps=site.backup_mbps,
        min_availability_pct=site.min_availability_pct,
        wifi_aps=site.wifi_aps,
        technologies=site.technologies,
        allow_4g_primary=site.allow_4g_primary,
        uncontended=site.uncontended,
        max_lead_time_days=max_lead,
    )


@dataclass(frozen=True)
class Candidate:
    """One offering in one role at a site, priced for the term (before discount)."""

    offering: Offering
    supplier_id: str
    quantity: int
    one_off: float
    recurring_list: float

    @property
    def technology(self) -> Technology:
        return self.offering.technology


@dataclass(frozen=True)
class Bundle:
    """A valid set of links for one site: a primary, maybe a secondary, maybe wifi."""

    primary: Candidate
    secondary: Candidate | None
    wifi: Candidate | None
    availability_pct: float | None
    quality: float
    #: per supplier used: (one_off, recurring_list) summed over the bundle's links
    charges: tuple[tuple[str, float, float], ...]

    @property
    def links(self) -> tuple[Candidate, ...]:
        return tuple(c for c in (self.primary, self.secondary, self.wifi) if c is not None)

    @functools.cached_property
    def suppliers(self) -> tuple[str, ...]:
        # cached: building a model asks each bundle several times (355,000
        # times for 5,000 distinct sites); frozen dataclasses allow it, as
        # cached_property writes to the instance's __dict__ directly
        return tuple(p for p, _, _ in self.charges)

    @property
    def primary_supplier(self) -> str:
        return self.primary.supplier_id

    @property
    def one_off(self) -> float:
        return sum(o for _, o, _ in self.charges)

    @property
    def recurring_list(self) -> float:
        return sum(r for _, _, r in self.charges)

    @property
    def offering_ids(self) -> tuple[str, ...]:
        return tuple(c.offering.id for c in self.links)


def with_wifi(pair: Bundle, wifi: Candidate) -> Bundle:
    """A link pair with a wifi offering added."""
    links = tuple(c for c in (pair.primary, pair.secondary, wifi) if c is not None)
    return replace(pair, wifi=wifi, charges=_charges(links))


def make_candidate(
    offering: Offering, supplier_id: str, quantity: int, scenario: Scenario
) -> Candidate:
    return Candidate(
        offering=offering,
        supplier_id=supplier_id,
        quantity=quantity,
        one_off=quantity * offering.install_cost,
        recurring_list=quantity * offering.monthly_cost * term_months(offering, scenario),
    )


def _charges(links: Iterable[Candidate]) -> tuple[tuple[str, float, float], ...]:
    per: dict[str, list[float]] = {}
    for c in links:
        acc = per.setdefault(c.supplier_id, [0.0, 0.0])
        acc[0] += c.one_off
        acc[1] += c.recurring_list
    return tuple(sorted((p, o, r) for p, (o, r) in per.items()))


def _pair_charges(
    primary: Candidate, secondary: Candidate | None
) -> tuple[tuple[str, float, float], ...]:
    """:func:`_charges` of a primary and an optional secondary, without the general case's dict."""
    p = (primary.supplier_id, primary.one_off, primary.recurring_list)
    if secondary is None:
        return (p,)
    if secondary.supplier_id == primary.supplier_id:
        return (
            (
                p[0],
                primary.one_off + secondary.one_off,
                primary.recurring_list + secondary.recurring_list,
            ),
        )
    s = (secondary.supplier_id, secondary.one_off, secondary.recurring_list)
    return (p, s) if p < s else (s, p)


def _offering_usable_at(
    offering: Offering, regions: frozenset[str], requirement: Requirement
) -> str | None:
    """Why an offering of an eligible supplier cannot serve this requirement, or None.

    ``regions``: where the offering is sold (its own regions, else its supplier's).
    """
    if requirement.region not in regions:
        return "region"
    if (
        requirement.max_lead_time_days is not None
        and offering.lead_time_days > requirement.max_lead_time_days
    ):
        return "lead time"
    if (
        offering.technology is not Technology.WIFI
        and offering.technology not in requirement.technologies
    ):
        return "technology"
    return None


class _Pareto:
    """Keeps only the non-dominated items: smaller is better in every coordinate."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[float, ...], object]] = []

    def add(self, key: tuple[float, ...], item: object) -> None:
        # plain loops: this runs for every candidate bundle of every requirement
        for other, _ in self.items:
            for a, b in zip(other, key, strict=True):
                if a > b + 1e-9:
                    break
            else:
                return  # dominated by (or equal to) something we keep
        kept: list[tuple[tuple[float, ...], object]] = []
        for k, it in self.items:
            for a, b in zip(key, k, strict=True):
                if a > b + 1e-9:
                    kept.append((k, it))  # not dominated by the new item
                    break
        kept.append((key, item))
        self.items = kept


def _frontier(groups: dict[tuple, _Pareto]) -> tuple[Bundle, ...]:
    """The kept bundles of every group, in a stable order (group, then cost)."""
    return tuple(
        Bundle(
            primary=primary,
            secondary=secondary,
            wifi=wifi,
            availability_pct=availability,
            quality=primary.offering.quality_score,
            charges=charges,
        )
        for key in sorted(groups)
        for _, (primary, secondary, wifi, availability, charges) in sorted(
            groups[key].items, key=lambda kv: kv[0]
        )
    )


class BundleBuilder:
    """Enumerates the non-dominated valid bundles of each requirement, once.

    Built for one catalogue and scenario; :meth:`bundles` is memoised on the
    requirement, so a portfolio of thousands of similar sites costs a few
    hundred enumerations.
    """

    def __init__(self, catalog: Catalog, scenario: Scenario) -> None:
        self.catalog = catalog
        self.scenario = scenario
        self.terms = eligible_suppliers(catalog, scenario)
        self.keep_quality = scenario.objective == Objective.QUALITY
        self.keep_primary_supplier = scenario.max_supplier_changes is not None
        self._cache: dict[Requirement, tuple[Bundle, ...]] = {}
        self._pairs: dict[Requirement, tuple[Bundle, ...]] = {}
        self._wifi: dict[tuple, tuple[Candidate, ...]] = {}
        self._servable: dict[Requirement, bool] = {}
        self._normal: dict[Requirement, Requirement] = {}
        self._roles: dict[
            Requirement, tuple[list[Candidate], list[Candidate], list[Candidate]]
        ] = {}
        # offerings of eligible suppliers, with their supplier
        self._offerings: list[tuple[Offering, Supplier]] = [
            (o, t.supplier) for t in self.terms.values() for o in t.supplier.offerings
        ]
        self._regions = {
            o.id: frozenset(r.value for r in supplier.offering_regions(o))
            for o, supplier in self._offerings
        }
        self._max_discount = {sid: t.max_discount for sid, t in self.terms.items()}
        self._speeds = sorted({o.download_mbps for o, _ in self._offerings if o.download_mbps})
        self._leads = sorted({o.lead_time_days for o, _ in self._offerings})

    def normalise(self, requirement: Requirement) -> Requirement:
        """The simplest requirement that admits exactly the same offerings.

        Speeds round up to the next speed on offer and a go-live window rounds
        down to the next lead time on offer, so sites that differ only in ways
        no offering can tell apart share one profile in the model. Memoised:
        asked once per site, and sites share far fewer requirements.
        """
        known = self._normal.get(requirement)
        if known is not None:
            return known

        def speed_up(value: float) -> float:
            i = bisect.bisect_left(self._speeds, value)
            return self._speeds[i] if i < len(self._speeds) else value

        lead = requirement.max_lead_time_days
        if lead is not None:
            if not self._leads or lead >= self._leads[-1]:
                lead = None
            else:
                i = bisect.bisect_right(self._leads, lead)
                lead = self._leads[i - 1] if i > 0 else -1
        diverse = requirement.resilience is Resilience.DIVERSE
        found = replace(
            requirement,
            bandwidth_mbps=speed_up(requirement.bandwidth_mbps),
            backup_mbps=0.0 if diverse else speed_up(requirement.backup_mbps),
            max_lead_time_days=lead,
        )
        self._normal[requirement] = found
        return found

    def _cost_states(
        self, supplier_id: str, one_off: float, recurring: float
    ) -> tuple[float, float]:
        """Cost with no discount and with the supplier's largest discount."""
        d = self._max_discount[supplier_id]
        return one_off + recurring, one_off + (1 - d) * recurring

    def role_candidates(
        self, requirement: Requirement
    ) -> tuple[list[Candidate], list[Candidate], list[Candidate]]:
        """Usable primaries, secondaries and wifi offerings, each pruned per supplier.

        Within one supplier and technology, an offering that costs no less in
        every discount state and has no better availability (or, for primaries,
        quality) than another can never be the better choice.
        """
        requirement = self.normalise(requirement)
        cached = self._roles.get(requirement)
        if cached is not None:
            return cached
        primaries: dict[tuple[str, Technology], _Pareto] = defaultdict(_Pareto)
        secondaries: dict[tuple[str, Technology], _Pareto] = defaultdict(_Pareto)
        wifis: dict[str, _Pareto] = defaultdict(_Pareto)
        scenario = self.scenario
        for offering, supplier in self._offerings:
            if _offering_usable_at(offering, self._regions[offering.id], requirement) is not None:
                continue
            tech = offering.technology
            if tech is Technology.WIFI:
                if requirement.wifi_aps > 0:
                    c = make_candidate(offering, supplier.id, requirement.wifi_aps, scenario)
                    wifis[supplier.id].add(
                        self._cost_states(supplier.id, c.one_off, c.recurring_list), c
                    )
                continue
            c = make_candidate(offering, supplier.id, 1, scenario)
            hi, lo = self._cost_states(supplier.id, c.one_off, c.recurring_list)
            # availability and quality decide only where a target or the objective uses them
            avail = (offering.availability_pct or 0.0) if requirement.min_availability_pct else 0.0
            download = offering.download_mbps or 0.0
            primary_tech_ok = tech in WIRED_TECHNOLOGIES or (
                tech is Technology.G4 and requirement.allow_4g_primary
            )
            if (
                primary_tech_ok
                and download >= requirement.bandwidth_mbps
                and (not requirement.uncontended or offering.effective_contention == 1)
            ):
                quality = -offering.quality_score if self.keep_quality else 0.0
                primaries[(supplier.id, tech)].add((hi, lo, -avail, quality), c)
            if requirement.resilience is Resilience.DIVERSE:
                if tech in WIRED_TECHNOLOGIES and download >= requirement.bandwidth_mbps:
                    secondaries[(supplier.id, tech)].add((hi, lo, -avail), c)
            elif download >= requirement.backup_mbps:
                secondaries[(supplier.id, tech)].add((hi, lo, -avail), c)

        def flat(groups: dict) -> list[Candidate]:
            return [item for key in sorted(groups) for _, item in groups[key].items]

        result = (flat(primaries), flat(secondaries), flat(wifis))
        self._roles[requirement] = result
        return result

    def _keep_if_undominated(
        self,
        groups: dict[tuple, _Pareto],
        primary: Candidate,
        secondary: Candidate | None,
        wifi: Candidate | None,
        availability: float | None,
    ) -> None:
        """Add a bundle to its dominance group: same suppliers (and primary supplier
        where changes are limited); kept unless another costs no more with each
        supplier in every discount state (and has no lower quality when it counts).

        Only its parts are kept: most bundles are dominated, and :func:`_frontier`
        makes :class:`Bundle` objects of the survivors alone.
        """
        if wifi is None:
            charges = _pair_charges(primary, secondary)
        else:
            charges = _charges(c for c in (primary, secondary, wifi) if c is not None)
        group: tuple = (tuple(x for x, _, _ in charges),)
        if self.keep_primary_supplier:
            group += (primary.supplier_id,)
        cost: list[float] = []
        max_discount = self._max_discount
        for supplier_id, one_off, recurring in charges:
            cost.append(one_off + recurring)
            cost.append(one_off + (1 - max_discount[supplier_id]) * recurring)
        if self.keep_quality:
            cost.append(-primary.offering.quality_score)
        groups[group].add(tuple(cost), (primary, secondary, wifi, availability, charges))

    def link_pairs(self, requirement: Requirement) -> tuple[Bundle, ...]:
        """Non-dominated (primary, secondary) pairs meeting resilience and availability.

        Returned as bundles without wifi. Pruning pairs before adding wifi is
        exact: a pair beaten by another with the same suppliers stays beaten
        whatever wifi joins both.
        """
        # pairs do not depend on the wifi: one enumeration serves every AP count
        requirement = replace(self.normalise(requirement), wifi_aps=0)
        cached = self._pairs.get(requirement)
        if cached is not None:
            return cached
        primaries, secondaries, _ = self.role_candidates(requirement)
        target = requirement.min_availability_pct
        floor = None if target is None else target - AVAILABILITY_TOLERANCE
        resilience = requirement.resilience
        diverse = resilience is Resilience.DIVERSE
        by_supplier = self.keep_primary_supplier
        keep_quality = self.keep_quality
        max_discount = self._max_discount
        # what :meth:`_keep_if_undominated` works out per pair, worked out per
        # link: most pairs are dominated, and this loop runs for every pair
        # of every requirement (the same sums, so the same costs to the bit)
        second_links = []
        for s in secondaries:
            charge = (s.supplier_id, s.one_off, s.recurring_list)
            d = max_discount[s.supplier_id]
            second_links.append(
                (
                    s,
                    charge,
                    (s.one_off + s.recurring_list, s.one_off + (1 - d) * s.recurring_list),
                    s.offering.availability_pct,
                )
            )
        groups: dict[tuple, _Pareto] = defaultdict(_Pareto)
        for p in primaries:
            supplier = p.supplier_id
            d = max_discount[supplier]
            mine = (supplier, p.one_off, p.recurring_list)
            states = (p.one_off + p.recurring_list, p.one_off + (1 - d) * p.recurring_list)
            quality = (-p.offering.quality_score,) if keep_quality else ()
            # failure rates as combined_availability multiplies them (1 * x is x)
            alone = p.offering.availability_pct
            failure = None if alone is None else 1 - alone / 100
            if resilience is Resilience.SINGLE:
                avail = None if failure is None else 100 * (1 - failure)
                if floor is None or (avail or 0.0) >= floor:
                    group = ((supplier,), supplier) if by_supplier else ((supplier,),)
                    groups[group].add(states + quality, (p, None, None, avail, (mine,)))
            tech = p.technology
            for s, theirs, their_states, other in second_links:
                if diverse:
                    if theirs[0] == supplier:
                        continue
                elif s.technology is tech:
                    continue
                if other is None:
                    avail = None if failure is None else 100 * (1 - failure)
                elif failure is None:
                    avail = 100 * (1 - (1 - other / 100))
                else:
                    avail = 100 * (1 - failure * (1 - other / 100))
                if floor is not None and (avail or 0.0) < floor:
                    continue
                if theirs[0] == supplier:  # one supplier's two links: one charge
                    self._keep_if_undominated(groups, p, s, None, avail)
                    continue
                if mine < theirs:
                    charges, cost = (mine, theirs), states + their_states + quality
                else:
                    charges, cost = (theirs, mine), their_states + states + quality
                key = (charges[0][0], charges[1][0])
                group = (key, supplier) if by_supplier else (key,)
                groups[group].add(cost, (p, s, None, avail, charges))
        result = _frontier(groups)
        self._pairs[requirement] = result
        return result

    def servable(self, requirement: Requirement) -> bool:
        """Whether any valid bundle exists, without enumerating them all.

        Memoised on the requirement as given: it is asked once per site, and
        normalising 25,000 requirements again cost more than the answers.
        """
        found = self._servable.get(requirement)
        if found is None:
            found = bool(self.link_pairs(requirement)) and (
                requirement.wifi_aps <= 0 or bool(self.wifi_options(requirement))
            )
            self._servable[requirement] = found
        return found

    def wifi_options(self, requirement: Requirement) -> tuple[Candidate, ...]:
        """Usable wifi offerings for the requirement's access points, pruned per supplier.

        Wifi depends only on the region, the go-live window and the number of
        access points, so it is cached on those alone.
        """
        requirement = self.normalise(requirement)
        if requirement.wifi_aps <= 0:
            return ()
        key = (requirement.region, requirement.max_lead_time_days, requirement.wifi_aps)
        cached = self._wifi.get(key)
        if cached is None:
            fields = {"technologies": LINK_TECHNOLOGIES, "resilience": Resilience.SINGLE}
            cached = tuple(self.role_candidates(replace(requirement, **fields))[2])
            self._wifi[key] = cached
        return cached

    def bundles(self, requirement: Requirement) -> tuple[Bundle, ...]:
        """Every non-dominated valid bundle for sites with this requirement."""
        requirement = self.normalise(requirement)
        cached = self._cache.get(requirement)
        if cached is not None:
            return cached
        wifi_options: list[Candidate | None] = list(self.wifi_options(requirement)) or [None]
        groups: dict[tuple, _Pareto] = defaultdict(_Pareto)
        for pair in self.link_pairs(requirement):
            p, s, avail = pair.primary, pair.secondary, pair.availability_pct
            for w in wifi_options:
                self._keep_if_undominated(groups, p, s, w, avail)
        result = _frontier(groups)
        self._cache[requirement] = result
        return result


# --------------------------------------------------------------------------- explanations


def why_unservable(site: Site, catalog: Catalog, scenario: Scenario) -> str:
    """A plain sentence saying why no valid bundle exists for ``site``.

    Checks the rules in the order a buyer would: suppliers at all, region,
    technology, bandwidth, contention, lead time, backup, diversity,
    availability, wifi.
    """
    region = site.region.value
    eligible = eligible_suppliers(catalog, scenario)
    excluded = {
        s.id: reason
        for s in catalog.suppliers
        if (reason := supplier_exclusion(s, scenario)) is not None
    }
    in_region_all = [
        (o, s)
        for s in catalog.suppliers
        for o in s.offerings
        if region in {r.value for r in s.offering_regions(o)}
    ]
    in_region = [(o, s) for o, s in in_region_all if s.id in eligible]
    if not in_region:
        if in_region_all:
            names = sorted({s.id for _, s in in_region_all})
            reasons = "; ".join(f"{n}: {excluded[n]}" for n in names[:5])
            return f"no eligible supplier covers {region} ({reasons})"
        return f"no supplier in the catalogue covers {region}"
    req = requirement_of(site, scenario.start_date)
    link_offers = [(o, s) for o, s in in_region if o.technology is not Technology.WIFI]
    allowed_primary = {t for t in site.technologies if t in WIRED_TECHNOLOGIES}
    if site.allow_4g_primary and Technology.G4 in site.technologies:
        allowed_primary.add(Technology.G4)
    techs = "/".join(sorted(t.value for t in allowed_primary)) or "none"
    if not allowed_primary:
        return (
            "the site allows only 4G but allow_4g_primary is false, so no primary link is possible"
        )
    tech_ok = [(o, s) for o, s in link_offers if o.technology in allowed_primary]
    if not tech_ok:
        return f"no eligible supplier offers {techs} in {region}"
    fast = [(o, s) for o, s in tech_ok if (o.download_mbps or 0) >= site.bandwidth_mbps]
    if not fast:
        best = max(o.download_mbps or 0 for o, _ in tech_ok)
        return (
            f"no eligible supplier offers {techs} of {site.bandwidth_mbps:g} Mb in {region} "
            f"(the fastest is {best:g} Mb)"
        )
    if site.uncontended:
        fast = [(o, s) for o, s in fast if o.effective_contention == 1]
        if not fast:
            return f"no uncontended {techs} offering of {site.bandwidth_mbps:g} Mb in {region}"
    if req.max_lead_time_days is not None:
        timely = [(o, s) for o, s in fast if o.lead_time_days <= req.max_lead_time_days]
        if not timely:
            quickest = min(o.lead_time_days for o, _ in fast)
            return (
                f"lead time {quickest} days exceeds the {req.max_lead_time_days} days "
                f"between the start date and go-live ({site.go_live_by})"
            )
    if site.wifi_aps > 0:
        wifi = [
            (o, s)
            for o, s in in_region
            if o.technology is Technology.WIFI
            and (req.max_lead_time_days is None or o.lead_time_days <= req.max_lead_time_days)
        ]
        if not wifi:
            return f"no eligible supplier offers managed Wi-Fi in {region} in time"
    builder = BundleBuilder(catalog, scenario)
    primaries, secondaries, _ = builder.role_candidates(req)
    if site.resilience is Resilience.BACKUP:
        ok = any(s.technology is not p.technology for p in primaries for s in secondaries)
        if not ok:
            allowed = "/".join(sorted(t.value for t in site.technologies))
            return (
                f"needs a backup link of {site.backup_mbps:g} Mb on a different technology "
                f"from the primary, but the site allows only {allowed}"
                f" and no such offering is available in {region}"
            )
    if site.resilience is Resilience.DIVERSE:
        suppliers = {p.supplier_id for p in primaries} | {s.supplier_id for s in secondaries}
        if len(suppliers) < 2:
            return (
                f"needs diverse links of {site.bandwidth_mbps:g} Mb from two different suppliers, "
                f"but only {len(suppliers)} eligible supplier offers it in {region}"
            )
    if site.min_availability_pct is not None:
        best = 0.0
        for p in primaries:
            single = p.offering.availability_pct or 0.0
            if site.resilience is Resilience.SINGLE:
                best = max(best, single)
            for s in secondaries:
                if site.resilience is Resilience.DIVERSE and s.supplier_id == p.supplier_id:
                    continue
                if site.resilience is not Resilience.DIVERSE and s.technology is p.technology:
                    continue
                best = max(
                    best,
                    combined_availability(single, s.offering.availability_pct) or 0.0,
                )
        return (
            f"availability target {site.min_availability_pct:g}% cannot be reached "
            f"(the best combination gives {best:.3f}%)"
        )
    return "no valid combination of links exists for this site"


def unservable_sites(
    sites: Sequence[Site],
    catalog: Catalog,
    scenario: Scenario,
    builder: BundleBuilder,
    *,
    requirements: Sequence[Requirement] | None = None,
) -> dict[str, str]:
    """Sites without any valid bundle, each with the reason in plain words.

    ``requirements``: each site's :func:`requirement_of`, if already worked out.
    """
    if requirements is None:
        requirements = [requirement_of(site, scenario.start_date) for site in sites]
    out: dict[str, str] = {}
    for site, requirement in zip(sites, requirements, strict=True):
        if not builder.servable(requirement):
            out[site.site_id] = why_unservable(site, catalog, scenario)
    return out
