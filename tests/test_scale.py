"""Exactness of what makes the optimiser scale: site profiles and per-party solves.

Aggregating interchangeable sites into integer counts, and solving the parties
of a ``solo`` or ``central`` plan one at a time, must change no optimum. Each
property compares the fast path with the plain one on generated portfolios,
where many sites share a profile (the brute-force tests use a handful of
sites, where profiles rarely merge).
"""

from __future__ import annotations

import itertools
import os
import sys
import time
import types
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import generated_inputs, sample_catalog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import optimiser
from procurement.options import BundleBuilder
from procurement.plan import PlanStatus

PROVEN = ("optimal", "infeasible")
TIME_LIMIT_S = 10


def _served(plan, sites) -> int:
    priority = {s.site_id: s.priority for s in sites}
    return sum(priority[s.site_id] for s in plan.sites if s.served)


def _same_optimum(a, b, sites) -> None:
    """Both proven: the same status and value of every objective stage (plans may tie).

    When a solve stopped at the time limit, its plan can only be worse: it
    serves less priority, or as much at no lower cost, than a proven optimum
    (priority first, then cost). Every example is checked one way or the
    other, so none is thrown away: rejecting slow examples made hypothesis
    draw hundreds more on a slow machine.
    """
    outcomes = (a.stats.outcome, b.stats.outcome)
    if all(o in PROVEN for o in outcomes):
        assert a.status == b.status
        assert a.total_cost == pytest.approx(b.total_cost, rel=1e-6, abs=0.01)
        assert _served(a, sites) == _served(b, sites)
        return
    for proven, stopped in ((a, b), (b, a)):
        if proven.stats.outcome == "infeasible":
            assert stopped.stats.outcome in ("infeasible", "no_solution")
        elif proven.stats.outcome == "optimal" and stopped.stats.outcome == "feasible":
            best, other = _served(proven, sites), _served(stopped, sites)
            assert other <= best
            if other == best:
                assert stopped.total_cost >= proven.total_cost - 0.01


FIELDS = st.fixed_dictionaries(
    {
        "route": st.sampled_from(["solo", "collaborative", "central"]),
        "max_suppliers": st.sampled_from([None, None, 2, 3]),
        "max_supplier_share": st.sampled_from([None, None, 0.6]),
        "max_supplier_changes": st.sampled_from([None, None, 3]),
        "allow_partial": st.booleans(),
    }
)
# The quality objective is left to the brute-force tests: its cost stage can
# run into the time limit on these portfolios, and two time-limited plans
# need not agree.


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), n_orgs=st.integers(1, 3), fields=FIELDS)
def test_profiles_agree_with_a_per_site_model(monkeypatch, seed, n_orgs, fields) -> None:
    """Integer counts over profiles reach the same optimum as one variable set per site."""
    sites, orgs, scn = generated_inputs(24, n_orgs, seed)
    scn = scn.model_copy(update={**fields, "time_limit_s": TIME_LIMIT_S})
    catalog = sample_catalog()
    fast = optimiser.solve(catalog, sites, scn, orgs, explain=False)

    def per_site(*args, **kwargs):
        return build(*args, **kwargs, aggregate=False)

    build = optimiser.build_profiles
    monkeypatch.setattr(optimiser, "build_profiles", per_site)
    plain = optimiser.solve(catalog, sites, scn, orgs, explain=False)
    monkeypatch.undo()
    assert plain.stats.profiles == len(sites)
    _same_optimum(fast, plain, sites)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    route=st.sampled_from(["solo", "central"]),
    budget_factor=st.sampled_from([None, 0.9, 0.99]),
    share=st.sampled_from([None, 0.7]),
    allow_partial=st.booleans(),
)
def test_parties_solved_apart_agree_with_one_model(
    monkeypatch, seed, route, budget_factor, share, allow_partial
) -> None:
    """Solo and central parties solved one by one give the joint model's optimum.

    Organisation budgets (some below a party's cheapest plan), share caps and
    partial service all bind per party.
    """
    sites, orgs, scn = generated_inputs(40, 4, seed)
    scn = scn.model_copy(
        update={
            "route": route,
            "max_supplier_share": share,
            "allow_partial": allow_partial,
            "time_limit_s": TIME_LIMIT_S,
        }
    )
    catalog = sample_catalog()
    if budget_factor is not None:
        alone = optimiser.solve(catalog, sites, scn, orgs, explain=False)
        cost = {o.organisation: o.cost for o in alone.organisations}
        orgs = [
            o.model_copy(update={"budget": round(cost[o.organisation] * budget_factor, 2)})
            if i % 2 == 0
            else o
            for i, o in enumerate(orgs)
        ]
    split = optimiser.solve(catalog, sites, scn, orgs, explain=False)
    monkeypatch.setattr(optimiser, "_independent_parties", lambda *a: False)
    joint = optimiser.solve(catalog, sites, scn, orgs, explain=False)
    monkeypatch.undo()
    _same_optimum(split, joint, sites)
    assert split.status in (PlanStatus.OPTIMAL, PlanStatus.PARTIAL, PlanStatus.INFEASIBLE)


