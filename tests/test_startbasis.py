"""The root LP's basis at a plan (``procurement.startbasis``).

Probing starts the LP relaxation from a basis written down from the model's
structure rather than one HiGHS crashes from the plan. The LP's optimum does
not depend on the basis (``test_probing`` checks the bounds and proofs);
these tests check that the basis is what it claims: accepted by HiGHS, at
exactly the plan, and (at the local search's plan, which is the optimum or
next to it of the relaxation with the supplier and tier binaries held at
the plan's values) a few hundred iterations from the relaxation's optimum
rather than thousands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import cost_model, generated_inputs, loaded_highs, sample_catalog

from procurement import optimiser
from procurement.incumbent import find_start
from procurement.models import Objective


def _relaxation(highs: Any) -> Any:
    """The model's LP relaxation as probing solves it."""
    return optimiser.lp_relaxation(highs.getLp())


def _whole_plan(profiles: list[Any]) -> dict:
    """Every profile's sites on its first pair and first wifi: a vertex, seldom optimal."""
    return {g: {(0, 0 if p.wifis else -1): p.count} for g, p in enumerate(profiles)}


def _loaded(model: Any, plan: dict) -> tuple[Any, np.ndarray]:
    optimiser.set_start(model, plan)
    return loaded_highs(model)


CASES = {
    "collaborative": ({}, False),
    "solo": ({"route": "solo"}, False),
    "partial service": ({"allow_partial": True}, False),
    "quality within budgets": ({"objective": Objective.QUALITY}, True),
    # rows added as PuLP constraints between the list rows: indices still in order
    "supplier rules": (
        {"max_suppliers": 17, "min_suppliers": 1, "max_supplier_share": 1.0},
        False,
    ),
}


@pytest.mark.parametrize(
    ("case", "plan"),
    [(case, plan) for case in CASES for plan in ("whole", "search")]
    + [("partial service", "one profile unserved")],
)
def test_the_basis_at_a_plan_is_that_plan(case: str, plan: str) -> None:
    """HiGHS accepts the basis, and its basic solution is the plan itself, every
    column (so each row's role names the right row), with nothing infeasible."""
    update, budgets = CASES[case]
    sites, organisations, scenario = generated_inputs(80, 3, 7)
    scenario = scenario.model_copy(update=update)
    ctx, profiles, model = cost_model(
        sample_catalog(), sites, scenario, organisations, budgets=budgets
    )
    if case == "partial service":
        assert model.roles.own and len(model.served_links) == len(profiles)
    if case == "quality within budgets":
        assert model.spend_links, "the quality model has spend rows to place"
    if case == "supplier rules":
        assert model.prob.made_constraints, "rows made as PuLP constraints"
    if plan == "search":
        chosen = find_start(profiles, ctx.builder.terms, seconds=1.0)
    else:
        chosen = _whole_plan(profiles)
        if plan == "one profile unserved":
            del chosen[0]
    highs, start = _loaded(model, chosen)
    arrays = optimiser._ModelArrays.of(highs.getLp())
    relax = _relaxation(highs)
    assert optimiser._set_basis(relax, *model.roles.statuses(start, arrays))
    relax.setOptionValue("simplex_iteration_limit", 0)
    relax.run()
    info = relax.getInfo()
    assert info.simplex_iteration_count == 0
    assert info.num_primal_infeasibilities == 0
    basic_solution = np.asarray(relax.getSolution().col_value)
    assert np.max(np.abs(basic_solution - start)) < 1e-6


