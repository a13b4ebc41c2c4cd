"""The local search that hands the MILP its first plan.

The search is a heuristic, so its plans are checked, not trusted: every start
must be a complete plan that satisfies every row of the model it is loaded
into, and the model must value it at exactly what the SPEC's pricing charges
for the same links (so the tier binaries and discounts it sets are the ones
the plan earns). The MILP's own optimum is never worse than the start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pulp
import pytest
from conftest import catalog as make_catalog
from conftest import cost_model, generated_inputs, offering, scenario, site, supplier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import optimiser
from procurement.costing import price
from procurement.incumbent import _upper_hull, find_priced_start, find_quality_start, find_start
from procurement.inputs import load_catalog
from procurement.models import VolumeTier

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_catalog():
    return load_catalog(ROOT / "catalog")


def _loaded(cat, sites, scn, orgs=None):
    ctx, profiles, model = cost_model(cat, sites, scn, orgs)
    start = find_start(profiles, ctx.builder.terms)
    assert start is not None
    optimiser.set_start(model, start)
    return ctx, profiles, model, start


def _assert_valid_start(ctx, profiles, model, start) -> None:
    for g, profile in enumerate(profiles):
        assert sum(start.get(g, {}).values()) == profile.count  # every site served once
    broken = [c.name for c in model.prob.constraints() if not c.valid(1e-6)]
    assert broken == []
    for var in model.prob.variables():
        assert var.lowBound is None or var.varValue >= var.lowBound - 1e-9
        assert var.upBound is None or var.varValue <= var.upBound + 1e-9
        if var.cat == pulp.LpInteger:
            assert var.varValue == round(var.varValue)
    choice = optimiser.chosen_bundles(model)
    priced = price(choice, ctx.sites, ctx.organisations, ctx.scenario, ctx.builder.terms)
    assert pulp.value(model.total_cost) == pytest.approx(priced.total_cost, rel=1e-9, abs=1e-6)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n_sites=st.integers(5, 80),
    n_orgs=st.integers(1, 3),
    route=st.sampled_from(["solo", "collaborative", "central"]),
)
def test_start_is_a_valid_plan_priced_as_the_spec_prices_it(
    sample_catalog, seed, n_sites, n_orgs, route
) -> None:
    sites, orgs, scn = generated_inputs(n_sites, min(n_orgs, n_sites), seed)
    scn = scn.model_copy(update={"route": route})
    ctx, profiles, model, start = _loaded(sample_catalog, sites, scn, orgs)
    _assert_valid_start(ctx, profiles, model, start)
    # the cost the search gives with its plan is the model's (so the SPEC's) cost of it
    priced = find_priced_start(profiles, ctx.builder.terms)
    assert priced is not None and priced[0] == start
    assert priced[1] == pytest.approx(pulp.value(model.total_cost), rel=1e-9, abs=1e-6)
    # the MILP proves the optimum: the start can only be matched or beaten
    plan = optimiser.solve(sample_catalog, sites, scn.model_copy(update={"budget": None}))
    assert plan.total_cost <= pulp.value(model.total_cost) + 0.01


def _tiered_market() -> tuple:
    """Two fibre suppliers: ``cheap`` without tiers, ``volume`` cheaper only at 4+ sites.

    Per site over 12 months: cheap 100 * 12 = 1,200; volume 110 * 12 = 1,320 at
    list price, 1,320 * 0.85 = 1,122 with its 15% tier at 4 sites.
    """
    cheap = supplier("cheap", [offering("cheap-f", monthly_cost=100, install_cost=0)])
    volume = supplier(
        "volume",
        [offering("volume-f", monthly_cost=110, install_cost=0)],
        volume_discounts=[VolumeTier(min_sites=4, discount=0.15)],
    )
    return make_catalog(cheap, volume)


def test_search_pushes_a_supplier_over_its_tier_when_that_pays() -> None:
    """Four sites: all on ``volume`` (4 * 1,122 = 4,488) beats all on ``cheap`` (4,800)."""
    cat = _tiered_market()
    sites = [site(f"s{i}", bandwidth_mbps=10) for i in range(4)]
    ctx, profiles, model, start = _loaded(cat, sites, scenario(term_months=12))
    _assert_valid_start(ctx, profiles, model, start)
    assert pulp.value(model.total_cost) == pytest.approx(4 * 1122)


def test_search_leaves_a_tier_unreached_when_it_does_not_pay() -> None:
    """Three sites cannot reach the tier: ``cheap`` it is (3 * 1,200)."""
    cat = _tiered_market()
    sites = [site(f"s{i}", bandwidth_mbps=10) for i in range(3)]
    ctx, profiles, model, start = _loaded(cat, sites, scenario(term_months=12))
    _assert_valid_start(ctx, profiles, model, start)
    assert pulp.value(model.total_cost) == pytest.approx(3 * 1200)


def test_unlike_sites_share_a_tier() -> None:
    """Three plain sites and one that only ``volume`` can serve (1 Gbps).

    ``big`` is on ``volume`` in any plan; the plain sites joining it lift
    ``volume`` to its 4-site tier, which beats buying them from ``cheap``.
    """
    cheap = supplier("cheap", [offering("cheap-f", monthly_cost=100, install_cost=0)])
    volume = supplier(
        "volume",
        [
            offering("volume-f", monthly_cost=110, install_cost=0),
            offering("volume-big", monthly_cost=200, install_cost=0, download_mbps=1000),
        ],
        volume_discounts=[VolumeTier(min_sites=4, discount=0.15)],
    )
    cat = make_catalog(cheap, volume)
    sites = [site(f"s{i}", bandwidth_mbps=10) for i in range(3)]
    sites.append(site("big", bandwidth_mbps=900))
    ctx, profiles, model, start = _loaded(cat, sites, scenario(term_months=12))
    _assert_valid_start(ctx, profiles, model, start)
    all_volume = (3 * 110 + 200) * 12 * 0.85
    split = 3 * 1200 + 200 * 12
    assert all_volume < split
    assert pulp.value(model.total_cost) == pytest.approx(all_volume)


def test_search_closes_a_supplier_whose_fees_outweigh_its_saving() -> None:
    """``pricey-fees`` is 10 a month cheaper per site but charges 1,000 in fees.

    Two sites save 2 * 10 * 12 = 240 < 1,000: both stay with ``cheap``.
    """
    cheap = supplier("cheap", [offering("cheap-f", monthly_cost=100, install_cost=0)])
    fees = supplier(
        "pricey-fees",
        [offering("fees-f", monthly_cost=90, install_cost=0)],
        fees={"onboarding": 1000, "annual_management": 0},
    )
    cat = make_catalog(cheap, fees)
    sites = [site(f"s{i}", bandwidth_mbps=10) for i in range(2)]
    ctx, profiles, model, start = _loaded(cat, sites, scenario(term_months=12))
    _assert_valid_start(ctx, profiles, model, start)
    assert pulp.value(model.total_cost) == pytest.approx(2 * 1200)


def test_no_start_without_options() -> None:
    assert find_start([], {}) is None


# ----------------------------------------------------------- a start for the quality stage


def test_upper_hull_keeps_only_the_best_quality_per_pound_steps() -> None:
    # (cost, quality): (2.5, 2) costs more than (2, 3) for less; (3.5, 4.2) lies
    # under the segment (3, 4) -> (4, 4.5) at 4.25, so it never pays to stop there
    cost = np.array([3.0, 1.0, 2.5, 2.0, 4.0, 3.5])
    quality = np.array([4.0, 1.0, 2.0, 3.0, 4.5, 4.2])
    assert _upper_hull(cost, quality) == [1, 3, 0, 4]


def _quality_market() -> tuple:
    """``basic`` fibre at £100 a month (quality 2), ``premium`` at £150 (quality 5).

    Over 12 months a site costs 1,200 on basic and 1,800 on premium: an
    upgrade is 600 for 3 more quality.
    """
    basic = supplier("basic", [offering("basic-f", monthly_cost=100, install_cost=0,
                                       quality_score=2)])
    premium = supplier("premium", [offering("premium-f", monthly_cost=150, install_cost=0,
                                           quality_score=5)])
    return make_catalog(basic, premium)


def _quality_loaded(cat, sites, scn, orgs=None):
    """The model with its budget rows, the cheapest start and the quality start."""
    ctx, profiles, model = cost_model(cat, sites, scn, orgs, budgets=True)
    cheapest = find_start(profiles, ctx.builder.terms)
    assert cheapest is not None
    best = find_quality_start(
        profiles,
        ctx.builder.terms,
        cheapest,
        total_budget=ctx.total_budget,
        party_budgets=ctx.party_budgets,
        quality=[[pair.quality for pair in p.pairs] for p in profiles],
    )
    return ctx, profiles, model, cheapest, best


@pytest.mark.parametrize(
    ("budget", "upgraded"),
    [(4_800, 0), (5_400, 1), (5_999, 1), (6_000, 2), (7_200, 4), (99_000, 4)],
)
def test_quality_start_upgrades_as_many_sites_as_the_budget_allows(budget, upgraded) -> None:
    """Four sites, 4,800 at the cheapest; each 600 more buys one premium site."""
    sites = [site(f"s{i}", bandwidth_mbps=10) for i in range(4)]
    scn = scenario(term_months=12, objective="quality", budget=budget)
    ctx, profiles, model, _, best = _quality_loaded(_quality_market(), sites, scn)
    if upgraded == 0:
        assert best is None  # nothing fits: the cheapest plan stays the start
        return
    assert best is not None
    optimiser.set_start(model, best)
    _assert_valid_start(ctx, profiles, model, best)  # the budget row included
    assert pulp.value(model.total_cost) == pytest.approx(4_800 + 600 * upgraded)
    assert pulp.value(model.quality) == pytest.approx(2 * (4 - upgraded) + 5 * upgraded)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n_sites=st.integers(5, 80),
    n_orgs=st.integers(1, 3),
    route=st.sampled_from(["solo", "collaborative", "central"]),
    tightness=st.sampled_from([1.0, 0.5, 0.3]),
)
def test_quality_start_is_within_every_budget_and_adds_quality(
    sample_catalog, seed, n_sites, n_orgs, route, tightness
) -> None:
    """On generated portfolios (budgets scaled down to bind), the quality start
    satisfies every row of the budgeted model and beats the cheapest plan's quality."""
    sites, generated_orgs, scn = generated_inputs(n_sites, min(n_orgs, n_sites), seed)
    orgs = [o.model_copy(update={"budget": o.budget * tightness}) for o in generated_orgs]
    total = sum(o.budget for o in orgs)
    scn = scn.model_copy(update={"route": route, "objective": "quality", "budget": total})
    ctx, profiles, model, cheapest, best = _quality_loaded(sample_catalog, sites, scn, orgs)
    if best is None:
        return  # no upgrade fits, or the cheapest plan is itself over a budget
    optimiser.set_start(model, cheapest)
    base_quality = pulp.value(model.quality)
    optimiser.set_start(model, best)
    _assert_valid_start(ctx, profiles, model, best)
    assert pulp.value(model.quality) > base_quality