def test_a_scenario_budget_keeps_the_parties_in_one_model() -> None:
    """A budget over all parties links them: they are not solved apart."""
    catalog = sample_catalog()
    sites, orgs, scn = generated_inputs(30, 3, 1)
    ctx = optimiser._context(catalog, sites, scn.model_copy(update={"route": "solo"}), orgs, None)
    assert optimiser._independent_parties(ctx, (), None)
    ctx = optimiser._context(
        catalog, sites, scn.model_copy(update={"route": "solo", "budget": 1e7}), orgs, None
    )
    assert not optimiser._independent_parties(ctx, (), None)
    assert not optimiser._independent_parties(ctx, (frozenset({"a"}),), None)
    collab = optimiser._context(catalog, sites, scn, orgs, None)
    assert not optimiser._independent_parties(collab, (), None)


@pytest.mark.parametrize("route", ["solo", "central"])
def test_parties_solved_in_worker_processes_give_the_same_plan(monkeypatch, route) -> None:
    """Side by side in worker processes (forced here on a small portfolio), the
    parties reach the same optimum, and every site gets its links back."""
    catalog = sample_catalog()
    sites, orgs, scn = generated_inputs(40, 3, 5)
    scn = scn.model_copy(update={"route": route, "time_limit_s": TIME_LIMIT_S})
    monkeypatch.setattr(optimiser, "available_cpus", lambda: 2)
    in_turn = optimiser.solve(catalog, sites, scn, orgs, explain=False)
    monkeypatch.setattr(optimiser, "PARALLEL_MIN_SIZE", 0)
    spawned: list[int] = []
    real_pool = optimiser.ProcessPoolExecutor

    def counting_pool(*args, **kwargs):
        spawned.append(kwargs["max_workers"])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(optimiser, "ProcessPoolExecutor", counting_pool)
    t0 = time.perf_counter()
    side_by_side = optimiser.solve(catalog, sites, scn, orgs, explain=False)
    elapsed = time.perf_counter() - t0
    assert spawned == [2]  # the workers really ran
    # the wall time of the side-by-side solves, not the workers' seconds summed
    assert side_by_side.solve_seconds <= elapsed
    assert {s.site_id for s in side_by_side.sites if s.served} == {s.site_id for s in sites}
    _same_optimum(in_turn, side_by_side, sites)
    assert side_by_side.stats.variables == in_turn.stats.variables


def test_the_workers_server_starts_before_sites_are_grouped_only_when_likely_needed(
    monkeypatch,
) -> None:
    """Big portfolios of parties solved apart start the fork server before the
    sites are grouped into profiles; one party, a shared model, a small
    portfolio or a single CPU do not."""
    events: list[str] = []
    monkeypatch.setattr(optimiser, "start_worker_server", lambda preload: events.append(preload))
    real_profiles = optimiser.build_profiles

    def grouping(*args, **kwargs):
        events.append("grouped")
        return real_profiles(*args, **kwargs)

    monkeypatch.setattr(optimiser, "build_profiles", grouping)
    monkeypatch.setattr(optimiser, "available_cpus", lambda: 2)
    monkeypatch.setattr(optimiser, "EARLY_SERVER_MIN_SITES", 30)
    catalog = sample_catalog()
    sites, orgs, scn = generated_inputs(30, 3, 5)

    def started(route: str, **update) -> bool:
        events.clear()
        scenario = scn.model_copy(update={"route": route, "time_limit_s": TIME_LIMIT_S, **update})
        optimiser.solve(catalog, sites, scenario, orgs, explain=False)
        assert events[-1] == "grouped"
        return events[:-1] == ["procurement.optimiser"]

    assert started("solo")
    assert started("central")
    assert not started("collaborative")  # one party
    assert not started("solo", budget=10**9)  # a scenario budget links the parties
    monkeypatch.setattr(optimiser, "EARLY_SERVER_MIN_SITES", 31)
    assert not started("solo")
    monkeypatch.setattr(optimiser, "EARLY_SERVER_MIN_SITES", 30)
    monkeypatch.setattr(optimiser, "available_cpus", lambda: 1)
    assert not started("solo")


