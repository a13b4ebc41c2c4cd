"""A brute-force reference planner, written from ``SPEC.md`` alone.

It imports nothing from :mod:`procurement` except the validated models, so it
shares no code (and no bugs) with the optimiser. It enumerates every link
combination of every site, prices each whole plan by the SPEC's "Cost" rules,
checks every scenario constraint and keeps the best plan by the SPEC's
lexicographic order. It is only meant for tiny instances.

Readings of the SPEC made here (where it is not literal):

* compliance "not selectable if before the scenario's start_date": a supplier
  whose ``compliance_expires`` equals ``start_date`` is still usable.
* the collaborative default budget is the sum of the budgets of the
  organisations that own sites, when every one of them has a budget.
* organisation budgets bind only on ``solo`` and ``central``.
* ``max_supplier_share``: for each party and supplier, the number of the
  party's served sites with any link from that supplier is at most
  ``x * (number of the party's served sites)``.
* money comparisons (budgets) allow a tolerance of 1e-6 relative; the
  availability target allows 1e-9 so that two 99 % links meet 99.99 %.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from procurement.models import (
    CONSORTIUM,
    Catalog,
    Objective,
    Offering,
    Organisation,
    Resilience,
    Route,
    Scenario,
    Site,
    Supplier,
    Technology,
)

WIRED = frozenset({Technology.FIBRE, Technology.ETHERNET})
LINKS = frozenset({Technology.FIBRE, Technology.ETHERNET, Technology.G4})
AVAILABILITY_TOL = 1e-9

#: (primary, secondary, wifi); a served site always has a primary.
Option = tuple[Offering | None, Offering | None, Offering | None]


def money_tol(x: float) -> float:
    """The SPEC's agreement tolerance for two totals: 0.01 + 1e-6 relative."""
    return 0.01 + 1e-6 * abs(x)


def within_budget(cost: float, budget: float) -> bool:
    return cost <= budget + 1e-6 * max(1.0, abs(budget))


# --------------------------------------------------------------------------- usable


def suppliers_by_offering(catalog: Catalog) -> dict[str, Supplier]:
    return {o.id: p for p in catalog.suppliers for o in p.offerings}


def supplier_selectable(supplier: Supplier, scenario: Scenario) -> bool:
    """The supplier-level half of "usable" (compliance, exclusions, certs, route)."""
    if not supplier.hscn_compliant:
        return False
    if supplier.compliance_expires is not None and (
        supplier.compliance_expires < scenario.start_date
    ):
        return False
    if supplier.id in scenario.exclude_suppliers:
        return False
    if any(c not in supplier.certifications for c in scenario.required_certifications):
        return False
    return not (scenario.route == Route.CENTRAL and supplier.central_framework is None)


def usable(offering: Offering, supplier: Supplier, site: Site, scenario: Scenario) -> bool:
    """SPEC "Which offerings may serve a site": offering ``o`` of ``p`` at ``s``."""
    if not supplier_selectable(supplier, scenario):
        return False
    regions = offering.regions if offering.regions is not None else supplier.regions
    if site.region not in regions:
        return False
    if site.go_live_by is not None and (
        scenario.start_date + timedelta(days=offering.lead_time_days) > site.go_live_by
    ):
        return False
    return offering.technology == Technology.WIFI or offering.technology in site.technologies


def contention(offering: Offering) -> float | None:
    """``contention_ratio``; ethernet defaults to 1 (uncontended), others to none."""
    if offering.contention_ratio is not None:
        return offering.contention_ratio
    return 1.0 if offering.technology == Technology.ETHERNET else None


def availability(primary: Offering, secondary: Offering | None) -> float:
    a1 = primary.availability_pct
    assert a1 is not None
    if secondary is None:
        return a1
    a2 = secondary.availability_pct
    assert a2 is not None
    return 100 * (1 - (1 - a1 / 100) * (1 - a2 / 100))


