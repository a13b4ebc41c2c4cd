"""Runner-ups: for each site of a plan, the next-cheapest way to serve it.

A buyer who sees "site X gets supplier A's fibre" also wants to know how close
that decision was. :func:`with_runner_ups` attaches to every served site the
cheapest *other* valid set of links (its offering set differs from the chosen
one) with every other site's choice held, and how much more the whole plan
would cost with it (:class:`RunnerUpDetail`, a
:class:`~procurement.plan.RunnerUp`).

The extra cost is exact under the SPEC's "Cost" rules, not an estimate of the
site's own links: moving a site changes the site counts of the suppliers it
leaves and joins, so their volume tiers can go up or down for the party's
*other* sites too, and a supplier that enters the party's plan brings its fees
(one that leaves takes them away). It equals the difference of two full
:func:`procurement.costing.price` runs, but is computed incrementally:

For the site's party ``C`` and each supplier ``q``, take the party's state
without the site (``n0`` sites, one-off ``O0``, list recurring ``R0``), and
let ``in_q`` be the cost of ``(C, q)`` with one more site (excluding that
site's own charges) and ``out_q`` the cost without it (0 when ``n0 = 0``).
Then for any bundle ``B`` of the site::

    g(B) = sum over suppliers q of B of  (in_q - out_q)
         + sum over links l of B of      one_off_l + (1 - d_q(n0_q + 1)) * recurring_list_l

and the plan's total with ``B`` minus the total with the chosen ``A`` is
``g(B) - g(A)``. The per-supplier quantities are computed once per
(party, requirement, chosen bundle); every valid primary x secondary x wifi
combination is then scored at once with numpy.

Alternatives are enumerated *without* the dominance pruning of
:class:`~procurement.options.BundleBuilder`: pruning keeps the optimiser
small but drops exactly what a runner-up is about, such as the same
supplier's next product up or an equally priced twin of the chosen link.

Only validity is enforced (SPEC "Which offerings may serve a site"). The
scenario's other constraints are *not*: the runner-up may break a supplier
limit, a share cap, a change limit or a budget. Each one it would break is
named in :attr:`RunnerUpDetail.breaks`. When the plan was held back by such
a constraint (or chosen for quality), the cheapest alternative can cost less
than the chosen links: ``extra_cost`` is then negative and ``breaks`` says
why that cheaper option was not taken. Ties are broken by catalogue order.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from procurement.costing import party_of
from procurement.inputs import resolve_organisations
from procurement.models import (
    WIRED_TECHNOLOGIES,
    Catalog,
    Offering,
    Organisation,
    Resilience,
    Route,
    Scenario,
    Site,
    Technology,
)
from procurement.optimiser import effective_budget
from procurement.options import (
    AVAILABILITY_TOLERANCE,
    Bundle,
    BundleBuilder,
    Candidate,
    Requirement,
    SupplierTerms,
    combined_availability,
    make_candidate,
    requirement_of,
    supplier_terms,
    term_months,
)
from procurement.plan import Plan, RunnerUp, SitePlan

#: Names used in :attr:`RunnerUpDetail.breaks`, after the scenario's fields.
BREAKABLE = (
    "budget",
    "organisation_budget",
    "max_suppliers",
    "min_suppliers",
    "max_supplier_share",
    "max_supplier_changes",
)

_MONEY_TOL = 1e-6


@dataclass(frozen=True)
class RunnerUpDetail(RunnerUp):
    """A :class:`RunnerUp` that also names the scenario constraints it would break.

    ``offering_ids`` are in role order: primary, then secondary, then wifi.
    """

    breaks: tuple[str, ...] = ()

    @property
    def within_constraints(self) -> bool:
        return not self.breaks

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["breaks"] = list(self.breaks)
        return out


# --------------------------------------------------------------------------- bundles


def make_bundle(
    primary: Candidate,
    secondary: Candidate | None,
    wifi: Candidate | None,
) -> Bundle:
    """A :class:`Bundle` from its links (charges summed per supplier, sorted by id)."""
    per: dict[str, list[float]] = {}
    for c in (primary, secondary, wifi):
        if c is None:
            continue
        acc = per.setdefault(c.supplier_id, [0.0, 0.0])
        acc[0] += c.one_off
        acc[1] += c.recurring_list
    return Bundle(
        primary=primary,
        secondary=secondary,
        wifi=wifi,
        availability_pct=combined_availability(
            primary.offering.availability_pct,
            secondary.offering.availability_pct if secondary else None,
        ),
        quality=primary.offering.quality_score,
        charges=tuple(sorted((p, o, r) for p, (o, r) in per.items())),
    )


def bundle_for(
    site: Site, offering_ids: Sequence[str], catalog: Catalog, scenario: Scenario
) -> Bundle:
    """The bundle of ``site`` made of these offerings, in role order.

    Wifi is recognised by its technology; of the other offerings the first is
    the primary and the second the secondary (as in ``RunnerUp.offering_ids``
    and ``Bundle.offering_ids``). Validity is not checked here.
    """
    links: list[Candidate] = []
    wifi: Candidate | None = None
    for oid in offering_ids:
        offering = catalog.offering_by_id[oid]
        supplier_id = catalog.supplier_of[oid].id
        if offering.technology is Technology.WIFI:
            wifi = make_candidate(offering, supplier_id, site.wifi_aps, scenario)
        else:
            links.append(make_candidate(offering, supplier_id, 1, scenario))
    if not links or len(links) > 2:
        raise ValueError(f"site {site.site_id}: {list(offering_ids)} is not one primary "
                         "and at most one secondary link")
    return make_bundle(links[0], links[1] if len(links) > 1 else None, wifi)


def site_offering_ids(site_plan: SitePlan) -> tuple[str, ...]:
    """The offerings a plan gives a site, in role order (empty when unserved)."""
    if not site_plan.served:
        return ()
    return tuple(link.offering_id for link in site_plan.links)


def plan_choice(
    plan: Plan, catalog: Catalog, sites: Sequence[Site], scenario: Scenario
) -> dict[str, Bundle | None]:
    """Site id -> the plan's bundle (None when unserved), rebuilt from the catalogue.

    Feed it to :func:`procurement.costing.price` to re-price a plan from its
    chosen offerings alone.
    """
    by_id = {s.site_id: s for s in sites}
    choice: dict[str, Bundle | None] = {s.site_id: None for s in sites}
    for sp in plan.sites:
        ids = site_offering_ids(sp)
        if ids and sp.site_id in by_id:
            choice[sp.site_id] = bundle_for(by_id[sp.site_id], ids, catalog, scenario)
    return choice


# --------------------------------------------------------------------------- role tables


_TECH_CODE = {Technology.FIBRE: 0, Technology.ETHERNET: 1, Technology.G4: 2, Technology.WIFI: 3}
_WIRED = np.array([t in WIRED_TECHNOLOGIES for t in _TECH_CODE], dtype=bool)  # by code
_WIFI = _TECH_CODE[Technology.WIFI]
_G4 = _TECH_CODE[Technology.G4]
_NONE = -1  # "no secondary" / "no wifi" in the role arrays


@dataclass
class _Offerings:
    """Every offering of the eligible suppliers as arrays, in the builder's order."""

    items: list[tuple[Offering, str]]
    sup: np.ndarray  # supplier index
    tech: np.ndarray  # _TECH_CODE
    download: np.ndarray  # 0 for wifi
    avail: np.ndarray  # 0 for wifi
    lead: np.ndarray
    uncontended: np.ndarray  # effective contention is 1
    one_off: np.ndarray  # per unit
    recurring: np.ndarray  # per unit, list, over the paid months
    regions: dict[str, np.ndarray]  # region code -> sold there