def test_the_workers_server_is_running_once_started() -> None:
    import multiprocessing.forkserver

    optimiser.start_worker_server("procurement.optimiser")
    context = optimiser.process_pool_context("procurement.optimiser")
    if context.get_start_method() == "forkserver":
        assert multiprocessing.forkserver._forkserver._forkserver_pid is not None
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            assert pool.submit(os.getpid).result() != os.getpid()


def test_a_server_that_cannot_start_early_is_left_to_the_first_pool(monkeypatch) -> None:
    import multiprocessing.forkserver

    def refuse() -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", refuse)
    optimiser.start_worker_server("procurement.optimiser")  # no error: only a head start


def test_workers_do_not_run_the_main_script_again(tmp_path, monkeypatch) -> None:
    """Under ``streamlit run`` the main module is the app page: a worker must not
    run it again (it would solve again inside the worker and break the pool)."""
    page = tmp_path / "page.py"
    page.write_text("raise SystemExit('the page ran again in a worker')\n", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(page)
    main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(optimiser, "available_cpus", lambda: 2)
    monkeypatch.setattr(optimiser, "PARALLEL_MIN_SIZE", 0)
    sites, orgs, scn = generated_inputs(30, 2, 7)
    scn = scn.model_copy(update={"route": "solo", "time_limit_s": TIME_LIMIT_S})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback from a broken pool
        plan = optimiser.solve(sample_catalog(), sites, scn, orgs, explain=False)
    assert plan.status == PlanStatus.OPTIMAL
    assert main.__file__ == str(page)  # given back once the workers started



PARENT_SCRIPT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from procurement import optimiser

if __name__ == "__main__":
    context = optimiser.process_pool_context("procurement.optimiser")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=optimiser.exit_when_parent_dies,
        initargs=(os.getpid(), 0.2),
    ) as pool:
        print(pool.submit(os.getpid).result(), flush=True)
        pool.submit(time.sleep, 120)
        time.sleep(120)