def site_options(site: Site, catalog: Catalog, scenario: Scenario) -> list[Option]:
    """Every valid (primary, secondary, wifi) combination for ``site``."""
    supplier_of = suppliers_by_offering(catalog)
    ok = [
        o
        for p in catalog.suppliers
        for o in p.offerings
        if usable(o, p, site, scenario)
    ]
    primary_techs = set(WIRED)
    if site.allow_4g_primary:
        primary_techs.add(Technology.G4)
    primaries = [
        o
        for o in ok
        if o.technology in primary_techs
        and o.download_mbps is not None
        and o.download_mbps >= site.bandwidth_mbps
        and (not site.uncontended or contention(o) == 1)
    ]
    wifis: list[Offering | None] = [o for o in ok if o.technology == Technology.WIFI]
    if site.wifi_aps == 0:
        wifis = [None]

    options: list[Option] = []
    for prim in primaries:
        seconds: list[Offering | None]
        if site.resilience == Resilience.DIVERSE:
            seconds = [
                o
                for o in ok
                if o.technology in WIRED
                and o.download_mbps is not None
                and o.download_mbps >= site.bandwidth_mbps
                and supplier_of[o.id].id != supplier_of[prim.id].id
            ]
        else:
            seconds = [
                o
                for o in ok
                if o.technology in LINKS
                and o.technology != prim.technology
                and o.download_mbps is not None
                and o.download_mbps >= site.backup_mbps
            ]
            if site.resilience == Resilience.SINGLE:
                seconds = [None, *seconds]
        for sec in seconds:
            if site.min_availability_pct is not None and (
                availability(prim, sec) < site.min_availability_pct - AVAILABILITY_TOL
            ):
                continue
            for wifi in wifis:
                options.append((prim, sec, wifi))
    return options


def option_ids(option: Option | None) -> tuple[str | None, ...] | None:
    if option is None:
        return None
    return tuple(o.id if o is not None else None for o in option)


# --------------------------------------------------------------------------- cost


def party_of(site: Site, scenario: Scenario) -> str:
    return CONSORTIUM if scenario.route == Route.COLLABORATIVE else site.organisation


def link_cost(offering: Offering, quantity: int, term: int) -> tuple[float, float]:
    """(one_off, recurring_list) of one link."""
    one_off = quantity * offering.install_cost
    recurring_list = quantity * offering.monthly_cost * max(term, offering.min_term_months)
    return one_off, recurring_list


def discount_rate(supplier: Supplier, n_sites: int, scenario: Scenario) -> float:
    if scenario.route == Route.CENTRAL:
        assert supplier.central_framework is not None
        return supplier.central_framework.discount
    return max((t.discount for t in supplier.volume_discounts if t.min_sites <= n_sites),
               default=0.0)


def fees_of(supplier: Supplier, scenario: Scenario) -> float:
    term = scenario.term_months
    if scenario.route == Route.CENTRAL:
        cf = supplier.central_framework
        if cf is None:
            return 0.0
        return cf.onboarding + cf.annual_management * term / 12
    return supplier.fees.onboarding + supplier.fees.annual_management * term / 12


def org_budgets(sites: Sequence[Site], organisations: Iterable[Organisation] | None
                ) -> dict[str, float | None]:
    """Budget of every organisation that owns a site (None: no budget)."""
    given = {o.organisation: o.budget for o in organisations or ()}
    return {s.organisation: given.get(s.organisation) for s in sites}


def effective_budget(sites: Sequence[Site], scenario: Scenario,
                     organisations: Iterable[Organisation] | None) -> float | None:
    if scenario.budget is not None:
        return scenario.budget
    if scenario.route == Route.COLLABORATIVE:
        budgets = org_budgets(sites, organisations)
        if budgets and all(b is not None for b in budgets.values()):
            return float(sum(b for b in budgets.values() if b is not None))
    return None


