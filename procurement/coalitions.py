"""The consortium's cost game: ``c(S)`` for many coalitions, solved once, fast.

``c(S)`` is the optimal cost of coalition ``S`` buying its own sites together
on the collaborative route (one contracting party), under the comparison's
scenario (cost objective, scenario constraints kept, no budgets). An exact
Shapley value or nucleolus needs it for all ``2^n - 1`` coalitions, so this
module is about doing that many MILP solves without waste:

* **Built once.** The catalogue's link options for every site requirement
  are enumerated once (:class:`~procurement.options.BundleBuilder`, warmed in
  the parent), and each worker process receives the warmed builder once,
  through its initializer. Each process builds the consortium's model once,
  and a coalition's model is cut from its arrays
  (:mod:`procurement.submodel`): the profiles the coalition has sites in,
  with its site counts. Nothing is built per coalition, except where the
  cut model does not settle it (or the scenario cannot be cut): then its
  own model is built and HiGHS's MIP finishes it, as before.
* **Warm starts.** Coalitions are solved by size. A coalition ``S`` can always
  buy as ``S - {i}`` and ``{i}`` did, merged into one contract set (one party
  pays each supplier's fees once, and larger site counts only reach higher
  discount tiers), so the cheapest such union among the solved ``S - {i}``
  (or the local search's plan, if cheaper) is handed to HiGHS as a complete
  start, whose root is probed and branched on before HiGHS's MIP
  (:data:`PROBE_COALITIONS`), as route plans do. A start that breaks a
  scenario rule (say ``max_suppliers``) is simply not used.
* **Parallel.** Coalitions of one size are independent: they run in a
  :class:`concurrent.futures.ProcessPoolExecutor`, in chunks, while route
  plans (the grand coalition's collaborative plan, the solo and central plans)
  run as separate tasks in the same pool; each worker runs HiGHS on one
  thread. Small games run serially, where starting processes would cost more
  than it saves. Worker processes come from a fork server (or spawn), never
  from a fork of a process that may already run HiGHS' thread pool.

Coalitions are bitmasks over the players (bit ``i`` = ``players[i]``), as in
:mod:`procurement.allocation`. A *choice* (see :class:`CoalitionEngine`) records
each member site's offerings by catalogue index, so the union of two disjoint
coalitions' plans is one ``numpy.where`` and plans cross processes cheaply.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

from procurement.costing import price
from procurement.gcpause import without_gc
from procurement.incumbent import FlatProfiles, find_priced_start
from procurement.models import Catalog, Organisation, Route, Scenario, Site
from procurement.optimiser import (
    PROBE_TIME_SHARE,
    HighsSolver,
    Profile,
    available_cpus,
    build_model,
    build_profiles,
    chosen_bundles,
    init_worker,
    main_hidden_from_workers,
    make_solver,
    probe_chains,
    probe_columns,
    probe_root,
    process_pool_context,
    search_fits,
    set_start,
    solve,
    solver_output_to_stderr,
)
from procurement.options import Bundle, BundleBuilder, eligible_suppliers, term_months
from procurement.plan import Plan
from procurement.submodel import CutModelError, ModelTemplate, coalition_profiles, cuttable

__all__ = [
    "MAX_WARM_STARTS",
    "POOL_MIN_PLAYERS",
    "POOL_MIN_SITES",
    "CoalitionEngine",
    "CoalitionOutcome",
    "CoalitionRunner",
    "default_workers",
    "members_of",
    "popcount",
    "sampled_coalitions",
]

#: Games with at most this many organisations are solved serially (at most
#: 15 coalitions: starting worker processes costs more than it saves).
POOL_MIN_PLAYERS = 5
#: ... and so are portfolios of fewer sites than this, whose solves are instant.
POOL_MIN_SITES = 40
#: Candidate warm starts sent with each coalition (the cheapest is used).
MAX_WARM_STARTS = 3
#: Most worker processes started by default.
MAX_DEFAULT_WORKERS = 8
#: Probe and branch at each coalition's root around its start (see
#: ``optimiser.probe_root``)? A coalition's start (a union of smaller
#: coalitions' plans, or the local search's) is seldom its optimum, and
#: probing alone proved one of six; with the branch and bound after it every
#: one of eight sampled coalitions of a 1,000-site, ten-organisation game was
#: proven there, some finding the optimum on the way: 31.8 s to 13.8 s for
#: the eight (HiGHS's root cuts took 9-17 s on the slowest alone).
PROBE_COALITIONS = True
#: ... and branching starts straight after the root LP, with no probing
#: (route plans probe for three times as long as the root LP took,
#: ``optimiser.PROBE_EFFORT``): a coalition's start is seldom optimal, so
#: probing seldom proves it and branching does the work. The first 60
#: coalitions of a 1,000-site, ten-organisation game, in one process: 15.0
#: and 16.5 s of proving with 0, 17.2 and 16.9 s with probing for as long as
#: the root LP (as HiGHS's time limits stopped it early; 21.2 s when they no
#: longer did).
COALITION_PROBE_EFFORT = 0.0


def popcount(mask: int) -> int:
    return mask.bit_count()


def members_of(players: Sequence[str], mask: int) -> frozenset[str]:
    return frozenset(p for i, p in enumerate(players) if mask >> i & 1)


def default_workers(n_players: int, n_sites: int) -> int:
    """Worker processes for a game: 1 (serial) for small games, else the CPUs (up to 8)."""
    cpus = available_cpus()
    if cpus < 2 or n_players < POOL_MIN_PLAYERS or n_sites < POOL_MIN_SITES:
        return 1
    return min(cpus, MAX_DEFAULT_WORKERS)


@dataclass(frozen=True)
class CoalitionOutcome:
    """How one coalition's solve went.

    ``status``: ``"optimal"``; ``"feasible"`` (stopped at the time limit with a
    plan, whose cost is then an upper bound on ``c(S)``); ``"infeasible"`` (no
    plan serves every member site within the scenario's constraints) or
    ``"no_solution"`` (stopped at the time limit before finding one). ``cost``
    is None in the last two cases.
    """

    mask: int
    cost: float | None
    status: str
    seconds: float
    warm_started: bool = False

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def feasible(self) -> bool:
        return self.cost is not None


# ------------------------------------------------------------------- solver with a MIP start


@without_gc
def _solve_with_start(
    model: Any,
    solver_name: str,
    *,
    started: bool,
    time_limit: float,
    gap: float,
) -> str:
    """Solve ``model`` at its cost with the optimiser's solver settings.

    ``started``: the variables hold a complete plan (:func:`set_start`), which
    HiGHS is handed as its first plan (and, with :data:`PROBE_COALITIONS`,
    its root is probed and branched on around it); CBC gets it as a warm
    start. Returns ``"optimal"``, ``"feasible"`` (a plan, stopped at the time limit),
    ``"infeasible"`` (proven) or ``"no_solution"`` (stopped before any plan).
    """
    prob = model.prob
    prob.sense = pulp.LpMinimize
    prob.setObjective(model.total_cost)
    solver = make_solver(
        solver_name,
        time_limit=time_limit,
        gap=gap,
        verbose=False,
        warm_start=started,
        probe=probe_columns(model) if started and PROBE_COALITIONS else (),
        roles=model.roles,
        chains=probe_chains(model) if started and PROBE_COALITIONS else (),
    )
    if started and isinstance(solver, pulp.PULP_CBC_CMD):
        solver.optionsDict["warmStart"] = True
    if isinstance(solver, HighsSolver):
        solver.probe_effort = COALITION_PROBE_EFFORT
    with solver_output_to_stderr():
        prob.solve(solver)
    if prob.sol_status == pulp.LpSolutionOptimal:
        return "optimal"
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible"
    return "infeasible" if prob.status == pulp.LpStatusInfeasible else "no_solution"


# --------------------------------------------------------------------------- the engine


class CoalitionEngine:
    """Solves coalitions of one portfolio; one per process, built once.

    ``scenario`` is the comparison's (collaborative route, cost objective, no
    budget, every site served); ``organisations`` are the players, in bit
    order, budgets already removed. ``builder`` (for ``scenario``) may be
    passed warmed; every site's options are enumerated here in any case.

    A *choice* is an ``int32`` array of shape ``(sites, 3)``: the catalogue
    index (:attr:`offering_ids`) of each site's primary, secondary and wifi
    offering, ``-1`` where there is none; a row of ``-1`` is a site outside
    the coalition. It does not depend on how the model is built, so plans
    can move between processes and be merged cheaply.
    """

    def __init__(
        self,
        catalog: Catalog,
        sites: Sequence[Site],
        scenario: Scenario,
        organisations: Sequence[Organisation],
        *,
        solver: str = "highs",
        builder: BundleBuilder | None = None,
    ) -> None:
        self.catalog = catalog
        self.sites = tuple(sites)
        self.scenario = scenario
        self.organisations = tuple(organisations)
        self.players = tuple(o.organisation for o in self.organisations)
        self.solver = solver
        self.builder = builder if builder is not None else BundleBuilder(catalog, scenario)
        bit = {p: i for i, p in enumerate(self.players)}
        self.site_bit = np.array([bit[s.organisation] for s in self.sites], dtype=np.int64)
        self.index = {s.site_id: k for k, s in enumerate(self.sites)}
        self.offering_ids = tuple(o.id for s in catalog.suppliers for o in s.offerings)
        self._offering_pos = {oid: i for i, oid in enumerate(self.offering_ids)}
        offerings = [(s.id, o) for s in catalog.suppliers for o in s.offerings]
        # what each offering charges per unit, for pricing choices in numpy
        self._supplier_ids = sorted({sid for sid, _ in offerings})
        column = {sid: i for i, sid in enumerate(self._supplier_ids)}
        self._offering_supplier = np.array([column[sid] for sid, _ in offerings], dtype=np.int64)
        self._install = np.array([o.install_cost for _, o in offerings], dtype=float)
        self._monthly = np.array([o.monthly_cost for _, o in offerings], dtype=float)
        self._term = np.array([term_months(o, scenario) for _, o in offerings], dtype=float)
        self._wifi_aps = np.array([s.wifi_aps for s in self.sites], dtype=np.int64)
        # every site's options, once (the builder caches them per requirement)
        servable: set[str] = set()
        for profile in build_profiles(self.sites, scenario, self.builder):
            servable.update(profile.site_ids)
        #: players owning a site that nothing can serve: their coalitions are infeasible
        self.unservable_mask = 0
        for k, site in enumerate(self.sites):
            if site.site_id not in servable:
                self.unservable_mask |= 1 << int(self.site_bit[k])
        self._builders: dict[Route, BundleBuilder] = {Route.COLLABORATIVE: self.builder}
        #: the consortium's model, coalitions' models are cut from (made when first needed)
        self._template: _Template | None = None
        self._template_made = False
        #: coalitions whose cut model did not settle them (solved as built models instead)
        self.cut_fallbacks = 0

    # ----------------------------------------------------------------- coalitions and choices

    @property
    def full_mask(self) -> int:
        return (1 << len(self.players)) - 1

    def site_indices(self, mask: int) -> np.ndarray:
        """Indices (in :attr:`sites` order) of the sites owned by ``mask``'s members."""
        return np.flatnonzero((mask >> self.site_bit) & 1)

    def sites_of(self, mask: int) -> list[Site]:
        return [self.sites[k] for k in self.site_indices(mask)]

    def organisations_of(self, mask: int) -> list[Organisation]:
        return [o for i, o in enumerate(self.organisations) if mask >> i & 1]

    def empty_choice(self) -> np.ndarray:
        return np.full((len(self.sites), 3), -1, dtype=np.int32)

    def _set_links(self, choice: np.ndarray, k: int, offering_ids: Sequence[str | None]) -> bool:
        for column, oid in enumerate(offering_ids):
            if oid is None:
                continue
            position = self._offering_pos.get(oid)
            if position is None:
                return False
            choice[k, column] = position
        return True

    def choice_of_bundles(self, bundles: Mapping[str, Bundle | None]) -> np.ndarray | None:
        """The choice for ``site id -> bundle`` (None if a site is unserved)."""
        choice = self.empty_choice()
        for site_id, bundle in bundles.items():
            if bundle is None:
                return None
            ids = [
                None if c is None else c.offering.id
                for c in (bundle.primary, bundle.secondary, bundle.wifi)
            ]
            if not self._set_links(choice, self.index[site_id], ids):
                return None
        return choice

    def plan_choice(self, plan: Plan) -> np.ndarray | None:
        """A plan's links as a choice (None when a site is unserved or unknown here)."""
        choice = self.empty_choice()
        for sp in plan.sites:
            k = self.index.get(sp.site_id)
            if not sp.served or k is None:
                return None
            ids = [
                None if link is None else link.offering_id
                for link in (sp.primary, sp.secondary, sp.wifi)
            ]
            if not self._set_links(choice, k, ids):
                return None
        return choice

    def choice_cost(self, choice: np.ndarray) -> float:
        """Cost of a choice bought by one party, priced as :func:`costing.price` does:
        a supplier's discount tier from its distinct sites, its fees once.

        In numpy (every coalition prices its starts and its plan: a loop over
        sites and links took 5 ms a five-organisation coalition), summed per
        supplier in the order of sites and links, as a loop would sum them.
        """
        links = choice[choice[:, 0] >= 0]
        if not len(links):
            return 0.0
        quantity = np.ones(links.shape, dtype=np.int64)
        quantity[:, 2] = self._wifi_aps[choice[:, 0] >= 0]
        given = links >= 0
        position = links[given]
        supplier = np.full(links.shape, -1, dtype=np.int64)
        supplier[given] = self._offering_supplier[position]
        n = len(self._supplier_ids)
        one_off = np.bincount(
            supplier[given], weights=quantity[given] * self._install[position], minlength=n
        )
        recurring = np.bincount(
            supplier[given],
            weights=quantity[given] * self._monthly[position] * self._term[position],
            minlength=n,
        )
        # a site counts once towards a supplier however many of its links it sells
        first, second, third = supplier[:, 0], supplier[:, 1], supplier[:, 2]
        distinct = np.concatenate(
            [
                first,
                second[second != first],
                third[(third != first) & (third != second)],
            ]
        )
        count = np.bincount(distinct[distinct >= 0], minlength=n)
        terms = self.builder.terms
        return math.fsum(
            one_off[i] + (1 - terms[p].discount(int(count[i]))) * recurring[i] + terms[p].fees
            for i, p in enumerate(self._supplier_ids)
            if count[i]
        )

    @staticmethod
    def union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Two disjoint coalitions' plans as one."""
        return np.where(a[:, :1] >= 0, a, b)

    # ----------------------------------------------------------------- solving

    @without_gc
    def solve(
        self, mask: int, starts: Sequence[np.ndarray] = ()
    ) -> tuple[CoalitionOutcome, np.ndarray | None]:
        """``c(S)`` for ``mask`` and the plan achieving it, from the cheapest of ``starts``."""
        t0 = time.perf_counter()
        if mask & self.unservable_mask or not mask:
            return CoalitionOutcome(mask, None, "infeasible", time.perf_counter() - t0), None
        members = self.site_indices(mask)
        start, start_cost = self._best_start(members, starts)
        template = self._cut_template()
        if template is not None:
            settled = self._solve_cut(template, mask, start, start_cost, t0)
            if settled is not None:
                return settled
            self.cut_fallbacks += 1
        sites = [self.sites[k] for k in members]
        profiles = build_profiles(sites, self.scenario, self.builder)
        model = build_model(
            profiles, self.builder.terms, self.scenario, total_budget=None, party_budgets={}
        )
        plan = None if start is None else _start_plan(model.profiles, start, self)
        if search_fits(self.scenario):
            # the local search's plan, where it beats the best union of sub-coalitions
            # (priced by the search itself: setting it on the model and reading
            # the cost back cost a few percent of a five-organisation coalition's solve)
            found = find_priced_start(profiles, self.builder.terms, seconds=1.0)
            if found is not None:
                searched, searched_cost = found
                if plan is None or searched_cost < start_cost - 1e-6:
                    plan = searched
        if plan is not None:
            set_start(model, plan)
        status = _solve_with_start(
            model,
            self.solver,
            started=plan is not None,
            # what a cut model's attempt left of the time limit
            time_limit=max(self.scenario.time_limit_s - (time.perf_counter() - t0), 1.0),
            gap=self.scenario.mip_gap,
        )
        warm = plan is not None
        if status in ("infeasible", "no_solution"):
            return CoalitionOutcome(mask, None, status, time.perf_counter() - t0, warm), None
        bundles = chosen_bundles(model)
        if any(b is None for b in bundles.values()) or len(bundles) != len(sites):
            raise RuntimeError("the solver left a site without links in a plan serving every site")
        priced = price(
            bundles, sites, self.organisations_of(mask), self.scenario, self.builder.terms
        )
        choice = self.choice_of_bundles(bundles)
        outcome = CoalitionOutcome(mask, priced.total_cost, status, time.perf_counter() - t0, warm)
        return outcome, choice

    def _cut_template(self) -> _Template | None:
        """The consortium's model to cut coalitions' from, where that is how they are solved."""
        if not PROBE_COALITIONS:  # the cut model is solved only by probing and branching
            return None
        if not self._template_made:
            self._template_made = True
            if self.solver == "highs" and cuttable(self.scenario):
                try:
                    self._template = _Template.of(self)
                except CutModelError:
                    # a model whose counts enter where cutting does not expect
                    # (tests catch that): every coalition is built, as before
                    self._template = None
        return self._template

    def _solve_cut(
        self,
        template: _Template,
        mask: int,
        start: np.ndarray | None,
        start_cost: float,
        t0: float,
    ) -> tuple[CoalitionOutcome, np.ndarray] | None:
        """Solve ``mask`` on a model cut from the consortium's: its root probed and
        branched on around the cheapest start, as a built model's would be. None
        when that does not settle it (no start, or no proof in its share of the
        time limit): the coalition is then solved on a built model."""
        model = template.model
        counts, kept, site_lists = template.members(mask)
        site_ids = [[self.sites[k].site_id for k in ks] for ks in site_lists]
        profiles = coalition_profiles(model, kept, site_ids)
        plan = None if start is None else _start_plan(profiles, start, self)
        if search_fits(self.scenario):
            flat = template.flat.subset(kept, counts[kept])
            found = find_priced_start(profiles, self.builder.terms, seconds=1.0, flat=flat)
            if found is not None and (plan is None or found[1] < start_cost - 1e-6):
                plan = found[0]
        if plan is None:
            return None
        cut = model.cut(counts)
        values = model.values({int(kept[i]): combos for i, combos in plan.items()})
        limit = min(self.scenario.time_limit_s, 3600.0)
        with solver_output_to_stderr():
            proof = probe_root(
                cut.arrays.relaxation(),
                values[cut.columns],
                cut.probe,
                gap=self.scenario.mip_gap,
                deadline=t0 + PROBE_TIME_SHARE * limit,
                effort=COALITION_PROBE_EFFORT,
                arrays=cut.arrays,
                roles=cut.roles,
                chains=cut.chains,
            )
        if proof is None or not proof.proven:
            return None
        choice = template.hand_out(self, cut.expand(proof.plan, model.n_columns), mask)
        cost = self.choice_cost(choice)
        if abs(cost - proof.cost) > 0.01 + 1e-6 * abs(cost):
            # the plan handed out is not the plan proven (it never was, in any
            # test): rather than report it, solve the coalition on a built model
            return None
        return CoalitionOutcome(mask, cost, "optimal", time.perf_counter() - t0, True), choice

    def _best_start(
        self, members: np.ndarray, starts: Sequence[np.ndarray]
    ) -> tuple[np.ndarray | None, float]:
        """The cheapest of ``starts`` that covers exactly ``members``, and its cost."""
        best, best_cost = None, math.inf
        for start in starts:
            if not np.array_equal(np.flatnonzero(start[:, 0] >= 0), members):
                continue
            cost = self.choice_cost(start)
            if cost < best_cost:
                best, best_cost = start, cost
        return best, best_cost

    # ----------------------------------------------------------------- route plans

    def builder_for(self, route: Route) -> BundleBuilder:
        """One builder per route's supplier terms: solo shares the collaborative one
        (the routes differ only in who signs) unless the terms ever differ."""
        found = self._builders.get(route)
        if found is None:
            scenario = self.scenario.model_copy(update={"route": route})
            if eligible_suppliers(self.catalog, scenario) == self.builder.terms:
                found = self.builder
            else:
                found = BundleBuilder(self.catalog, scenario)
            self._builders[route] = found
        return found

    def route_plan(self, route: Route, mask: int) -> tuple[Plan, np.ndarray | None]:
        """The full plan of ``mask``'s sites on ``route`` (the optimiser's :func:`solve`),
        with its choice when it can seed coalition starts (same supplier terms)."""
        scenario = self.scenario.model_copy(update={"route": route})
        builder = self.builder_for(route)
        with solver_output_to_stderr():
            plan = solve(
                self.catalog,
                self.sites_of(mask),
                scenario,
                self.organisations_of(mask),
                solver=self.solver,
                explain=True,
                builder=builder,
            )
        choice = None
        if plan.has_plan and builder is self.builder:
            choice = self.plan_choice(plan)
        return plan, choice


