"""LP-based branch and bound over a HiGHS relaxation, without cutting planes.

Why: on these tiered-discount models HiGHS's own MIP spends most of its time
in rounds of root cuts (9 to 17 s for a six-organisation coalition of 423
sites) to close gaps of a few tenths of a percent that a handful of
branchings on supplier and tier binaries close at once: the same coalition
was proven optimal here in 21 warm LP re-solves, 1.0 s after its root LP.

The search is plain depth-first branch and bound: each node is the
relaxation with some columns' bounds tightened; a node whose LP bound
reaches the best plan's cost (less the tolerance) cannot hold a cheaper plan
and is pruned; otherwise the most fractional binary among ``binaries`` is
branched on (nearer side first), then any other fractional integer column.
A node whose LP solution is integral is a plan, and the best plan so far is
kept. Only LP bounds prune, so a search that runs to its end proves its plan
optimal to within the tolerance. One ``Highs`` object is re-solved
throughout: a child starts from its parent's basis (kept on the stack for the
child reached by backtracking), and a node HiGHS cannot solve from there
(status unknown, after many bound changes) is solved again from the root's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: a column value this close to an integer counts as integral (HiGHS's
#: ``mip_feasibility_tolerance``)
INTEGRALITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TreeSearch:
    """What a branch-and-bound search established.

    ``proven``: no plan is cheaper than ``plan`` by more than the tolerance.
    ``bound``: a lower bound on every plan (``cost`` when proven).
    ``plan``: the best plan found (the one given when none was cheaper).
    """

    proven: bool
    plan: np.ndarray
    cost: float
    bound: float
    nodes: int
    lp_solves: int


def run_lp(relax: Any, deadline: float) -> Any:
    """Re-solve ``relax`` (a ``highspy.Highs``) with time until ``deadline``; its status.

    HiGHS's ``time_limit`` is compared with the object's run clock, which adds
    up every run of that object: a limit of the seconds left would stop an LP
    at once after enough earlier LPs (probing stopped a 500-site plan's LPs
    as "out of time" 0.6 s into a window of more than 1 s). The limit given
    is the clock so far plus the time left.
    """
    left = max(deadline - time.perf_counter(), 1e-3)
    relax.setOptionValue("time_limit", relax.getRunTime() + left)
    relax.run()
    return relax.getModelStatus()


def _fractional(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Columns of ``columns`` whose value is not within the tolerance of an integer."""
    if not len(columns):
        return columns
    part = values[columns] - np.floor(values[columns])
    return columns[(part > INTEGRALITY_TOLERANCE) & (part < 1 - INTEGRALITY_TOLERANCE)]