def _as_mapping(assignment: Mapping[str, Option | None] | Sequence[Option | None],
                sites: Sequence[Site]) -> dict[str, Option | None]:
    if isinstance(assignment, Mapping):
        return {s.site_id: assignment.get(s.site_id) for s in sites}
    assert len(assignment) == len(sites)
    return {s.site_id: a for s, a in zip(sites, assignment, strict=True)}


def price(assignment: Mapping[str, Option | None] | Sequence[Option | None],
          sites: Sequence[Site], catalog: Catalog, scenario: Scenario,
          organisations: Iterable[Organisation] | None = None) -> dict[str, Any]:
    """Everything the SPEC says a plan costs, for ``assignment`` (site -> option or None)."""
    chosen = _as_mapping(assignment, sites)
    supplier_of = suppliers_by_offering(catalog)
    term = scenario.term_months

    # per (party, supplier): sites using it, one_off, recurring_list
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    links: dict[str, list[dict[str, Any]]] = {}
    for site in sites:
        option = chosen[site.site_id]
        links[site.site_id] = []
        if option is None:
            continue
        party = party_of(site, scenario)
        for role, offering in zip(("primary", "secondary", "wifi"), option, strict=True):
            if offering is None:
                continue
            supplier = supplier_of[offering.id]
            quantity = site.wifi_aps if role == "wifi" else 1
            one_off, rec = link_cost(offering, quantity, term)
            links[site.site_id].append({
                "role": role, "offering_id": offering.id, "supplier_id": supplier.id,
                "technology": str(offering.technology), "quantity": quantity,
                "one_off": one_off, "recurring_list": rec,
            })
            line = lines.setdefault((party, supplier.id), {
                "party": party, "supplier_id": supplier.id, "site_ids": set(),
                "one_off": 0.0, "recurring_list": 0.0,
            })
            line["site_ids"].add(site.site_id)
            line["one_off"] += one_off
            line["recurring_list"] += rec

    by_id = {p.id: p for p in catalog.suppliers}
    for (_party, sid), line in lines.items():
        supplier = by_id[sid]
        n = len(line["site_ids"])
        d = discount_rate(supplier, n, scenario)
        line["sites"] = n
        line["discount"] = d
        line["discount_amount"] = d * line["recurring_list"]
        line["fees"] = fees_of(supplier, scenario)
        line["cost"] = line["one_off"] + (1 - d) * line["recurring_list"] + line["fees"]

    for site in sites:
        party = party_of(site, scenario)
        for link in links[site.site_id]:
            d = lines[(party, link["supplier_id"])]["discount"]
            link["recurring"] = (1 - d) * link["recurring_list"]
    site_costs = {
        sid: sum(x["one_off"] + x["recurring"] for x in ls) for sid, ls in links.items()
    }

    # organisation costs
    orgs = list(dict.fromkeys(s.organisation for s in sites))
    org_cost: dict[str, float] = dict.fromkeys(orgs, 0.0)
    if scenario.route == Route.COLLABORATIVE:
        for site in sites:
            org_cost[site.organisation] += site_costs[site.site_id]
        for line in lines.values():
            n = line["sites"]
            for sid in line["site_ids"]:
                org = next(s.organisation for s in sites if s.site_id == sid)
                org_cost[org] += line["fees"] / n
    else:
        for (party, _sid), line in lines.items():
            org_cost[party] += line["cost"]

    # baseline: served sites with current_monthly_cost; fees shared evenly
    base_sites = [
        s for s in sites if chosen[s.site_id] is not None and s.current_monthly_cost is not None
    ]
    base_cost = sum(s.current_monthly_cost or 0.0 for s in base_sites) * term
    plan_share = 0.0
    for s in base_sites:
        plan_share += site_costs[s.site_id]
        party = party_of(s, scenario)
        for sid in {x["supplier_id"] for x in links[s.site_id]}:
            line = lines[(party, sid)]
            plan_share += line["fees"] / line["sites"]

    served = [s for s in sites if chosen[s.site_id] is not None]
    quality = 0.0
    for s in served:
        option = chosen[s.site_id]
        assert option is not None and option[0] is not None
        quality += option[0].quality_score
    one_off = sum(x["one_off"] for x in lines.values())
    recurring_list = sum(x["recurring_list"] for x in lines.values())
    discount = sum(x["discount_amount"] for x in lines.values())
    fees = sum(x["fees"] for x in lines.values())
    return {
        "total": sum(x["cost"] for x in lines.values()),
        "one_off": one_off,
        "recurring_list": recurring_list,
        "discount": discount,
        "fees": fees,
        "lines": lines,
        "links": links,
        "site_costs": site_costs,
        "organisations": org_cost,
        "quality": quality,
        "priority": sum(s.priority for s in served),
        "served": len(served),
        "baseline": {"sites": len(base_sites), "cost": base_cost,
                     "saving": base_cost - plan_share},
    }


