"""Probing the root LP around a starting plan (``optimiser.probe_root``) stays exact.

Probing may only say "optimal" when LP bounds show that nothing is cheaper
than the start, may only fix a binary whose other value cannot beat the
start, and must leave the final plan exactly as cheap as a solve without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp
import pytest
from conftest import cost_model, costlier_start, generated_inputs, loaded_highs, sample_catalog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import optimiser
from procurement.incumbent import find_start


def _case(n_sites: int, n_orgs: int, seed: int, route: str) -> tuple[Any, ...]:
    sites, organisations, scenario = generated_inputs(n_sites, n_orgs, seed)
    return sample_catalog(), sites, scenario.model_copy(update={"route": route}), organisations


def _columns(model: Any) -> list[int]:
    return [var.index for var in optimiser.probe_columns(model)]


def _optimum(model: Any) -> float:
    """Solve ``model`` by HiGHS alone (no probing) and return the optimal cost."""
    result = optimiser.run_solver(model.prob, "highs", time_limit=60, gap=0, verbose=False)
    assert result.optimal
    return pulp.value(model.total_cost)


def test_an_optimal_start_is_proven_without_the_mip() -> None:
    # 60 sites of 2 organisations bought together: HiGHS's root LP leaves a
    # gap (fractional tiers), probing the tiers closes it
    _, _, model = cost_model(*_case(60, 2, 3, "collaborative"))
    model.prob.setObjective(model.total_cost)
    optimum = _optimum(model)
    highs, start = loaded_highs(model)
    proof = optimiser.probe_root(
        highs, start, _columns(model), gap=0.0, deadline=1e12
    )
    assert proof is not None and proof.proven
    assert proof.start_cost == pytest.approx(optimum, abs=1e-6)
    assert proof.bound == proof.start_cost
    assert proof.lp_solves >= 1


@pytest.mark.parametrize("branch", [False, True])
def test_lps_stopped_at_the_cutoff_prove_what_whole_lps_prove(monkeypatch, branch) -> None:
    """Probing and branching let the dual simplex stop once its bound passes
    the start's cost: the same proof, fixings and plan as with every LP solved
    to its optimum, and some LPs did stop there."""
    import highspy

    seen: list = []

    class Counting(highspy.Highs):
        whole = False

        def setOptionValue(self, name, value):
            if self.whole and name == "objective_bound":
                return highspy.HighsStatus.kOk
            return super().setOptionValue(name, value)

        def getModelStatus(self):
            status = super().getModelStatus()
            seen.append(status)
            return status

    monkeypatch.setattr(highspy, "Highs", Counting)
    # seed 4: probing and branching each stop LPs at the cutoff here (seed 3's
    # proof takes four LPs that all end at their optimum)
    ctx, profiles, model = cost_model(*_case(60, 2, 4, "collaborative"))
    model.prob.setObjective(model.total_cost)
    if branch:  # a costlier start: probing hands over to the branch and bound
        optimiser.set_start(model, costlier_start(profiles, ctx.builder.terms))
    else:  # the optimum, which probing proves
        _optimum(model)
    proofs = []
    for whole in (False, True):
        Counting.whole = whole
        highs, start = loaded_highs(model)
        proofs.append(
            optimiser.probe_root(highs, start, _columns(model), gap=0.0, deadline=1e12)
        )
        if not whole:
            assert highspy.HighsModelStatus.kObjectiveBound in seen
            seen.clear()
    assert highspy.HighsModelStatus.kObjectiveBound not in seen
    cut, full = proofs
    assert cut.proven and full.proven
    assert (cut.cost, cut.bound, cut.fixings) == (full.cost, full.bound, full.fixings)
    assert list(cut.plan) == list(full.plan)
    assert cut.lp_solves <= full.lp_solves


def test_a_costlier_start_is_not_proven_and_the_solve_still_finds_the_optimum() -> None:
    ctx, profiles, model = cost_model(*_case(60, 2, 3, "collaborative"))
    model.prob.setObjective(model.total_cost)
    optimum = _optimum(model)
    worse = costlier_start(profiles, ctx.builder.terms)
    optimiser.set_start(model, worse)
    start_cost = pulp.value(model.total_cost)
    assert start_cost > optimum + 1.0
    highs, values = loaded_highs(model)
    proof = optimiser.probe_root(
        highs, values, _columns(model), gap=0.0, deadline=1e12, branch=False
    )
    assert proof is not None and not proof.proven
    assert proof.bound <= optimum + optimiser.PROOF_TOLERANCE
    # fixings keep the start a valid incumbent for the MIP that follows
    assert all(values[j] == value for j, value in proof.fixings.items())
    optimiser.set_start(model, worse)
    result = optimiser.run_solver(
        model.prob,
        "highs",
        time_limit=60,
        gap=0,
        verbose=False,
        warm_start=True,
        probe=optimiser.probe_columns(model),
    )
    assert result.optimal
    assert pulp.value(model.total_cost) == pytest.approx(optimum, abs=0.01)


def test_a_start_that_breaks_a_row_is_not_probed() -> None:
    ctx, profiles, model = cost_model(*_case(60, 2, 3, "collaborative"))
    start = find_start(profiles, ctx.builder.terms, seconds=1.0)
    assert start is not None
    optimiser.set_start(model, start)
    model.x[0][0].varValue = (model.x[0][0].varValue or 0.0) + 1  # one site served twice
    highs, values = loaded_highs(model)
    assert optimiser.probe_root(highs, values, _columns(model), gap=0.0, deadline=1e12) is None


def test_the_plan_check_rejects_each_kind_of_breach() -> None:
    """The check a rounded LP solution must pass before branching takes it as
    a plan (and a start before probing): bounds, integrality and rows."""
    ctx, profiles, model = cost_model(*_case(40, 2, 5, "collaborative"))
    optimiser.set_start(model, find_start(profiles, ctx.builder.terms, seconds=1.0))
    highs, values = loaded_highs(model)
    arrays = optimiser._ModelArrays.of(highs.getLp())
    assert arrays.admits(values)
    x = model.x[0][0].index
    pair = values.copy()
    pair[x] = -1.0  # below its bound
    assert not arrays.admits(pair)
    pair = values.copy()
    pair[x] += 0.5  # fractional, and the profile's sites no longer add up
    assert not arrays.admits(pair)
    used = next(iter(model.used.values())).index
    pair = values.copy()
    pair[used] = 0.5  # fractional binary, within its bounds
    assert not arrays.admits(pair)
    served_twice = values.copy()
    served_twice[x] += 1.0  # integral and within bounds, but breaks the serve row
    assert served_twice[x] <= arrays.col_upper[x]
    assert not arrays.admits(served_twice)
    assert not arrays.admits(values[:-1])
    broken = values.copy()
    broken[0] = float("nan")
    assert not arrays.admits(broken)


def test_probing_stops_at_its_deadline_with_nothing_claimed() -> None:
    ctx, profiles, model = cost_model(*_case(60, 2, 3, "collaborative"))
    start = find_start(profiles, ctx.builder.terms, seconds=1.0)
    optimiser.set_start(model, start)
    highs, values = loaded_highs(model)
    assert optimiser.probe_root(highs, values, _columns(model), gap=0.0, deadline=0.0) is None


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    n_sites=st.integers(8, 60),
    n_orgs=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    route=st.sampled_from(["collaborative", "solo", "central"]),
)
def test_probing_changes_no_optimum(n_sites: int, n_orgs: int, seed: int, route: str) -> None:
    catalog, sites, scenario, orgs = _case(n_sites, n_orgs, seed, route)
    probed = optimiser.solve(catalog, sites, scenario, orgs, explain=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(optimiser, "probe_columns", lambda model: [])
        plain = optimiser.solve(catalog, sites, scenario, orgs, explain=False)
    assert probed.status == plain.status
    if plain.has_plan:
        assert probed.total_cost == pytest.approx(plain.total_cost, abs=0.01, rel=1e-6)
        assert probed.stats.outcome == plain.stats.outcome == "optimal"


def test_probed_coalitions_cost_what_unprobed_ones_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from procurement import coalitions
    from procurement.models import Route

    catalog, sites, scenario, orgs = _case(40, 3, 11, "collaborative")
    scenario = scenario.model_copy(update={"route": Route.COLLABORATIVE})
    players = [o.model_copy(update={"budget": None}) for o in orgs]
    engine = coalitions.CoalitionEngine(catalog, sites, scenario, players)
    costs = {}
    for probe in (False, True):
        monkeypatch.setattr(coalitions, "PROBE_COALITIONS", probe)
        for mask in range(1, 1 << len(players)):
            outcome, _ = engine.solve(mask)
            assert outcome.optimal
            costs.setdefault(mask, []).append(outcome.cost)
    for mask, (plain, probed) in costs.items():
        assert probed == pytest.approx(plain, abs=0.01), mask


def test_coalitions_hand_over_to_branching_sooner_than_route_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Route plans probe for PROBE_EFFORT root LPs, coalitions (starts seldom optimal)
    for COALITION_PROBE_EFFORT, before branching."""
    from procurement import coalitions
    from procurement.models import Route

    efforts: list[float] = []
    probe = optimiser.probe_root

    def spy(*args: Any, **kwargs: Any) -> Any:
        efforts.append(kwargs["effort"])
        return probe(*args, **kwargs)

    monkeypatch.setattr(optimiser, "probe_root", spy)
    monkeypatch.setattr(coalitions, "probe_root", spy)  # coalitions' cut models
    catalog, sites, scenario, orgs = _case(40, 3, 11, "collaborative")
    assert optimiser.solve(catalog, sites, scenario, orgs, explain=False).has_plan
    assert efforts and set(efforts) == {optimiser.PROBE_EFFORT}
    efforts.clear()
    scenario = scenario.model_copy(update={"route": Route.COLLABORATIVE})
    players = [o.model_copy(update={"budget": None}) for o in orgs]
    engine = coalitions.CoalitionEngine(catalog, sites, scenario, players)
    assert engine.solve(0b111)[0].optimal
    assert efforts and set(efforts) == {coalitions.COALITION_PROBE_EFFORT}
    assert coalitions.COALITION_PROBE_EFFORT < optimiser.PROBE_EFFORT


