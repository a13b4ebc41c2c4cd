"""Routes compared, and the consortium's savings shared (SPEC "Routes compared").

:func:`compare` answers a consortium lead's two questions: *what do we save
by buying together* (the same sites planned on the ``solo``,
``collaborative`` and ``central`` routes, with the savings against ``solo``)
and *how do we split it so that nobody is better off leaving* (the
collaborative total shared by proportional, Shapley or nucleolus, with a
core check and a what-if per organisation).

The comparison's rules
----------------------
* Every route is planned with the **cost objective**, the scenario's
  constraints (supplier counts, shares, changes, exclusions, certifications)
  **kept**, and **no budget binding**: neither the scenario's nor the
  organisations'. Every site must be served (``allow_partial`` is not used:
  savings between plans serving different sites would mean nothing).
* ``c(S)``, the cost of coalition ``S``, is the optimal collaborative-route
  cost of ``S``'s own sites. ``c(N)`` is the collaborative plan's total and
  ``c({i})`` organisation ``i``'s solo cost. Nothing but the organisations'
  sites differs between coalitions, so one set of bundle enumerations serves
  every solve (:mod:`procurement.coalitions`).
* **Solo and central plans** are solved one organisation at a time and
  merged: with no budget binding and every site served, no constraint of
  those routes spans two contracting parties, so the merged plan *is* the
  route's optimal plan, and each organisation's solo plan is its stand-alone
  cost ``c({i})`` (the solo and collaborative routes charge one party the
  same). Small separate models also solve far faster than one block model.
* **A coalition with no feasible plan** (a rule such as ``max_suppliers`` or
  ``max_supplier_changes`` that its members meet apart but not together)
  cannot buy as one party. Its cost is then what its members can achieve
  among themselves: the cheapest split of ``S`` into groups that do have
  plans, ``c(S) = min over T of c(T) + c(S - T)`` (all splits in the exact
  case; splits off one member beyond it). Such a coalition blocks only when
  one of its groups does, and the output names these coalitions. When an
  organisation cannot buy at all on its own (its solo plan is infeasible)
  there is no solo baseline and the savings are not shared.
* A solve stopped by the time limit keeps its best plan: that coalition's
  cost is an upper bound, and the output says how many were.

Allocation methods come from :mod:`procurement.allocation`; the exact ones
(up to 12 organisations) see every coalition. Beyond that Shapley is sampled
(``n_permutations`` joining orders and their reverses, ``seed``), and only the
coalitions those orders reach are solved.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from procurement.allocation import (
    CORE_TOL,
    DEFAULT_PERMUTATIONS,
    MAX_EXACT_PLAYERS,
    Allocation,
    AllocationMethod,
    CostGame,
    allocate,
    best_coalition_without,
)
from procurement.coalitions import (
    CoalitionEngine,
    CoalitionOutcome,
    CoalitionRunner,
    default_workers,
    members_of,
    popcount,
    sampled_coalitions,
)
from procurement.errors import InputError, Problem
from procurement.inputs import resolve_organisations
from procurement.models import Catalog, Objective, Organisation, Route, Scenario, Site
from procurement.optimiser import SOLVERS, solver_output_to_stderr
from procurement.plan import (
    Baseline,
    Breakdown,
    Diagnostic,
    Level,
    ModelStats,
    OrganisationCost,
    Plan,
    PlanStatus,
)

__all__ = [
    "ROUTES",
    "CoalitionStats",
    "RouteComparison",
    "RouteSaving",
    "WhatIf",
    "compare",
    "compare_scenario",
    "core_statement",
    "merge_plans",
]

#: Routes in the order every output lists them.
ROUTES: tuple[Route, ...] = (Route.SOLO, Route.COLLABORATIVE, Route.CENTRAL)

# fmt: off
_ROUTE_COLUMNS = ("route", "status", "total_cost", "saving", "saving_pct", "suppliers_used",
                  "suppliers", "gap", "solve_seconds")
_ALLOCATION_COLUMNS = ("organisation", "name", "sites", "solo_cost", "allocated_cost", "saving",
                       "saving_pct", "std_error", "attributed_cost")
_WHAT_IF_COLUMNS = ("organisation", "marginal_cost", "joining_saving", "best_without",
                    "best_without_cost", "best_without_saving")
_BLOCKING_COLUMNS = ("coalition", "members", "charged", "alone_cost", "excess")
_COALITION_COLUMNS = ("coalition", "members", "cost", "solo_cost", "saving", "basis")
# fmt: on


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RouteSaving:
    """A route's saving against solo: ``solo total - route total`` (None without both plans)."""

    route: Route
    absolute: float | None
    percent: float | None

    @classmethod
    def of(cls, route: Route, solo: Plan, other: Plan) -> RouteSaving:
        if not (solo.has_plan and other.has_plan):
            return cls(route, None, None)
        saving = solo.total_cost - other.total_cost
        percent = 100.0 * saving / solo.total_cost if solo.total_cost else None
        return cls(route, saving, percent)