# --------------------------------------------------------------------------- constraints


def violations(assignment: Mapping[str, Option | None] | Sequence[Option | None],
               sites: Sequence[Site], catalog: Catalog, scenario: Scenario,
               organisations: Iterable[Organisation] | None = None) -> list[str]:
    """Every SPEC rule the assignment breaks, in words (empty: a valid plan)."""
    chosen = _as_mapping(assignment, sites)
    organisations = list(organisations or ())
    problems: list[str] = []
    supplier_of = suppliers_by_offering(catalog)
    for site in sites:
        option = chosen[site.site_id]
        if option is None:
            if not scenario.allow_partial:
                problems.append(f"site {site.site_id} is not served")
            continue
        valid = {option_ids(o) for o in site_options(site, catalog, scenario)}
        if option_ids(option) not in valid:
            problems.append(f"site {site.site_id}: {option_ids(option)} is not a valid bundle")

    priced = price(chosen, sites, catalog, scenario, organisations)
    budget = effective_budget(sites, scenario, organisations)
    if budget is not None and not within_budget(priced["total"], budget):
        problems.append(f"total {priced['total']:.2f} over budget {budget:.2f}")
    if scenario.route != Route.COLLABORATIVE:
        for org, b in org_budgets(sites, organisations).items():
            if b is not None and not within_budget(priced["organisations"][org], b):
                problems.append(f"{org} costs {priced['organisations'][org]:.2f} over {b:.2f}")

    parties = sorted({party_of(s, scenario) for s in sites})
    for party in parties:
        psites = [s for s in sites if party_of(s, scenario) == party]
        served = [s for s in psites if chosen[s.site_id] is not None]
        used: dict[str, int] = {}
        for s in served:
            option = chosen[s.site_id]
            assert option is not None
            for sid in {supplier_of[o.id].id for o in option if o is not None}:
                used[sid] = used.get(sid, 0) + 1
        if scenario.max_suppliers is not None and len(used) > scenario.max_suppliers:
            problems.append(f"{party} uses {len(used)} suppliers > {scenario.max_suppliers}")
        if scenario.min_suppliers is not None and used and len(used) < scenario.min_suppliers:
            problems.append(f"{party} uses {len(used)} suppliers < {scenario.min_suppliers}")
        if scenario.max_supplier_share is not None:
            for sid, n in used.items():
                if n > scenario.max_supplier_share * len(served) + 1e-9:
                    problems.append(f"{sid} serves {n}/{len(served)} of {party}'s sites")
        if scenario.max_supplier_changes is not None:
            changes = 0
            for s in served:
                option = chosen[s.site_id]
                assert option is not None and option[0] is not None
                if (s.current_supplier is not None
                        and supplier_of[option[0].id].id != s.current_supplier):
                    changes += 1
            if changes > scenario.max_supplier_changes:
                problems.append(f"{party} changes {changes} suppliers")
    return problems


# --------------------------------------------------------------------------- enumeration