def _relaxation_optimum(
    model: Any, fixed: dict[int, float] | None = None, *, raised: int | None = None
) -> float:
    """The LP relaxation's optimum, by a fresh HiGHS with no start and no cutoff
    (``fixed`` columns at their values, column ``raised`` at 1 or more)."""
    import highspy

    highs, _ = loaded_highs(model)
    lp = highs.getLp()
    lp.integrality_ = []
    relax = highspy.Highs()
    relax.setOptionValue("output_flag", False)
    relax.passModel(lp)
    for j, value in (fixed or {}).items():
        relax.changeColBounds(j, value, value)
    if raised is not None:
        relax.changeColBounds(raised, 1.0, lp.col_upper_[raised])
    relax.run()
    if relax.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        return float("inf")
    assert relax.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(relax.getInfo().objective_function_value)


def _chains(model: Any) -> list[list[int]]:
    return [[var.index for var in chain] for chain in optimiser.probe_chains(model)]


def _probed(model: Any, **options: Any) -> Any:
    """Probing (no branching) of ``model``'s root around the plan its variables hold."""
    highs, values = loaded_highs(model)
    return optimiser.probe_root(
        highs, values, _columns(model), gap=0.0, deadline=1e12, branch=False, **options
    )


@pytest.mark.parametrize("from_roles", [False, True])
@pytest.mark.parametrize("start", ["optimal", "costlier"])
def test_the_root_bound_is_the_whole_relaxations(start: str, from_roles: bool) -> None:
    """The bound probing reports for the root is the whole relaxation's, whether
    it starts from the basis at the plan or (without one) solves the
    relaxation with the probed binaries held at the start's values first and
    then frees them: not the held one's (the start's own cost)."""
    ctx, profiles, model = cost_model(*_case(60, 2, 3, "collaborative"))
    model.prob.setObjective(model.total_cost)
    if start == "optimal":
        _optimum(model)
    else:
        optimiser.set_start(model, costlier_start(profiles, ctx.builder.terms))
    proof = _probed(model, roles=model.roles if from_roles else None)
    relaxation = _relaxation_optimum(model)
    assert relaxation < proof.start_cost - 1.0  # a real gap for probing to close
    assert proof.root_bound == pytest.approx(relaxation, rel=1e-9)


