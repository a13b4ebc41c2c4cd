"""The branch and bound after probing (``procurement.branching``) stays exact.

It may only call a plan optimal when every node is pruned by an LP bound, it
must find a cheaper plan when the start is not optimal, it must say "not
proven" (with a valid bound) when stopped early, and it must leave the
relaxation's bounds as it found them.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
import pulp
import pytest
from conftest import cost_model, costlier_start, generated_inputs, loaded_highs, sample_catalog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import optimiser
from procurement.branching import branch_and_bound


def _knapsack(values: list[int], weights: list[int], capacity: int) -> Any:
    """min -sum(v x) s.t. sum(w x) <= capacity, 0 <= x <= 1: the relaxation of a knapsack."""
    n = len(values)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.addCols(n, -np.asarray(values, float), np.zeros(n), np.ones(n), 0, [], [], [])
    columns = np.arange(n, dtype=np.int32)
    h.addRow(-highspy.kHighsInf, capacity, n, columns, np.asarray(weights, float))
    return h


def _knapsack_optimum(values: list[int], weights: list[int], capacity: int) -> float:
    best = 0.0
    for picks in itertools.product((0, 1), repeat=len(values)):
        if sum(w * p for w, p in zip(weights, picks, strict=True)) <= capacity:
            best = min(best, -sum(v * p for v, p in zip(values, picks, strict=True)))
    return best


def _fits(weights: list[int], capacity: int) -> Callable[[np.ndarray], bool]:
    def is_plan(x: np.ndarray) -> bool:
        return bool(np.all((x == 0) | (x == 1)) and np.dot(weights, x) <= capacity + 1e-9)

    return is_plan


def _search(relax: Any, weights: list[int], capacity: int, **options: Any) -> Any:
    """Branch and bound on a knapsack's relaxation from the empty knapsack (cost 0)."""
    n = len(weights)
    return branch_and_bound(
        relax,
        np.zeros(n),
        0.0,
        binaries=range(n),
        integers=range(n),
        tolerance=1e-6,
        **{"deadline": math.inf, "is_plan": _fits(weights, capacity), **options},
    )


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 30)), min_size=1, max_size=9),
    share=st.floats(0.1, 0.9),
    cuts=st.lists(st.integers(1, 8), max_size=4),
)
def test_branching_finds_and_proves_the_brute_force_optimum(
    items: list[tuple[int, int]], share: float, cuts: list[int]
) -> None:
    values, weights = [v for v, _ in items], [w for _, w in items]
    capacity = max(1, int(share * sum(weights)))
    relax = _knapsack(values, weights, capacity)
    n = len(values)
    # chains only break ties in the choice of branching column: any grouping
    # of the columns into chains must leave the optimum found and proven
    edges = sorted({0, n, *(c for c in cuts if c < n)})
    chains = [list(range(a, b)) for a, b in itertools.pairwise(edges)]
    tree = _search(relax, weights, capacity, chains=chains)
    optimum = _knapsack_optimum(values, weights, capacity)
    assert tree.proven
    assert tree.cost == pytest.approx(optimum, abs=1e-6)
    assert tree.bound == tree.cost
    assert float(np.dot(-np.asarray(values), tree.plan)) == pytest.approx(tree.cost)
    assert _fits(weights, capacity)(tree.plan)
    # the relaxation's bounds are as they were
    lp = relax.getLp()
    assert list(lp.col_lower_) == [0.0] * n and list(lp.col_upper_) == [1.0] * n


def test_a_search_stopped_early_claims_nothing_and_keeps_a_valid_bound() -> None:
    values, weights, capacity = [10, 13, 7, 8, 9, 11], [5, 7, 4, 4, 5, 6], 15
    optimum = _knapsack_optimum(values, weights, capacity)
    for limits in ({"node_limit": 1}, {"deadline": time.perf_counter() - 1.0}):
        tree = _search(_knapsack(values, weights, capacity), weights, capacity, **limits)
        assert not tree.proven
        assert tree.bound <= optimum + 1e-6
        assert tree.cost >= optimum - 1e-6


def test_a_root_solved_already_is_not_solved_again() -> None:
    """Given the relaxation's optimum as it stands, the search starts from it:
    the same plan and proof with one LP fewer."""
    values, weights, capacity = [10, 13, 7, 8, 9, 11], [5, 7, 4, 4, 5, 6], 15
    plain = _search(_knapsack(values, weights, capacity), weights, capacity)
    relax = _knapsack(values, weights, capacity)
    relax.run()
    root = (relax.getInfo().objective_function_value, np.asarray(relax.getSolution().col_value))
    given_root = _search(relax, weights, capacity, solved=root)
    assert given_root.proven and plain.proven
    assert given_root.cost == pytest.approx(plain.cost)
    assert given_root.nodes == plain.nodes
    assert given_root.lp_solves == plain.lp_solves - 1