"""


def test_workers_end_when_the_process_that_started_them_is_killed(tmp_path) -> None:
    """A killed ``compare`` must not leave its workers solving for minutes: they
    come from a fork server that outlives it, so each watches its parent."""
    import signal
    import subprocess

    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert optimiser._alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while optimiser._alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not optimiser._alive(worker)
    finally:
        parent.kill()
        parent.wait(10)


# ----------------------------------------------------------------- model-building shortcuts


def test_requirements_are_normalised_once_each() -> None:
    """Grouping 25,000 sites normalised each one's requirement (0.4 s): the
    builder remembers the answer per requirement, and it is the same answer."""
    from procurement.options import requirement_of

    sites, _, scenario = generated_inputs(200, 3, seed=2)
    builder = BundleBuilder(sample_catalog(), scenario)
    fresh = BundleBuilder(sample_catalog(), scenario)
    requirements = [requirement_of(s, scenario.start_date) for s in sites]
    first = [builder.normalise(r) for r in requirements]
    assert len(set(requirements)) < len(requirements)  # sites do share requirements
    for requirement, normal in zip(requirements, first, strict=True):
        assert builder.normalise(requirement) is normal  # remembered, not made again
        assert normal == fresh.normalise(requirement)
        assert builder.normalise(normal) == normal  # already as simple as it gets


def test_a_solve_works_out_each_sites_requirement_once(monkeypatch) -> None:
    """The servability check and the grouping share one requirement per site,
    and grouping with them given is grouping without."""
    from procurement import options

    sites, orgs, scenario = generated_inputs(120, 3, seed=2)
    calls = []
    real = options.requirement_of

    def counted(site, start):
        calls.append(site.site_id)
        return real(site, start)

    monkeypatch.setattr(options, "requirement_of", counted)
    monkeypatch.setattr(optimiser, "requirement_of", counted)
    plan = optimiser.solve(sample_catalog(), sites, scenario, orgs)
    assert plan.status is PlanStatus.OPTIMAL
    assert sorted(calls) == sorted(s.site_id for s in sites)
    builder = BundleBuilder(sample_catalog(), scenario)
    given = [real(s, scenario.start_date) for s in sites]
    with_them = optimiser.build_profiles(sites, scenario, builder, requirements=given)
    without = optimiser.build_profiles(sites, scenario, builder)
    assert [(p.party, p.requirement, p.site_ids) for p in with_them] == [
        (p.party, p.requirement, p.site_ids) for p in without
    ]
    assert options.unservable_sites(
        sites, sample_catalog(), scenario, builder, requirements=given
    ) == options.unservable_sites(sites, sample_catalog(), scenario, builder)


def test_expressions_sum_repeated_variables() -> None:
    """``_expr`` copies unique terms in one go, but a repeated variable is summed."""
    prob = optimiser.PlanningProblem("t")
    a, b = prob.add_variable("a"), prob.add_variable("b")
    unique = optimiser._expr([(a, 2.0), (b, -1.0)], constant=3.0)
    assert dict(unique) == {a: 2.0, b: -1.0}
    assert unique.constant == 3.0
    repeated = optimiser._expr([(a, 2.0), (b, 1.0), (a, 0.5)])
    assert dict(repeated) == {a: 2.5, b: 1.0}
    assert optimiser._expr([]).constant == 0.0



@pytest.mark.parametrize(
    ("name", "low", "up", "cat"),
    [
        ("x_1_2", 0, 5, optimiser.pulp.LpInteger),
        ("y_3_britannia-networks", 0, 4, optimiser.pulp.LpContinuous),
        ("use_0", None, None, optimiser.pulp.LpBinary),
        ("disc_1", 0, None, optimiser.pulp.LpContinuous),
        ("free", None, None, optimiser.pulp.LpContinuous),
        ("odd name[1]->a/b+c", 1.5, 2.5, optimiser.pulp.LpInteger),
    ],
)
def test_variables_are_made_as_pulp_makes_them(name, low, up, cat) -> None:
    """The problem makes its variables without PuLP's constructor, for speed: every
    attribute is the constructor's (so a PuLP release that adds one fails here),
    stored as compactly, the variable is registered once, and a bound PuLP
    refuses is refused."""
    prob = optimiser.PlanningProblem("t")
    made = prob.add_variable(name, low, up, cat)
    pulps = optimiser.pulp.LpVariable(name, low, up, cat, _skip_v4_deprecation=True)
    assert made.hash == id(made) and hash(made) == id(made)
    assert {k: v for k, v in vars(made).items() if k != "hash"} == {
        k: v for k, v in vars(pulps).items() if k != "hash"
    }
    assert made.name == pulps.name
    # the same memory: attributes stored as the constructor stores them (key-sharing)
    assert sys.getsizeof(vars(made)) == sys.getsizeof(vars(pulps))
    assert prob.variables() == [made]
    with pytest.raises(optimiser.pulp.PulpError):
        prob.add_variable("inf", 0, float("inf"))
    with pytest.raises(optimiser.pulp.PulpError):
        optimiser.pulp.LpVariable("inf", 0, float("inf"), _skip_v4_deprecation=True)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"route": "solo", "max_suppliers": 3, "min_suppliers": 1},
        {"max_supplier_share": 0.6, "allow_partial": True, "max_supplier_changes": 3},
    ],
)
def test_model_lists_the_variables_pulp_would(fields) -> None:
    """The problem's shortcut listing (no walk over every row) gives PuLP's own list,
    in PuLP's order, before and after rows are added with PuLP's ``+=``."""
    sites, _, scenario = generated_inputs(120, 3, seed=5)
    scenario = scenario.model_copy(update=fields)
    builder = BundleBuilder(sample_catalog(), scenario)
    profiles = optimiser.build_profiles(sites, scenario, builder)
    model = optimiser.build_model(
        profiles, builder.terms, scenario, total_budget=10**7, party_budgets={}
    )
    prob = model.prob
    prob.setObjective(model.total_cost)

    def walked() -> list[str]:
        """PuLP's walk over the objective and every row, on a fresh problem."""
        plain = optimiser.pulp.LpProblem("plain")
        plain.setObjective(prob.objective)
        for name, row in prob._constraints.items():
            plain.addConstraint(row, name)
        return [v.name for v in plain.variables()]

    assert [v.name for v in prob.variables()] == walked()
    prob += (model.served >= 1, "extra_row")
    prob.setObjective(model.quality)
    assert [v.name for v in prob.variables()] == walked()
    assert len({id(v) for v in prob.variables()}) == len(prob.variables())


