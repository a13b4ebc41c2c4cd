"""A good first plan for the MILP, found by local search over whole profiles.

HiGHS proves the optimum quickly once it holds a plan close to it (on many
portfolios the LP bound already equals the optimum), but finding that plan
itself can take it most of a solve. This module finds one cheaply: every
profile takes its cheapest link bundle given each supplier's discount, the
discounts follow from the resulting site counts, and moves that close a
supplier or push one over its next volume tier are kept while they lower the
true total. Nothing here is trusted: the MILP is handed the plan as a start,
checks it against every constraint and still proves (or improves on) it.

All work is on flat numpy arrays over every (profile, pair, wifi) *combo*, so
a pass costs milliseconds even with hundreds of thousands of combos.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from procurement.gcpause import without_gc
from procurement.options import Bundle, Candidate, SupplierTerms

#: A combo: (pair index, wifi index or -1) within its profile.
Combo = tuple[int, int]
#: Largest (combos x keys) the search prices with dense matrices (16 bytes an
#: entry: 32 MB at most); beyond it, with sparse entries and bincounts
DENSE_MAX_ENTRIES = 1 << 21


class ProfileOptions(Protocol):
    """What the search needs of an :class:`procurement.optimiser.Profile`."""

    @property
    def party(self) -> str: ...
    @property
    def pairs(self) -> tuple[Bundle, ...]: ...
    @property
    def wifis(self) -> tuple[Candidate, ...]: ...
    @property
    def count(self) -> int: ...


@dataclass
class _Combos:
    """Every combo of every profile, as parallel arrays (profiles contiguous)."""

    profile: np.ndarray  # profile index per combo
    pair: np.ndarray
    wifi: np.ndarray  # -1: none
    one_off: np.ndarray
    fixed_rec: np.ndarray  # recurring at a flat discount already applied
    rec_key: np.ndarray  # (C, 3) key index of each recurring charge; -1 none
    rec: np.ndarray  # (C, 3) list recurring of each charge
    use_key: np.ndarray  # (C, 3) distinct keys the combo counts a site towards; -1 none
    start: np.ndarray  # first combo of each profile
    size: np.ndarray  # sites per profile
    met: np.ndarray  # every key as flattening looked it up, profile after profile
    met_first: np.ndarray  # where each profile's lookups start in ``met``


class _Keys:
    """(party, supplier) pairs with their fees and tier thresholds as arrays."""

    def __init__(self, keys: list[tuple[str, str]], terms: dict[str, SupplierTerms]) -> None:
        self.keys = keys
        self.fees = np.array([terms[p].fees for _, p in keys], dtype=float)
        self.tiered = np.array([terms[p].flat_discount is None for _, p in keys])
        self.thresholds = [
            sorted(terms[p].tiers) if terms[p].flat_discount is None else [] for _, p in keys
        ]
        self.optimistic = np.array(
            [
                max((d for _, d in t), default=0.0) if tiered else 0.0
                for t, tiered in zip(self.thresholds, self.tiered, strict=True)
            ]
        )

    def discounts(self, n: np.ndarray) -> np.ndarray:
        d = np.zeros(len(self.keys))
        for k, tiers in enumerate(self.thresholds):
            for m, disc in tiers:
                if n[k] >= m and disc > d[k]:
                    d[k] = disc
        return d

    def next_tier(self, k: int, n: int) -> tuple[int, float] | None:
        current = self.discounts_one(k, n)
        for m, disc in self.thresholds[k]:
            if m > n and disc > current:
                return m, disc
        return None

    def discounts_one(self, k: int, n: int) -> float:
        return max((d for m, d in self.thresholds[k] if m <= n), default=0.0)


def _firsts(counts: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of ``counts`` items starts."""
    firsts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=firsts[1:])
    return firsts