@pytest.mark.parametrize(("n_sites", "seed"), [(60, 3), (60, 4), (60, 5), (150, 7)])
@pytest.mark.parametrize("chains", [False, True])
def test_each_fixing_has_its_other_side_unable_to_beat_the_start(
    n_sites: int, seed: int, chains: bool
) -> None:
    """Probing tries the side of a binary the start is not on and keeps the
    start's side when that prunes: every binary it fixes, probed or implied
    along its chain, must have its other value bounded at the start's cost or
    above, with the other fixings held."""
    _, _, model = cost_model(*_case(n_sites, 2, seed, "collaborative"))
    model.prob.setObjective(model.total_cost)
    _optimum(model)
    proof = _probed(model, chains=_chains(model) if chains else ())
    probed = set(_columns(model))
    assert proof is not None and probed & set(proof.fixings)
    for j, value in proof.fixings.items():
        if j not in probed:  # priced out at the root: see the test below
            continue
        others = {k: v for k, v in proof.fixings.items() if k != j}
        far_side = _relaxation_optimum(model, {**others, j: 1.0 - value})
        assert far_side >= proof.start_cost - optimiser.PROOF_TOLERANCE - 1e-6


def test_a_fixing_fixes_what_it_implies_along_its_chain_without_an_lp() -> None:
    """A supplier's tiers are reached in order and only when it is used: a
    binary fixed at 1 fixes those before it in its chain at 1, one fixed at
    0 those after it at 0. Here (150 sites of two organisations, the optimum
    as the start) that proves the start in fewer LPs than probing each."""
    _, _, model = cost_model(*_case(150, 2, 7, "collaborative"))
    model.prob.setObjective(model.total_cost)
    _optimum(model)
    alone, chained = (_probed(model, chains=chains) for chains in ((), _chains(model)))
    assert alone.proven and chained.proven
    assert chained.lp_solves < alone.lp_solves
    assert len(chained.fixings) > len(alone.fixings)
    for chain in _chains(model):
        for position, j in enumerate(chain):
            if chained.fixings.get(j) == 1.0:
                assert all(chained.fixings.get(k) == 1.0 for k in chain[:position])
            if chained.fixings.get(j) == 0.0:
                assert all(chained.fixings.get(k) == 0.0 for k in chain[position + 1 :])