def test_rows_reach_highs_as_written_without_zero_coefficients() -> None:
    """The bulk hand-over to HiGHS copies each row's terms, drops zeros, keeps empty rows."""
    import highspy
    import numpy as np

    prob = optimiser.PlanningProblem("t")
    a, b, c = (prob.add_variable(n, lowBound=0, upBound=5) for n in "abc")
    optimiser._row(prob, [(a, 1.0), (b, 0.0), (c, -2.0)], optimiser.LE, 4.0, "r0")
    optimiser._row(prob, [(b, 0.0)], optimiser.EQ, 0.0, "r1")  # nothing left
    optimiser._row(prob, [(c, 3.0), (a, 0.5)], optimiser.EQ, 1.0, "r2")
    prob.setObjective(optimiser._expr([(a, 1.0), (b, 2.0)]))
    solver = optimiser.make_solver("highs", time_limit=10, gap=0, verbose=False)
    solver.createAndConfigureSolver(prob)
    solver.buildSolverModel(prob)
    lp = prob.solverModel.getLp()
    column = {v.name: v.index for v in prob.variables()}
    dense = np.zeros((lp.num_row_, lp.num_col_))
    matrix = lp.a_matrix_
    assert 0.0 not in list(matrix.value_)
    if matrix.format_ == highspy.MatrixFormat.kRowwise:
        starts = [*matrix.start_, len(matrix.index_)]
        for r in range(lp.num_row_):
            for k in range(starts[r], starts[r + 1]):
                dense[r, matrix.index_[k]] = matrix.value_[k]
    else:
        starts = list(matrix.start_)
        for j in range(lp.num_col_):
            for k in range(starts[j], starts[j + 1]):
                dense[matrix.index_[k], j] = matrix.value_[k]
    expected = np.zeros((3, 3))
    expected[0, column["a"]], expected[0, column["c"]] = 1.0, -2.0
    expected[2, column["c"]], expected[2, column["a"]] = 3.0, 0.5
    assert np.array_equal(dense, expected)
    assert list(lp.row_upper_) == [4.0, 0.0, 1.0]
    assert list(lp.row_lower_)[1:] == [0.0, 1.0]


def _highs_arrays(prob) -> dict[str, list]:
    """The HiGHS model :class:`optimiser.HighsSolver` builds from ``prob``, as lists."""
    solver = optimiser.make_solver("highs", time_limit=10, gap=0, verbose=False)
    solver.createAndConfigureSolver(prob)
    solver.buildSolverModel(prob)
    lp = prob.solverModel.getLp()
    matrix = lp.a_matrix_
    return {
        "format": [matrix.format_],
        "start": list(matrix.start_),
        "index": list(matrix.index_),
        "value": list(matrix.value_),
        "row_lower": list(lp.row_lower_),
        "row_upper": list(lp.row_upper_),
        "cost": list(lp.col_cost_),
    }


def test_list_rows_give_highs_and_pulp_the_rows_a_plain_problem_would() -> None:
    """Rows kept as lists (not made PuLP constraints) reach HiGHS as a plain PuLP
    problem's rows would: in the order added, interleaved with ``+=`` rows,
    a repeated variable summed where it first stood, zeros dropped, every
    sense. Asking for PuLP's constraints makes them, in that same order."""
    LE, GE, EQ = optimiser.LE, optimiser.GE, optimiser.EQ
    rows = [
        ("r0", [("a", 1.0), ("b", 0.0), ("c", -2.0)], LE, 4.0),
        ("r1", [("c", 1.0), ("a", 2.0), ("c", 0.5), ("b", 1.0)], GE, 1.0),
        ("r2", [("b", 0.0)], EQ, 0.0),
    ]
    later = [("r3", [("b", 3.0), ("b", -3.0), ("a", 1.0)], EQ, 2.0)]

    def build(planning: bool):
        prob = (optimiser.PlanningProblem if planning else optimiser.pulp.LpProblem)("t")
        var = {n: prob.add_variable(n, lowBound=0, upBound=5) for n in "abc"}

        def add(name, terms, sense, rhs) -> None:
            optimiser._row(prob, [(var[n], c) for n, c in terms], sense, rhs, name)

        for row in rows:
            add(*row)
        prob += (var["a"] + var["c"] <= 9, "plus")  # makes the rows before it
        for row in later:
            add(*row)
        prob.setObjective(optimiser._expr([(var["a"], 1.0), (var["b"], 2.0)]))
        return prob

    prob = build(planning=True)
    assert prob.numConstraints() == 5 and prob.row_names == ["r3"]  # "plus" made r0-r2
    assert _highs_arrays(prob) == _highs_arrays(build(planning=False))
    assert prob.row_names == ["r3"]  # handing the rows to HiGHS left r3 a list
    made = prob.constraints()
    assert [c.name for c in made] == ["r0", "r1", "r2", "plus", "r3"]
    assert {v.name: c for v, c in made[1].items()} == {"c": 1.5, "a": 2.0, "b": 1.0}
    assert (made[1].sense, made[1].constant) == (GE, -1.0)
    assert prob.numConstraints() == 5 and prob.row_names == []