class _Template:
    """The consortium's model (:class:`~procurement.submodel.ModelTemplate`), with
    its profiles' sites, pairs and wifi laid end to end, to read coalitions off it."""

    def __init__(self, model: ModelTemplate, engine: CoalitionEngine) -> None:
        self.model = model
        profiles = model.profiles
        n_profiles = len(profiles)
        #: every profile's sites (engine indices, site-id order), profile after profile
        self.sites = np.array(
            [engine.index[sid] for p in profiles for sid in p.site_ids], dtype=np.int64
        )
        self.site_profile = np.repeat(np.arange(n_profiles), [p.count for p in profiles])
        self.site_bits = engine.site_bit[self.sites]

        def position(candidate: Any) -> int:
            return -1 if candidate is None else engine._offering_pos[candidate.offering.id]

        # every profile's pairs end to end: count column and offerings
        self.pair_columns = np.concatenate([*model.pair_columns, np.zeros(0, np.int64)])
        self.pair_profile = np.repeat(
            np.arange(n_profiles), [len(c) for c in model.pair_columns]
        )
        self.pair_primary = np.array(
            [position(b.primary) for p in profiles for b in p.pairs], dtype=np.int32
        )
        self.pair_secondary = np.array(
            [position(b.secondary) for p in profiles for b in p.pairs], dtype=np.int32
        )
        # wifi classes end to end: each pair's class and rank (class, then its place
        # in the class), and each class's wifi count columns and offerings
        first_pair = np.concatenate(([0], np.cumsum([len(c) for c in model.pair_columns])))
        self.pair_class = np.full(len(self.pair_columns), -1, dtype=np.int64)
        self.pair_rank = np.full(len(self.pair_columns), -1, dtype=np.int64)
        wifi_columns: list[int] = []
        wifi_offerings: list[int] = []
        wifi_class: list[int] = []
        n_classes = rank = 0
        for g, classes in enumerate(model.wifi_classes):
            for members, transport in classes:
                for j in members:
                    self.pair_class[first_pair[g] + j] = n_classes
                    self.pair_rank[first_pair[g] + j] = rank
                    rank += 1
                wifi_columns.extend(int(t) for t in transport)
                wifi_offerings.extend(position(w) for w in profiles[g].wifis)
                wifi_class.extend([n_classes] * len(transport))
                n_classes += 1
        self.n_classes = n_classes
        self.wifi_columns = np.array(wifi_columns, dtype=np.int64)
        self.wifi_offerings = np.array(wifi_offerings, dtype=np.int32)
        self.wifi_class = np.array(wifi_class, dtype=np.int64)
        #: the local search's arrays for every profile, cut down for each coalition
        self.flat = FlatProfiles.of(profiles, engine.builder.terms)

    @classmethod
    def of(cls, engine: CoalitionEngine) -> _Template:
        profiles = build_profiles(engine.sites, engine.scenario, engine.builder)
        model = build_model(
            profiles, engine.builder.terms, engine.scenario, total_budget=None, party_budgets={}
        )
        return cls(ModelTemplate(model), engine)

    def members(self, mask: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Sites per template profile in coalition ``mask``; the profiles it has
        sites in; and those sites (engine indices, site-id order) per such profile."""
        member = (mask >> self.site_bits) & 1 == 1
        counts = np.bincount(self.site_profile[member], minlength=len(self.model.profiles))
        kept = np.flatnonzero(counts)
        site_lists = np.split(self.sites[member], np.cumsum(counts[kept])[:-1])
        return counts, kept, site_lists

    def hand_out(self, engine: CoalitionEngine, values: np.ndarray, mask: int) -> np.ndarray:
        """The plan ``values`` (template columns) for coalition ``mask`` as a
        choice: each profile's pair counts handed out to its member sites in
        site-id order, then each wifi class's wifi counts to the class's sites
        in the order of its pairs, as :func:`chosen_bundles` hands them out."""
        member = (mask >> self.site_bits) & 1 == 1
        sites = self.sites[member]
        pairs = np.rint(values[self.pair_columns]).astype(np.int64)
        n_profiles = len(self.model.profiles)
        if np.any(pairs < 0) or not np.array_equal(
            np.bincount(self.pair_profile, weights=pairs, minlength=n_profiles),
            np.bincount(self.site_profile[member], minlength=n_profiles),
        ):
            raise RuntimeError("a plan's pair counts do not match its profiles' sites")
        site_pair = np.repeat(np.arange(len(pairs)), pairs)
        choice = engine.empty_choice()
        choice[sites, 0] = self.pair_primary[site_pair]
        choice[sites, 1] = self.pair_secondary[site_pair]
        if self.n_classes:
            in_class = self.pair_class[site_pair] >= 0
            order = np.argsort(self.pair_rank[site_pair[in_class]], kind="stable")
            class_sites = sites[in_class][order]
            wifis = np.rint(values[self.wifi_columns]).astype(np.int64)
            if np.any(wifis < 0) or not np.array_equal(
                np.bincount(self.wifi_class, weights=wifis, minlength=self.n_classes),
                np.bincount(self.pair_class[site_pair[in_class]], minlength=self.n_classes),
            ):
                raise RuntimeError("a plan's wifi counts do not match its classes' sites")
            choice[class_sites, 2] = np.repeat(self.wifi_offerings, wifis)
        return choice


def _start_plan(
    profiles: Sequence[Profile], choice: np.ndarray, engine: CoalitionEngine
) -> dict[int, dict[tuple[int, int], int]] | None:
    """``choice`` as a plan over ``profiles`` in :func:`set_start`'s form.

    Per profile: sites per (pair index, wifi index or -1). Returns None, so
    the choice is not used, when it does not fit the profiles' options.
    """
    plan: dict[int, dict[tuple[int, int], int]] = {}
    ids = engine.offering_ids
    for g, profile in enumerate(profiles):
        pair_at = {
            (p.primary.offering.id, None if p.secondary is None else p.secondary.offering.id): j
            for j, p in enumerate(profile.pairs)
        }
        wifi_at = {w.offering.id: o for o, w in enumerate(profile.wifis)}
        combos: dict[tuple[int, int], int] = defaultdict(int)
        for site_id in profile.site_ids:
            link = choice[engine.index[site_id]]
            if link[0] < 0:
                return None
            j = pair_at.get((ids[link[0]], ids[link[1]] if link[1] >= 0 else None))
            o = wifi_at.get(ids[link[2]]) if link[2] >= 0 else -1
            if j is None or o is None or (o < 0) != (not profile.wifis):
                return None
            combos[(j, o)] += 1
        plan[g] = dict(combos)
    return plan


# --------------------------------------------------------------------------- worker processes

_ENGINE: CoalitionEngine | None = None


def _init_worker(parent: int, args: tuple) -> None:
    global _ENGINE
    init_worker(parent)
    catalog, sites, scenario, organisations, solver, builder = args
    _ENGINE = CoalitionEngine(
        catalog, sites, scenario, organisations, solver=solver, builder=builder
    )


def _in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    if _ENGINE is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("coalition worker used before its initializer ran")
    return fn(_ENGINE, *args)


def _task_route_plan(engine: CoalitionEngine, route: Route, mask: int):
    return engine.route_plan(route, mask)


def _task_coalitions(
    engine: CoalitionEngine, batch: Sequence[tuple[int, Sequence[np.ndarray]]]
) -> list[tuple[CoalitionOutcome, np.ndarray | None]]:
    return [engine.solve(mask, starts) for mask, starts in batch]


class CoalitionRunner:
    """Runs route plans and coalition solves, in worker processes or in this one.

    Use as a context manager. With ``workers == 1`` every task runs at once in
    this process (the returned futures are already done); otherwise tasks go
    to a process pool whose workers each build one :class:`CoalitionEngine`.
    """

    def __init__(self, engine: CoalitionEngine, workers: int = 1) -> None:
        self.engine = engine
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None
        self.solved: dict[int, CoalitionOutcome] = {}

    def __enter__(self) -> CoalitionRunner:
        if self.workers > 1:
            e = self.engine
            payload = (e.catalog, e.sites, e.scenario, e.organisations, e.solver, e.builder)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=process_pool_context("procurement.coalitions"),
                initializer=_init_worker,
                initargs=(os.getpid(), payload),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        if self._pool is not None:
            with main_hidden_from_workers():  # workers start on the first submit
                return self._pool.submit(_in_worker, fn, *args)
        future: Future = Future()
        try:
            future.set_result(fn(self.engine, *args))
        except Exception as exc:  # re-raised by future.result(), as from a pool
            future.set_exception(exc)
        return future

    def submit_route_plan(self, route: Route, mask: int) -> Future:
        """A future of ``(Plan, choice or None)`` for ``mask``'s sites on ``route``."""
        return self._submit(_task_route_plan, route, mask)

    def solve_coalitions(
        self,
        masks: Iterable[int],
        known: Mapping[int, tuple[float, np.ndarray | None]],
        *,
        stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[int, CoalitionOutcome]:
        """Solve ``masks``, each once every ``S - {i}`` among them is solved, from
        the best union of those plans with the singletons' (see :meth:`_starts`).

        ``known`` gives coalitions already costed (usually the singletons, from
        the solo plans) with their choices. Smaller coalitions go first; in a
        pool a coalition is handed out as soon as its subsets are done (no
        waiting for the whole size), the most sites first. ``stop()``, asked
        after each result, may end the work early: coalitions not yet solved
        are then left out of the result. ``progress(solved, total)`` is called
        once before the first and after each coalition is solved.
        """
        costs: dict[int, float] = {m: c for m, (c, _) in known.items()}
        choices: dict[int, np.ndarray] = {m: ch for m, (_, ch) in known.items() if ch is not None}
        todo = set(masks) - set(known)
        waiting: dict[int, set[int]] = {}
        dependents: dict[int, list[int]] = defaultdict(list)
        for mask in todo:
            subsets = {mask ^ bit for bit in _bits(mask) if mask ^ bit in todo}
            waiting[mask] = subsets
            for sub in subsets:
                dependents[sub].append(mask)
        # a plan is kept until every coalition that may start from it has been sent
        uses = {mask: len(dependents[mask]) for mask in todo}
        sites = {mask: len(self.engine.site_indices(mask)) for mask in todo}

        def priority(mask: int) -> tuple[int, int, int]:
            return (popcount(mask), -sites[mask], mask)

        ready = sorted((m for m, w in waiting.items() if not w), key=priority)
        out: dict[int, CoalitionOutcome] = {}

        def take(batch: list[int]) -> list[tuple[int, list[np.ndarray]]]:
            tasks = []
            for mask in batch:
                tasks.append((mask, self._starts(mask, costs, choices)))
                for bit in _bits(mask):
                    sub = mask ^ bit
                    if sub in uses:
                        uses[sub] -= 1
                        if uses[sub] == 0:
                            choices.pop(sub, None)
            return tasks

        def record(outcome: CoalitionOutcome, choice: np.ndarray | None) -> None:
            mask = outcome.mask
            out[mask] = outcome
            if outcome.cost is not None:
                costs[mask] = outcome.cost
                if choice is not None and uses[mask] > 0:
                    choices[mask] = choice
            for sup in dependents[mask]:
                waiting[sup].discard(mask)
                if not waiting[sup]:
                    ready.append(sup)
            ready.sort(key=priority)
            if progress is not None:
                progress(len(out), len(todo))

        if progress is not None:
            progress(0, len(todo))

        if self._pool is None:
            while ready:
                if stop is not None and stop():
                    break
                ((mask, starts),) = take([ready.pop(0)])
                record(*self.engine.solve(mask, starts))
        else:
            self._run_pool(ready, take, record, stop)
        self.solved.update(out)
        return out

    def _run_pool(
        self,
        ready: list[int],
        take: Callable[[list[int]], list[tuple[int, list[np.ndarray]]]],
        record: Callable[[CoalitionOutcome, np.ndarray | None], None],
        stop: Callable[[], bool] | None,
    ) -> None:
        """Keep the workers busy: send what is ready (in chunks when plenty is),
        record results as they come, send what they make ready."""
        pending: set[Future] = set()
        try:
            while ready or pending:
                if ready:
                    chunk = max(1, len(ready) // (self.workers * 4))
                    while ready:
                        batch, ready[:] = ready[:chunk], ready[chunk:]
                        pending.add(self._submit(_task_coalitions, take(batch)))
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    for outcome, choice in future.result():
                        record(outcome, choice)
                if stop is not None and stop():
                    break
        finally:
            for future in pending:
                future.cancel()

    @staticmethod
    def _starts(
        mask: int, costs: Mapping[int, float], choices: Mapping[int, np.ndarray]
    ) -> list[np.ndarray]:
        """Unions ``plan(S - {i}) + plan({i})``, the cheapest-looking first."""
        ranked = []
        for bit in _bits(mask):
            other = mask ^ bit
            if other in choices and bit in choices:
                ranked.append((costs[other] + costs[bit], other, bit))
        ranked.sort()
        return [
            CoalitionEngine.union(choices[other], choices[bit])
            for _, other, bit in ranked[:MAX_WARM_STARTS]
        ]


def _bits(mask: int) -> Iterator[int]:
    """The single-member masks of ``mask``, lowest first."""
    while mask:
        bit = mask & -mask
        yield bit
        mask ^= bit


def sampled_coalitions(n: int, n_permutations: int, seed: int | None) -> set[int]:
    """Every coalition that sampled Shapley (:func:`allocation.shapley_sampled`, antithetic)
    will ask for: the prefixes of each drawn order and of its reverse."""
    rng = np.random.default_rng(seed)
    masks: set[int] = set()
    for _ in range(n_permutations):
        order = rng.permutation(n)
        for sequence in (order, order[::-1]):
            mask = 0
            for i in sequence:
                mask |= 1 << int(i)
                masks.add(mask)
    return masks
