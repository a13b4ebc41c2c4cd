"""Coalition models cut from the consortium's (``procurement.submodel``) are the
models ``build_model`` makes for the coalitions, and solve to the same costs.

The cut model must match the built one where it matters to the optimum and
to every bound: the same columns, the same LP relaxation (the count-scaled
big-M coefficients decide it), the same plans. The engine's coalition costs
must not depend on which way the model was made.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pulp
import pytest
from conftest import generated_inputs, sample_catalog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import coalitions, optimiser
from procurement.costing import price
from procurement.incumbent import FlatProfiles, _flatten, find_priced_start
from procurement.models import Route
from procurement.options import with_wifi
from procurement.routes import compare_scenario
from procurement.submodel import CutModelError, ModelTemplate, coalition_profiles, cuttable

SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _engine(n_sites: int, n_orgs: int, seed: int, **update: Any) -> coalitions.CoalitionEngine:
    sites, orgs, scenario = generated_inputs(n_sites, n_orgs, seed)
    base, _ = compare_scenario(scenario.model_copy(update=update))
    owners = {s.organisation for s in sites}
    players = [o.model_copy(update={"budget": None}) for o in orgs if o.organisation in owners]
    return coalitions.CoalitionEngine(sample_catalog(), sites, base, players)


def _built(engine: coalitions.CoalitionEngine, mask: int) -> Any:
    """``build_model`` for the coalition's own sites, objective set."""
    profiles = optimiser.build_profiles(engine.sites_of(mask), engine.scenario, engine.builder)
    model = optimiser.build_model(
        profiles, engine.builder.terms, engine.scenario, total_budget=None, party_budgets={}
    )
    model.prob.setObjective(model.total_cost)
    return model


def _lp_optimum(arrays: Any) -> float:
    """The LP relaxation's optimum (inf when it has no solution)."""
    relax = arrays.relaxation()
    relax.run()
    status = relax.getModelStatus()
    if status == status.kInfeasible:
        return math.inf
    assert status == status.kOptimal
    return float(relax.getInfo().objective_function_value)


def _template(engine: coalitions.CoalitionEngine) -> Any:
    template = engine._cut_template()
    assert template is not None
    return template


def _searched(engine: coalitions.CoalitionEngine, template: Any, mask: int) -> tuple[Any, ...]:
    """The coalition's counts, profiles kept, their profiles, and the local search's
    plan over those profiles with its cost."""
    counts, kept, site_lists = template.members(mask)
    ids = [[engine.sites[k].site_id for k in ks] for ks in site_lists]
    profiles = coalition_profiles(template.model, kept, ids)
    found = find_priced_start(profiles, engine.builder.terms, seconds=1.0)
    assert found is not None
    return counts, kept, profiles, *found


#: scenario constraints a cut model keeps (party-wide rows that do not depend on its size)
CONSTRAINED = [
    {},
    {"max_suppliers": 3},
    {"min_suppliers": 2, "max_suppliers": 4},
    {"max_supplier_changes": 2},
    {"exclude_suppliers": ["britannia-networks"]},
]
#: generated consortia, under each of those scenarios
CONSORTIA = given(
    n_sites=st.integers(12, 50),
    n_orgs=st.integers(2, 4),
    seed=st.integers(0, 10_000),
    constraints=st.sampled_from(CONSTRAINED),
)


@SETTINGS
@CONSORTIA
def test_cut_models_are_the_built_models(
    n_sites: int, n_orgs: int, seed: int, constraints: dict[str, Any]
) -> None:
    engine = _engine(n_sites, n_orgs, seed, **constraints)
    template = _template(engine)
    for mask in range(1, 1 << len(engine.players)):
        if mask & engine.unservable_mask:
            continue
        counts, _, _ = template.members(mask)
        cut = template.model.cut(counts)
        built = _built(engine, mask)
        arrays = optimiser.model_arrays(built.prob)
        # the same columns: counts, wifi, sites per supplier, discounts, and the
        # suppliers and tiers the coalition can reach
        assert len(cut.arrays.cost) == len(arrays.cost), mask
        assert len(cut.arrays.integer) == len(arrays.integer), mask
        assert sorted(cut.arrays.cost) == pytest.approx(sorted(arrays.cost))
        assert sorted(cut.arrays.col_upper) == pytest.approx(sorted(arrays.col_upper))
        assert len(cut.probe) == len(optimiser.probe_columns(built)), mask
        # the same relaxation, where the count-scaled coefficients decide the bound
        assert _lp_optimum(cut.arrays) == pytest.approx(_lp_optimum(arrays), rel=1e-9, abs=1e-6)
        assert len(cut.arrays.row_lower) >= len(arrays.row_lower)  # rows binding nothing kept


