"""Sharing a consortium's cost fairly: cooperative cost games.

Pure functions on a cost game ``c(S)`` (the optimal cost of coalition ``S``
buying together); nothing here knows about catalogues or the optimiser. The
caller evaluates ``c`` (usually one MILP per coalition) and this module turns
it into shares:

- ``proportional``: the everyday split, by solo cost;
- ``shapley``: each organisation pays its average marginal cost, exactly for at
  most 12 organisations (2^n - 1 coalitions), by sampled permutations beyond;
- ``nucleolus``: the (pre-)nucleolus, found by a sequence of LPs.

A core check tells whether some group of organisations would be better off
buying on its own (a *blocking* coalition), which is what makes a split
unstable in practice.

Coalitions are ``frozenset[str]`` of organisation ids at the interface and
bitmasks (bit ``i`` = ``players[i]``) inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import pulp

__all__ = [
    "CORE_TOL",
    "DEFAULT_PERMUTATIONS",
    "MAX_EXACT_PLAYERS",
    "Allocation",
    "AllocationMethod",
    "CoreCheck",
    "CostFunction",
    "CostGame",
    "MemberShare",
    "allocate",
    "best_coalition_without",
    "core_check",
    "individual_rationality_check",
    "marginal_contributions",
    "nucleolus",
    "proportional",
    "shapley_exact",
    "shapley_sampled",
]

CostFunction = Callable[[frozenset[str]], float]
"""``c(S)`` for a non-empty coalition ``S``; ``c(empty) = 0`` is never asked."""

MAX_EXACT_PLAYERS = 12
"""Exact methods enumerate 2^n - 1 coalitions: 4095 at 12 players, where one
MILP per coalition is still affordable; 8191 at 13 usually is not."""

DEFAULT_PERMUTATIONS = 1000
"""Sampled Shapley: permutations drawn (each also run reversed)."""

CORE_TOL = 1e-6
"""Core check tolerance, *relative* to the game's largest coalition cost, so the
same setting works whether costs are in pounds or millions of pounds."""

_LP_TOL = 1e-6
"""Nucleolus LPs run on costs scaled to at most 1; an excess within this of the
level counts as tight. Well above HiGHS' 1e-7 feasibility tolerance, well below
any cost difference that matters (1e-6 of the largest cost)."""

_RANK_TOL = 1e-9
"""Singular-value cut-off when deciding which coalitions are spanned by the
fixed ones (0/1 vectors of length <= 12, so well conditioned)."""

_SPAN_TOL = 1e-6
"""Distance from the fixed rows' span under which a 0/1 coalition vector counts
as spanned (a vector outside it is at least ~1/12 away)."""


# --------------------------------------------------------------------------- games


def _check_players(players: Sequence[str]) -> tuple[str, ...]:
    names = tuple(players)
    if not names:
        raise ValueError("a cost game needs at least one player")
    if any(not isinstance(p, str) or not p for p in names):
        raise ValueError("players must be non-empty strings")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate players in {names!r}")
    return names


def _finite(value: Any, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"cost of {what} is not finite: {value!r}")
    return number


def _members(players: tuple[str, ...], mask: int) -> frozenset[str]:
    return frozenset(p for i, p in enumerate(players) if mask >> i & 1)


def _popcount(mask: int) -> int:
    return mask.bit_count()


@dataclass(frozen=True)
class CostGame:
    """A cost game given in full: ``c(S)`` for every non-empty coalition.

    ``c(empty) = 0`` is implicit (a key for it is accepted only if 0). Build one
    with :meth:`from_function` (evaluates the cost once per coalition) or pass a
    precomputed ``costs`` mapping (keys: any iterable of player ids).
    """

    players: tuple[str, ...]
    costs: Mapping[frozenset[str], float] = field(hash=False)

    def __post_init__(self) -> None:
        players = _check_players(self.players)
        if len(players) > 20:
            raise ValueError(f"{len(players)} players: a full cost table is too large")
        known = set(players)
        costs: dict[frozenset[str], float] = {}
        for key, value in self.costs.items():
            coalition = frozenset(key)
            if not coalition <= known:
                raise ValueError(f"coalition {sorted(coalition)} has unknown players")
            if coalition in costs:
                raise ValueError(f"coalition {sorted(coalition)} given twice")
            costs[coalition] = _finite(value, f"coalition {sorted(coalition)}")
        if costs.pop(frozenset(), 0.0) != 0.0:
            raise ValueError("the empty coalition must cost 0")
        missing = (1 << len(players)) - 1 - len(costs)
        if missing:
            raise ValueError(f"{missing} non-empty coalitions have no cost")
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "costs", MappingProxyType(costs))

    @classmethod
    def from_function(cls, players: Sequence[str], cost_fn: CostFunction) -> CostGame:
        """Evaluate ``cost_fn`` once per non-empty coalition (2^n - 1 calls).

        Coalitions are asked by size, then in player order, so a slow cost
        function reports progress in a predictable order.
        """
        names = _check_players(players)
        n = len(names)
        if n > MAX_EXACT_PLAYERS:
            raise ValueError(
                f"{n} players need {2**n - 1} cost evaluations; "
                f"the exact game is limited to {MAX_EXACT_PLAYERS} players"
            )
        masks = sorted(range(1, 1 << n), key=lambda m: (_popcount(m), _mask_order(m)))
        costs = {}
        for mask in masks:
            coalition = _members(names, mask)
            costs[coalition] = _finite(cost_fn(coalition), f"coalition {sorted(coalition)}")
        return cls(names, costs)

    def __reduce__(self) -> tuple[type[CostGame], tuple[tuple[str, ...], dict]]:
        # A mappingproxy does not pickle (caches and worker processes need to).
        return (CostGame, (self.players, dict(self.costs)))

    @property
    def n(self) -> int:
        return len(self.players)

    @property
    def grand_cost(self) -> float:
        """``c(N)``: what the whole consortium pays together."""
        return self.costs[frozenset(self.players)]

    def cost(self, coalition: Iterable[str]) -> float:
        """``c(S)``, with ``c(empty) = 0``."""
        key = frozenset(coalition)
        return 0.0 if not key else self.costs[key]

    def solo_costs(self) -> dict[str, float]:
        """``c({i})`` for every player, in player order."""
        return {p: self.costs[frozenset((p,))] for p in self.players}

    @cached_property
    def _table(self) -> np.ndarray:
        """Costs indexed by bitmask (``_table[0] = 0``)."""
        table = np.zeros(1 << self.n)
        for mask in range(1, 1 << self.n):
            table[mask] = self.costs[_members(self.players, mask)]
        return table

    @cached_property
    def _scale(self) -> float:
        """Largest absolute coalition cost (1 for an all-zero game)."""
        biggest = float(np.max(np.abs(self._table)))
        return biggest if biggest > 0 else 1.0


def _mask_order(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


# --------------------------------------------------------------------------- results


class AllocationMethod(StrEnum):
    PROPORTIONAL = "proportional"
    SHAPLEY = "shapley"
    NUCLEOLUS = "nucleolus"


@dataclass(frozen=True)
class CoreCheck:
    """Whether an allocation is stable.

    ``checked`` is True only when every coalition was examined (exact case);
    otherwise only singletons were (``individually_rational``) and ``empty``
    is None. ``blocking_coalitions`` lists the coalitions charged more than
    they would pay alone, smallest first, members sorted by id.
    """

    checked: bool
    empty: bool | None
    blocking_coalitions: tuple[tuple[str, ...], ...]
    individually_rational: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "empty": self.empty,
            "blocking_coalitions": [list(c) for c in self.blocking_coalitions],
            "individually_rational": self.individually_rational,
        }


@dataclass(frozen=True)
class MemberShare:
    """One organisation's share; ``saving = solo_cost - allocated_cost``."""

    organisation: str
    solo_cost: float
    allocated_cost: float
    saving: float
    std_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "solo_cost": self.solo_cost,
            "allocated_cost": self.allocated_cost,
            "saving": self.saving,
            "std_error": self.std_error,
        }


