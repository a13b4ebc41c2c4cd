"""Cost-sharing: textbook values, hand-computed games, and properties."""

from __future__ import annotations

import itertools
import json
import math
import pickle
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement.allocation import (
    Allocation,
    AllocationMethod,
    CostGame,
    allocate,
    best_coalition_without,
    core_check,
    individual_rationality_check,
    marginal_contributions,
    nucleolus,
    proportional,
    shapley_exact,
    shapley_sampled,
)

TOL = 1e-6


def game_of(costs: dict[str, float]) -> CostGame:
    """Game from ``{"ab": 3.0, ...}`` with one-letter players."""
    players = tuple(sorted({p for key in costs for p in key}))
    return CostGame(players, {frozenset(k): v for k, v in costs.items()})


def airport(heights: dict[str, float]) -> Callable[[frozenset[str]], float]:
    """Airport game: a coalition pays for the longest runway any member needs."""
    return lambda s: max(heights[p] for p in s)


def approx(values: dict[str, float], expected: dict[str, float], tol: float = TOL) -> bool:
    return values.keys() == expected.keys() and all(
        math.isclose(values[k], expected[k], abs_tol=tol) for k in values
    )


# ----------------------------------------------------------------------- textbook

TEXTBOOK = game_of({"a": 80.0, "b": 36.0, "ab": 85.0})


def test_textbook_two_users_shapley_and_proportional() -> None:
    # Shapley: a pays 1/2 * 80 + 1/2 * (85 - 36) = 64.5, b pays 85 - 64.5 = 20.5.
    assert approx(shapley_exact(TEXTBOOK), {"a": 64.5, "b": 20.5})
    shares = proportional(85.0, {"a": 80.0, "b": 36.0})
    assert {k: round(v, 2) for k, v in shares.items()} == {"a": 58.62, "b": 26.38}
    # Two players: the nucleolus splits the saving (31) equally too.
    assert approx(nucleolus(TEXTBOOK), {"a": 64.5, "b": 20.5})


def test_allocate_textbook_to_dict_matches_compare_json() -> None:
    result = allocate(TEXTBOOK, "shapley")
    assert isinstance(result, Allocation)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["method"] == "shapley" and data["exact"] is True
    assert [m["organisation"] for m in data["members"]] == ["a", "b"]
    a = data["members"][0]
    assert set(a) == {"organisation", "solo_cost", "allocated_cost", "saving", "std_error"}
    assert a["solo_cost"] == 80.0 and a["allocated_cost"] == pytest.approx(64.5)
    assert a["saving"] == pytest.approx(15.5) and a["std_error"] is None
    assert data["core"]["checked"] is True and data["core"]["blocking_coalitions"] == []
    assert data["core"]["empty"] is False and data["core"]["individually_rational"] is True


def test_proportional_edge_cases() -> None:
    assert proportional(9.0, {"a": 0.0, "b": 0.0, "c": 0.0}) == {"a": 3.0, "b": 3.0, "c": 3.0}
    with pytest.raises(ValueError):
        proportional(1.0, {"a": -1.0, "b": 2.0})


# ----------------------------------------------------------------------- hand-computed

AIRPORT = CostGame.from_function("123", airport({"1": 6.0, "2": 12.0, "3": 18.0}))


def test_airport_game_shapley_and_nucleolus_by_hand() -> None:
    # Runways 6, 12, 18: c(S) = max over S.
    # Shapley: the first 6 is shared by all three (2 each), the next 6 by
    # players 2 and 3 (3 each), the last 6 by player 3 alone: (2, 5, 11).
    assert approx(shapley_exact(AIRPORT), {"1": 2.0, "2": 5.0, "3": 11.0})
    # Nucleolus: e(1) = 6 - x1 and e(23) = 18 - x2 - x3 = x1 sum to 6, so the
    # smallest excess is at most 3: x1 = 3, level 3 fixed for {1} and {2,3}.
    # Then x2 + x3 = 15 and the free excesses are e(2) = 12 - x2,
    # e(3) = 18 - x3 = 3 + x2, e(12) = 12 - 3 - x2 = 9 - x2, e(13) = 18 - 3 - x3 = x2;
    # their minimum is largest where x2 = 9 - x2: x2 = 4.5, so (3, 4.5, 10.5).
    assert approx(nucleolus(AIRPORT), {"1": 3.0, "2": 4.5, "3": 10.5})
    for shares in (shapley_exact(AIRPORT), nucleolus(AIRPORT)):
        check = core_check(AIRPORT, shares)
        assert check.checked and check.empty is False
        assert check.blocking_coalitions == () and check.individually_rational