def test_a_solve_leaves_list_rows_as_lists_and_a_repeated_name_is_refused() -> None:
    prob = optimiser.PlanningProblem("t")
    a, b = prob.add_variable("a", lowBound=0, upBound=3), prob.add_variable("b", lowBound=0)
    optimiser._row(prob, [(a, 1.0), (b, 1.0)], optimiser.GE, 2.0, "cover")
    optimiser._row(prob, [(b, 1.0)], optimiser.LE, 1.5, "cap")
    prob.setObjective(optimiser._expr([(a, 1.0), (b, 3.0)]))
    solver = optimiser.make_solver("highs", time_limit=10, gap=0, verbose=False)
    with optimiser.solver_output_to_stderr():
        prob.solve(solver)
    assert prob.status == optimiser.pulp.LpStatusOptimal
    assert (a.varValue, b.varValue) == (2.0, 0.0)
    assert prob.row_names == ["cover", "cap"]  # the solve made no PuLP constraint
    kept = prob.pending_rows_kept()
    with pytest.raises(optimiser.pulp.PulpError, match="added while"), kept:
        prob += (a <= 3, "inside")
    optimiser._row(prob, [(a, 1.0)], optimiser.LE, 3.0, "cap")
    with pytest.raises(optimiser.pulp.PulpError, match="overlapping constraint names: cap"):
        prob.constraints()


def _kept_and_read_back(prob, sense: int) -> tuple:
    """The arrays :class:`optimiser.HighsSolver` keeps, and the same read back from HiGHS."""
    prob.sense = sense
    solver = optimiser.make_solver("highs", time_limit=10, gap=0, verbose=False)
    solver.createAndConfigureSolver(prob)
    solver.buildSolverModel(prob)
    return solver.arrays, optimiser._ModelArrays.of(prob.solverModel.getLp())


def _same_arrays(kept, read) -> None:
    import numpy as np

    for name in ("cost", "col_lower", "col_upper", "integer", "row_lower", "row_upper"):
        assert np.array_equal(getattr(kept, name), getattr(read, name)), name
    assert kept.offset == read.offset
    # the same matrix entries (HiGHS may hold them by row or by column)
    def entries(a) -> list:
        return sorted(zip(a.row_of.tolist(), a.column_of.tolist(), a.value.tolist(), strict=True))

    assert entries(kept) == entries(read)


@pytest.mark.parametrize("sense", [optimiser.pulp.LpMinimize, optimiser.pulp.LpMaximize])
def test_the_solver_keeps_the_arrays_it_handed_to_highs(sense: int) -> None:
    """Probing reads the model from the arrays the solver built, not back from
    HiGHS: they must be what HiGHS holds, for made and list rows, repeated
    and zero coefficients, integers, either sense, and a whole planning model."""
    from conftest import cost_model

    prob = optimiser.PlanningProblem("t")
    a = prob.add_variable("a", lowBound=0, upBound=5, cat=optimiser.pulp.LpInteger)
    b, c = prob.add_variable("b", lowBound=-1), prob.add_variable("c", upBound=2)
    optimiser._row(prob, [(a, 1.0), (b, 0.0), (c, -2.0)], optimiser.LE, 4.0, "r0")
    prob += (a + c <= 9, "made")
    optimiser._row(prob, [(c, 1.0), (a, 2.0), (c, 0.5)], optimiser.GE, 1.0, "r1")
    optimiser._row(prob, [(b, 3.0), (b, -3.0), (a, 1.0)], optimiser.EQ, 2.0, "r2")
    prob.setObjective(optimiser._expr([(a, 1.0), (b, -2.0)]))
    _same_arrays(*_kept_and_read_back(prob, sense))

    sites, organisations, scenario = generated_inputs(60, 2, 3)
    _, _, model = cost_model(sample_catalog(), sites, scenario, organisations)
    model.prob.setObjective(model.total_cost)
    kept, read = _kept_and_read_back(model.prob, sense)
    assert len(kept.integer) > 0 and len(kept.value) > 1000
    _same_arrays(kept, read)


