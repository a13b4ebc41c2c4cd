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

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from procurement.options import Bundle, Candidate, SupplierTerms

#: A combo: (pair index, wifi index or -1) within its profile.
Combo = tuple[int, int]


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


def _flatten(
    profiles: Sequence[ProfileOptions], terms: dict[str, SupplierTerms]
) -> tuple[_Combos, _Keys]:
    """Every (pair, wifi) combo of every profile as arrays; pairs and wifis crossed in numpy."""
    key_index: dict[tuple[str, str], int] = {}

    def key(party: str, supplier: str) -> int:
        return key_index.setdefault((party, supplier), len(key_index))

    def charge(party: str, supplier: str, recurring: float) -> tuple[int, float, float]:
        """(key, list recurring that tiers discount, recurring after a flat discount)."""
        flat = terms[supplier].flat_discount
        if flat is None:
            return key(party, supplier), recurring, 0.0
        return key(party, supplier), 0.0, (1 - flat) * recurring

    parts: dict[str, list[np.ndarray]] = {
        name: [] for name in ("profile", "pair", "wifi", "one_off", "fixed", "rkey", "rec", "ukey")
    }
    start, size = [], []
    total = 0
    for g, profile in enumerate(profiles):
        start.append(total)
        size.append(profile.count)
        party = profile.party
        n_p = len(profile.pairs)
        p_one_off = np.empty(n_p)
        p_fixed = np.zeros(n_p)
        p_key = np.full((n_p, 2), -1, dtype=np.int64)
        p_rec = np.zeros((n_p, 2))
        for j, pair in enumerate(profile.pairs):
            p_one_off[j] = sum(c[1] for c in pair.charges)
            for col, (supplier_id, _one_off, recurring) in enumerate(pair.charges):
                k, rec, fixed = charge(party, supplier_id, recurring)
                p_key[j, col], p_rec[j, col] = k, rec
                p_fixed[j] += fixed
        if profile.wifis:
            w_list = [charge(party, w.supplier_id, w.recurring_list) for w in profile.wifis]
            w_key = np.array([c[0] for c in w_list], dtype=np.int64)
            w_rec = np.array([c[1] for c in w_list])
            w_fixed = np.array([c[2] for c in w_list])
            w_one_off = np.array([w.one_off for w in profile.wifis])
            n_w = len(w_list)
        else:
            w_key, w_rec = np.array([-1], dtype=np.int64), np.zeros(1)
            w_fixed, w_one_off, n_w = np.zeros(1), np.zeros(1), 1
        pi = np.repeat(np.arange(n_p), n_w)  # pair index of each combo
        wi = np.tile(np.arange(n_w), n_p)  # wifi index
        rkey = np.column_stack([p_key[pi], w_key[wi]])
        # a site counts once towards a supplier however many of its links it sells
        ukey = rkey.copy()
        dup = (ukey[:, 2] == ukey[:, 0]) | (ukey[:, 2] == ukey[:, 1])
        ukey[dup, 2] = -1
        parts["profile"].append(np.full(n_p * n_w, g, dtype=np.int64))
        parts["pair"].append(pi)
        parts["wifi"].append(wi if profile.wifis else np.full(n_p, -1, dtype=np.int64))
        parts["one_off"].append(p_one_off[pi] + w_one_off[wi])
        parts["fixed"].append(p_fixed[pi] + w_fixed[wi])
        parts["rkey"].append(rkey)
        parts["rec"].append(np.column_stack([p_rec[pi], w_rec[wi]]))
        parts["ukey"].append(ukey)
        total += n_p * n_w
    combos = _Combos(
        profile=np.concatenate(parts["profile"]),
        pair=np.concatenate(parts["pair"]),
        wifi=np.concatenate(parts["wifi"]),
        one_off=np.concatenate(parts["one_off"]),
        fixed_rec=np.concatenate(parts["fixed"]),
        rec_key=np.concatenate(parts["rkey"]),
        rec=np.concatenate(parts["rec"]),
        use_key=np.concatenate(parts["ukey"]),
        start=np.array(start, dtype=np.int64),
        size=np.array(size, dtype=np.int64),
    )
    return combos, _Keys(list(key_index), terms)


class _Search:
    """The local search's state: sites per combo, and the arrays to price it."""

    def __init__(self, combos: _Combos, keys: _Keys) -> None:
        self.c = combos
        self.k = keys
        self.n_keys = len(keys.keys)
        # key -> combos that count a site towards it, as a boolean matrix row on demand
        self.uses_any = np.zeros((len(combos.profile), max(self.n_keys, 1)), dtype=bool)
        for col in range(3):
            valid = combos.use_key[:, col] >= 0
            self.uses_any[np.nonzero(valid)[0], combos.use_key[valid, col]] = True

    # ---- pricing
    def unit_costs(self, d: np.ndarray) -> np.ndarray:
        """Per-site cost of every combo with key discounts ``d``."""
        c = self.c
        padded = np.append(d, 0.0)  # key -1 -> no discount (its rec is 0 anyway)
        return c.one_off + c.fixed_rec + (c.rec * (1 - padded[c.rec_key])).sum(axis=1)

    def site_counts(self, counts: np.ndarray) -> np.ndarray:
        """Distinct sites per key (a combo lists each of its keys once)."""
        n = np.zeros(self.n_keys)
        for col in range(3):
            keys = self.c.use_key[:, col]
            valid = keys >= 0
            n += np.bincount(keys[valid], weights=counts[valid], minlength=self.n_keys)
        return n

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
        closed_fees = np.where(open_keys, 0.0, self.k.fees)
        padded = np.append(closed_fees, 0.0)
        cost = cost + padded[c.use_key].sum(axis=1)
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
    if not profiles:
        return None
    deadline = time.perf_counter() + seconds
    combos, keys = _flatten(profiles, terms)
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
    return start