def test_chains_are_probed_from_the_binary_that_fixes_most_of_them() -> None:
    """Each chain keeps its place (where its first fractional binary was) and is
    probed from its highest binary at 1 in the start, or its lowest at 0."""
    chain_a, chain_b = (10, 11, 12, 13), (20, 21, 22)
    chain_of = {j: (chain, p) for chain in (chain_a, chain_b) for p, j in enumerate(chain)}
    start = np.zeros(30)
    start[[10, 11, 12]] = 1.0  # used, tiers 1 and 2 reached, tier 3 not
    order = optimiser._chain_order([21, 11, 5, 12, 13, 22, 20], start, chain_of)
    assert order == [20, 21, 22, 12, 11, 13, 5]


def test_an_lp_re_solved_after_many_gets_the_whole_time_left() -> None:
    """HiGHS compares ``time_limit`` with a run clock that adds up every run of
    the same object: probing and branching re-solve one object dozens of
    times, and a limit of just the seconds left stopped their later LPs at
    once, as if out of time."""
    import time

    import highspy

    from procurement.branching import run_lp

    _, _, model = cost_model(*_case(60, 2, 3, "collaborative"))
    highs, _ = loaded_highs(model)
    lp = highs.getLp()
    lp.integrality_ = []
    relax = highspy.Highs()
    relax.setOptionValue("output_flag", False)
    relax.setOptionValue("presolve", "off")
    relax.passModel(lp)
    while relax.getRunTime() < 1.0:  # earlier LPs, solved from scratch each time
        relax.clearSolver()
        relax.run()
    relax.clearSolver()
    took = time.perf_counter()
    relax.run()
    took = time.perf_counter() - took
    # one more such solve, given ten times as long as one takes (less than the
    # run clock holds already): whatever ran before, it has the time to finish
    window = max(10 * took, 0.1)
    assert window < relax.getRunTime()
    relax.clearSolver()
    status = run_lp(relax, time.perf_counter() + window)
    assert status == highspy.HighsModelStatus.kOptimal


