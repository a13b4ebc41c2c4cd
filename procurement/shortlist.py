"""Shortlists: the k best plans, each with a different set of suppliers.

A procurement team takes several suppliers into a further competition, so
it needs more than the single best plan: it needs to see the best plan that
uses a *different* group of suppliers, and what that costs. :func:`shortlist`
solves the plan, forbids its exact set of suppliers with a no-good cut
(:func:`procurement.optimiser.solve` ``exclude_supplier_sets``) and solves
again, until it has ``k`` plans or no further set of suppliers can serve the
sites under the scenario (then it stops early and says so).

"Set of suppliers" is the plan's suppliers over all contracting parties, so
two plans on the solo route that give the same suppliers to different
organisations count as the same set. Every scenario constraint holds in every
plan. Plans are ranked by the scenario's objective (served priority when
partial, then quality for ``quality``, then cost), so with the cost objective
totals never decrease; ``delta_vs_best`` is each total minus the first's.
Each re-solve runs under the scenario's time limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from procurement.models import Catalog, Objective, Organisation, Scenario, Site
from procurement.options import BundleBuilder
from procurement.plan import Diagnostic, Plan, PlanStatus


@dataclass(frozen=True)
class ShortlistEntry:
    """One plan of the shortlist."""

    rank: int
    suppliers: tuple[str, ...]
    total_cost: float
    delta_vs_best: float
    status: PlanStatus
    plan: Plan

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "suppliers": list(self.suppliers),
            "total_cost": self.total_cost,
            "delta_vs_best": self.delta_vs_best,
            "status": str(self.status),
        }


@dataclass(frozen=True)
class Shortlist:
    """Up to ``k`` plans with pairwise different supplier sets, best first."""

    plans: tuple[ShortlistEntry, ...]
    k: int
    exhausted: bool = False  # fewer than k distinct supplier sets can serve the sites
    message: str | None = None
    diagnostics: tuple[Diagnostic, ...] = ()  # why there is no plan at all, when empty

    @property
    def best(self) -> ShortlistEntry | None:
        return self.plans[0] if self.plans else None

    @property
    def has_plan(self) -> bool:
        return bool(self.plans)

    def to_dict(self) -> dict[str, Any]:
        """SPEC ``shortlist --format json``, plus k, exhausted, message and diagnostics."""
        return {
            "plans": [e.to_dict() for e in self.plans],
            "k": self.k,
            "exhausted": self.exhausted,
            "message": self.message,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """``summary`` (item/value) and ``shortlist`` (one row per plan)."""
        best = set(self.best.suppliers) if self.best else set()
        rows = []
        for e in self.plans:
            own = set(e.suppliers)
            rows.append(
                {
                    "rank": e.rank,
                    "suppliers": "; ".join(e.suppliers),
                    "n_suppliers": len(e.suppliers),
                    "total_cost": e.total_cost,
                    "delta_vs_best": e.delta_vs_best,
                    "delta_pct": (
                        e.delta_vs_best / self.best.total_cost
                        if self.best and self.best.total_cost
                        else 0.0
                    ),
                    "status": str(e.status),
                    "adds_vs_best": "; ".join(sorted(own - best)),
                    "drops_vs_best": "; ".join(sorted(best - own)),
                    "sites_served": len(e.plan.served_sites),
                    "quality": e.plan.quality,
                }
            )
        table = pd.DataFrame(
            rows,
            columns=[
                "rank", "suppliers", "n_suppliers", "total_cost", "delta_vs_best", "delta_pct",
                "status", "adds_vs_best", "drops_vs_best", "sites_served", "quality",
            ],
        )
        first = self.best.plan if self.best else None
        items: list[tuple[str, Any]] = [
            ("plans_requested", self.k),
            ("plans_found", len(self.plans)),
            ("exhausted", self.exhausted),
            ("message", self.message or ""),
        ]
        if first is not None:
            items += [
                ("route", str(first.route)),
                ("objective", str(first.objective)),
                ("term_months", first.term_months),
                ("best_total_cost", self.plans[0].total_cost),
                ("last_total_cost", self.plans[-1].total_cost),
            ]
        summary = pd.DataFrame(items, columns=["item", "value"], dtype=object)
        return {"summary": summary, "shortlist": table}


def _rank_key(plan: Plan, scenario: Scenario) -> tuple[float, ...]:
    """The scenario's lexicographic objective as a key (smaller is better)."""
    key: list[float] = []
    if scenario.allow_partial:
        key.append(-sum(s.priority for s in plan.served_sites))
    if scenario.objective is Objective.QUALITY:
        key.append(-plan.quality)
    key.append(plan.total_cost)
    return tuple(key)


def shortlist(
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None = None,
    k: int = 5,
    *,
    solver: str = "highs",
    verbose: bool = False,
    builder: BundleBuilder | None = None,
) -> Shortlist:
    """The ``k`` best plans with pairwise different supplier sets, best first.

    Each plan is the optimum of the scenario with every earlier plan's supplier
    set forbidden. Stops early (``exhausted``, with a ``message``) when no
    further supplier set gives a plan; when not even one plan exists the
    shortlist is empty and ``diagnostics`` says why (as ``solve`` would).
    """
    from procurement.optimiser import solve

    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    builder = builder or BundleBuilder(catalog, scenario)
    found: list[Plan] = []
    excluded: list[frozenset[str]] = []
    diagnostics: tuple[Diagnostic, ...] = ()
    timed_out = False
    while len(found) < k:
        plan = solve(
            catalog,
            sites,
            scenario,
            organisations,
            solver=solver,
            verbose=verbose,
            explain=not found,  # say why only when there is no plan at all
            builder=builder,
            exclude_supplier_sets=tuple(excluded),
        )
        if not plan.has_plan:
            if not found:
                diagnostics = plan.diagnostics
            timed_out = plan.solve_seconds >= 0.95 * scenario.time_limit_s
            break
        suppliers = frozenset(plan.supplier_ids)
        if suppliers in excluded:
            raise RuntimeError(
                f"the optimiser returned the supplier set {sorted(suppliers)} that was "
                "excluded; its no-good cut does not hold"
            )
        found.append(plan)
        excluded.append(suppliers)

    found.sort(key=lambda p: _rank_key(p, scenario))  # stable: solve order on ties
    exhausted = len(found) < k
    message = None
    if not found:
        message = "no plan meets the scenario, so there is nothing to shortlist"
    elif exhausted:
        sets = "set" if len(found) == 1 else "sets"
        message = (
            f"only {len(found)} distinct supplier {sets} can serve these sites under this "
            f"scenario ({k} asked for)"
        )
        if timed_out:
            message += "; the last search hit the time limit, so a longer one may find more"
    best_total = found[0].total_cost if found else 0.0
    entries = tuple(
        ShortlistEntry(
            rank=i,
            suppliers=plan.supplier_ids,
            total_cost=plan.total_cost,
            delta_vs_best=plan.total_cost - best_total,
            status=plan.status,
            plan=plan,
        )
        for i, plan in enumerate(found, start=1)
    )
    return Shortlist(
        plans=entries, k=k, exhausted=exhausted, message=message, diagnostics=diagnostics
    )