@SETTINGS
@CONSORTIA
def test_cut_coalitions_cost_what_built_ones_do(
    n_sites: int, n_orgs: int, seed: int, constraints: dict[str, Any]
) -> None:
    cut_engine = _engine(n_sites, n_orgs, seed, **constraints)
    built_engine = _engine(n_sites, n_orgs, seed, **constraints)
    built_engine._template_made = True  # no template: every coalition built
    for mask in range(1, 1 << len(cut_engine.players)):
        cut, cut_choice = cut_engine.solve(mask)
        built, _ = built_engine.solve(mask)
        assert cut.status == built.status, mask
        if built.cost is None:
            continue
        assert cut.cost == pytest.approx(built.cost, abs=0.01, rel=1e-6), mask
        assert cut_choice is not None
        assert cut_engine.choice_cost(cut_choice) == pytest.approx(cut.cost, abs=1e-6)
        np.testing.assert_array_equal(
            np.flatnonzero(cut_choice[:, 0] >= 0), cut_engine.site_indices(mask)
        )
    # every coalition with a plan and a start was settled on its cut model
    assert cut_engine._template is not None
    assert cut_engine.cut_fallbacks <= (0 if not constraints else 1 << len(cut_engine.players))


def test_plan_values_are_those_set_start_gives() -> None:
    engine = _engine(40, 3, 5)
    template = _template(engine)
    model = template.model
    found = find_priced_start(model.profiles, engine.builder.terms, seconds=1.0)
    assert found is not None
    plan, cost = found
    values = model.values(plan)
    # the template's own PuLP model, given the plan by set_start
    built = _built_template(engine)
    optimiser.set_start(built, plan)
    expected = np.array([v.varValue for v in built.prob.variables()])
    np.testing.assert_allclose(values, expected, atol=1e-9)
    assert float(model.arrays.cost @ values) == pytest.approx(cost, abs=0.01)
    assert model.arrays.admits(values)


def _built_template(engine: coalitions.CoalitionEngine) -> Any:
    """The consortium's model as the template is made from it, columns indexed."""
    model = _built(engine, engine.full_mask)
    optimiser.model_arrays(model.prob)  # same column order as the template's
    return model


def test_a_plan_handed_out_is_the_plan_read_back() -> None:
    """values -> hand_out -> choice -> the start plan again, for each coalition."""
    engine = _engine(45, 3, 8)
    template = _template(engine)
    for mask in range(1, 8):
        counts, kept, profiles, plan, cost = _searched(engine, template, mask)
        assert [p.count for p in profiles] == counts[kept].tolist()
        values = template.model.values({int(kept[i]): c for i, c in plan.items()})
        choice = template.hand_out(engine, values, mask)
        np.testing.assert_array_equal(np.flatnonzero(choice[:, 0] >= 0), engine.site_indices(mask))
        assert engine.choice_cost(choice) == pytest.approx(cost, abs=0.01)
        assert coalitions._start_plan(profiles, choice, engine) == {
            g: {k: n for k, n in combos.items() if n} for g, combos in plan.items()
        }


def test_the_local_search_arrays_of_a_subset_are_those_of_the_subset() -> None:
    engine = _engine(60, 4, 2)
    profiles = _template(engine).model.profiles
    flat = FlatProfiles.of(profiles, engine.builder.terms)
    rng = np.random.default_rng(0)
    for _ in range(5):
        kept = np.flatnonzero(rng.random(len(profiles)) < 0.5)
        sizes = rng.integers(1, 4, len(kept))
        combos, keys = flat.subset(kept, sizes)
        subset = [profiles[g] for g in kept]
        expected, expected_keys = _flatten(subset, engine.builder.terms)
        assert keys.keys == expected_keys.keys
        for field in (
            "profile",
            "pair",
            "wifi",
            "one_off",
            "fixed_rec",
            "rec_key",
            "rec",
            "use_key",
            "start",
            "met",
            "met_first",
        ):
            np.testing.assert_array_equal(getattr(combos, field), getattr(expected, field), field)
        np.testing.assert_array_equal(combos.size, sizes)


def test_the_cut_models_basis_is_accepted() -> None:
    """The start basis (startbasis roles, cut with the model) is HiGHS's own at the plan."""
    engine = _engine(45, 3, 8)
    template = _template(engine)
    for mask in (0b001, 0b011, 0b110, 0b111):
        counts, kept, _, plan, _ = _searched(engine, template, mask)
        cut = template.model.cut(counts)
        # every role the built model's rows have, the cut model's have
        built = _built(engine, mask)
        optimiser.model_arrays(built.prob)
        roles = built.roles.indexed()
        for groups in ("serve", "wifi"):
            mine, theirs = getattr(cut.roles, groups), getattr(roles, groups)
            assert len(mine.rows) == len(theirs.rows) and len(mine.columns) == len(theirs.columns)
        for field in ("own_rows", "rate_rows", "tier_rows", "discounts", "tiers"):
            assert len(getattr(cut.roles, field)) == len(getattr(roles, field)), field
        start = template.model.values({int(kept[i]): c for i, c in plan.items()})[cut.columns]
        assert cut.arrays.admits(start)
        relax = cut.arrays.relaxation()
        assert optimiser._set_basis(relax, *cut.roles.statuses(start, cut.arrays)), mask
        # a basis at the plan: its basic solution is the plan
        relax.setOptionValue("simplex_iteration_limit", 0)
        relax.run()
        np.testing.assert_allclose(relax.getSolution().col_value, start, atol=1e-6)