def _priced_out(proof: Any, model: Any) -> dict[int, float]:
    """The fixings probing made by reduced costs (of count columns, not probed binaries)."""
    probed = set(_columns(model))
    return {j: v for j, v in proof.fixings.items() if j not in probed}


@pytest.mark.parametrize(("n_orgs", "seed"), [(2, 7), (3, 11)])
def test_columns_priced_out_at_the_root_cannot_be_raised_by_a_cheaper_plan(
    n_orgs: int, seed: int
) -> None:
    """Reduced-cost fixing: a count column deleted from the probed relaxation
    must have every plan that takes it (at one site or more) cost at least
    the start's, by the whole relaxation; checked on a sample of them, with
    no other fixing held. Only integer columns at a zero lower bound go, at 0.
    (From the optimum: from a costlier start the gap is too wide to price out
    enough columns at this size.)"""
    _, _, model = cost_model(*_case(150, n_orgs, seed, "collaborative"))
    model.prob.setObjective(model.total_cost)
    _optimum(model)
    proof = _probed(model, effort=0.0)
    gone = _priced_out(proof, model)
    variables = model.prob.variables()
    assert len(gone) >= optimiser.PRICE_OUT_MIN_SHARE * len(variables)
    assert set(gone.values()) == {0.0}
    assert all(variables[j].cat == pulp.LpInteger and variables[j].lowBound == 0 for j in gone)
    rng = np.random.default_rng(0)
    for j in rng.choice(sorted(gone), size=25, replace=False):
        raised = _relaxation_optimum(model, raised=int(j))
        assert raised >= proof.start_cost - optimiser.PROOF_TOLERANCE - 1e-6


@pytest.mark.parametrize(("n_sites", "n_orgs", "seed"), [(60, 2, 3), (150, 2, 7), (120, 3, 11)])
@pytest.mark.parametrize("start", ["optimal", "search"])
def test_pricing_out_changes_no_proof(
    monkeypatch: pytest.MonkeyPatch, n_sites: int, n_orgs: int, seed: int, start: str
) -> None:
    """Probing and branching with the priced-out columns deleted reach the same
    verdict, bound and plan cost as on the whole relaxation, from the
    optimum and from the local search's plan (a costlier start prices out
    nothing: its gap is too wide)."""
    ctx, profiles, model = cost_model(*_case(n_sites, n_orgs, seed, "collaborative"))
    model.prob.setObjective(model.total_cost)
    if start == "optimal":
        _optimum(model)
    else:
        optimiser.set_start(model, find_start(profiles, ctx.builder.terms, seconds=1.0))
    proofs = []
    for share in (optimiser.PRICE_OUT_MIN_SHARE, 2.0):  # 2.0: never price out
        monkeypatch.setattr(optimiser, "PRICE_OUT_MIN_SHARE", share)
        highs, values = loaded_highs(model)
        proofs.append(
            optimiser.probe_root(
                highs, values, _columns(model), gap=0.0, deadline=1e12, chains=_chains(model)
            )
        )
    priced, whole = proofs
    assert _priced_out(priced, model) and not _priced_out(whole, model)
    assert priced.proven == whole.proven
    assert priced.cost == pytest.approx(whole.cost, abs=0.01)
    assert priced.root_bound == pytest.approx(whole.root_bound, rel=1e-9)
    if priced.proven:
        assert priced.bound == pytest.approx(whole.bound, abs=0.01)
    # a cheaper plan found on the smaller relaxation is a plan of the whole model
    arrays = optimiser._ModelArrays.of(loaded_highs(model)[0].getLp())
    assert arrays.admits(priced.plan)
    assert float(arrays.cost @ priced.plan) == pytest.approx(priced.cost, abs=1e-6)


def test_column_space_maps_between_the_model_and_the_smaller_relaxation() -> None:
    keep = np.array([0, 2, 3, 6])
    new_of = np.full(7, -1)
    new_of[keep] = np.arange(4)
    space = optimiser._ColumnSpace(keep, new_of)
    x = np.arange(7, dtype=float) + 1.0
    assert space.restrict(x).tolist() == [1.0, 3.0, 4.0, 7.0]
    assert space.expand(np.array([9.0, 8.0, 7.0, 6.0])).tolist() == [9, 0, 8, 7, 0, 0, 6]
    assert space.indices([6, 1, 2]).tolist() == [3, 1]
    assert space.fixings({1: 1.0}) == {2: 1.0, 1: 0.0, 4: 0.0, 5: 0.0}
    whole = optimiser._ColumnSpace.whole(3)
    assert whole.fixings({2: 0.0}) == {2: 0.0} and whole.expand(np.ones(3)).tolist() == [1] * 3