@pytest.mark.parametrize("route", ["collaborative", "solo", "central"])
def test_combos_are_every_pair_with_every_wifi_option_of_each_profile(route) -> None:
    """The flattened combos, built for all profiles at once, are each profile's
    pairs crossed with its wifi options, pair by pair, with their charges as the
    bundles give them: keys in order of first use, flat discounts applied."""
    from conftest import sample_catalog

    from procurement.incumbent import _flatten

    sites, orgs, scn = generated_inputs(150, 3, seed=4)
    scn = scn.model_copy(update={"route": route})
    ctx = optimiser._context(sample_catalog(), sites, scn, orgs, None)
    profiles = optimiser.build_profiles(ctx.sites, ctx.scenario, ctx.builder)
    terms = ctx.builder.terms
    combos, keys = _flatten(profiles, terms)
    expected_keys: dict = {}
    row = 0
    for g, profile in enumerate(profiles):
        assert combos.start[g] == row and combos.size[g] == profile.count
        # keys numbered as first met: the profile's pairs, then its wifi options
        for supplier_id in [p for pair in profile.pairs for p in pair.suppliers] + [
            w.supplier_id for w in profile.wifis
        ]:
            expected_keys.setdefault((profile.party, supplier_id), len(expected_keys))
        wifis = profile.wifis or (None,)
        for j, pair in enumerate(profile.pairs):
            charges = list(pair.charges)
            for w in wifis:
                wifi = [] if w is None else [(w.supplier_id, w.one_off, w.recurring_list)]
                links = charges + wifi
                assert (combos.profile[row], combos.pair[row]) == (g, j)
                assert combos.wifi[row] == (-1 if w is None else profile.wifis.index(w))
                assert combos.one_off[row] == pytest.approx(sum(o for _, o, _ in links))
                fixed, rec_keys, recs = 0.0, [], []
                for supplier_id, _, recurring in links:
                    k = expected_keys[(profile.party, supplier_id)]
                    flat = terms[supplier_id].flat_discount
                    rec_keys.append(k)
                    recs.append(recurring if flat is None else 0.0)
                    fixed += 0.0 if flat is None else (1 - flat) * recurring
                if w is None:
                    pad = 3 - len(rec_keys)
                    rec_keys, recs = rec_keys + [-1] * pad, recs + [0.0] * pad
                elif len(charges) == 1:
                    rec_keys.insert(1, -1)  # the pair's empty second charge
                    recs.insert(1, 0.0)
                assert list(combos.rec_key[row]) == rec_keys
                assert list(combos.rec[row]) == pytest.approx(recs)
                assert combos.fixed_rec[row] == pytest.approx(fixed)
                distinct = [k if k not in rec_keys[:i] else -1 for i, k in enumerate(rec_keys)]
                assert list(combos.use_key[row]) == distinct
                row += 1
    assert row == len(combos.profile)
    assert keys.keys == list(expected_keys)