@dataclass
class _Roles:
    """Every valid link per role for one requirement, as arrays (no pruning).

    ``p``, ``s``, ``w`` index :class:`_Offerings`; ``s[0]`` is "no secondary"
    when the site may have none, and ``w == [_NONE]`` when it has no wifi.
    """

    p: np.ndarray
    s: np.ndarray
    w: np.ndarray
    p_sup: np.ndarray
    p_oo: np.ndarray
    p_rec: np.ndarray
    s_sup: np.ndarray
    s_oo: np.ndarray
    s_rec: np.ndarray
    w_sup: np.ndarray
    w_oo: np.ndarray
    w_rec: np.ndarray
    valid: np.ndarray  # p x s

    @property
    def empty(self) -> bool:
        return len(self.p) == 0 or not self.valid.any()


class RunnerUpFinder:
    """Finds runner-ups for plans of one catalogue and scenario; memoises per requirement."""

    def __init__(
        self, catalog: Catalog, scenario: Scenario, builder: BundleBuilder | None = None
    ) -> None:
        self.catalog = catalog
        self.scenario = scenario
        self.builder = builder or BundleBuilder(catalog, scenario)
        self.terms: dict[str, SupplierTerms] = dict(self.builder.terms)
        self.supplier_ids: list[str] = list(self.terms)
        self.index: dict[str, int] = {p: i for i, p in enumerate(self.supplier_ids)}
        self._roles: dict[Requirement, _Roles] = {}
        self.offerings = self._offering_table()
        self.offering_index = {o.id: i for i, (o, _) in enumerate(self.offerings.items)}

    # ----------------------------------------------------------------- helpers

    def terms_of(self, supplier_id: str) -> SupplierTerms:
        """Terms of a supplier, also one the scenario would not select (a plan given in)."""
        t = self.terms.get(supplier_id)
        if t is None:
            t = supplier_terms(self.catalog.supplier_by_id[supplier_id], self.scenario)
            self.terms[supplier_id] = t
            self.index[supplier_id] = len(self.supplier_ids)
            self.supplier_ids.append(supplier_id)
        return t

    def _offering_table(self) -> _Offerings:
        items = [
            (o, supplier_id)
            for supplier_id, t in self.builder.terms.items()
            for o in t.supplier.offerings
        ]
        scenario = self.scenario
        regions: dict[str, np.ndarray] = {}
        sold = [
            {r.value for r in self.builder.terms[p].supplier.offering_regions(o)} for o, p in items
        ]
        for code in {r for where in sold for r in where}:
            regions[code] = np.array([code in where for where in sold], dtype=bool)
        return _Offerings(
            items=items,
            sup=np.array([self.index[p] for _, p in items], dtype=np.int64),
            tech=np.array([_TECH_CODE[o.technology] for o, _ in items], dtype=np.int64),
            download=np.array([o.download_mbps or 0.0 for o, _ in items], dtype=float),
            avail=np.array([o.availability_pct or 0.0 for o, _ in items], dtype=float),
            lead=np.array([o.lead_time_days for o, _ in items], dtype=np.int64),
            uncontended=np.array([o.effective_contention == 1 for o, _ in items], dtype=bool),
            one_off=np.array([o.install_cost for o, _ in items], dtype=float),
            recurring=np.array(
                [o.monthly_cost * term_months(o, scenario) for o, _ in items], dtype=float
            ),
            regions=regions,
        )

    def roles(self, req: Requirement) -> _Roles:
        """The valid links per role for ``req`` (SPEC "Which offerings may serve a site")."""
        cached = self._roles.get(req)
        if cached is None:
            cached = self._build_roles(req)
            self._roles[req] = cached
        return cached

    def _build_roles(self, req: Requirement) -> _Roles:
        t = self.offerings
        n = len(t.items)
        usable = t.regions.get(req.region, np.zeros(n, dtype=bool)).copy()
        if req.max_lead_time_days is not None:
            usable &= t.lead <= req.max_lead_time_days
        site_techs = np.zeros(len(_TECH_CODE), dtype=bool)
        site_techs[[_TECH_CODE[x] for x in req.technologies]] = True
        site_techs[_WIFI] = True
        usable &= site_techs[t.tech]
        wired = _WIRED[t.tech]
        primary_tech = wired | ((t.tech == _G4) & req.allow_4g_primary)
        fast = t.download >= req.bandwidth_mbps
        primary = usable & primary_tech & fast
        if req.uncontended:
            primary &= t.uncontended
        if req.resilience is Resilience.DIVERSE:
            secondary = usable & wired & fast
        else:
            secondary = usable & (t.tech != _WIFI) & (t.download >= req.backup_mbps)
        p = np.flatnonzero(primary)
        s = np.flatnonzero(secondary)
        if req.resilience is Resilience.SINGLE:
            s = np.concatenate(([_NONE], s))
        if req.wifi_aps > 0:
            w = np.flatnonzero(usable & (t.tech == _WIFI))
        else:
            w = np.array([_NONE], dtype=np.int64)
        sentinel = len(self.index) + 10_000  # never a supplier index

        def pick(ix: np.ndarray, values: np.ndarray, none: float) -> np.ndarray:
            out = np.full(len(ix), none, dtype=values.dtype)
            real = ix >= 0
            out[real] = values[ix[real]]
            return out

        quantity = float(req.wifi_aps)
        p_s_sup, s_sup = t.sup[p], pick(s, t.sup, sentinel)
        # validity of each (primary, secondary) pair
        s_tech = pick(s, t.tech, _NONE)
        none = (s == _NONE)[None, :]
        if req.resilience is Resilience.DIVERSE:
            pair_ok = s_sup[None, :] != p_s_sup[:, None]
        else:
            pair_ok = none | (s_tech[None, :] != t.tech[p][:, None])
        target = req.min_availability_pct
        if target is not None:
            f1 = 1 - t.avail[p] / 100
            f2 = 1 - pick(s, t.avail, 0.0) / 100
            both = 100 * (1 - f1[:, None] * f2[None, :])
            alone = np.broadcast_to((100 * (1 - f1))[:, None], both.shape)
            avail = np.where(none, alone, both)
            pair_ok = pair_ok & (avail >= target - AVAILABILITY_TOLERANCE)
        return _Roles(
            p=p, s=s, w=w,
            p_sup=p_s_sup, p_oo=t.one_off[p], p_rec=t.recurring[p],
            s_sup=s_sup, s_oo=pick(s, t.one_off, 0.0), s_rec=pick(s, t.recurring, 0.0),
            w_sup=pick(w, t.sup, sentinel),
            w_oo=quantity * pick(w, t.one_off, 0.0),
            w_rec=quantity * pick(w, t.recurring, 0.0),
            valid=np.broadcast_to(pair_ok, (len(p), len(s))).copy(),
        )

    def candidate(self, ix: int, quantity: int) -> Candidate | None:
        """The link for offering number ``ix`` of the table (None for ``_NONE``)."""
        if ix < 0:
            return None
        offering, supplier_id = self.offerings.items[ix]
        return make_candidate(offering, supplier_id, quantity, self.scenario)

    # ----------------------------------------------------------------- the search

    def _best_alternative(
        self,
        roles: _Roles,
        entry: np.ndarray,
        rate: np.ndarray,
        exclude: frozenset[str],
    ) -> tuple[float, tuple[int, int, int]] | None:
        """min g(B) over valid bundles whose offering set is not ``exclude``."""
        if roles.empty:
            return None
        nsup = len(entry)
        sentinel_entry = np.append(entry, 0.0)
        sentinel_rate = np.append(rate, 0.0)

        def idx(sup: np.ndarray) -> np.ndarray:
            return np.where(sup >= nsup, nsup, sup)

        ps, ss, ws = idx(roles.p_sup), idx(roles.s_sup), idx(roles.w_sup)
        c_p = roles.p_oo + (1 - sentinel_rate[ps]) * roles.p_rec + sentinel_entry[ps]
        c_s = roles.s_oo + (1 - sentinel_rate[ss]) * roles.s_rec
        e_s = sentinel_entry[ss]
        c_w = roles.w_oo + (1 - sentinel_rate[ws]) * roles.w_rec
        e_w = sentinel_entry[ws]
        two = c_p[:, None] + c_s[None, :] + e_s[None, :] * (ss[None, :] != ps[:, None])
        two = np.where(roles.valid, two, np.inf)
        new_wifi_supplier = (ws[None, None, :] != ps[:, None, None]) & (
            ws[None, None, :] != ss[None, :, None]
        )
        three = two[:, :, None] + c_w[None, None, :] + e_w[None, None, :] * new_wifi_supplier
        for cell in self._cells_of(roles, exclude):
            three[cell] = np.inf
        flat = int(np.argmin(three))
        value = float(three.flat[flat])
        if not np.isfinite(value):
            return None
        i, j, k = np.unravel_index(flat, three.shape)
        return value, (int(i), int(j), int(k))

    def _cells_of(self, roles: _Roles, ids: frozenset[str]) -> list[tuple[int, int, int]]:
        """Cells of the score tensor whose offering set equals ``ids`` (roles swapped too)."""
        wanted = [self.offering_index[x] for x in ids if x in self.offering_index]
        if len(wanted) != len(ids):
            return []  # an offering outside the table cannot be among the alternatives
        marks = np.array([*wanted, _NONE])
        ps = np.flatnonzero(np.isin(roles.p, marks))
        ss = np.flatnonzero(np.isin(roles.s, marks))
        ws = np.flatnonzero(np.isin(roles.w, marks))
        target = set(wanted)
        out = []
        for i in ps:
            for j in ss:
                for k in ws:
                    got = [int(x) for x in (roles.p[i], roles.s[j], roles.w[k]) if x >= 0]
                    if len(got) == len(target) and set(got) == target:
                        out.append((int(i), int(j), int(k)))
        return out

    # ----------------------------------------------------------------- a plan

    def attach(
        self,
        plan: Plan,
        sites: Sequence[Site],
        organisations: Sequence[Organisation] | None = None,
    ) -> Plan:
        """``plan`` with a :class:`RunnerUpDetail` on every served site that has one."""
        if not plan.has_plan:
            return plan
        scenario = self.scenario
        route = scenario.route
        site_by_id = {s.site_id: s for s in sites}
        chosen: dict[str, Bundle] = {}
        for sp in plan.sites:
            ids = site_offering_ids(sp)
            if ids and sp.site_id in site_by_id:
                chosen[sp.site_id] = bundle_for(site_by_id[sp.site_id], ids, self.catalog, scenario)
        for bundle in chosen.values():
            for p in bundle.suppliers:
                self.terms_of(p)

        # the plan's state per (party, supplier)
        n: dict[tuple[str, str], int] = defaultdict(int)
        oo: dict[tuple[str, str], float] = defaultdict(float)
        rec: dict[tuple[str, str], float] = defaultdict(float)
        served: dict[str, int] = defaultdict(int)
        changes: dict[str, int] = defaultdict(int)
        for sid, bundle in chosen.items():
            site = site_by_id[sid]
            party = party_of(site, route)
            served[party] += 1
            current = site.current_supplier
            if current is not None and bundle.primary_supplier != current:
                changes[party] += 1
            for p, o, r in bundle.charges:
                n[(party, p)] += 1
                oo[(party, p)] += o
                rec[(party, p)] += r

        def line(p: str, count: int, one_off: float, recurring: float) -> float:
            if count <= 0:
                return 0.0
            t = self.terms[p]
            return one_off + (1 - t.discount(count)) * recurring + t.fees

        party_cost: dict[str, float] = defaultdict(float)
        for (party, p), count in n.items():
            party_cost[party] += line(p, count, oo[(party, p)], rec[(party, p)])
        used: dict[str, set[str]] = defaultdict(set)
        for party, p in n:
            used[party].add(p)
        total = sum(party_cost.values())
        orgs = resolve_organisations(sites, organisations or ())
        budget = effective_budget(scenario, orgs)
        party_budgets: dict[str, float] = {}
        if route is not Route.COLLABORATIVE:
            party_budgets = {o.organisation: o.budget for o in orgs if o.budget is not None}

        # sites alike in party, requirement and choice share their runner-up
        memo: dict[tuple, tuple[float, Bundle] | None] = {}
        found: dict[str, RunnerUpDetail] = {}
        for sid, bundle_a in chosen.items():
            site = site_by_id[sid]
            party = party_of(site, route)
            req = requirement_of(site, scenario.start_date)
            key = (party, req, bundle_a.offering_ids)
            if key not in memo:
                memo[key] = self._runner_up(party, req, bundle_a, n, oo, rec, line)
            result = memo[key]
            if result is None:
                continue
            extra, bundle_b = result
            breaks = self._breaks(
                site, party, bundle_a, bundle_b, extra,
                n=n, used=used, served=served, changes=changes, total=total,
                party_cost=party_cost, budget=budget, party_budgets=party_budgets,
            )
            found[sid] = RunnerUpDetail(
                offering_ids=bundle_b.offering_ids,
                suppliers=tuple(sorted(bundle_b.suppliers)),
                extra_cost=extra,
                breaks=breaks,
            )
        sites_out = tuple(
            dataclasses.replace(sp, runner_up=found.get(sp.site_id)) if sp.served else sp
            for sp in plan.sites
        )
        return dataclasses.replace(plan, sites=sites_out)

    def _runner_up(
        self,
        party: str,
        req: Requirement,
        bundle_a: Bundle,
        n: Mapping[tuple[str, str], int],
        oo: Mapping[tuple[str, str], float],
        rec: Mapping[tuple[str, str], float],
        line: Callable[[str, int, float, float], float],
    ) -> tuple[float, Bundle] | None:
        """(extra cost, bundle) of the cheapest alternative to ``bundle_a``, or None."""
        roles = self.roles(req)
        entry, rate = self._entries(party, bundle_a, n, oo, rec, line)
        best = self._best_alternative(roles, entry, rate, frozenset(bundle_a.offering_ids))
        if best is None:
            return None
        g_b, (i, j, k) = best
        primary = self.candidate(int(roles.p[i]), 1)
        assert primary is not None
        bundle_b = make_bundle(
            primary,
            self.candidate(int(roles.s[j]), 1),
            self.candidate(int(roles.w[k]), req.wifi_aps),
        )
        return g_b - self._score(bundle_a, entry, rate), bundle_b

    def _entries(
        self,
        party: str,
        bundle_a: Bundle,
        n: Mapping[tuple[str, str], int],
        oo: Mapping[tuple[str, str], float],
        rec: Mapping[tuple[str, str], float],
        line: Callable[[str, int, float, float], float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per supplier: entry cost ``in - out`` and the discount rate with the site in."""
        own = {p: (o, r) for p, o, r in bundle_a.charges}
        entry = np.zeros(len(self.supplier_ids))
        rate = np.zeros(len(self.supplier_ids))
        for q, i in self.index.items():
            t = self.terms[q]
            a_o, a_r = own.get(q, (0.0, 0.0))
            key = (party, q)
            n0 = n.get(key, 0) - (1 if q in own else 0)
            o0 = oo.get(key, 0.0) - a_o
            r0 = rec.get(key, 0.0) - a_r
            d1 = t.discount(n0 + 1)
            inside = o0 + (1 - d1) * r0 + t.fees
            outside = line(q, n0, o0, r0)
            entry[i] = inside - outside
            rate[i] = d1
        return entry, rate

    def _score(self, bundle: Bundle, entry: np.ndarray, rate: np.ndarray) -> float:
        g = 0.0
        for p, o, r in bundle.charges:
            i = self.index[p]
            g += entry[i] + o + (1 - rate[i]) * r
        return float(g)

    def _breaks(
        self,
        site: Site,
        party: str,
        bundle_a: Bundle,
        bundle_b: Bundle,
        extra: float,
        *,
        n: Mapping[tuple[str, str], int],
        used: Mapping[str, set[str]],
        served: Mapping[str, int],
        changes: Mapping[str, int],
        total: float,
        party_cost: Mapping[str, float],
        budget: float | None,
        party_budgets: Mapping[str, float],
    ) -> tuple[str, ...]:
        """The scenario constraints the plan would break with ``bundle_b`` at ``site``."""
        scenario = self.scenario
        out: list[str] = []
        if budget is not None and total + extra > budget + _MONEY_TOL * max(1.0, budget):
            out.append("budget")
        own_budget = party_budgets.get(party)
        if own_budget is not None and party_cost.get(party, 0.0) + extra > own_budget + (
            _MONEY_TOL * max(1.0, own_budget)
        ):
            out.append("organisation_budget")
        sa, sb = set(bundle_a.suppliers), set(bundle_b.suppliers)
        after_n = {
            p: n.get((party, p), 0) - (p in sa) + (p in sb) for p in sa | sb
        }
        after_used = (used.get(party, set()) - {p for p, c in after_n.items() if c <= 0}) | sb
        if scenario.max_suppliers is not None and len(after_used) > scenario.max_suppliers:
            out.append("max_suppliers")
        if scenario.min_suppliers is not None and len(after_used) < scenario.min_suppliers:
            out.append("min_suppliers")
        share = scenario.max_supplier_share
        if share is not None and any(
            c > share * served.get(party, 0) + 1e-9 for p, c in after_n.items() if p in sb
        ):
            out.append("max_supplier_share")
        if scenario.max_supplier_changes is not None and site.current_supplier is not None:
            before = bundle_a.primary_supplier != site.current_supplier
            after = bundle_b.primary_supplier != site.current_supplier
            if changes.get(party, 0) - before + after > scenario.max_supplier_changes:
                out.append("max_supplier_changes")
        return tuple(out)


def with_runner_ups(
    plan: Plan,
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None = None,
    builder: BundleBuilder | None = None,
) -> Plan:
    """``plan`` with each served site's runner-up attached (see the module docstring).

    For every served site: the cheapest valid set of links whose offerings
    differ from the chosen ones, every other site's choice held, and
    ``extra_cost`` = the plan's total with it minus the plan's total (exact
    per SPEC "Cost": tiers, fees and all). Only validity is enforced; the
    runner-up may break a supplier limit, share cap, change limit or budget,
    and :attr:`RunnerUpDetail.breaks` names each one it would break. A site
    with no alternative gets no runner-up. Pass ``builder`` to reuse the
    optimiser's supplier terms.
    """
    return RunnerUpFinder(catalog, scenario, builder).attach(plan, sites, organisations)