@pytest.mark.parametrize("route", ["collaborative", "solo"])
def test_the_relaxation_starts_next_to_its_optimum(route: str) -> None:
    """At the local search's plan, the LP relaxation is solved from the basis
    in a small fraction of the iterations HiGHS needs from its own crash basis
    built from the same plan (200 sites of three organisations: 280 against
    3,336 bought together, 70 against 2,508 alone)."""
    import highspy

    sites, organisations, scenario = generated_inputs(200, 3, 1)
    scenario = scenario.model_copy(update={"route": route})
    ctx, profiles, model = cost_model(sample_catalog(), sites, scenario, organisations)
    highs, start = _loaded(model, find_start(profiles, ctx.builder.terms, seconds=1.0))
    arrays = optimiser._ModelArrays.of(highs.getLp())
    iterations, optima = [], []
    for from_roles in (True, False):
        relax = _relaxation(highs)
        if from_roles:
            assert optimiser._set_basis(relax, *model.roles.statuses(start, arrays))
        else:
            solution = highspy.HighsSolution()
            solution.col_value = start.tolist()
            solution.value_valid = True
            relax.setSolution(solution)
        relax.run()
        assert relax.getModelStatus() == highspy.HighsModelStatus.kOptimal
        iterations.append(relax.getInfo().simplex_iteration_count)
        optima.append(relax.getInfo().objective_function_value)
    assert optima[0] == pytest.approx(optima[1], rel=1e-9)
    assert iterations[0] * 5 < iterations[1], iterations


def test_a_basis_highs_refuses_leaves_probing_to_start_from_the_plan(monkeypatch) -> None:
    """A basis HiGHS refuses (here one of the wrong size: HiGHS repairs a
    basis of the right size with too few basic columns itself) leaves probing
    to hand HiGHS the plan, as before the basis; the proof is the same."""
    sites, organisations, scenario = generated_inputs(60, 2, 3)
    _, _, model = cost_model(sample_catalog(), sites, scenario, organisations)
    model.prob.setObjective(model.total_cost)
    assert optimiser.run_solver(model.prob, "highs", time_limit=60, gap=0, verbose=False).optimal
    highs, start = loaded_highs(model)
    columns = [var.index for var in optimiser.probe_columns(model)]
    proofs = [
        optimiser.probe_root(highs, start, columns, gap=0.0, deadline=1e12, roles=model.roles)
    ]
    refused: list[bool] = []
    set_basis = optimiser._set_basis

    def row_missing(highs: Any, col: np.ndarray, row: np.ndarray) -> bool:
        accepted = set_basis(highs, col, row[:-1])
        refused.append(not accepted)
        return accepted

    monkeypatch.setattr(optimiser, "_set_basis", row_missing)
    proofs.append(
        optimiser.probe_root(highs, start, columns, gap=0.0, deadline=1e12, roles=model.roles)
    )
    assert refused == [True]
    assert all(p is not None and p.proven for p in proofs)
    assert proofs[0].root_bound == pytest.approx(proofs[1].root_bound, rel=1e-9)
    assert proofs[0].start_cost == proofs[1].start_cost


def test_the_basis_is_handed_over_as_highs_own() -> None:
    """The plan's basis goes to HiGHS as its own, not *alien*: HiGHS checks
    its size but does not factorise it to repair it (a quarter of probing's
    set-up at 500 sites). So a basis with one basic column too few, of the
    right size, is refused (an alien one HiGHS would repair and accept), and
    the plan's own basis, with one basic column or slack per row, is taken."""
    sites, organisations, scenario = generated_inputs(60, 2, 3)
    ctx, profiles, model = cost_model(sample_catalog(), sites, scenario, organisations)
    highs, start = _loaded(model, find_start(profiles, ctx.builder.terms, seconds=1.0))
    arrays = optimiser._ModelArrays.of(highs.getLp())
    col, row = model.roles.statuses(start, arrays)
    basic = 1  # HiGHS's kBasic
    assert np.count_nonzero(col == basic) + np.count_nonzero(row == basic) == len(row)
    assert optimiser._set_basis(_relaxation(highs), col, row)
    short = row.copy()
    short[np.flatnonzero(short == basic)[0]] = 0  # a basic slack made nonbasic at its lower
    assert not optimiser._set_basis(_relaxation(highs), col, short)