def test_a_coalition_the_cut_model_does_not_settle_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = _engine(30, 3, 4)
    expected = {mask: engine.solve(mask)[0].cost for mask in range(1, 8)}
    assert engine.cut_fallbacks == 0
    monkeypatch.setattr(coalitions, "probe_root", lambda *args, **kwargs: None)
    for mask, cost in expected.items():
        outcome, choice = engine.solve(mask)
        assert outcome.optimal and choice is not None
        assert outcome.cost == pytest.approx(cost, abs=0.01)
    assert engine.cut_fallbacks == 7


def test_a_plan_handed_out_at_another_cost_than_proven_is_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cut path checks the choice it hands out against the plan it proved."""
    engine = _engine(30, 3, 4)
    expected = {mask: engine.solve(mask)[0].cost for mask in range(1, 8)}
    priced = coalitions.CoalitionEngine.choice_cost
    monkeypatch.setattr(
        coalitions.CoalitionEngine, "choice_cost", lambda self, choice: priced(self, choice) + 1.0
    )
    for mask, cost in expected.items():
        outcome, _ = engine.solve(mask)
        assert outcome.optimal and outcome.cost == pytest.approx(cost, abs=0.01)
    assert engine.cut_fallbacks == 7  # each solved on a built model, priced by costing.price


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choices_are_priced_as_costing_prices_their_bundles(seed: int) -> None:
    """``choice_cost`` (what the cut path reports) against :func:`costing.price`, on
    random plans: links drawn from each profile's options, so sites often buy
    two links, or a link and wifi, from one supplier (counted once)."""
    engine = _engine(60, 3, seed)
    rng = np.random.default_rng(seed)
    profiles = _template(engine).model.profiles
    for mask in (0b001, 0b011, 0b111):
        bundles = {}
        for profile in profiles:
            for site_id in profile.site_ids:
                if not mask >> int(engine.site_bit[engine.index[site_id]]) & 1:
                    continue
                pair = profile.pairs[rng.integers(len(profile.pairs))]
                if profile.wifis:
                    pair = with_wifi(pair, profile.wifis[rng.integers(len(profile.wifis))])
                bundles[site_id] = pair
        choice = engine.choice_of_bundles(bundles)
        assert choice is not None
        priced = price(
            bundles,
            engine.sites_of(mask),
            engine.organisations_of(mask),
            engine.scenario,
            engine.builder.terms,
        )
        assert engine.choice_cost(choice) == pytest.approx(priced.total_cost, abs=1e-6)


def test_only_scenarios_nothing_else_sizes_are_cut() -> None:
    assert _engine(20, 2, 1)._cut_template() is not None
    share = _engine(20, 2, 1, max_supplier_share=0.6)
    assert not cuttable(share.scenario) and share._cut_template() is None
    cbc = _engine(20, 2, 1)
    cbc.solver = "cbc"
    assert cbc._cut_template() is None
    assert _engine(20, 2, 1).scenario.route == Route.COLLABORATIVE


def test_a_model_whose_counts_enter_elsewhere_is_refused() -> None:
    """The template checks where counts enter instead of assuming it."""
    engine = _engine(20, 2, 1)
    model = _built_template(engine)
    x = next(row[0] for row in model.x if len(row))
    x.upBound = x.upBound + 1
    model.prob._known = None  # the bounds are read again
    with pytest.raises(CutModelError, match="upper bound"):
        ModelTemplate(model)
    assert pulp.LpInteger == x.cat


def test_a_template_that_cannot_be_made_leaves_coalitions_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No traceback for the user: coalitions are then built and solved as before."""
    expected = {mask: _engine(30, 3, 4).solve(mask)[0].cost for mask in (0b011, 0b111)}

    def refuse(model: Any) -> None:
        raise CutModelError("a profile row's bound is not zero or the profile's site count")

    monkeypatch.setattr(coalitions, "ModelTemplate", refuse)
    engine = _engine(30, 3, 4)
    for mask, cost in expected.items():
        outcome, _ = engine.solve(mask)
        assert outcome.optimal and outcome.cost == pytest.approx(cost, abs=0.01)
    assert engine._cut_template() is None
