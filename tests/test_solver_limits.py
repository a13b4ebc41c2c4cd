"""The solver's time limit is kept, and a stopped solve reports what it really has.

HiGHS checks its own limit only between steps, so the optimiser also runs a
watchdog that cancels the solve (``optimiser.hard_stop``). A cancelled or
time-limited solve must never be reported as optimal, and one stopped before
any plan must not be reported as having one (PuLP 3.3 maps HiGHS's
"interrupted" status to a feasible plan whether or not one exists).

The tests make the watchdog fire at once (``hard_stop`` -> 0 s) rather than
timing anything: they are about outcomes, not speed.
"""

from __future__ import annotations

import numpy as np
import pulp
import pytest
from conftest import cost_model, generated_inputs, sample_catalog

from procurement import optimiser
from procurement.incumbent import find_start
from procurement.plan import PlanStatus


def _case():
    """60 generated sites of 2 organisations, bought together: quick to prove."""
    sites, organisations, scenario = generated_inputs(60, 2, 3)
    scenario = scenario.model_copy(update={"route": "collaborative"})
    return sample_catalog(), sites, scenario, organisations


def _model():
    ctx, _, model = cost_model(*_case())
    model.prob.setObjective(model.total_cost)
    return ctx, model


@pytest.fixture
def watchdog_fires_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optimiser, "hard_stop", lambda time_limit: 0.0)


def test_the_watchdog_fires_a_little_after_the_time_limit() -> None:
    assert optimiser.hard_stop(60) == pytest.approx(66)
    assert optimiser.hard_stop(2) == pytest.approx(3)
    solver = optimiser.make_solver("highs", time_limit=30, gap=0, verbose=False)
    assert solver.stop_after == pytest.approx(33)


@pytest.mark.usefixtures("watchdog_fires_at_once")
def test_a_cancelled_solve_without_a_plan_has_no_plan() -> None:
    _, model = _model()
    result = optimiser.run_solver(model.prob, "highs", time_limit=60, gap=0, verbose=False)
    assert result.outcome == "no_solution"
    assert not result.has_solution and not result.optimal


@pytest.mark.usefixtures("watchdog_fires_at_once")
def test_a_cancelled_solve_keeps_its_start_and_is_not_called_optimal() -> None:
    ctx, model = _model()
    start = find_start(model.profiles, ctx.builder.terms, seconds=1.0)
    assert start is not None
    optimiser.set_start(model, start)
    start_cost = pulp.value(model.total_cost)
    result = optimiser.run_solver(
        model.prob, "highs", time_limit=60, gap=0, verbose=False, warm_start=True
    )
    assert result.outcome == "feasible"
    assert result.has_solution and not result.optimal
    assert result.objective == pytest.approx(start_cost)


@pytest.mark.usefixtures("watchdog_fires_at_once")
def test_a_plan_from_a_cancelled_solve_says_it_is_not_proven(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # probing the root proves this start optimal before the MIP runs; without
    # it the MIP must run, and the watchdog cancels it
    monkeypatch.setattr(optimiser, "probe_columns", lambda model: [])
    catalog, sites, scenario, orgs = _case()
    plan = optimiser.solve(catalog, sites, scenario, orgs, explain=False)
    assert plan.stats.outcome == "feasible"
    assert plan.status is PlanStatus.FEASIBLE
    assert plan.gap == 1.0  # stopped before any bound: nothing proven
    assert any("time limit" in d.message for d in plan.diagnostics)


def test_a_solve_within_its_limit_is_left_alone() -> None:
    _, model = _model()
    solver = optimiser.make_solver("highs", time_limit=60, gap=0, verbose=False)
    model.prob.solve(solver)
    assert not solver.cancelled
    assert model.prob.sol_status == pulp.LpSolutionOptimal


def test_a_solve_left_running_answers_with_what_highs_reported() -> None:
    """When HiGHS does not stop after a cancel, its last reported plan is the answer.

    ``findSolutionValues`` must then read nothing from the running HiGHS, only
    the plan and bound its callbacks reported; with no plan reported there is
    none.
    """
    _, model = _model()
    solver = optimiser.make_solver("highs", time_limit=60, gap=0, verbose=False)
    model.prob.solve(solver)  # a real optimum, to stand in for a reported plan
    optimum = pulp.value(model.total_cost)
    values = np.array([v.varValue for v in model.prob.variables()])
    for var in model.prob.variables():
        var.varValue = None

    solver.abandoned = optimiser._Reported()
    assert solver.findSolutionValues(model.prob)[1] == pulp.LpSolutionNoSolutionFound
    assert solver.mip_gap(model.prob) is None

    reported = optimiser._Reported()
    reported.values, reported.objective, reported.bound = values, optimum, 0.99 * optimum
    solver.abandoned = reported
    assert solver.findSolutionValues(model.prob) == (
        pulp.LpStatusOptimal,  # PuLP's status for "stopped with a plan"
        pulp.LpSolutionIntegerFeasible,
    )
    assert pulp.value(model.total_cost) == pytest.approx(optimum)
    assert solver.mip_gap(model.prob) == pytest.approx(0.01)


@pytest.mark.usefixtures("watchdog_fires_at_once")
def test_a_solve_that_does_not_stop_is_left_running_and_not_called_optimal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(optimiser, "ABANDON_AFTER_S", 0.0)
    ctx, model = _model()
    start = find_start(model.profiles, ctx.builder.terms, seconds=1.0)
    optimiser.set_start(model, start)
    result = optimiser.run_solver(
        model.prob, "highs", time_limit=60, gap=0, verbose=False, warm_start=True
    )
    assert result.outcome in ("feasible", "no_solution")
    assert not result.optimal
    if result.has_solution:  # the start, as HiGHS reported it: every row holds
        assert [c.name for c in model.prob.constraints() if not c.valid(1e-6)] == []
    # the cancelled solve stops at its next check; nothing may run at exit
    assert optimiser.wait_for_solves_left_running(timeout=60)


def test_highs_is_handed_the_same_model_in_bulk_as_pulp_hands_it_row_by_row() -> None:
    """``HighsSolver.buildSolverModel`` (a few array calls) builds PuLP's model exactly."""
    assert "buildSolverModel" in optimiser.HighsSolver.__dict__  # the bulk path is ours

    def handed(build) -> dict[str, np.ndarray]:
        _, model = _model()
        solver = optimiser.make_solver("highs", time_limit=60, gap=0, verbose=False)
        solver.createAndConfigureSolver(model.prob)
        build(solver, model.prob)
        lp = model.prob.solverModel.getLp()
        matrix = lp.a_matrix_
        return {
            "cost": np.asarray(lp.col_cost_),
            "col_lower": np.asarray(lp.col_lower_),
            "col_upper": np.asarray(lp.col_upper_),
            "row_lower": np.asarray(lp.row_lower_),
            "row_upper": np.asarray(lp.row_upper_),
            "integrality": np.asarray([int(v) for v in lp.integrality_]),
            "start": np.asarray(matrix.start_),
            "index": np.asarray(matrix.index_),
            "value": np.asarray(matrix.value_),
        }

    ours = handed(optimiser.HighsSolver.buildSolverModel)
    pulps = handed(pulp.HiGHS.buildSolverModel)
    assert ours.keys() == pulps.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], pulps[name], err_msg=name)