@without_gc  # acyclic lists of a few hundred thousand items
def _flatten(
    profiles: Sequence[ProfileOptions], terms: dict[str, SupplierTerms]
) -> tuple[_Combos, _Keys]:
    """Every (pair, wifi) combo of every profile as arrays; pairs and wifis crossed in numpy."""
    key_index: dict[tuple[str, str], int] = {}
    met: list[int] = []  # every key looked up, in order: how a subset numbers its keys

    def key(party: str, supplier: str) -> int:
        k = key_index.setdefault((party, supplier), len(key_index))
        met.append(k)
        return k

    def charge(party: str, supplier: str, recurring: float) -> tuple[int, float, float]:
        """(key, list recurring that tiers discount, recurring after a flat discount)."""
        flat = terms[supplier].flat_discount
        if flat is None:
            return key(party, supplier), recurring, 0.0
        return key(party, supplier), 0.0, (1 - flat) * recurring

    # per pair and per wifi option, in plain lists (numpy item by item cost
    # 0.05 s per 25,000-site party); profiles without wifi get one empty option
    p_one_off: list[float] = []
    p_fixed: list[float] = []
    p_key: list[tuple[int, int]] = []
    p_rec: list[tuple[float, float]] = []
    w_key: list[int] = []
    w_rec: list[float] = []
    w_fixed: list[float] = []
    w_one_off: list[float] = []
    n_pairs: list[int] = []
    n_wifis: list[int] = []
    size: list[int] = []
    met_first: list[int] = []
    for profile in profiles:
        met_first.append(len(met))
        size.append(profile.count)
        party = profile.party
        for pair in profile.pairs:
            one_off, fixed = 0, 0.0
            keys, recs = [-1, -1], [0.0, 0.0]
            for col, (supplier_id, o, recurring) in enumerate(pair.charges):
                one_off += o
                keys[col], recs[col], f = charge(party, supplier_id, recurring)
                fixed += f
            p_one_off.append(one_off)
            p_fixed.append(fixed)
            p_key.append((keys[0], keys[1]))
            p_rec.append((recs[0], recs[1]))
        n_pairs.append(len(profile.pairs))
        if profile.wifis:
            for w in profile.wifis:
                k, rec, fixed = charge(party, w.supplier_id, w.recurring_list)
                w_key.append(k)
                w_rec.append(rec)
                w_fixed.append(fixed)
                w_one_off.append(w.one_off)
            n_wifis.append(len(profile.wifis))
        else:
            w_key.append(-1)
            w_rec.append(0.0)
            w_fixed.append(0.0)
            w_one_off.append(0.0)
            n_wifis.append(1)
    # every profile's pairs crossed with its wifi options, pair by pair, in one go
    n_p = np.asarray(n_pairs, dtype=np.int64)
    n_w = np.asarray(n_wifis, dtype=np.int64)
    per_profile = n_p * n_w
    start = _firsts(per_profile)
    profile_of = np.repeat(np.arange(len(profiles), dtype=np.int64), per_profile)
    local = np.arange(int(per_profile.sum()), dtype=np.int64) - start[profile_of]
    width = n_w[profile_of]
    pi, wi = local // width, local % width
    gp, gw = _firsts(n_p)[profile_of] + pi, _firsts(n_w)[profile_of] + wi
    pair_key = np.asarray(p_key, dtype=np.int64).reshape(-1, 2)
    pair_rec = np.asarray(p_rec, dtype=float).reshape(-1, 2)
    wifi_key = np.asarray(w_key, dtype=np.int64)
    rkey = np.column_stack([pair_key[gp], wifi_key[gw]])
    # a site counts once towards a supplier however many of its links it sells
    ukey = rkey.copy()
    dup = (ukey[:, 2] == ukey[:, 0]) | (ukey[:, 2] == ukey[:, 1])
    ukey[dup, 2] = -1
    has_wifi = np.array([bool(p.wifis) for p in profiles], dtype=bool)
    combos = _Combos(
        profile=profile_of,
        pair=pi,
        wifi=np.where(has_wifi[profile_of], wi, -1),
        one_off=np.asarray(p_one_off, dtype=float)[gp] + np.asarray(w_one_off)[gw],
        fixed_rec=np.asarray(p_fixed, dtype=float)[gp] + np.asarray(w_fixed)[gw],
        rec_key=rkey,
        rec=np.column_stack([pair_rec[gp], np.asarray(w_rec, dtype=float)[gw]]),
        use_key=ukey,
        start=start,
        size=np.array(size, dtype=np.int64),
        met=np.array(met, dtype=np.int64),
        met_first=np.array(met_first, dtype=np.int64),
    )
    return combos, _Keys(list(key_index), terms)