def test_gc_pause_nests_and_restores() -> None:
    import gc

    from procurement.gcpause import without_gc

    @without_gc
    def inner() -> bool:
        return gc.isenabled()

    @without_gc
    def outer() -> tuple[bool, bool]:
        return gc.isenabled(), inner()

    @without_gc
    def fails() -> None:
        raise ValueError("boom")

    assert gc.isenabled()
    assert outer() == (False, False)
    assert gc.isenabled()
    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()
    gc.disable()
    try:
        inner()
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_pair_charges_agree_with_the_general_sum() -> None:
    """The link-pair shortcut gives :func:`options._charges`' answer in every case."""
    from procurement import options
    from procurement.models import Scenario

    scenario = Scenario()
    catalog = sample_catalog()
    offers = [(s.id, o) for s in catalog.suppliers for o in s.offerings if o.technology != "wifi"]
    (a_id, a1), (_, a2) = next(
        (x, y) for x, y in itertools.pairwise(offers) if x[0] == y[0]
    )
    b_id, b1 = next((sid, o) for sid, o in offers if sid != a_id)
    p = options.make_candidate(a1, a_id, 1, scenario)
    same = options.make_candidate(a2, a_id, 1, scenario)
    other = options.make_candidate(b1, b_id, 1, scenario)
    for primary, secondary in [(p, None), (p, same), (p, other), (other, p)]:
        links = [c for c in (primary, secondary) if c is not None]
        assert options._pair_charges(primary, secondary) == options._charges(links)


def _pairs_one_by_one(builder, requirement) -> tuple:
    """Link pairs the plain way: every valid pair in turn through the general
    dominance check (the definition :meth:`BundleBuilder.link_pairs` speeds up)."""
    from dataclasses import replace

    from procurement import options
    from procurement.models import Resilience

    requirement = replace(builder.normalise(requirement), wifi_aps=0)
    primaries, secondaries, _ = builder.role_candidates(requirement)
    target = requirement.min_availability_pct
    groups: dict = defaultdict(options._Pareto)
    for p in primaries:
        allowed = [None] if requirement.resilience is Resilience.SINGLE else []
        for s in secondaries:
            if requirement.resilience is Resilience.DIVERSE:
                if s.supplier_id != p.supplier_id:
                    allowed.append(s)
            elif s.technology is not p.technology:
                allowed.append(s)
        for s in allowed:
            avail = options.combined_availability(
                p.offering.availability_pct, s.offering.availability_pct if s else None
            )
            if target is not None and (avail or 0.0) < target - options.AVAILABILITY_TOLERANCE:
                continue
            builder._keep_if_undominated(groups, p, s, None, avail)
    return options._frontier(groups)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"objective": "quality"},
        {"max_supplier_changes": 2},
        {"route": "central"},
        {"route": "solo", "objective": "quality", "max_supplier_changes": 1},
    ],
)
def test_link_pairs_are_the_pairs_checked_one_by_one(fields) -> None:
    """The pair loop, with each link's charges and cost states worked out once,
    keeps exactly the pairs (same costs to the bit, same order) that checking
    every valid pair in turn keeps: every resilience, with and without an
    availability target, with the quality objective and with supplier changes
    limited (which split the dominance groups)."""
    from dataclasses import replace

    from procurement.models import Resilience

    sites, _, scenario = generated_inputs(120, 3, seed=11)
    scenario = scenario.model_copy(update=fields)
    builder = BundleBuilder(sample_catalog(), scenario)
    seen: set = set()
    for site in sites:
        base = optimiser.requirement_of(site, scenario.start_date)
        for resilience in Resilience:
            for target in (None, 99.5, 99.99):
                requirement = replace(base, resilience=resilience, min_availability_pct=target)
                if requirement in seen:
                    continue
                seen.add(requirement)
                assert builder.link_pairs(requirement) == _pairs_one_by_one(builder, requirement)
    assert len(seen) > 300