@dataclass(frozen=True)
class WhatIf:
    """What one organisation's membership is worth to the consortium.

    ``marginal_cost = c(N) - c(N - i)``: what its joining adds to the bill.
    ``joining_saving = c(N - i) + c({i}) - c(N)``: the saving its joining
    brings (buying together rather than it alone and the others together).
    ``best_without``: the coalition the others could form without it that
    saves most against its members' solo costs (exact case only).
    """

    organisation: str
    marginal_cost: float | None
    joining_saving: float | None
    best_without: tuple[str, ...] | None = None
    best_without_cost: float | None = None
    best_without_saving: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "marginal_cost": self.marginal_cost,
            "joining_saving": self.joining_saving,
            "best_coalition_without": (
                None if self.best_without is None else list(self.best_without)
            ),
            "best_coalition_without_cost": self.best_without_cost,
            "best_coalition_without_saving": self.best_without_saving,
        }


@dataclass(frozen=True)
class CoalitionStats:
    """How the cost game was computed."""

    organisations: int
    coalitions: int  # coalitions whose cost the game holds (singletons and N included)
    solved: int  # coalition MILPs solved beyond the route plans
    warm_started: int
    time_limited: int
    infeasible: int
    workers: int
    seconds: float  # wall time of all solving (route plans and coalitions)
    coalition_seconds: float = 0.0  # the coalition solves' own times, summed over workers

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisations": self.organisations,
            "coalitions": self.coalitions,
            "solved": self.solved,
            "warm_started": self.warm_started,
            "time_limited": self.time_limited,
            "infeasible": self.infeasible,
            "workers": self.workers,
            "seconds": self.seconds,
            "coalition_seconds": self.coalition_seconds,
        }


def core_statement(allocation: Allocation | None) -> str:
    """One plain sentence on the split's stability, for every output."""
    if allocation is None:
        return "No split was computed."
    core = allocation.core
    blocking = len(core.blocking_coalitions)
    if not core.checked:
        if core.individually_rational:
            return (
                "Only individual rationality was checked (sampled Shapley): no organisation "
                "pays more than its solo cost."
            )
        return (
            f"Only individual rationality was checked (sampled Shapley): {blocking} "
            f"organisation{'s' if blocking != 1 else ''} would pay less buying alone."
        )
    if core.empty:
        return (
            "The core is empty: whatever the split, some group of organisations would pay "
            "less buying on its own."
        )
    if not blocking:
        return (
            "The split is in the core: no organisation or group of organisations would pay "
            "less buying on its own."
        )
    hint = "" if allocation.method is AllocationMethod.NUCLEOLUS else " (the nucleolus is)"
    groups = f"{blocking} group of organisations" if blocking == 1 else f"{blocking} groups"
    return f"The split is not in the core{hint}: {groups} would pay less buying on their own."