@dataclass(frozen=True)
class Allocation:
    """Shares of the consortium's cost, with the core check that goes with them."""

    method: AllocationMethod
    exact: bool
    members: tuple[MemberShare, ...]
    core: CoreCheck

    @property
    def shares(self) -> dict[str, float]:
        return {m.organisation: m.allocated_cost for m in self.members}

    def to_dict(self) -> dict[str, Any]:
        """The ``"allocation"`` object of ``compare --format json`` (SPEC)."""
        return {
            "method": str(self.method),
            "exact": self.exact,
            "members": [m.to_dict() for m in self.members],
            "core": self.core.to_dict(),
        }


# --------------------------------------------------------------------------- methods


def proportional(grand_cost: float, solo_costs: Mapping[str, float]) -> dict[str, float]:
    """Share ``grand_cost`` in proportion to solo costs.

    What consortia usually do; every member gets the same percentage saving.
    All solo costs 0 gives an equal split. Solo costs must be non-negative
    (a negative weight would make the shares meaningless).
    """
    if not solo_costs:
        raise ValueError("no organisations to share among")
    if any(v < 0 or not math.isfinite(v) for v in solo_costs.values()):
        raise ValueError("solo costs must be finite and non-negative")
    total = math.fsum(solo_costs.values())
    if total == 0:
        return {p: grand_cost / len(solo_costs) for p in solo_costs}
    return {p: grand_cost * v / total for p, v in solo_costs.items()}