@dataclass
class Record:
    """One plan that meets every constraint except the budgets."""

    choice: tuple[int, ...]  # index into each site's options; -1 = unserved
    priority: int
    quality: float
    total: float
    party_costs: dict[str, float]


@dataclass
class Enumeration:
    sites: list[Site]
    options: list[list[Option]]
    records: list[Record]
    assignments: int  # combinations examined

    def assignment(self, choice: tuple[int, ...]) -> dict[str, Option | None]:
        return {
            s.site_id: (opts[k] if k >= 0 else None)
            for s, opts, k in zip(self.sites, self.options, choice, strict=True)
        }


@dataclass
class Result:
    status: str  # "optimal" (every site served), "partial" or "infeasible"
    assignment: dict[str, Option | None] | None = None
    total: float | None = None
    quality: float | None = None
    priority: int | None = None
    priced: dict[str, Any] | None = None
    assignments: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def infeasible(self) -> bool:
        return self.status == "infeasible"


def count_assignments(catalog: Catalog, sites: Sequence[Site], scenario: Scenario) -> int:
    extra = 1 if scenario.allow_partial else 0
    return math.prod(len(site_options(s, catalog, scenario)) + extra for s in sites)


def enumerate_plans(catalog: Catalog, sites: Sequence[Site], scenario: Scenario,
                    limit: int | None = 200_000) -> Enumeration:
    """Every assignment meeting all constraints but the budgets (budget-free)."""
    sites = list(sites)
    supplier_of = suppliers_by_offering(catalog)
    by_id = {p.id: p for p in catalog.suppliers}
    term = scenario.term_months
    options = [site_options(s, catalog, scenario) for s in sites]
    parties = [party_of(s, scenario) for s in sites]

    # per site and option: ((supplier, one_off, recurring_list), ...), primary supplier, quality
    pre: list[list[tuple[tuple[tuple[str, float, float], ...], str, float]]] = []
    for site, opts in zip(sites, options, strict=True):
        rows = []
        for opt in opts:
            agg: dict[str, list[float]] = {}
            for role, o in enumerate(opt):
                if o is None:
                    continue
                q = site.wifi_aps if role == 2 else 1
                one_off, rec = link_cost(o, q, term)
                a = agg.setdefault(supplier_of[o.id].id, [0.0, 0.0])
                a[0] += one_off
                a[1] += rec
            prim = opt[0]
            assert prim is not None
            rows.append((tuple((k, v[0], v[1]) for k, v in agg.items()),
                         supplier_of[prim.id].id, prim.quality_score))
        pre.append(rows)

    ranges = [
        ([-1] if scenario.allow_partial else []) + list(range(len(opts))) for opts in options
    ]
    total_count = math.prod(len(r) for r in ranges)
    if limit is not None and total_count > limit:
        raise ValueError(f"{total_count} assignments is too many to enumerate")
    fees = {p.id: fees_of(p, scenario) for p in catalog.suppliers}
    party_set = sorted(set(parties))
    records: list[Record] = []
    share = scenario.max_supplier_share
    for choice in itertools.product(*ranges):
        agg: dict[tuple[str, str], list[float]] = {}
        served: dict[str, int] = dict.fromkeys(party_set, 0)
        changes: dict[str, int] = dict.fromkeys(party_set, 0)
        priority = 0
        quality = 0.0
        for i, k in enumerate(choice):
            if k < 0:
                continue
            site = sites[i]
            party = parties[i]
            rows, prim_sup, q = pre[i][k]
            served[party] += 1
            priority += site.priority
            quality += q
            if site.current_supplier is not None and prim_sup != site.current_supplier:
                changes[party] += 1
            for sid, one_off, rec in rows:
                a = agg.get((party, sid))
                if a is None:
                    agg[(party, sid)] = [1, one_off, rec]
                else:
                    a[0] += 1
                    a[1] += one_off
                    a[2] += rec
        ok = True
        for party in party_set:
            used = [(sid, v[0]) for (p, sid), v in agg.items() if p == party]
            if scenario.max_suppliers is not None and len(used) > scenario.max_suppliers:
                ok = False
                break
            if (scenario.min_suppliers is not None and used
                    and len(used) < scenario.min_suppliers):
                ok = False
                break
            if share is not None and any(n > share * served[party] + 1e-9 for _, n in used):
                ok = False
                break
            if (scenario.max_supplier_changes is not None
                    and changes[party] > scenario.max_supplier_changes):
                ok = False
                break
        if not ok:
            continue
        party_costs: dict[str, float] = dict.fromkeys(party_set, 0.0)
        for (party, sid), (n, one_off, rec) in agg.items():
            d = discount_rate(by_id[sid], int(n), scenario)
            party_costs[party] += one_off + (1 - d) * rec + fees[sid]
        records.append(Record(choice, priority, quality, sum(party_costs.values()),
                              party_costs))
    return Enumeration(sites, options, records, total_count)