@pytest.mark.parametrize("route", ["collaborative", "solo"])
def test_dense_and_sparse_pricing_agree(monkeypatch, route) -> None:
    """Small searches price and count with dense (combo x key) matrices, big
    ones with sparse entries: both give the same unit costs, site counts and
    fees for any discounts and plan, and the same start."""
    from conftest import sample_catalog

    from procurement import incumbent

    sites, orgs, scn = generated_inputs(150, 3, seed=4)
    scn = scn.model_copy(update={"route": route})
    ctx = optimiser._context(sample_catalog(), sites, scn, orgs, None)
    profiles = optimiser.build_profiles(ctx.sites, ctx.scenario, ctx.builder)
    combos, keys = incumbent._flatten(profiles, ctx.builder.terms)
    dense = incumbent._Search(combos, keys)
    monkeypatch.setattr(incumbent, "DENSE_MAX_ENTRIES", 0)
    sparse = incumbent._Search(combos, keys)
    assert dense._rec_matrix is not None and sparse._rec_matrix is None
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = rng.uniform(0, 0.3, size=dense.n_keys)
        counts = rng.integers(0, 4, size=len(combos.profile))
        fees = rng.uniform(0, 5_000, size=dense.n_keys)
        np.testing.assert_allclose(dense.unit_costs(d), sparse.unit_costs(d), rtol=1e-12)
        np.testing.assert_array_equal(dense.site_counts(counts), sparse.site_counts(counts))
        np.testing.assert_allclose(dense.key_fees(fees), sparse.key_fees(fees), rtol=1e-12)
    found = find_start(profiles, ctx.builder.terms)
    monkeypatch.setattr(incumbent, "DENSE_MAX_ENTRIES", 1 << 40)
    assert find_start(profiles, ctx.builder.terms) == found