def _require_exact_size(n: int, what: str) -> None:
    if n > MAX_EXACT_PLAYERS:
        raise ValueError(f"exact {what} is limited to {MAX_EXACT_PLAYERS} organisations, got {n}")


def shapley_exact(game: CostGame) -> dict[str, float]:
    """Exact Shapley value by the subset formula.

    ``phi_i = sum_{S not containing i} |S|!(n-|S|-1)!/n! * (c(S+i) - c(S))``:
    each organisation pays its marginal cost averaged over every order of
    joining. At most 12 players (ValueError beyond).
    """
    n = game.n
    _require_exact_size(n, "Shapley value")
    table = game._table
    masks = np.arange(1 << n)
    sizes = np.array([_popcount(int(m)) for m in masks])
    weights = np.array(
        [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    )
    values: dict[str, float] = {}
    for i, player in enumerate(game.players):
        bit = 1 << i
        without = masks[(masks & bit) == 0]
        marginal = table[without | bit] - table[without]
        values[player] = float(np.sum(weights[sizes[without]] * marginal))
    return values


def shapley_sampled(
    players: Sequence[str],
    cost_fn: CostFunction,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    *,
    antithetic: bool = True,
) -> tuple[dict[str, float], dict[str, float]]:
    """Shapley value estimated from random joining orders, with standard errors.

    Each of ``n_permutations`` orders (``numpy.random.default_rng(seed)``) gives
    every player its marginal cost. With ``antithetic`` the reversed order is
    run too and the pair averaged: in a cost game with economies of scale a
    player's marginal cost falls as the coalition grows, so early and late
    positions are negatively correlated and the pair average varies less.

    Every order's marginals telescope to ``c(N)``, so the estimate is efficient
    (up to rounding) whatever the sample. ``cost_fn`` is memoised: each distinct
    coalition is evaluated once. Returns ``(values, std_errors)``; a standard
    error is the sample standard deviation over ``sqrt(n_permutations)``.
    """
    names = _check_players(players)
    if n_permutations < 2:
        raise ValueError("need at least 2 permutations for a standard error")
    n = len(names)
    cache: dict[int, float] = {0: 0.0}

    def cost(mask: int) -> float:
        value = cache.get(mask)
        if value is None:
            coalition = _members(names, mask)
            value = _finite(cost_fn(coalition), f"coalition {sorted(coalition)}")
            cache[mask] = value
        return value

    def marginals(order: np.ndarray) -> np.ndarray:
        out = np.empty(n)
        mask, before = 0, 0.0
        for i in order:
            mask |= 1 << int(i)
            after = cost(mask)
            out[i] = after - before
            before = after
        return out

    rng = np.random.default_rng(seed)
    samples = np.empty((n_permutations, n))
    for s in range(n_permutations):
        order = rng.permutation(n)
        sample = marginals(order)
        if antithetic:
            sample = (sample + marginals(order[::-1])) / 2.0
        samples[s] = sample
    means = samples.mean(axis=0)
    errors = samples.std(axis=0, ddof=1) / math.sqrt(n_permutations)
    return (
        {p: float(means[i]) for i, p in enumerate(names)},
        {p: float(errors[i]) for i, p in enumerate(names)},
    )


# --------------------------------------------------------------------------- LPs


def _lp_solver() -> pulp.LpSolver:
    highs = pulp.HiGHS(msg=False)
    return highs if highs.available() else pulp.PULP_CBC_CMD(msg=False)


def _solve(problem: pulp.LpProblem) -> None:
    problem.solve(_lp_solver())
    status = pulp.LpStatus[problem.status]
    if status != "Optimal":
        raise RuntimeError(f"allocation LP {problem.name} ended {status}")


class _ExcessLP:
    """Shared LP scaffolding: variables ``x_i`` (free), ``x(N) = c(N)``,
    fixed excess levels ``c(S) - x(S) = level`` for settled coalitions."""

    def __init__(self, table: np.ndarray, n: int, name: str) -> None:
        self.table = table
        self.n = n
        self.problem = pulp.LpProblem(name, pulp.LpMaximize)
        self.x = [self.problem.add_variable(f"x{i}") for i in range(n)]
        full = (1 << n) - 1
        self.problem += self.sum_x(full) == float(table[full])

    def sum_x(self, mask: int) -> pulp.LpAffineExpression:
        return pulp.LpAffineExpression([(self.x[i], 1.0) for i in range(self.n) if mask >> i & 1])

    def excess(self, mask: int) -> pulp.LpAffineExpression:
        """``c(S) - x(S)`` as an expression."""
        return float(self.table[mask]) - self.sum_x(mask)

    def fix(self, fixed: Iterable[tuple[int, float]]) -> None:
        for mask, level in fixed:
            self.problem += self.excess(mask) == level

    def values(self) -> np.ndarray:
        return np.array([v.value() or 0.0 for v in self.x])


def _max_min_excess(
    table: np.ndarray, n: int, free: Sequence[int], fixed: Sequence[tuple[int, float]]
) -> tuple[float, np.ndarray]:
    """``max eps`` s.t. ``e(S) >= eps`` for free ``S``, fixed levels kept."""
    lp = _ExcessLP(table, n, "max_min_excess")
    eps = lp.problem.add_variable("eps")
    lp.problem += pulp.LpAffineExpression([(eps, 1.0)])
    lp.fix(fixed)
    for mask in free:
        lp.problem += lp.excess(mask) >= eps
    _solve(lp.problem)
    return float(eps.value() or 0.0), lp.values()


def _can_rise(
    table: np.ndarray,
    n: int,
    level: float,
    candidates: Sequence[int],
    others: Sequence[int],
    fixed: Sequence[tuple[int, float]],
) -> set[int]:
    """Candidates whose excess can exceed ``level`` while all free excesses
    stay at least ``level`` (i.e. in some optimal solution of this round).

    One LP maximising ``sum t_S`` with ``e(S) >= level + t_S``, ``0 <= t_S <= 1``;
    every ``S`` with ``t_S > 0`` can rise. A vertex may leave some raisable
    ``S`` at 0, so the caller repeats on the rest until nothing rises.
    """
    lp = _ExcessLP(table, n, "can_rise")
    lp.fix(fixed)
    rises = {mask: lp.problem.add_variable(f"t{k}", 0.0, 1.0) for k, mask in enumerate(candidates)}
    lp.problem += pulp.lpSum(rises.values())
    for mask, t in rises.items():
        lp.problem += lp.excess(mask) >= level + t
    for mask in others:
        lp.problem += lp.excess(mask) >= level
    _solve(lp.problem)
    return {mask for mask, t in rises.items() if (t.value() or 0.0) > _LP_TOL}


def _indicator(mask: int, n: int) -> np.ndarray:
    return np.array([(mask >> i) & 1 for i in range(n)], dtype=float)


def _spanned(rows: np.ndarray, masks: Sequence[int], n: int) -> set[int]:
    """Masks whose indicator vectors lie in the row space of ``rows``: their
    excess is already determined by the fixed coalitions."""
    _, sing, vt = np.linalg.svd(rows)
    basis = vt[: int(np.sum(sing > _RANK_TOL))]
    spanned = set()
    for mask in masks:
        v = _indicator(mask, n)
        if np.linalg.norm(v - basis.T @ (basis @ v)) <= _SPAN_TOL:
            spanned.add(mask)
    return spanned


def _least_core_value(game: CostGame) -> float:
    """``max_x min_{S proper} e(S)`` over efficient ``x``, in the game's units.

    The core is non-empty exactly when this is >= 0.
    """
    if game.n == 1:
        return math.inf
    table = game._table / game._scale
    proper = range(1, (1 << game.n) - 1)
    eps, _ = _max_min_excess(table, game.n, proper, [])
    return eps * game._scale


def nucleolus(game: CostGame) -> dict[str, float]:
    """Pre-nucleolus: the efficient split that maximises, lexicographically,
    the smallest excess ``e(S) = c(S) - x(S)`` over proper coalitions.

    This is SPEC's definition: no ``x_i <= c({i})`` bound is imposed, so it is
    defined (and unique) for every game, even one with an empty core, where it
    may charge someone more than their solo cost (the core check says so). It
    equals the nucleolus proper (the same maximisation over imputations)
    whenever it is itself an imputation, in particular whenever the core is
    non-empty, where it lies in the core.

    Sequence of LPs: maximise the smallest free excess; find the coalitions
    whose excess cannot rise above that level in *any* optimal solution
    (tested by LP, not read from one vertex or from duals); fix them at it;
    drop coalitions whose excess the fixed ones determine; repeat until every
    coalition is fixed or determined, which pins down ``x``. Costs are scaled
    to at most 1 for the LPs, and ``x`` is finally solved from the fixed
    equations for full precision. At most 12 players.
    """
    n = game.n
    _require_exact_size(n, "nucleolus")
    if n == 1:
        return {game.players[0]: game.grand_cost}
    scale = game._scale
    table = game._table / scale
    full = (1 << n) - 1
    rows = [np.ones(n)]
    fixed: list[tuple[int, float]] = []
    fixed_round: list[int] = []  # round in which fixed[k] was fixed
    levels: list[float] = []
    free = list(range(1, full))
    x = np.zeros(n)
    while free:
        level, x = _max_min_excess(table, n, free, fixed)
        excess = {m: float(table[m]) - float(_indicator(m, n) @ x) for m in free}
        candidates = [m for m in free if excess[m] <= level + _LP_TOL]
        while candidates:
            pending = set(candidates)
            others = [m for m in free if m not in pending]
            risen = _can_rise(table, n, level, candidates, others, fixed)
            if not risen:
                break
            candidates = [m for m in candidates if m not in risen]
        if not candidates:
            # Numerically impossible in exact arithmetic (the level is optimal);
            # fall back to the coalitions tight at the LP's vertex.
            candidates = [m for m in free if excess[m] <= level + _LP_TOL]
        for mask in candidates:
            fixed.append((mask, level))
            fixed_round.append(len(levels))
            rows.append(_indicator(mask, n))
        levels.append(level)
        settled = set(candidates)
        rest = [m for m in free if m not in settled]
        done = _spanned(np.array(rows), rest, n)
        free = [m for m in rest if m not in done]
    x = _refine(table, n, fixed, fixed_round, len(levels), x)
    return {p: float(v) * scale for p, v in zip(game.players, x, strict=True)}


def _refine(
    table: np.ndarray,
    n: int,
    fixed: Sequence[tuple[int, float]],
    fixed_round: Sequence[int],
    n_levels: int,
    x_lp: np.ndarray,
) -> np.ndarray:
    """Solve ``x`` and the levels exactly from the fixed equations.

    ``x(N) = c(N)`` and ``x(S) + level_k = c(S)`` determine both (the fixed
    coalitions are exactly the implicit equalities of each round's optimal
    face), so a least-squares solve removes the LP's tolerance-sized error.
    Kept only if consistent with the LP; otherwise the LP's ``x`` stands.
    """
    full = (1 << n) - 1
    a = np.zeros((len(fixed) + 1, n + n_levels))
    b = np.zeros(len(fixed) + 1)
    a[0, :n] = 1.0
    b[0] = table[full]
    for row, ((mask, _), k) in enumerate(zip(fixed, fixed_round, strict=True), start=1):
        a[row, :n] = _indicator(mask, n)
        a[row, n + k] = 1.0
        b[row] = table[mask]
    solution, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    if rank < n + n_levels or np.max(np.abs(a @ solution - b)) > _LP_TOL:
        return x_lp
    x = solution[:n]
    return x if np.max(np.abs(x - x_lp)) <= 10 * _LP_TOL else x_lp


# --------------------------------------------------------------------------- checks


def _check_allocation(players: Sequence[str], allocation: Mapping[str, float]) -> None:
    if set(allocation) != set(players):
        raise ValueError("the allocation must give a share to every player and no one else")


def _sorted_coalitions(coalitions: Iterable[frozenset[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted((tuple(sorted(c)) for c in coalitions), key=lambda c: (len(c), c)))


def core_check(game: CostGame, allocation: Mapping[str, float], tol: float = CORE_TOL) -> CoreCheck:
    """Every coalition charged more than it would pay alone, and whether any
    allocation could avoid that.

    ``S`` blocks when ``x(S) > c(S) + tol * scale`` (``scale`` = largest
    coalition cost), so rounding in pounds never shows as instability. ``empty``
    comes from the least-core LP: the core is empty iff the best achievable
    smallest excess is below ``-tol * scale``. ``individually_rational``:
    ``x_i <= c({i}) + tol * scale`` for all ``i``.
    """
    _check_allocation(game.players, allocation)
    atol = tol * game._scale
    x = np.array([allocation[p] for p in game.players], dtype=float)
    blocking = []
    for mask in range(1, 1 << game.n):
        charged = math.fsum(x[i] for i in range(game.n) if mask >> i & 1)
        if charged > game._table[mask] + atol:
            blocking.append(_members(game.players, mask))
    solo = game.solo_costs()
    rational = all(allocation[p] <= solo[p] + atol for p in game.players)
    return CoreCheck(
        checked=True,
        empty=_least_core_value(game) < -atol,
        blocking_coalitions=_sorted_coalitions(blocking),
        individually_rational=rational,
    )


def individual_rationality_check(
    solo_costs: Mapping[str, float], allocation: Mapping[str, float], tol: float = CORE_TOL
) -> CoreCheck:
    """The part of the core check that needs only solo costs (sampled case).

    ``checked`` is False (larger coalitions were not examined) and ``empty``
    None; singletons charged more than their solo cost (beyond ``tol`` times
    the largest solo cost) are the blocking coalitions.
    """
    _check_allocation(list(solo_costs), allocation)
    biggest = max((abs(v) for v in solo_costs.values()), default=0.0)
    atol = tol * (biggest if biggest > 0 else 1.0)
    blocking = [frozenset((p,)) for p in solo_costs if allocation[p] > solo_costs[p] + atol]
    return CoreCheck(
        checked=False,
        empty=None,
        blocking_coalitions=_sorted_coalitions(blocking),
        individually_rational=not blocking,
    )


def marginal_contributions(game: CostGame) -> dict[str, float]:
    """``c(N) - c(N minus i)``: what each organisation's joining adds to the
    consortium's bill (negative when its joining saves money)."""
    full = (1 << game.n) - 1
    return {
        p: float(game._table[full] - game._table[full & ~(1 << i)])
        for i, p in enumerate(game.players)
    }


def best_coalition_without(game: CostGame, player: str) -> tuple[tuple[str, ...], float]:
    """The coalition an organisation's partners could form without it.

    "Best" means the largest total saving ``sum_{i in S} c({i}) - c(S)``; ties go
    to the smaller coalition, then to the earlier one in player order. Returns
    ``(members in player order, saving)``; ``((), 0.0)`` if ``player`` is alone.
    """
    if player not in game.players:
        raise ValueError(f"unknown player {player!r}")
    n = game.n
    skip = 1 << game.players.index(player)
    solo = [float(game._table[1 << i]) for i in range(n)]
    best: tuple[float, int, tuple[int, ...]] | None = None
    best_mask = 0
    for mask in range(1, 1 << n):
        if mask & skip:
            continue
        saving = math.fsum(solo[i] for i in range(n) if mask >> i & 1) - game._table[mask]
        key = (-float(saving), _popcount(mask), _mask_order(mask))
        if best is None or key < best:
            best, best_mask = key, mask
    if best is None:
        return (), 0.0
    return tuple(p for i, p in enumerate(game.players) if best_mask >> i & 1), -best[0]


# --------------------------------------------------------------------------- entry point


def allocate(
    source: CostGame | CostFunction,
    method: AllocationMethod | str,
    *,
    players: Sequence[str] | None = None,
    solo_costs: Mapping[str, float] | None = None,
    exact_limit: int = MAX_EXACT_PLAYERS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    tol: float = CORE_TOL,
) -> Allocation:
    """Share the consortium's cost by ``method`` and check the result's stability.

    ``source`` is a full :class:`CostGame`, or a cost function with ``players``.
    Up to ``exact_limit`` (<= 12) players everything is exact and the full core
    check runs (a cost function is then evaluated on all 2^n - 1 coalitions).
    Beyond it: ``shapley`` is sampled (``n_permutations``, ``seed``) with a
    standard error per share, ``proportional`` needs only ``c(N)`` and the solo
    costs, ``nucleolus`` raises ValueError; only individual rationality is
    checked.

    ``solo_costs`` (default ``c({i})``) are what each organisation would pay on
    its own: the proportional weights, the reported solo cost and saving, and
    the individual-rationality bound.
    """
    method = AllocationMethod(method)
    if not 1 <= exact_limit <= MAX_EXACT_PLAYERS:
        raise ValueError(f"exact_limit must be between 1 and {MAX_EXACT_PLAYERS}")
    if isinstance(source, CostGame):
        if players is not None and tuple(players) != source.players:
            raise ValueError("players differ from the game's players")
        names = source.players
        game_costs = source.costs
        cost_fn: CostFunction = lambda s: game_costs[s]  # noqa: E731
    else:
        if players is None:
            raise ValueError("a cost function needs its players")
        names = _check_players(players)
        cost_fn = _memoised(source)
    exact = len(names) <= exact_limit
    if not exact and method is AllocationMethod.NUCLEOLUS:
        raise ValueError(
            f"the nucleolus is exact only: {len(names)} organisations exceed the "
            f"limit of {exact_limit}; use shapley (sampled) or proportional"
        )

    game: CostGame | None = None
    if exact:
        game = source if isinstance(source, CostGame) else CostGame.from_function(names, cost_fn)
        solo_default = game.solo_costs()
        grand = game.grand_cost
    else:
        solo_default = {p: _finite(cost_fn(frozenset((p,))), p) for p in names}
        grand = _finite(cost_fn(frozenset(names)), "the consortium")
    if solo_costs is not None and set(solo_costs) != set(names):
        raise ValueError("solo_costs must name exactly the game's organisations")
    solo = dict(solo_default) if solo_costs is None else {p: float(solo_costs[p]) for p in names}

    errors: dict[str, float] | None = None
    if method is AllocationMethod.PROPORTIONAL:
        shares = proportional(grand, solo)
    elif method is AllocationMethod.NUCLEOLUS:
        assert game is not None
        shares = nucleolus(game)
    elif game is not None:
        shares = shapley_exact(game)
    else:
        shares, errors = shapley_sampled(names, cost_fn, n_permutations, seed)

    if game is not None:
        core = core_check(game, shares, tol)
        if solo_costs is not None:
            rational = individual_rationality_check(solo, shares, tol).individually_rational
            core = CoreCheck(core.checked, core.empty, core.blocking_coalitions, rational)
    else:
        core = individual_rationality_check(solo, shares, tol)
    members = tuple(
        MemberShare(
            organisation=p,
            solo_cost=solo[p],
            allocated_cost=shares[p],
            saving=solo[p] - shares[p],
            std_error=None if errors is None else errors[p],
        )
        for p in names
    )
    return Allocation(method=method, exact=errors is None, members=members, core=core)


def _memoised(cost_fn: CostFunction) -> CostFunction:
    cache: dict[frozenset[str], float] = {}

    def cached(coalition: frozenset[str]) -> float:
        if coalition not in cache:
            cache[coalition] = cost_fn(coalition)
        return cache[coalition]

    return cached