def test_no_probing_effort_hands_the_root_straight_to_branching() -> None:
    """``effort`` 0 (coalitions): after the root LP nothing is probed and no
    probed binary fixed (count columns may be priced out)."""
    ctx, profiles, model = cost_model(*_case(60, 2, 3, "collaborative"))
    model.prob.setObjective(model.total_cost)
    optimiser.set_start(model, costlier_start(profiles, ctx.builder.terms))
    highs, values = loaded_highs(model)
    proof = optimiser.probe_root(
        highs, values, _columns(model), gap=0.0, deadline=1e12, branch=False, effort=0.0
    )
    assert proof is not None and not proof.proven
    assert proof.lp_solves == 2  # the root with the binaries held, then freed
    assert proof.fixings == _priced_out(proof, model)
    assert proof.bound == pytest.approx(proof.root_bound)
    probed = optimiser.probe_root(
        *loaded_highs(model), _columns(model), gap=0.0, deadline=1e12, branch=False
    )
    assert probed.lp_solves > 2


def test_branching_along_chains_proves_the_same_plan_in_fewer_nodes() -> None:
    """A coalition's branching (no probing) from the local search's plan: with the
    chains it branches on a supplier's highest tied tier first, and proves
    the same plan in fewer nodes (200 sites of four organisations: 7 nodes
    rather than 15)."""
    ctx, profiles, model = cost_model(*_case(200, 4, 5, "collaborative"))
    model.prob.setObjective(model.total_cost)
    optimiser.set_start(model, find_start(profiles, ctx.builder.terms, seconds=1.0))
    loaded_highs(model)  # gives the variables their columns
    proofs = []
    for chains in (_chains(model), ()):
        highs, values = loaded_highs(model)
        proofs.append(
            optimiser.probe_root(
                highs, values, _columns(model), gap=0.0, deadline=1e12, effort=0.0, chains=chains
            )
        )
    chained, alone = proofs
    assert chained.proven and alone.proven
    assert chained.cost == pytest.approx(alone.cost, abs=0.01)
    assert chained.nodes < alone.nodes


def test_probes_stopped_by_their_iteration_cap_prune_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe stopped at its iteration cap has no bound: it fixes nothing, and
    probing then branching still proves the same optimum. With a cap of one
    iteration most probes stop there; the whole-relaxation root is uncapped."""
    import highspy

    from procurement import branching

    _, _, model = cost_model(*_case(150, 2, 7, "collaborative"))
    model.prob.setObjective(model.total_cost)
    optimum = _optimum(model)
    statuses: list[Any] = []

    def spy(relax: Any, deadline: float) -> Any:
        statuses.append(branching.run_lp(relax, deadline))
        return statuses[-1]

    monkeypatch.setattr(optimiser, "run_lp", spy)
    monkeypatch.setattr(optimiser, "PROBE_ITERATION_SHARE", 0.0)
    monkeypatch.setattr(optimiser, "PROBE_MIN_ITERATIONS", 1)
    highs, values = loaded_highs(model)
    capped = optimiser.probe_root(
        highs, values, _columns(model), gap=0.0, deadline=1e12, chains=_chains(model)
    )
    stopped = statuses.count(highspy.HighsModelStatus.kIterationLimit)
    assert stopped > 0
    assert statuses[0] == highspy.HighsModelStatus.kOptimal  # the root ran whole
    assert capped.proven and capped.cost == pytest.approx(optimum, abs=0.01)
    # the branching ran after probing, on LPs without the cap (a capped
    # branching LP would have left the search unproven)
    assert capped.nodes > 0
    for j, value in capped.fixings.items():
        if j in set(_columns(model)):
            others = {k: v for k, v in capped.fixings.items() if k != j}
            far_side = _relaxation_optimum(model, {**others, j: 1.0 - value})
            assert far_side >= capped.start_cost - optimiser.PROOF_TOLERANCE - 1e-6