def branch_and_bound(
    relax: Any,
    plan: np.ndarray,
    cost: float,
    *,
    binaries: Sequence[int],
    integers: Sequence[int],
    tolerance: float,
    deadline: float,
    is_plan: Callable[[np.ndarray], bool],
    node_limit: int | None = None,
    chains: Sequence[Sequence[int]] = (),
    solved: tuple[float, np.ndarray] | None = None,
) -> TreeSearch:
    """Search the relaxation ``relax`` (a ``highspy.Highs`` LP) for a plan cheaper than ``plan``.

    ``relax`` holds the LP relaxation (no integrality) with any fixings
    applied; its bounds are restored before returning. ``binaries`` are
    branched on first (suppliers used, discount tiers), then the other
    columns of ``integers`` (all integer columns, ``binaries`` included).
    ``is_plan`` checks a rounded LP solution against every row, bound and
    integrality of the model before it may replace ``plan``. The search stops
    unproven at ``deadline`` or after ``node_limit`` nodes.

    ``chains``: columns each of which, in every plan, implies the one before
    it (a supplier's used binary, then its tiers lowest first; see
    ``optimiser.probe_chains``). Among equally fractional binaries the one
    latest in its chain is branched on: a supplier's tiers often sit at one
    fraction together, and raising the highest raises the rest with it
    through the tier-order rows, where raising the lowest first changed
    nothing and cost a node per tier (a thousand sites of ten organisations:
    272 LPs to 184 over ten five-organisation coalitions).

    ``solved``: the relaxation's optimum as it stands, when the caller has
    just solved it (its bound and column values), so the root is not
    solved again: HiGHS holds its basis but may have dropped the solution.
    """
    import highspy

    optimal = highspy.HighsModelStatus.kOptimal
    infeasible = highspy.HighsModelStatus.kInfeasible
    cut_off = highspy.HighsModelStatus.kObjectiveBound
    unknown = highspy.HighsModelStatus.kUnknown
    lp = relax.getLp()
    root_lower = np.asarray(lp.col_lower_, dtype=float).copy()
    root_upper = np.asarray(lp.col_upper_, dtype=float).copy()
    first = np.asarray(sorted(set(binaries)), dtype=np.int64)
    others = np.asarray(sorted(set(integers) - set(binaries)), dtype=np.int64)
    whole = np.asarray(sorted(set(integers) | set(binaries)), dtype=np.int64)
    col_cost = np.asarray(lp.col_cost_, dtype=float)
    depth = np.zeros(len(col_cost), dtype=np.int64)
    for chain in chains:
        depth[np.asarray(chain, dtype=np.int64)] = np.arange(len(chain))
    best_plan, best_cost = plan, cost
    nodes = lp_solves = 0
    applied: dict[int, tuple[float, float]] = {}

    def move_to(changes: dict[int, tuple[float, float]]) -> None:
        for j in [j for j in applied if j not in changes]:
            relax.changeColBounds(j, root_lower[j], root_upper[j])
            del applied[j]
        for j, bounds in changes.items():
            if applied.get(j) != bounds:
                relax.changeColBounds(j, *bounds)
                applied[j] = bounds

    def solve() -> Any:
        # the dual simplex stops once the node's bound passes the best plan's
        relax.setOptionValue("objective_bound", best_cost - tolerance)
        return run_lp(relax, deadline)

    # each open node: its parent's LP bound, the bound changes from the root,
    # and its parent's basis (the warm start for a node reached by backtracking)
    stack: list[tuple[float, dict[int, tuple[float, float]], Any]] = [(-math.inf, {}, None)]
    stopped = False
    root_basis = None
    last_solved: Any = None  # the basis HiGHS holds: that of the last node solved
    try:
        while stack:
            parent_bound, changes, parent_basis = stack.pop()
            if parent_bound >= best_cost - tolerance:
                continue
            if time.perf_counter() >= deadline or (
                node_limit is not None and nodes >= node_limit
            ):
                stack.append((parent_bound, changes, parent_basis))
                stopped = True
                break
            nodes += 1
            move_to(changes)
            if parent_basis is not None and parent_basis is not last_solved:
                relax.setBasis(parent_basis)
            given, solved = solved, None  # only ever the root's
            if given is None:
                status = solve()
                lp_solves += 1
            else:
                status = optimal
            last_solved = None
            if status == unknown and root_basis is not None:
                # HiGHS gave up from this node's warm basis (numerical trouble
                # after many bound changes): solve it again from the root's
                relax.setBasis(root_basis)
                status = solve()
                lp_solves += 1
            if root_basis is None and status == optimal:
                root_basis = relax.getBasis()
            if status in (infeasible, cut_off):  # no cheaper plan below this node
                continue
            if status != optimal:  # out of time, or no answer: unproven
                stack.append((parent_bound, changes, parent_basis))
                stopped = True
                break
            if given is None:
                bound = float(relax.getInfo().objective_function_value)
                values = np.asarray(relax.getSolution().col_value)
            else:
                bound, values = given
            if bound >= best_cost - tolerance:
                continue
            candidates = _fractional(values, first)
            if not len(candidates):
                candidates = _fractional(values, others)
            if not len(candidates):
                found = values.copy()
                found[whole] = np.round(found[whole])
                found_cost = float(np.dot(col_cost, found) + lp.offset_)
                if not is_plan(found):  # integral only within tolerance: cannot vouch for it
                    stack.append((parent_bound, changes, parent_basis))
                    stopped = True
                    break
                if found_cost < best_cost:
                    best_plan, best_cost = found, found_cost
                continue
            part = values[candidates] - np.floor(values[candidates])
            distance = np.abs(part - 0.5)
            tied = candidates[distance <= distance.min() + INTEGRALITY_TOLERANCE]
            j = int(tied[np.argmax(depth[tied])])
            value = values[j]
            lo, up = applied.get(j, (root_lower[j], root_upper[j]))
            down = {**changes, j: (lo, float(math.floor(value)))}
            upward = {**changes, j: (float(math.ceil(value)), up)}
            # depth first, the side nearer the LP's value on top
            last_solved = relax.getBasis()
            if value - math.floor(value) < 0.5:
                stack.extend([(bound, upward, last_solved), (bound, down, last_solved)])
            else:
                stack.extend([(bound, down, last_solved), (bound, upward, last_solved)])
    finally:
        move_to({})
        relax.setOptionValue("objective_bound", math.inf)

    if not stopped:
        return TreeSearch(True, best_plan, best_cost, best_cost, nodes, lp_solves)
    open_bound = min((b for b, _, _ in stack), default=best_cost)
    return TreeSearch(False, best_plan, best_cost, min(open_bound, best_cost), nodes, lp_solves)