def select(enum: Enumeration, catalog: Catalog, scenario: Scenario,
           organisations: Iterable[Organisation] | None = None) -> Result:
    """Apply budgets and the objective to an :func:`enumerate_plans` result.

    ``scenario`` may differ from the one enumerated only in budget and objective.
    """
    organisations = list(organisations or ())
    sites = enum.sites
    budget = effective_budget(sites, scenario, organisations)
    if scenario.objective == Objective.QUALITY and budget is None and not (
        scenario.route != Route.COLLABORATIVE
        and all(b is not None for b in org_budgets(sites, organisations).values())
    ):
        raise ValueError("the quality objective needs a budget")
    binding_orgs = (
        {o: b for o, b in org_budgets(sites, organisations).items() if b is not None}
        if scenario.route != Route.COLLABORATIVE else {}
    )

    best: Record | None = None
    best_key: tuple[float, ...] | None = None
    for r in enum.records:
        if budget is not None and not within_budget(r.total, budget):
            continue
        if any(not within_budget(r.party_costs.get(o, 0.0), b) for o, b in binding_orgs.items()):
            continue
        if scenario.objective == Objective.QUALITY:
            key = (-r.priority, -r.quality, r.total)
        else:
            key = (-r.priority, r.total)
        if best_key is None or key < best_key:
            best, best_key = r, key
    if best is None:
        return Result("infeasible", assignments=enum.assignments)
    assignment = enum.assignment(best.choice)
    priced = price(assignment, sites, catalog, scenario, organisations)
    # the fast path and the full pricing must agree
    assert abs(priced["total"] - best.total) <= 1e-6 * max(1.0, best.total)
    status = "optimal" if all(k >= 0 for k in best.choice) else "partial"
    return Result(status, assignment, best.total, best.quality, best.priority, priced,
                  enum.assignments)


def brute_force(catalog: Catalog, sites: Sequence[Site], scenario: Scenario,
                organisations: Iterable[Organisation] | None = None,
                limit: int | None = 200_000) -> Result:
    """The SPEC-optimal plan found by enumerating every assignment."""
    enum = enumerate_plans(catalog, sites, scenario, limit=limit)
    return select(enum, catalog, scenario, organisations)


# --------------------------------------------------------------------------- plan re-check
# These read a Plan by duck typing (procurement.plan's field names) and check it
# against the pricing above; nothing here comes from the optimiser.


def close(a: float, b: float) -> bool:
    """Two money amounts agree (SPEC: within 0.01 + 1e-6 relative)."""
    return abs(a - b) <= money_tol(max(abs(a), abs(b)))