def test_large_costs_keep_precision_and_games_pickle() -> None:
    # Pounds over a term run to millions: tolerances are relative, so the
    # nucleolus is still exact to the penny and nothing spuriously blocks.
    big = CostGame.from_function("123", airport({"1": 6e6, "2": 12e6, "3": 18e6 + 0.01}))
    shares = nucleolus(big)
    assert approx(shares, {"1": 3e6, "2": 4.5e6, "3": 10.5e6 + 0.01}, tol=1e-3)
    assert core_check(big, shares).blocking_coalitions == ()
    assert pickle.loads(pickle.dumps(big)) == big


def test_airport_marginal_contributions_and_best_coalition_without() -> None:
    # Leaving out 1 or 2 saves nothing (18 is still needed); leaving out 3 saves 6.
    assert marginal_contributions(AIRPORT) == {"1": 0.0, "2": 0.0, "3": 6.0}
    # Without 3: {1, 2} costs 12 instead of 6 + 12, saving 6.
    assert best_coalition_without(AIRPORT, "3") == (("1", "2"), 6.0)
    # Without 1: {2, 3} saves 12 + 18 - 18 = 12.
    assert best_coalition_without(AIRPORT, "1") == (("2", "3"), 12.0)
    alone = CostGame(("x",), {frozenset("x"): 5.0})
    assert best_coalition_without(alone, "x") == ((), 0.0)
    with pytest.raises(ValueError):
        best_coalition_without(AIRPORT, "9")


def test_empty_core_detected_and_blocking_coalitions_reported() -> None:
    # c(i) = 1, c(ij) = 1, c(N) = 2: adding the three pair constraints gives
    # 2 x(N) <= 3, i.e. x(N) <= 1.5 < 2, so the core is empty. Shapley (and the
    # nucleolus, by symmetry) charge 2/3 each: every pair pays 4/3 > 1.
    game = game_of({"a": 1, "b": 1, "c": 1, "ab": 1, "ac": 1, "bc": 1, "abc": 2})
    shares = shapley_exact(game)
    assert approx(shares, dict.fromkeys("abc", 2 / 3))
    assert approx(nucleolus(game), dict.fromkeys("abc", 2 / 3))
    check = core_check(game, shares)
    assert check.empty is True
    assert check.blocking_coalitions == (("a", "b"), ("a", "c"), ("b", "c"))
    assert check.individually_rational


def test_pre_nucleolus_may_exceed_solo_cost_when_core_is_empty() -> None:
    # c(a)=1, c(b)=4, c(c)=6, c(ab)=6, c(ac)=6, c(bc)=0, c(N)=2.
    # e(a) + e(bc) = 1 + 0 - 2 = -1, so the first level is -1/2 with x_a = 1.5:
    # a is charged more than its solo cost 1. Then x_b + x_c = 0.5 and
    # min(e(b) = 4 - x_b, e(c) = 6 - x_c = 5.5 + x_b, e(ab) = 4.5 - x_b,
    # e(ac) = 4.5 - x_c = 4 + x_b) is largest at x_b = 0: x = (1.5, 0, 0.5).
    game = game_of({"a": 1, "b": 4, "c": 6, "ab": 6, "ac": 6, "bc": 0, "abc": 2})
    shares = nucleolus(game)
    assert approx(shares, {"a": 1.5, "b": 0.0, "c": 0.5})
    check = core_check(game, shares)
    assert check.empty is True and not check.individually_rational
    assert check.blocking_coalitions == (("a",), ("b", "c"))