@dataclass(frozen=True)
class FlatProfiles:
    """Profiles' combos as arrays, made once, for searches over subsets of the
    profiles with fewer sites (a consortium's coalitions): flattening them
    again each time cost as much as the search."""

    combos: _Combos
    keys: _Keys
    terms: dict[str, SupplierTerms]

    @classmethod
    def of(
        cls, profiles: Sequence[ProfileOptions], terms: dict[str, SupplierTerms]
    ) -> FlatProfiles:
        combos, keys = _flatten(profiles, terms)
        return cls(combos, keys, terms)

    def subset(self, kept: np.ndarray, sizes: np.ndarray) -> tuple[_Combos, _Keys]:
        """The combos and keys :func:`_flatten` makes for profiles ``kept`` (ascending
        indices) with ``sizes`` sites: the same arrays, keys numbered as first met."""
        c = self.combos
        kept = np.asarray(kept, dtype=np.int64)
        new_profile = np.full(len(c.size), -1, dtype=np.int64)
        new_profile[kept] = np.arange(len(kept))
        chosen = new_profile[c.profile] >= 0
        ends = np.append(c.met_first[1:], len(c.met))
        met = np.concatenate([c.met[c.met_first[g] : ends[g]] for g in kept] or [c.met[:0]])
        _, first = np.unique(met, return_index=True)
        order = met[np.sort(first)]  # old keys, in the order the subset meets them
        new_key = np.full(len(self.keys.keys) + 1, -1, dtype=np.int64)  # [-1] stays -1
        new_key[order] = np.arange(len(order))
        per_profile = np.bincount(new_profile[c.profile[chosen]], minlength=len(kept))
        combos = _Combos(
            profile=new_profile[c.profile[chosen]],
            pair=c.pair[chosen],
            wifi=c.wifi[chosen],
            one_off=c.one_off[chosen],
            fixed_rec=c.fixed_rec[chosen],
            rec_key=new_key[c.rec_key[chosen]],
            rec=c.rec[chosen],
            use_key=new_key[c.use_key[chosen]],
            start=_firsts(per_profile),
            size=np.asarray(sizes, dtype=np.int64),
            met=new_key[met],
            met_first=_firsts(np.diff(np.append(c.met_first, len(c.met)))[kept]),
        )
        return combos, _Keys([self.keys.keys[k] for k in order], self.terms)