def plan_assignment(plan: Any, catalog: Catalog, sites: Sequence[Site]
                    ) -> dict[str, Option | None]:
    """The links a plan chose, as offerings (checking ids, suppliers and quantities)."""
    offerings = {o.id: o for p in catalog.suppliers for o in p.offerings}
    supplier_of = suppliers_by_offering(catalog)
    by_id = {s.site_id: s for s in sites}
    assert sorted(sp.site_id for sp in plan.sites) == sorted(by_id), "plan must list every site"
    out: dict[str, Option | None] = {}
    for sp in plan.sites:
        site = by_id[sp.site_id]
        assert sp.organisation == site.organisation
        if not sp.served:
            assert sp.primary is None and sp.secondary is None and sp.wifi is None, sp
            out[sp.site_id] = None
            continue
        assert sp.primary is not None, f"served site {sp.site_id} without a primary"
        chosen = []
        for role in ("primary", "secondary", "wifi"):
            link = getattr(sp, role)
            if link is None:
                chosen.append(None)
                continue
            o = offerings[link.offering_id]
            assert link.supplier_id == supplier_of[o.id].id
            assert link.technology == str(o.technology)
            assert link.quantity == (site.wifi_aps if role == "wifi" else 1), (role, link)
            chosen.append(o)
        out[sp.site_id] = (chosen[0], chosen[1], chosen[2])
    return out


def assert_plan_consistent(plan: Any, catalog: Catalog, sites: Sequence[Site], scn: Scenario,
                           organisations: Iterable[Organisation] | None) -> dict[str, Any]:
    """Re-price ``plan`` from its links and re-check every rule; return the pricing."""
    assignment = plan_assignment(plan, catalog, sites)
    problems = violations(assignment, sites, catalog, scn, organisations)
    assert not problems, f"plan breaks the rules: {problems}"
    priced = price(assignment, sites, catalog, scn, organisations)

    assert close(plan.total_cost, priced["total"]), (plan.total_cost, priced["total"])
    b = plan.breakdown
    for key in ("one_off", "recurring_list", "discount", "fees"):
        assert close(getattr(b, key), priced[key]), (key, getattr(b, key), priced[key])
    assert close(plan.total_cost, b.one_off + b.recurring_list - b.discount + b.fees)
    assert abs(plan.quality - priced["quality"]) <= 1e-6

    for sp in plan.sites:
        plinks = {x["role"]: x for x in priced["links"][sp.site_id]}
        for role in ("primary", "secondary", "wifi"):
            link = getattr(sp, role)
            if link is None:
                assert role not in plinks
                continue
            ref = plinks[role]
            assert close(link.one_off, ref["one_off"]), (sp.site_id, role)
            assert close(link.recurring_list, ref["recurring_list"]), (sp.site_id, role)
            assert close(link.recurring, ref["recurring"]), (sp.site_id, role)
        assert close(sp.cost, priced["site_costs"][sp.site_id]), sp.site_id
        if sp.served and sp.availability_pct is not None:
            opt = assignment[sp.site_id]
            assert opt is not None and opt[0] is not None
            assert abs(sp.availability_pct - availability(opt[0], opt[1])) <= 1e-6

    lines = {(x.party, x.supplier_id): x for x in plan.suppliers}
    assert set(lines) == set(priced["lines"]), (sorted(lines), sorted(priced["lines"]))
    for key, ref in priced["lines"].items():
        line = lines[key]
        assert line.sites == ref["sites"], key
        assert abs(line.discount - ref["discount"]) <= 1e-9, key
        assert close(line.fees, ref["fees"]), key
        assert close(line.cost, ref["cost"]), key

    org_costs = {o.organisation: o.cost for o in plan.organisations}
    for org_id, cost in priced["organisations"].items():
        assert close(org_costs.get(org_id, 0.0), cost), (org_id, org_costs, cost)
    assert close(sum(org_costs.values()), plan.total_cost)

    base = priced["baseline"]
    assert plan.baseline.sites == base["sites"]
    assert close(plan.baseline.cost, base["cost"])
    assert close(plan.baseline.saving, base["saving"]), (plan.baseline, base)
    return priced