def test_individual_rationality_check_for_sampled_case() -> None:
    check = individual_rationality_check({"a": 10.0, "b": 5.0}, {"a": 9.0, "b": 6.0})
    assert check.checked is False and check.empty is None
    assert check.blocking_coalitions == (("b",),) and not check.individually_rational
    assert check.to_dict()["blocking_coalitions"] == [["b"]]


# ----------------------------------------------------------------------- games and entry


def test_cost_game_construction_and_validation() -> None:
    calls: Counter[frozenset[str]] = Counter()

    def cost(s: frozenset[str]) -> float:
        calls[s] += 1
        return float(len(s))

    game = CostGame.from_function(["p", "q", "r", "s"], cost)
    assert len(calls) == 15 and set(calls.values()) == {1}
    assert game.grand_cost == 4.0 and game.cost([]) == 0.0 and game.cost("pq") == 2.0
    with pytest.raises(ValueError, match="no cost"):
        CostGame(("a", "b"), {frozenset("a"): 1.0, frozenset("ab"): 1.0})
    with pytest.raises(ValueError, match="empty coalition"):
        CostGame(("a",), {frozenset(): 1.0, frozenset("a"): 1.0})
    with pytest.raises(ValueError, match="duplicate"):
        CostGame(("a", "a"), {})
    with pytest.raises(ValueError, match="not finite"):
        CostGame(("a",), {frozenset("a"): math.nan})
    with pytest.raises(ValueError):
        CostGame.from_function([f"o{i}" for i in range(13)], cost)


def test_allocate_with_cost_function_exact_and_sampled() -> None:
    heights = {f"o{i:02d}": float(10 + 7 * i % 23) for i in range(13)}
    calls: Counter[frozenset[str]] = Counter()

    def cost(s: frozenset[str]) -> float:
        calls[s] += 1
        return airport(heights)(s) + 0.5 * len(s)

    players = list(heights)
    sampled = allocate(cost, "shapley", players=players, n_permutations=100, seed=7)
    assert sampled.exact is False and sampled.core.checked is False
    assert all(m.std_error is not None and m.std_error >= 0 for m in sampled.members)
    assert max(calls.values()) == 1  # memoised
    assert sum(sampled.shares.values()) == pytest.approx(cost(frozenset(players)))
    assert sampled.core.individually_rational

    calls.clear()
    prop = allocate(cost, AllocationMethod.PROPORTIONAL, players=players)
    assert prop.exact is True and len(calls) == 14  # c(N) and the 13 solo costs
    with pytest.raises(ValueError, match="nucleolus"):
        allocate(cost, "nucleolus", players=players)

    calls.clear()
    few = players[:4]
    exact = allocate(cost, "nucleolus", players=few)
    assert exact.exact and exact.core.checked and len(calls) == 15
    # Forcing sampling below the limit still gives an efficient answer.
    forced = allocate(cost, "shapley", players=few, exact_limit=3, n_permutations=50)
    assert not forced.exact
    assert sum(forced.shares.values()) == pytest.approx(cost(frozenset(few)))


def test_allocate_solo_costs_override() -> None:
    result = allocate(TEXTBOOK, "proportional", solo_costs={"a": 90.0, "b": 36.0})
    a, b = result.members
    assert a.solo_cost == 90.0 and a.saving == pytest.approx(90.0 - a.allocated_cost)
    assert a.allocated_cost == pytest.approx(85.0 * 90 / 126)
    assert b.allocated_cost == pytest.approx(85.0 * 36 / 126)


# ----------------------------------------------------------------------- properties


def masks_of(n: int) -> list[tuple[int, ...]]:
    return [c for r in range(1, n + 1) for c in itertools.combinations(range(n), r)]


def names(n: int) -> tuple[str, ...]:
    return tuple(f"org-{chr(ord('e') - i)}" for i in range(n))  # not in sorted order