class _Search:
    """The local search's state: sites per combo, and the arrays to price it."""

    def __init__(self, combos: _Combos, keys: _Keys) -> None:
        self.c = combos
        self.k = keys
        self.n_keys = len(keys.keys)
        # (combo, key) entries as flat arrays: pricing and counting are one bincount each
        rows, cols = np.nonzero(combos.use_key >= 0)
        self._use_combo, self._use_key = rows, combos.use_key[rows, cols]
        # key -> combos that count a site towards it, as a boolean matrix row on demand
        self.uses_any = np.zeros((len(combos.profile), max(self.n_keys, 1)), dtype=bool)
        self.uses_any[self._use_combo, self._use_key] = True
        rows, cols = np.nonzero(combos.rec_key >= 0)
        self._rec_combo, self._rec_key = rows, combos.rec_key[rows, cols]
        self._rec = combos.rec[rows, cols]
        self._list_cost = combos.one_off + combos.fixed_rec + combos.rec.sum(axis=1)
        # Where they fit, the same entries as dense (combo x key) matrices:
        # pricing and counting are then one matrix product each, about ten
        # and three times quicker than a bincount (most of the search's time)
        self._rec_matrix: np.ndarray | None = None
        self._use_matrix: np.ndarray | None = None
        if len(combos.profile) * self.n_keys <= DENSE_MAX_ENTRIES:
            self._rec_matrix = np.zeros((len(combos.profile), self.n_keys))
            np.add.at(self._rec_matrix, (self._rec_combo, self._rec_key), self._rec)
            self._use_matrix = self.uses_any[:, : self.n_keys].astype(float)

    # ---- pricing
    def unit_costs(self, d: np.ndarray) -> np.ndarray:
        """Per-site cost of every combo with key discounts ``d``."""
        if self._rec_matrix is not None:
            return self._list_cost - self._rec_matrix @ d
        saved = np.bincount(
            self._rec_combo, weights=self._rec * d[self._rec_key], minlength=len(self.c.profile)
        )
        return self._list_cost - saved

    def site_counts(self, counts: np.ndarray) -> np.ndarray:
        """Distinct sites per key (a combo lists each of its keys once)."""
        if self._use_matrix is not None:
            return counts @ self._use_matrix
        return np.bincount(self._use_key, weights=counts[self._use_combo], minlength=self.n_keys)

    def key_fees(self, fees: np.ndarray) -> np.ndarray:
        """Per combo, the sum of ``fees`` over the keys it counts a site towards."""
        if self._use_matrix is not None:
            return self._use_matrix @ fees
        return np.append(fees, 0.0)[self.c.use_key].sum(axis=1)

    def total(self, counts: np.ndarray) -> float:
        n = self.site_counts(counts)
        d = self.k.discounts(n)
        return float(counts @ self.unit_costs(d) + self.k.fees[n > 0].sum())

    def argmin_per_profile(self, cost: np.ndarray) -> np.ndarray:
        """Index of each profile's cheapest combo (the first of equals), in O(combos)."""
        c = self.c
        low = np.minimum.reduceat(cost, c.start)
        index = np.arange(len(cost))
        at_min = cost <= low[c.profile]
        return -np.maximum.reduceat(np.where(at_min, -index, -len(cost)), c.start)

    # ---- moves
    def best_response(
        self,
        d: np.ndarray,
        open_keys: np.ndarray,
        banned: np.ndarray | None = None,
        only: np.ndarray | None = None,
        counts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each profile (or those in ``only``) takes its cheapest combo, all its sites.

        A combo using a key not yet open pays that key's fees, as if the
        profile opened it alone; a ``banned`` key may not be used at all.
        """
        c = self.c
        size = c.size[c.profile]
        cost = self.unit_costs(d) * size
        cost = cost + self.key_fees(np.where(open_keys, 0.0, self.k.fees))
        if banned is not None and banned.any():
            hit = self.uses_any[:, banned].any(axis=1)
            cost = np.where(hit, np.inf, cost)
        best = self.argmin_per_profile(cost)
        new = np.zeros(len(c.profile), dtype=np.int64) if counts is None else counts.copy()
        if only is None:
            new[:] = 0
            feasible = np.isfinite(cost[best])
            new[best[feasible]] = c.size[c.profile[best[feasible]]]
            return new
        for g in np.nonzero(only)[0]:
            b = best[g]
            if not np.isfinite(cost[b]):
                continue
            lo, hi = c.start[g], (c.start[g + 1] if g + 1 < len(c.start) else len(c.profile))
            new[lo:hi] = 0
            new[b] = c.size[g]
        return new

    def push(self, counts: np.ndarray, key: int, target: int, d: np.ndarray) -> np.ndarray | None:
        """Move the cheapest sites onto ``key`` until it serves ``target`` sites."""
        c = self.c
        n = self.site_counts(counts)
        need = target - int(n[key])
        if need <= 0:
            return None
        unit = self.unit_costs(d)
        with_key = np.where(self.uses_any[:, key], unit, np.inf)
        best_with = self.argmin_per_profile(with_key)  # each profile's cheapest using the key
        movable = np.nonzero((counts > 0) & ~self.uses_any[:, key])[0]
        if len(movable) == 0:
            return None
        targets = best_with[c.profile[movable]]
        extra = unit[targets] - unit[movable]
        ok = np.isfinite(extra)
        movable, targets, extra = movable[ok], targets[ok], extra[ok]
        new = counts.copy()
        for i in np.argsort(extra, kind="stable"):
            if need <= 0:
                break
            moved = min(int(new[movable[i]]), need)
            new[movable[i]] -= moved
            new[targets[i]] += moved
            need -= moved
        return new if need <= 0 else None


def find_start(
    profiles: Sequence[ProfileOptions],
    terms: dict[str, SupplierTerms],
    *,
    seconds: float = 1.0,
) -> dict[int, dict[Combo, int]] | None:
    """Sites per combo for each profile: a cheap plan to start the MILP from.

    Returns ``{profile index: {(pair index, wifi index or -1): sites}}``, or
    None when some profile has no combo at all. ``seconds`` caps the search.
    """
    found = find_priced_start(profiles, terms, seconds=seconds)
    return None if found is None else found[0]


def find_priced_start(
    profiles: Sequence[ProfileOptions],
    terms: dict[str, SupplierTerms],
    *,
    seconds: float = 1.0,
    flat: tuple[_Combos, _Keys] | None = None,
) -> tuple[dict[int, dict[Combo, int]], float] | None:
    """:func:`find_start`'s plan and its cost (one-off, discounted recurring and
    fees), so a caller weighing it against another plan need not price it.
    ``flat``: the profiles' combos and keys, if already made (:class:`FlatProfiles`)."""
    if not profiles:
        return None
    deadline = time.perf_counter() + seconds
    combos, keys = _flatten(profiles, terms) if flat is None else flat
    if len(np.unique(combos.profile)) != len(profiles):
        return None
    search = _Search(combos, keys)
    # optimistic discounts, no fees: where each profile would like to be
    counts = search.best_response(keys.optimistic, np.ones(search.n_keys, dtype=bool))
    best = search.total(counts)
    for _ in range(20):  # settle: discounts and open suppliers from the plan itself
        n = search.site_counts(counts)
        trial = search.best_response(keys.discounts(n), n > 0)
        value = search.total(trial)
        if value >= best - 1e-6:
            break
        counts, best = trial, value
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        n = search.site_counts(counts)
        d = keys.discounts(n)
        # close a supplier: its profiles move to their next best option
        for k in np.argsort(n):
            if n[k] <= 0 or time.perf_counter() >= deadline:
                continue
            banned = np.zeros(search.n_keys, dtype=bool)
            banned[k] = True
            on_k = np.zeros(len(profiles), dtype=bool)
            on_k[np.unique(combos.profile[(counts > 0) & search.uses_any[:, k]])] = True
            trial = search.best_response(d, n > 0, banned, only=on_k, counts=counts)
            if search.site_counts(trial)[k] > 0:
                continue  # some profile has no other option
            value = search.total(trial)
            if value < best - 1e-6:
                counts, best, improved = trial, value, True
                n = search.site_counts(counts)
                d = keys.discounts(n)
        # push a supplier over its next volume tier
        for k in range(search.n_keys):
            if time.perf_counter() >= deadline:
                break
            step = keys.next_tier(k, int(n[k]))
            if step is None:
                continue
            target, disc = step
            d_up = d.copy()
            d_up[k] = disc
            trial = search.push(counts, k, target, d_up)
            if trial is None:
                continue
            value = search.total(trial)
            if value < best - 1e-6:
                counts, best, improved = trial, value, True
                n = search.site_counts(counts)
                d = keys.discounts(n)
    start: dict[int, dict[Combo, int]] = {}
    for i in np.nonzero(counts)[0]:
        g = int(combos.profile[i])
        start.setdefault(g, {})[(int(combos.pair[i]), int(combos.wifi[i]))] = int(counts[i])
    return start, float(best)