@dataclass(frozen=True)
class RouteComparison:
    """The three routes' plans, the savings, and the collaborative total shared.

    ``coalition_costs`` is the cost game ``c(S)`` that the allocation used
    (keys: frozensets of organisation ids; after the rule for infeasible
    coalitions), so other methods can be applied without solving again
    (:meth:`reallocate`). ``allocation`` is None when there is nothing to
    share fairly (no collaborative plan, or an organisation without a solo
    plan); the diagnostics say why.
    """

    organisations: tuple[Organisation, ...]
    routes: Mapping[Route, Plan]
    savings: Mapping[Route, RouteSaving]
    allocation: Allocation | None
    what_if: tuple[WhatIf, ...]
    coalition_costs: Mapping[frozenset[str], float]
    infeasible_coalitions: tuple[tuple[str, ...], ...]
    time_limited_coalitions: tuple[tuple[str, ...], ...]
    stats: CoalitionStats
    scenario: Scenario
    seconds: float
    diagnostics: tuple[Diagnostic, ...] = ()
    n_permutations: int = DEFAULT_PERMUTATIONS
    seed: int | None = 0
    #: each organisation's solo cost (its own solo plan's total)
    solo_costs: Mapping[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ views

    @property
    def players(self) -> tuple[str, ...]:
        return tuple(o.organisation for o in self.organisations)

    @property
    def totals(self) -> dict[Route, float | None]:
        """Each route's total, None when it has no plan."""
        return {r: (p.total_cost if p.has_plan else None) for r, p in self.routes.items()}

    @property
    def collaborative_vs_solo(self) -> RouteSaving:
        return self.savings[Route.COLLABORATIVE]

    @property
    def central_vs_solo(self) -> RouteSaving:
        return self.savings[Route.CENTRAL]

    @property
    def has_collaborative_plan(self) -> bool:
        return self.routes[Route.COLLABORATIVE].has_plan

    @property
    def core_statement(self) -> str:
        return core_statement(self.allocation)

    @property
    def game(self) -> CostGame | None:
        """The full cost game (exact case), None when costs are partial or missing."""
        n = len(self.players)
        if self.allocation is None or len(self.coalition_costs) != (1 << n) - 1:
            return None
        return CostGame(self.players, self.coalition_costs)

    def reallocate(self, method: AllocationMethod | str) -> Allocation:
        """Share the collaborative total by another method, from the same coalition costs.

        Exact case: any method. Sampled case: ``shapley`` (same permutations
        and seed, so the same coalitions) and ``proportional``.
        """
        if self.allocation is None:
            raise ValueError("this comparison has no allocation to redo")
        game = self.game
        solo = dict(self.solo_costs)
        tol = max(CORE_TOL, self.scenario.mip_gap)
        with solver_output_to_stderr():
            if game is not None:
                return allocate(game, method, solo_costs=solo, tol=tol)
            costs = self.coalition_costs

            def lookup(coalition: frozenset[str]) -> float:
                if coalition not in costs:
                    raise ValueError(
                        "the sampled comparison did not solve this coalition; "
                        "run compare() again with the new method"
                    )
                return costs[coalition]

            return allocate(
                lookup,
                method,
                players=self.players,
                solo_costs=solo,
                exact_limit=min(MAX_EXACT_PLAYERS, len(self.players) - 1),
                n_permutations=self.n_permutations,
                seed=self.seed,
                tol=tol,
            )

    # ------------------------------------------------------------------ output

    def _member_extras(self) -> dict[str, dict[str, Any]]:
        collab = self.routes[Route.COLLABORATIVE]
        attributed = {o.organisation: o.cost for o in collab.organisations}
        sites = {o.organisation: o.sites for o in self.routes[Route.SOLO].organisations}
        extras: dict[str, dict[str, Any]] = {}
        if self.allocation is not None:
            for m in self.allocation.members:
                extras[m.organisation] = {
                    "saving_percent": (100.0 * m.saving / m.solo_cost if m.solo_cost else None),
                    "attributed_cost": attributed.get(m.organisation) if collab.has_plan else None,
                    "sites": sites.get(m.organisation),
                }
        return extras

    def blocking_rows(self) -> list[dict[str, Any]]:
        """Each blocking coalition with what it is charged and what it would pay alone."""
        if self.allocation is None:
            return []
        shares = self.allocation.shares
        rows = []
        for coalition in self.allocation.core.blocking_coalitions:
            charged = math.fsum(shares[p] for p in coalition)
            alone = self.coalition_costs.get(frozenset(coalition))
            if alone is None and len(coalition) == 1:
                alone = self.solo_costs.get(coalition[0])
            rows.append(
                {
                    "coalition": list(coalition),
                    "charged": charged,
                    "alone_cost": alone,
                    "excess": None if alone is None else charged - alone,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """``compare --format json``: the SPEC's keys, plus percent savings, the
        what-if, the coalitions' statistics, the core in words and diagnostics."""
        routes: dict[str, Any] = {}
        for route in ROUTES:
            plan = self.routes[route]
            saving = self.savings.get(route)
            routes[str(route)] = {
                "status": str(plan.status),
                "total_cost": plan.total_cost if plan.has_plan else None,
                "saving_vs_solo": None if saving is None else saving.absolute,
                "saving_percent": None if saving is None else saving.percent,
                "suppliers": list(plan.supplier_ids),
                "solve_seconds": plan.solve_seconds,
            }
        allocation: dict[str, Any] | None = None
        if self.allocation is not None:
            allocation = self.allocation.to_dict()
            extras = self._member_extras()
            for member in allocation["members"]:
                member.update(extras.get(member["organisation"], {}))
            allocation["core"]["statement"] = self.core_statement
            allocation["core"]["blocking"] = self.blocking_rows()
        return {
            "routes": routes,
            "savings": {
                "collaborative_vs_solo": self.savings[Route.COLLABORATIVE].absolute,
                "central_vs_solo": self.savings[Route.CENTRAL].absolute,
            },
            "savings_percent": {
                "collaborative_vs_solo": self.savings[Route.COLLABORATIVE].percent,
                "central_vs_solo": self.savings[Route.CENTRAL].percent,
            },
            "allocation": allocation,
            "core_empty": None if self.allocation is None else self.allocation.core.empty,
            "what_if": [w.to_dict() for w in self.what_if],
            "coalitions": {
                **self.stats.to_dict(),
                "infeasible": [list(c) for c in self.infeasible_coalitions],
                "time_limited": [list(c) for c in self.time_limited_coalitions],
            },
            "term_months": self.scenario.term_months,
            "sites": len(self.routes[Route.SOLO].sites),
            "seconds": self.seconds,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Tables for screens and spreadsheets.

        ``summary`` (item/value), ``routes``, ``allocation``, ``blocking``,
        ``what_if``, ``coalitions`` (every coalition's cost), ``diagnostics``,
        and ``suppliers_<route>`` for each route with a plan.
        """
        method = "none" if self.allocation is None else str(self.allocation.method)
        summary_items: list[tuple[str, Any]] = [
            ("organisations", len(self.players)),
            ("sites", len(self.routes[Route.SOLO].sites)),
            ("term_months", self.scenario.term_months),
            ("start_date", self.scenario.start_date.isoformat()),
        ]
        for route in ROUTES:
            summary_items.append((f"{route}_status", str(self.routes[route].status)))
            summary_items.append((f"{route}_total_cost", self.totals[route]))
        summary_items += [
            ("collaborative_vs_solo", self.savings[Route.COLLABORATIVE].absolute),
            ("collaborative_vs_solo_pct", self.savings[Route.COLLABORATIVE].percent),
            ("central_vs_solo", self.savings[Route.CENTRAL].absolute),
            ("central_vs_solo_pct", self.savings[Route.CENTRAL].percent),
            ("allocation", method),
            ("exact", None if self.allocation is None else self.allocation.exact),
            ("core_checked", None if self.allocation is None else self.allocation.core.checked),
            ("core_empty", None if self.allocation is None else self.allocation.core.empty),
            ("blocking_coalitions", len(self.blocking_rows())),
            ("core", self.core_statement),
            ("coalitions", self.stats.coalitions),
            ("coalitions_solved", self.stats.solved),
            ("coalitions_infeasible", self.stats.infeasible),
            ("coalitions_time_limited", self.stats.time_limited),
            ("workers", self.stats.workers),
            ("seconds", self.seconds),
        ]
        summary = pd.DataFrame(summary_items, columns=["item", "value"], dtype=object)

        routes = pd.DataFrame(
            [
                {
                    "route": str(r),
                    "status": str(self.routes[r].status),
                    "total_cost": self.totals[r],
                    "saving": None if r not in self.savings else self.savings[r].absolute,
                    "saving_pct": None if r not in self.savings else self.savings[r].percent,
                    "suppliers_used": len(self.routes[r].supplier_ids),
                    "suppliers": ", ".join(self.routes[r].supplier_ids),
                    "gap": self.routes[r].gap,
                    "solve_seconds": self.routes[r].solve_seconds,
                }
                for r in ROUTES
            ],
            columns=list(_ROUTE_COLUMNS),
        )

        extras = self._member_extras()
        names = {o.organisation: o.name for o in self.organisations}
        alloc_rows = []
        if self.allocation is not None:
            for m in self.allocation.members:
                extra = extras.get(m.organisation, {})
                alloc_rows.append(
                    {
                        "organisation": m.organisation,
                        "name": names.get(m.organisation, m.organisation),
                        "sites": extra.get("sites"),
                        "solo_cost": m.solo_cost,
                        "allocated_cost": m.allocated_cost,
                        "saving": m.saving,
                        "saving_pct": extra.get("saving_percent"),
                        "std_error": m.std_error,
                        "attributed_cost": extra.get("attributed_cost"),
                    }
                )
        allocation = pd.DataFrame(
            alloc_rows,
            columns=list(_ALLOCATION_COLUMNS),
        )

        blocking = pd.DataFrame(
            [
                {
                    "coalition": ", ".join(row["coalition"]),
                    "members": len(row["coalition"]),
                    "charged": row["charged"],
                    "alone_cost": row["alone_cost"],
                    "excess": row["excess"],
                }
                for row in self.blocking_rows()
            ],
            columns=list(_BLOCKING_COLUMNS),
        )

        what_if = pd.DataFrame(
            [
                {
                    "organisation": w.organisation,
                    "marginal_cost": w.marginal_cost,
                    "joining_saving": w.joining_saving,
                    "best_without": (None if w.best_without is None else ", ".join(w.best_without)),
                    "best_without_cost": w.best_without_cost,
                    "best_without_saving": w.best_without_saving,
                }
                for w in self.what_if
            ],
            columns=list(_WHAT_IF_COLUMNS),
        )

        infeasible = {frozenset(c) for c in self.infeasible_coalitions}
        limited = {frozenset(c) for c in self.time_limited_coalitions}
        order = {p: i for i, p in enumerate(self.players)}
        keys = sorted(self.coalition_costs, key=lambda c: (len(c), sorted(order[p] for p in c)))
        coalitions = pd.DataFrame(
            [
                {
                    "coalition": ", ".join(sorted(c, key=order.__getitem__)),
                    "members": len(c),
                    "cost": self.coalition_costs[c],
                    "solo_cost": math.fsum(self.solo_costs.get(p, math.nan) for p in c),
                    "saving": math.fsum(self.solo_costs.get(p, math.nan) for p in c)
                    - self.coalition_costs[c],
                    "basis": (
                        "split (no joint plan)"
                        if c in infeasible
                        else "time limit (best found)"
                        if c in limited
                        else "optimal plan"
                    ),
                }
                for c in keys
            ],
            columns=list(_COALITION_COLUMNS),
        )
        diagnostics = pd.DataFrame(
            [d.to_dict() for d in self.diagnostics], columns=["level", "site_id", "message"]
        )
        frames = {
            "summary": summary,
            "routes": routes,
            "allocation": allocation,
            "blocking": blocking,
            "what_if": what_if,
            "coalitions": coalitions,
            "diagnostics": diagnostics,
        }
        for route in ROUTES:
            plan = self.routes[route]
            if plan.has_plan:
                frames[f"suppliers_{route}"] = plan.to_frames()["suppliers"]
        return frames


# --------------------------------------------------------------------------- scenario and plans


def compare_scenario(scenario: Scenario) -> tuple[Scenario, list[Diagnostic]]:
    """The scenario every route is planned under: cost objective, no budget, all
    sites served, constraints kept; with a note for each setting set aside."""
    notes = []
    if scenario.budget is not None:
        notes.append(
            Diagnostic(Level.INFO, "the scenario budget does not bind when routes are compared")
        )
    if scenario.objective != Objective.COST:
        notes.append(
            Diagnostic(
                Level.INFO,
                f"routes are compared on cost; the {scenario.objective} objective is not used",
            )
        )
    if scenario.allow_partial:
        notes.append(
            Diagnostic(
                Level.INFO,
                "allow_partial is not used when routes are compared: every route serves every site",
            )
        )
    base = scenario.model_copy(
        update={
            "route": Route.COLLABORATIVE,
            "objective": Objective.COST,
            "budget": None,
            "allow_partial": False,
        }
    )
    return base, notes


def merge_plans(plans: Sequence[Plan], scenario: Scenario, sites: Sequence[Site]) -> Plan:
    """One plan from the plans of separate contracting parties (solo or central).

    Valid when no constraint spans parties (no budget, every site served):
    the merged plan is then the route's optimal plan. Sites follow ``sites``'
    order; a party without a plan makes the whole route infeasible.
    """
    order = {s.site_id: k for k, s in enumerate(sites)}
    seen: set[tuple[str, str | None, str]] = set()
    diagnostics: list[Diagnostic] = []
    infeasible = [p for p in plans if not p.has_plan]
    for plan in plans:
        party = ", ".join(o.organisation for o in plan.organisations)
        for d in plan.diagnostics:
            message = d.message
            if not plan.has_plan and d.site_id is None and d.level is Level.ERROR:
                message = f"{party}: {message}"
            key = (str(d.level), d.site_id, message)
            if key not in seen:
                seen.add(key)
                diagnostics.append(Diagnostic(d.level, message, d.site_id))
    site_plans = sorted(
        (s for p in plans for s in p.sites), key=lambda s: order.get(s.site_id, len(order))
    )
    stats = ModelStats(
        sites=sum(p.stats.sites for p in plans),
        profiles=sum(p.stats.profiles for p in plans),
        bundles=sum(p.stats.bundles for p in plans),
        variables=sum(p.stats.variables for p in plans),
        constraints=sum(p.stats.constraints for p in plans),
        build_seconds=sum(p.stats.build_seconds for p in plans),
        solver=next((p.stats.solver for p in plans if p.stats.solver), ""),
    )
    solve_seconds = sum(p.solve_seconds for p in plans)
    common = {
        "route": scenario.route,
        "objective": scenario.objective,
        "term_months": scenario.term_months,
        "solve_seconds": solve_seconds,
        "diagnostics": tuple(diagnostics),
        "scenario": scenario,
        "stats": stats,
    }
    if infeasible:
        unserved = tuple(
            replace(
                s,
                served=False,
                primary=None,
                secondary=None,
                wifi=None,
                availability_pct=None,
                cost=0.0,
                runner_up=None,
            )
            for s in site_plans
        )
        organisations = tuple(
            OrganisationCost(o.organisation, 0.0, o.budget, o.name, o.sites)
            for p in plans
            for o in p.organisations
        )
        return Plan(
            status=PlanStatus.INFEASIBLE,
            total_cost=0.0,
            breakdown=Breakdown(),
            quality=0.0,
            gap=0.0,
            baseline=Baseline(),
            sites=unserved,
            suppliers=(),
            organisations=organisations,
            **common,
        )
    statuses = {p.status for p in plans}
    if PlanStatus.PARTIAL in statuses:
        status = PlanStatus.PARTIAL
    elif PlanStatus.FEASIBLE in statuses:
        status = PlanStatus.FEASIBLE
    else:
        status = PlanStatus.OPTIMAL
    return Plan(
        status=status,
        total_cost=math.fsum(p.total_cost for p in plans),
        breakdown=Breakdown(
            one_off=math.fsum(p.breakdown.one_off for p in plans),
            recurring_list=math.fsum(p.breakdown.recurring_list for p in plans),
            discount=math.fsum(p.breakdown.discount for p in plans),
            fees=math.fsum(p.breakdown.fees for p in plans),
        ),
        quality=math.fsum(p.quality for p in plans),
        gap=max((p.gap for p in plans), default=0.0),
        baseline=Baseline(
            sites=sum(p.baseline.sites for p in plans),
            cost=math.fsum(p.baseline.cost for p in plans),
            saving=math.fsum(p.baseline.saving for p in plans),
        ),
        sites=tuple(site_plans),
        suppliers=tuple(line for p in plans for line in p.suppliers),
        organisations=tuple(o for p in plans for o in p.organisations),
        **common,
    )


# --------------------------------------------------------------------------- the game


def _cover_infeasible(
    raw: Mapping[int, float | None], exact: bool
) -> tuple[dict[int, float], list[int]]:
    """Costs for every known coalition, infeasible ones replaced by their cheapest
    split into coalitions with plans; also the masks left without any finite cost."""
    resolved: dict[int, float] = {}
    unresolved: list[int] = []
    for mask in sorted(raw, key=lambda m: (popcount(m), m)):
        cost = raw[mask]
        if cost is not None:
            resolved[mask] = cost
            continue
        best = math.inf
        low = mask & -mask
        if exact:
            sub = (mask - 1) & mask
            while sub:
                if sub & low and sub in resolved and (mask ^ sub) in resolved:
                    best = min(best, resolved[sub] + resolved[mask ^ sub])
                sub = (sub - 1) & mask
        else:
            rest = mask
            while rest:
                bit = rest & -rest
                rest ^= bit
                if bit in resolved and (mask ^ bit) in resolved:
                    best = min(best, resolved[bit] + resolved[mask ^ bit])
        if math.isfinite(best):
            resolved[mask] = best
        else:
            unresolved.append(mask)
    return resolved, unresolved


def _needed_masks(
    n: int,
    method: AllocationMethod,
    exact: bool,
    n_permutations: int,
    seed: int | None,
) -> set[int]:
    """Coalitions the game needs: all of them in the exact case; otherwise the
    singletons, ``N``, every ``N - {i}`` (what-if) and sampled Shapley's prefixes."""
    full = (1 << n) - 1
    if exact:
        return set(range(1, full + 1))
    masks = {1 << i for i in range(n)} | {full} | {full ^ (1 << i) for i in range(n)}
    if method is AllocationMethod.SHAPLEY:
        masks |= sampled_coalitions(n, n_permutations, seed)
    return masks


def _check_inputs(sites: Sequence[Site], solver: str) -> None:
    problems = []
    if not sites:
        problems.append(Problem("there are no sites to plan", field="sites"))
    counts = Counter(s.site_id for s in sites)
    duplicates = sorted(i for i, k in counts.items() if k > 1)
    if duplicates:
        problems.append(
            Problem(f"site ids must be unique: {', '.join(duplicates[:5])}", field="site_id")
        )
    if solver not in SOLVERS:
        problems.append(
            Problem(f"unknown solver {solver!r} (use {' or '.join(SOLVERS)})", field="solver")
        )
    if problems:
        raise InputError(problems)


def _method(allocation: AllocationMethod | str) -> AllocationMethod:
    try:
        return AllocationMethod(allocation)
    except ValueError:
        choices = ", ".join(m.value for m in AllocationMethod)
        raise InputError(
            [Problem(f"unknown allocation {allocation!r} (use {choices})", field="allocation")]
        ) from None


# --------------------------------------------------------------------------- compare


def compare(
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None = None,
    allocation: AllocationMethod | str = AllocationMethod.SHAPLEY,
    *,
    solver: str = "highs",
    seed: int | None = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    workers: int | None = None,
    exact_limit: int = MAX_EXACT_PLAYERS,
    progress: Callable[[int, int], None] | None = None,
) -> RouteComparison:
    """Plan ``sites`` on the three routes and share the collaborative total.

    ``allocation``: ``proportional``, ``shapley`` (exact up to ``exact_limit``
    organisations, at most 12; sampled beyond with ``n_permutations`` and
    ``seed``) or ``nucleolus`` (exact only). ``workers``: processes for the
    coalition solves (default: serial for small games, else the CPUs; 1 forces
    serial); a script that uses several needs the usual ``if __name__ ==
    "__main__":`` guard (without it the work is redone serially, with a
    warning). Organisations named in ``organisations`` but owning no site take
    no part. ``progress(solved, total)`` is told how many of the groups of
    organisations (beyond the single ones and everyone) have been costed, as
    they are: an exact split of ten organisations costs about a thousand.
    See the module docstring for the rules.
    """
    t0 = time.perf_counter()
    method = _method(allocation)
    sites = tuple(sites)
    _check_inputs(sites, solver)
    if not 1 <= exact_limit <= MAX_EXACT_PLAYERS:
        raise ValueError(f"exact_limit must be between 1 and {MAX_EXACT_PLAYERS}")
    if n_permutations < 2:
        raise InputError([Problem("need at least 2 permutations", field="permutations")])
    base, diagnostics = compare_scenario(scenario)
    owners = {s.organisation for s in sites}
    resolved = resolve_organisations(sites, organisations or ())
    players = tuple(
        o.model_copy(update={"budget": None}) for o in resolved if o.organisation in owners
    )
    idle = [o.organisation for o in resolved if o.organisation not in owners]
    if idle:
        diagnostics.append(
            Diagnostic(
                Level.INFO,
                f"organisations without sites take no part: {', '.join(idle)}",
            )
        )
    n = len(players)
    ids = tuple(o.organisation for o in players)
    exact = n <= exact_limit
    if method is AllocationMethod.NUCLEOLUS and not exact:
        raise InputError(
            [
                Problem(
                    f"the nucleolus is exact only, for at most {exact_limit} organisations; "
                    f"these sites have {n} (use shapley, sampled, or proportional)",
                    field="allocation",
                )
            ]
        )
    full = (1 << n) - 1
    needed = _needed_masks(n, method, exact, n_permutations, seed)
    singles = {1 << i for i in range(n)}

    engine = CoalitionEngine(catalog, sites, base, players, solver=solver)
    n_workers = default_workers(n, len(sites)) if workers is None else max(1, int(workers))
    t_solve = time.perf_counter()
    try:
        solo_results, outcomes, collab_plan, central_plans = _solve_all(
            engine, n_workers, needed - singles - {full}, progress
        )
    except BrokenProcessPool:
        # a worker died before doing anything useful (most often a script without
        # the `if __name__ == "__main__":` guard that process pools need): redo serially
        diagnostics.append(
            Diagnostic(
                Level.WARNING,
                "the worker processes could not run, so the coalitions were solved in this "
                'process (a script calling compare() needs an `if __name__ == "__main__":` '
                "guard to use several processes)",
            )
        )
        n_workers = 1
        solo_results, outcomes, collab_plan, central_plans = _solve_all(
            engine, 1, needed - singles - {full}, progress
        )
    solving_seconds = time.perf_counter() - t_solve

    solo_plan = merge_plans(
        [plan for plan, _ in solo_results], base.model_copy(update={"route": Route.SOLO}), sites
    )
    central_plan = merge_plans(
        central_plans, base.model_copy(update={"route": Route.CENTRAL}), sites
    )
    routes = {Route.SOLO: solo_plan, Route.COLLABORATIVE: collab_plan, Route.CENTRAL: central_plan}
    savings = {
        Route.COLLABORATIVE: RouteSaving.of(Route.COLLABORATIVE, solo_plan, collab_plan),
        Route.CENTRAL: RouteSaving.of(Route.CENTRAL, solo_plan, central_plan),
    }

    raw: dict[int, float | None] = {m: o.cost for m, o in outcomes.items()}
    for i, (plan, _) in enumerate(solo_results):
        raw[1 << i] = plan.total_cost if plan.has_plan else None
    raw[full] = collab_plan.total_cost if collab_plan.has_plan else None
    costs, unresolved = _cover_infeasible(raw, exact)

    def by_size(masks: Any) -> list[int]:
        return sorted(masks, key=lambda m: (popcount(m), m))

    infeasible = by_size(m for m, o in outcomes.items() if o.status == "infeasible")
    unknown = by_size(m for m, o in outcomes.items() if o.status == "no_solution")
    limited = by_size(m for m, o in outcomes.items() if o.status == "feasible")
    if infeasible:
        diagnostics.append(
            Diagnostic(
                Level.WARNING,
                f"{len(infeasible)} coalition(s) have no plan that meets the scenario's "
                "constraints together; each is costed as the cheapest split of its members "
                "into groups that do",
            )
        )
    if unknown:
        diagnostics.append(
            Diagnostic(
                Level.WARNING,
                f"{len(unknown)} coalition solve(s) stopped at the time limit before finding "
                "any plan; each is costed as the cheapest split of its members into groups "
                "that have one",
            )
        )
    if limited:
        diagnostics.append(
            Diagnostic(
                Level.WARNING,
                f"{len(limited)} coalition solve(s) stopped at the time limit; their costs are "
                "the best found, not proven optimal",
            )
        )

    def named(masks: Sequence[int]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(p for i, p in enumerate(ids) if m >> i & 1) for m in masks)

    solo_costs = {
        ids[i]: plan.total_cost for i, (plan, _) in enumerate(solo_results) if plan.has_plan
    }
    result_allocation: Allocation | None = None
    what_if: tuple[WhatIf, ...] = ()
    missing_solo = [ids[i] for i, (plan, _) in enumerate(solo_results) if not plan.has_plan]
    if not collab_plan.has_plan:
        diagnostics.append(
            Diagnostic(
                Level.ERROR,
                "there is no collaborative plan, so there are no savings to share",
            )
        )
    elif missing_solo:
        diagnostics.append(
            Diagnostic(
                Level.ERROR,
                "the savings are not shared: without a solo plan there is no solo cost for "
                + ", ".join(missing_solo),
            )
        )
    elif unresolved or any(m not in costs for m in needed):
        diagnostics.append(
            Diagnostic(Level.ERROR, "the savings are not shared: some coalitions have no cost")
        )
    else:
        tol = max(CORE_TOL, base.mip_gap)
        with solver_output_to_stderr():
            if exact:
                game = CostGame(ids, {members_of(ids, m): c for m, c in costs.items()})
                result_allocation = allocate(game, method, solo_costs=solo_costs, tol=tol)
                what_if = _what_if_exact(game, solo_costs)
            else:
                by_members = {members_of(ids, m): c for m, c in costs.items()}

                def lookup(coalition: frozenset[str]) -> float:
                    found = by_members.get(coalition)
                    if found is None:  # not foreseen: solve it here, once
                        mask = sum(1 << ids.index(p) for p in coalition)
                        outcome, _ = engine.solve(mask)
                        if outcome.cost is None:
                            raise RuntimeError(f"coalition {sorted(coalition)} has no plan")
                        by_members[coalition] = found = outcome.cost
                    return found

                result_allocation = allocate(
                    lookup,
                    method,
                    players=ids,
                    solo_costs=solo_costs,
                    exact_limit=exact_limit,
                    n_permutations=n_permutations,
                    seed=seed,
                    tol=tol,
                )
                costs = {sum(1 << ids.index(p) for p in c): v for c, v in by_members.items()}
                what_if = _what_if_sampled(ids, costs, solo_costs)
        core = result_allocation.core
        if (core.checked and core.empty) or core.blocking_coalitions:
            diagnostics.append(Diagnostic(Level.WARNING, core_statement(result_allocation)))

    warm = sum(1 for o in outcomes.values() if o.warm_started)
    stats = CoalitionStats(
        organisations=n,
        coalitions=len(costs),
        solved=len(outcomes),
        warm_started=warm,
        time_limited=len(limited),
        infeasible=len(infeasible) + len(unknown),
        workers=n_workers,
        seconds=solving_seconds,
        coalition_seconds=math.fsum(o.seconds for o in outcomes.values()),
    )
    return RouteComparison(
        organisations=players,
        routes=routes,
        savings=savings,
        allocation=result_allocation,
        what_if=what_if,
        coalition_costs={members_of(ids, m): c for m, c in costs.items()},
        infeasible_coalitions=named(by_size([*infeasible, *unknown])),
        time_limited_coalitions=named(limited),
        stats=stats,
        scenario=base,
        seconds=time.perf_counter() - t0,
        diagnostics=tuple(diagnostics),
        n_permutations=n_permutations,
        seed=seed,
        solo_costs=dict(solo_costs),
    )


def _solve_all(
    engine: CoalitionEngine,
    workers: int,
    coalitions: set[int],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[tuple[Plan, Any]], dict[int, CoalitionOutcome], Plan, list[Plan]]:
    """Every solve of a comparison: the collaborative plan (``c(N)``), each
    organisation's solo plan (``c({i})``) and central plan, and ``coalitions``."""
    n = len(engine.players)
    full = engine.full_mask
    with CoalitionRunner(engine, workers) as runner:
        # the grand coalition first: the longest solve starts at once
        f_collab = runner.submit_route_plan(Route.COLLABORATIVE, full)
        f_solo = [runner.submit_route_plan(Route.SOLO, 1 << i) for i in range(n)]
        f_central = [runner.submit_route_plan(Route.CENTRAL, 1 << i) for i in range(n)]
        solo_results = [f.result() for f in f_solo]
        known = {
            1 << i: (plan.total_cost, choice)
            for i, (plan, choice) in enumerate(solo_results)
            if plan.has_plan
        }

        def collaborative_failed() -> bool:
            return f_collab.done() and not f_collab.result()[0].has_plan

        outcomes = runner.solve_coalitions(
            coalitions, known, stop=collaborative_failed, progress=progress
        )
        collab_plan = f_collab.result()[0]
        central_plans = [f.result()[0] for f in f_central]
    return solo_results, outcomes, collab_plan, central_plans


def _what_if_exact(game: CostGame, solo: Mapping[str, float]) -> tuple[WhatIf, ...]:
    grand = game.grand_cost
    everyone = frozenset(game.players)
    out = []
    for p in game.players:
        without = game.cost(everyone - {p})
        members, saving = best_coalition_without(game, p)
        out.append(
            WhatIf(
                organisation=p,
                marginal_cost=grand - without,
                joining_saving=without + solo[p] - grand,
                best_without=members,
                best_without_cost=game.cost(members) if members else None,
                best_without_saving=saving if members else None,
            )
        )
    return tuple(out)


def _what_if_sampled(
    ids: Sequence[str], costs: Mapping[int, float], solo: Mapping[str, float]
) -> tuple[WhatIf, ...]:
    full = (1 << len(ids)) - 1
    grand = costs[full]
    out = []
    for i, p in enumerate(ids):
        without = costs.get(full ^ (1 << i))
        out.append(
            WhatIf(
                organisation=p,
                marginal_cost=None if without is None else grand - without,
                joining_saving=None if without is None else without + solo[p] - grand,
            )
        )
    return tuple(out)