def subadditive_closure(costs: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
    """Lower each c(S) to the cheapest split of S into two coalitions."""
    out: dict[frozenset[int], float] = {}
    for coalition in sorted(costs, key=len):
        s = frozenset(coalition)
        best = costs[coalition]
        for r in range(1, len(coalition)):
            for part in itertools.combinations(coalition, r):
                t = frozenset(part)
                best = min(best, out[t] + out[s - t])
        out[s] = best
    return {tuple(sorted(s)): v for s, v in out.items()}


@st.composite
def subadditive_games(draw: st.DrawFn, *, symmetric: bool = False) -> CostGame:
    """Random subadditive games (the core may be empty); with ``symmetric``,
    players 0 and 1 are interchangeable."""
    n = draw(st.integers(2, 5))
    raw: dict[tuple[int, ...], float] = {}
    for c in masks_of(n):
        key = c
        if symmetric:
            swapped = tuple(sorted({0: 1, 1: 0}.get(i, i) for i in c))
            key = min(c, swapped)
        if key not in raw:
            raw[key] = float(draw(st.integers(1, 60)) * len(key))
        raw[c] = raw[key]
    costs = subadditive_closure(raw)
    players = names(n)
    return CostGame(players, {frozenset(players[i] for i in c): v for c, v in costs.items()})


@st.composite
def concave_games(draw: st.DrawFn) -> CostGame:
    """Submodular cost games (economies of scale): a shared fixed cost (airport)
    plus concave functions of additive volumes. Their core is non-empty and
    contains the Shapley value."""
    n = draw(st.integers(2, 5))
    runway = [draw(st.integers(0, 50)) for _ in range(n)]
    volume = [draw(st.integers(0, 40)) for _ in range(n)]
    circuits = [draw(st.integers(0, 10)) for _ in range(n)]
    cap = draw(st.integers(1, 30))
    players = names(n)

    def cost(c: tuple[int, ...]) -> float:
        return (
            max(runway[i] for i in c)
            + 3.0 * math.sqrt(sum(volume[i] for i in c))
            + 2.0 * min(cap, sum(circuits[i] for i in c))
            + 0.5 * sum(circuits[i] for i in c)
        )

    return CostGame(players, {frozenset(players[i] for i in c): cost(c) for c in masks_of(n)})


any_games = st.one_of(subadditive_games(), concave_games())
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def total_tol(game: CostGame) -> float:
    return 1e-7 * max(1.0, max(abs(v) for v in game.costs.values()))


@PROPS
@given(any_games, st.sampled_from(list(AllocationMethod)))
def test_every_method_is_efficient(game: CostGame, method: AllocationMethod) -> None:
    result = allocate(game, method)
    assert math.fsum(result.shares.values()) == pytest.approx(game.grand_cost, abs=total_tol(game))
    for m in result.members:
        assert m.saving == pytest.approx(m.solo_cost - m.allocated_cost)


@PROPS
@given(subadditive_games(symmetric=True))
def test_symmetric_players_get_equal_shares(game: CostGame) -> None:
    a, b = game.players[:2]
    for shares in (shapley_exact(game), nucleolus(game)):
        assert shares[a] == pytest.approx(shares[b], abs=total_tol(game))


@PROPS
@given(concave_games())
def test_concave_games_shapley_and_nucleolus_in_core(game: CostGame) -> None:
    for shares in (shapley_exact(game), nucleolus(game)):
        check = core_check(game, shares)
        assert check.empty is False
        assert check.blocking_coalitions == () and check.individually_rational


@PROPS
@given(subadditive_games())
def test_nucleolus_in_core_whenever_core_is_non_empty(game: CostGame) -> None:
    check = core_check(game, nucleolus(game))
    if check.empty is False:
        assert check.blocking_coalitions == ()
    else:
        assert check.blocking_coalitions != ()  # nothing can be in an empty core


def sorted_excesses(game: CostGame, x: dict[str, float]) -> np.ndarray:
    proper = [s for s in game.costs if len(s) < game.n]
    return np.sort([game.costs[s] - math.fsum(x[p] for p in s) for s in proper])


def lex_greater(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    for u, v in zip(a, b, strict=True):
        if u > v + tol:
            return True
        if u < v - tol:
            return False
    return False


@PROPS
@given(any_games, st.integers(0, 2**32 - 1))
def test_no_efficient_perturbation_beats_the_nucleolus(game: CostGame, seed: int) -> None:
    """Independent check of the LP sequence: moving the nucleolus in any
    efficient direction never raises the sorted excess vector lexicographically."""
    x = nucleolus(game)
    best = sorted_excesses(game, x)
    rng = np.random.default_rng(seed)
    scale = max(abs(v) for v in game.costs.values())
    for step in (1e-3, 1e-2, 1e-1):
        for _ in range(15):
            d = rng.normal(size=game.n)
            d -= d.mean()
            y = {p: x[p] + step * scale * d[i] for i, p in enumerate(game.players)}
            assert not lex_greater(sorted_excesses(game, y), best, 1e-7 * scale)


@PROPS
@given(any_games, st.permutations(range(5)))
def test_nucleolus_does_not_depend_on_player_order(game: CostGame, order: list[int]) -> None:
    reordered = tuple(game.players[i] for i in order if i < game.n)
    again = nucleolus(CostGame(reordered, dict(game.costs)))
    first = nucleolus(game)
    for p in game.players:
        assert again[p] == pytest.approx(first[p], abs=total_tol(game) * 10)


def random_game(seed: int, n: int) -> CostGame:
    """Economies of scale plus noise (not concave, so marginals really vary)."""
    rng = np.random.default_rng(seed)
    runway = rng.integers(0, 50, n)
    volume = rng.integers(1, 40, n)
    noise = {c: float(rng.uniform(0, 5)) for c in masks_of(n)}
    players = names(n) if n <= 5 else tuple(f"o{i}" for i in range(n))
    costs = {
        frozenset(players[i] for i in c): float(
            max(runway[i] for i in c) + 4 * math.sqrt(sum(volume[i] for i in c)) + noise[c]
        )
        for c in masks_of(n)
    }
    return CostGame(players, costs)


@pytest.mark.parametrize(("seed", "n"), [(11, 5), (12, 6), (13, 7), (14, 8)])
def test_sampled_shapley_within_three_standard_errors(seed: int, n: int) -> None:
    game = random_game(seed, n)
    exact = shapley_exact(game)
    calls: Counter[frozenset[str]] = Counter()

    def cost(s: frozenset[str]) -> float:
        calls[s] += 1
        return game.costs[s]

    # Deterministic (fixed seeds), so it cannot flake. Over 1170 (seed, player)
    # pairs the z-scores had sd 1.04 and 0.7% beyond 3, so a seed can fail by
    # chance: the sampler seed is 0 for these four games.
    values, errors = shapley_sampled(game.players, cost, n_permutations=300, seed=0)
    assert max(calls.values()) == 1  # each coalition evaluated once
    assert math.fsum(values.values()) == pytest.approx(game.grand_cost, abs=1e-9)
    for p in game.players:
        assert errors[p] > 0
        assert abs(values[p] - exact[p]) <= 3 * errors[p], p


def test_antithetic_sampling_reduces_variance() -> None:
    game = random_game(5, 8)

    def cost(s: frozenset[str]) -> float:
        return game.costs[s]

    # Same number of cost-function passes (400 orders) both ways.
    _, plain = shapley_sampled(game.players, cost, 400, seed=1, antithetic=False)
    _, paired = shapley_sampled(game.players, cost, 200, seed=1, antithetic=True)
    assert sum(paired.values()) < sum(plain.values())


def test_exact_methods_refuse_more_than_twelve_players() -> None:
    players = [f"o{i}" for i in range(13)]
    game = CostGame(players, {frozenset(c): 1.0 for c in _all_coalitions(players)})
    with pytest.raises(ValueError, match="12"):
        shapley_exact(game)
    with pytest.raises(ValueError, match="12"):
        nucleolus(game)


def _all_coalitions(players: list[str]) -> list[tuple[str, ...]]:
    return [c for r in range(1, len(players) + 1) for c in itertools.combinations(players, r)]