def _upper_hull(cost: np.ndarray, quality: np.ndarray) -> list[int]:
    """Indices (into the arrays) of the upper-left concave hull, cheapest first.

    Each step along it buys the most quality per pound still available: the
    greedy order of the multiple-choice knapsack's LP relaxation.
    """
    order = np.lexsort((-quality, cost))
    hull: list[int] = []
    for i in order:
        if hull and quality[i] <= quality[hull[-1]]:
            continue  # costs no less and gives no more quality
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it lies on or under the segment a -> i
            if (quality[b] - quality[a]) * (cost[i] - cost[a]) <= (quality[i] - quality[a]) * (
                cost[b] - cost[a]
            ):
                hull.pop()
            else:
                break
        hull.append(int(i))
    return hull


def find_quality_start(
    profiles: Sequence[ProfileOptions],
    terms: dict[str, SupplierTerms],
    base: dict[int, dict[Combo, int]],
    *,
    total_budget: float | None,
    party_budgets: dict[str, float],
    quality: Sequence[Sequence[float]],
) -> dict[int, dict[Combo, int]] | None:
    """A plan of high quality within the budgets, to start the quality stage from.

    ``base`` is a plan within budget (the cheapest, from :func:`find_start`);
    ``quality[g][j]`` is the quality per site of profile ``g``'s pair ``j``.
    Each profile starts from its cheapest combo over suppliers the base
    already pays fees to and climbs its cost/quality hull (priced at the
    base's discounts), best quality per pound first, while the budgets allow:
    the greedy for a multiple-choice knapsack. A step onto a supplier not yet
    used pays its fees too. Discounts move as sites move, so the plan is
    re-priced and the budget tightened by any overshoot, a few times.
    Returns None when no climb fits (the base is then the better start).
    """
    combos, keys = _flatten(profiles, terms)
    search = _Search(combos, keys)
    index = {
        (int(g), int(p), int(w)): i
        for i, (g, p, w) in enumerate(zip(combos.profile, combos.pair, combos.wifi, strict=True))
    }
    counts = np.zeros(len(combos.profile), dtype=np.int64)
    for g, plan in base.items():
        for (j, o), sites in plan.items():
            counts[index[(g, j, o)]] = sites
    q = np.array([quality[g][j] for g, j in zip(combos.profile, combos.pair, strict=True)])
    party_of_key = np.array([keys.keys[k][0] for k in range(search.n_keys)], dtype=object)
    parties = sorted({p.party for p in profiles})
    party_index = {p: i for i, p in enumerate(parties)}
    profile_party = np.array([party_index[p.party] for p in profiles], dtype=np.int64)
    combo_party = profile_party[combos.profile]
    limit = np.array([party_budgets.get(p, np.inf) for p in parties])
    total_limit = np.inf if total_budget is None else total_budget

    def spend(trial: np.ndarray) -> tuple[np.ndarray, float]:
        """True spend per party (fees, tiers reached) and in all."""
        n = search.site_counts(trial)
        unit = search.unit_costs(keys.discounts(n))
        per_party = np.bincount(combo_party, weights=trial * unit, minlength=len(parties))
        for k in np.nonzero(n > 0)[0]:
            per_party[party_index[party_of_key[k]]] += keys.fees[k]
        return per_party, float(per_party.sum())

    base_party, base_total = spend(counts)
    if np.any(base_party > limit + 0.005) or base_total > total_limit + 0.005:
        return None
    n = search.site_counts(counts)
    unit = search.unit_costs(keys.discounts(n))
    is_open = n > 0
    on_open = ~search.uses_any[:, ~is_open].any(axis=1) if (~is_open).any() else None
    # every profile starts from its cheapest combo over suppliers already paid
    # fees to, and climbs the hull of the combos of more quality
    floor: list[int] = []
    steps: list[tuple[float, int, int, int]] = []  # (quality per pound, profile, from, to)
    ends = np.append(combos.start[1:], len(q))
    for g, (lo, hi) in enumerate(zip(combos.start, ends, strict=True)):
        ids = np.arange(lo, hi)
        usable = ids if on_open is None else ids[on_open[lo:hi]]
        if len(usable) == 0:
            return None
        first = int(usable[np.lexsort((-q[usable], unit[usable]))[0]])
        floor.append(first)
        better = ids[q[ids] > q[first]]
        if len(better) == 0:
            continue
        points = np.append(better, first)
        hull = [int(i) for i in points[_upper_hull(unit[points], q[points])]]
        if hull[0] != first:
            # something of more quality costs less than the floor (at the base's
            # discounts, before fees): the first step goes there
            hull.insert(0, first)
        for a, b in itertools.pairwise(hull):
            steps.append(((q[b] - q[a]) / max(unit[b] - unit[a], 1e-9), g, a, b))
    steps.sort(key=lambda s: -s[0])
    size = combos.size
    use_key = combos.use_key

    best: np.ndarray | None = None
    best_quality = float(counts @ q)
    party_room = limit.copy()
    total_room = total_limit
    for _ in range(4):
        trial = np.zeros_like(counts)
        trial[floor] = size
        party_spend, total_spend = spend(trial)
        if np.any(party_spend > party_room) or total_spend > total_room:
            break
        opened = search.site_counts(trial) > 0
        at = {g: floor[g] for g in range(len(profiles))}
        for _, g, a, b in steps:
            if at[g] != a:
                continue  # an earlier step of this profile did not fit whole
            extra = unit[b] - unit[a]
            new_keys = [int(k) for k in use_key[b] if k >= 0 and not opened[k]]
            fees = float(keys.fees[new_keys].sum()) if new_keys else 0.0
            party = profile_party[g]
            room = min(party_room[party] - party_spend[party], total_room - total_spend) - fees
            sites = int(size[g]) if extra <= 0 else min(int(size[g]), int(room // extra))
            if room < 0 or sites <= 0:
                continue
            trial[a] -= sites
            trial[b] += sites
            added = sites * extra + fees
            party_spend[party] += added
            total_spend += added
            opened[new_keys] = True
            at[g] = b if sites == size[g] else -1
        true_party, true_total = spend(trial)
        over = max(float(np.max(true_party - limit)), true_total - total_limit)
        if over <= 0.005:
            if float(trial @ q) > best_quality:
                best, best_quality = trial, float(trial @ q)
            break
        # discounts fell as sites moved: ask for less by the overshoot and retry
        party_room = party_room - np.maximum(true_party - limit, 0) - 0.01
        total_room = total_room - max(true_total - total_limit, 0) - 0.01
    if best is None:
        return None
    start: dict[int, dict[Combo, int]] = {}
    for i in np.nonzero(best)[0]:
        g = int(combos.profile[i])
        start.setdefault(g, {})[(int(combos.pair[i]), int(combos.wifi[i]))] = int(best[i])
    return start