def test_tied_binaries_branch_on_the_latest_in_their_chain() -> None:
    """Two binaries at one fraction: with a chain (the second implies the
    first, as a tier its lower tier) the second is branched on first; alone,
    the first (lowest column)."""
    # min -x0 - 2 x1 with x1 <= x0 and x0 + x1 <= 1: the LP has x0 = x1 = 1/2
    relax = highspy.Highs()
    relax.setOptionValue("output_flag", False)
    relax.setOptionValue("presolve", "off")
    relax.addCols(2, np.array([-1.0, -2.0]), np.zeros(2), np.ones(2), 0, [], [], [])
    inf = highspy.kHighsInf
    relax.addRow(-inf, 0.0, 2, np.array([0, 1], dtype=np.int32), np.array([-1.0, 1.0]))
    relax.addRow(-inf, 1.0, 2, np.array([0, 1], dtype=np.int32), np.array([1.0, 1.0]))
    branched: list[int] = []
    change = relax.changeColBounds

    class _Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(relax, name)

        def changeColBounds(self, j: int, lower: float, upper: float) -> Any:  # highspy's name
            branched.append(j)
            return change(j, lower, upper)

    def is_plan(x: np.ndarray) -> bool:
        return bool(np.all((x == 0) | (x == 1)) and x[1] <= x[0] and x.sum() <= 1)

    for chains, first in (([[0, 1]], 1), ((), 0)):
        branched.clear()
        tree = branch_and_bound(
            _Spy(),
            np.zeros(2),
            0.0,
            binaries=[0, 1],
            integers=[0, 1],
            tolerance=1e-6,
            deadline=math.inf,
            is_plan=is_plan,
            chains=chains,
        )
        assert tree.proven and tree.cost == pytest.approx(-1.0)
        assert branched[0] == first


def test_an_lp_solution_that_fails_the_plan_check_is_not_taken_as_a_plan() -> None:
    values, weights, capacity = [10, 13, 7], [5, 7, 4], 12
    tree = _search(_knapsack(values, weights, capacity), weights, capacity, is_plan=lambda x: False)
    assert not tree.proven
    assert tree.cost == 0.0 and not tree.plan.any()


class _Stalling:
    """A HiGHS relaxation whose second solve answers 'unknown', as HiGHS may from a bad basis."""

    def __init__(self, highs: Any) -> None:
        self.highs = highs
        self.runs = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.highs, name)

    def run(self) -> Any:
        self.runs += 1
        return self.highs.run()

    def getModelStatus(self) -> Any:  # highspy's name
        if self.runs == 2:
            return highspy.HighsModelStatus.kUnknown
        return self.highs.getModelStatus()


def test_a_node_highs_cannot_answer_is_solved_again_from_the_root_basis() -> None:
    values, weights, capacity = [10, 13, 7, 8, 9, 11], [5, 7, 4, 4, 5, 6], 15
    relax = _Stalling(_knapsack(values, weights, capacity))
    tree = _search(relax, weights, capacity)
    assert tree.proven
    assert tree.cost == pytest.approx(_knapsack_optimum(values, weights, capacity))
    assert tree.lp_solves == tree.nodes + 1  # the node that stalled was solved twice


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    n_sites=st.integers(10, 60),
    n_orgs=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    route=st.sampled_from(["collaborative", "solo"]),
)
def test_from_a_costlier_start_the_branching_proves_the_solvers_optimum(
    n_sites: int, n_orgs: int, seed: int, route: str
) -> None:
    sites, orgs, scenario = generated_inputs(n_sites, n_orgs, seed)
    scenario = scenario.model_copy(update={"route": route})
    ctx, profiles, model = cost_model(sample_catalog(), sites, scenario, orgs)
    model.prob.setObjective(model.total_cost)
    plain = optimiser.run_solver(model.prob, "highs", time_limit=60, gap=0, verbose=False)
    assert plain.optimal
    optimum = pulp.value(model.total_cost)
    optimiser.set_start(model, costlier_start(profiles, ctx.builder.terms))
    highs, start = loaded_highs(model)
    columns = [var.index for var in optimiser.probe_columns(model)]
    proof = optimiser.probe_root(highs, start, columns, gap=0.0, deadline=time.perf_counter() + 60)
    assert proof is not None and proof.plan is not None
    if proof.proven:
        assert proof.cost == pytest.approx(optimum, abs=optimiser.PROOF_TOLERANCE)
    assert proof.bound <= optimum + optimiser.PROOF_TOLERANCE
    assert proof.cost >= optimum - optimiser.PROOF_TOLERANCE
    # whatever it found is a plan of the model, and the fixings agree with it
    assert optimiser._ModelArrays.of(highs.getLp()).admits(proof.plan)
    assert all(abs(proof.plan[j] - v) < 1e-6 for j, v in proof.fixings.items())


def test_a_cheaper_plan_found_by_branching_is_the_solves_answer() -> None:
    # 60 sites of 2 organisations bought together, started from a costlier
    # plan: the branching finds the optimum and proves it without the MIP
    sites, orgs, scenario = generated_inputs(60, 2, 3)
    scenario = scenario.model_copy(update={"route": "collaborative"})
    ctx, profiles, model = cost_model(sample_catalog(), sites, scenario, orgs)
    model.prob.setObjective(model.total_cost)
    assert optimiser.run_solver(model.prob, "highs", time_limit=60, gap=0, verbose=False).optimal
    optimum = pulp.value(model.total_cost)
    optimiser.set_start(model, costlier_start(profiles, ctx.builder.terms))
    start_cost = pulp.value(model.total_cost)
    assert start_cost > optimum + 1.0
    solver = optimiser.make_solver(
        "highs",
        time_limit=60,
        gap=0,
        verbose=False,
        warm_start=True,
        probe=optimiser.probe_columns(model),
    )
    model.prob.solve(solver)
    proof = solver.proof
    assert proof is not None and proof.proven and proof.improved and proof.nodes > 0
    assert model.prob.sol_status == pulp.LpSolutionOptimal
    # the variables now hold the branching's plan, not the start
    assert pulp.value(model.total_cost) == pytest.approx(optimum, abs=0.01)
    assert solver.mip_gap(model.prob) == 0.0
