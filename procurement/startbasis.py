"""A simplex basis at a plan, so the root LP starts where the plan is.

Probing (:func:`procurement.optimiser.probe_root`) solves the LP relaxation
starting from a plan, usually the optimum or close to it. HiGHS, handed the
plan as a solution, builds a crash basis from it, and with the supplier-used
and tier binaries held at the plan's values (an LP whose optimum is then the
plan or next to it) still took 6,780 dual simplex iterations at 500 sites
and 29,279 at 25,000 (ten organisations, collaborative), most of them
pivoting the helper columns (sites per supplier, discounts) into the basis
one by one, before the binaries were freed. The model's structure says
where each column belongs, so the basis is written down here instead, and
the relaxation is solved from it with nothing held:

* each profile's ``serve`` row: the pair count with the most sites;
* each wifi class's row: the wifi count with the most sites, or where the
  class has none, the cheapest at the plan's discounts (so the others price
  out);
* each ``count`` row its ``y``; a partial-service ``served`` row its served
  count; a quality ``spend`` row its spend;
* each discount column in whichever of its two rows binds at the plan, its
  rate row on a tie (so the discount prices out the links it applies to,
  as the relaxation may use it with its tier binary fractional);
* every other row its slack.

Ordered serve and wifi rows, then count rows, then discount rows, the basis
matrix is block triangular with unit diagonal blocks, so it is never
singular. It is only a starting point: the simplex method finishes from it
(a few hundred iterations where the plan is not quite a vertex or not quite
optimal), and the LP's optimum, hence every bound and proof, is the same
from any basis.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

#: HiGHS's ``HighsBasisStatus`` values
LOWER, BASIC, UPPER, ZERO = 0, 1, 2, 3

_index = operator.attrgetter("index")


class ModelArrays(Protocol):
    """What the basis needs of the model as handed to HiGHS."""

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_of: np.ndarray
    column_of: np.ndarray
    value: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray


@dataclass
class RowRoles:
    """Which columns may be basic in which rows of a planning model.

    Rows are HiGHS row indices (the order rows were added); columns are the
    model's variables, whose ``index`` the solver sets when it hands the
    model over. :func:`procurement.optimiser.build_model` records each row
    as it adds it.
    """

    serve_rows: list[int] = field(default_factory=list)
    #: per serve row: the profile's pair counts
    serve_counts: list[list[Any]] = field(default_factory=list)
    wifi_rows: list[int] = field(default_factory=list)
    #: per wifi class row: the class's wifi counts
    wifi_counts: list[list[Any]] = field(default_factory=list)
    own_rows: list[int] = field(default_factory=list)
    #: per row, the column that defines it: count rows' y, served and spend columns
    own_columns: list[Any] = field(default_factory=list)
    rate_rows: list[int] = field(default_factory=list)
    tier_rows: list[int] = field(default_factory=list)
    #: per discount: its column and its tier's binary
    discounts: list[Any] = field(default_factory=list)
    tiers: list[Any] = field(default_factory=list)

    def serve(self, row: int, counts: list[Any]) -> None:
        self.serve_rows.append(row)
        self.serve_counts.append(counts)

    def wifi(self, row: int, counts: list[Any]) -> None:
        self.wifi_rows.append(row)
        self.wifi_counts.append(counts)

    def own(self, row: int, column: Any) -> None:
        self.own_rows.append(row)
        self.own_columns.append(column)

    def discount(self, rate_row: int, tier_row: int, column: Any, tier: Any) -> None:
        self.rate_rows.append(rate_row)
        self.tier_rows.append(tier_row)
        self.discounts.append(column)
        self.tiers.append(tier)

    def statuses(self, start: np.ndarray, arrays: ModelArrays) -> tuple[np.ndarray, np.ndarray]:
        """Column and row statuses (HiGHS's codes) of the basis at plan ``start``."""
        return self.indexed().statuses(start, arrays)

    def indexed(self) -> IndexedRoles:
        """The roles by column index (the variables' ``index``, set when the
        model was handed to HiGHS)."""
        serve = _Groups.of(self.serve_rows, self.serve_counts)
        wifi = _Groups.of(self.wifi_rows, self.wifi_counts)
        return IndexedRoles(
            serve=serve,
            wifi=wifi,
            own_rows=np.asarray(self.own_rows, dtype=np.int64),
            own_columns=_indices(self.own_columns),
            rate_rows=np.asarray(self.rate_rows, dtype=np.int64),
            tier_rows=np.asarray(self.tier_rows, dtype=np.int64),
            discounts=_indices(self.discounts),
            tiers=_indices(self.tiers),
        )


@dataclass(frozen=True)
class _Groups:
    """Rows each with a group of columns, the groups end to end."""

    rows: np.ndarray
    columns: np.ndarray
    segment: np.ndarray  # per column: its group
    firsts: np.ndarray  # where each group starts

    @classmethod
    def of(cls, rows: list[int], groups: list[list[Any]]) -> _Groups:
        columns, segment, firsts = _segments(groups)
        return cls(np.asarray(rows, dtype=np.int64), columns, segment, firsts)

    def restrict(self, col_new: np.ndarray, row_new: np.ndarray) -> _Groups:
        """The groups whose rows are kept, renumbered (their columns are kept with them)."""
        kept = row_new[self.rows] >= 0
        in_kept = kept[self.segment]
        lengths = np.bincount(self.segment, minlength=len(self.rows))[kept]
        firsts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=firsts[1:])
        columns = col_new[self.columns[in_kept]]
        if np.any(columns < 0):
            raise ValueError("a kept row's group lost a column")
        return _Groups(
            row_new[self.rows[kept]],
            columns,
            np.repeat(np.arange(len(lengths)), lengths),
            firsts,
        )


@dataclass(frozen=True)
class IndexedRoles:
    """:class:`RowRoles` by HiGHS column index, as numpy arrays: what the basis
    is written from, and what a model cut from another keeps of it."""

    serve: _Groups
    wifi: _Groups
    own_rows: np.ndarray
    own_columns: np.ndarray
    rate_rows: np.ndarray
    tier_rows: np.ndarray
    discounts: np.ndarray
    tiers: np.ndarray

    def restrict(self, col_new: np.ndarray, row_new: np.ndarray) -> IndexedRoles:
        """The roles of a model cut from this one: ``col_new`` and ``row_new``
        map each column and row to the cut model's (-1: not kept). A row kept
        keeps its role; its role's columns must be kept too."""
        own = row_new[self.own_rows] >= 0
        discount = row_new[self.rate_rows] >= 0
        own_columns = col_new[self.own_columns[own]]
        discounts, tiers = col_new[self.discounts[discount]], col_new[self.tiers[discount]]
        tier_rows = row_new[self.tier_rows[discount]]
        if np.any(own_columns < 0) or np.any(discounts < 0) or np.any(tiers < 0) or np.any(
            tier_rows < 0
        ):
            raise ValueError("a kept row's role lost its column or its tier row")
        return IndexedRoles(
            serve=self.serve.restrict(col_new, row_new),
            wifi=self.wifi.restrict(col_new, row_new),
            own_rows=row_new[self.own_rows[own]],
            own_columns=own_columns,
            rate_rows=row_new[self.rate_rows[discount]],
            tier_rows=tier_rows,
            discounts=discounts,
            tiers=tiers,
        )

    def statuses(self, start: np.ndarray, arrays: ModelArrays) -> tuple[np.ndarray, np.ndarray]:
        """Column and row statuses (HiGHS's codes) of the basis at plan ``start``."""
        lower, upper = arrays.col_lower, arrays.col_upper
        row_lower, row_upper = arrays.row_lower, arrays.row_upper
        n_rows = len(row_lower)
        # nonbasic columns sit at the bound nearer their start value (free ones at 0)
        col = np.where(start - lower > upper - start, UPPER, LOWER).astype(np.int8)
        col[np.isinf(lower) & np.isinf(upper)] = ZERO
        activity = np.bincount(
            arrays.row_of, weights=arrays.value * start[arrays.column_of], minlength=n_rows
        )
        basic_in = np.full(n_rows, -1, dtype=np.int64)  # row -> its basic column

        rows = self.serve.rows
        columns, segment, firsts = self.serve.columns, self.serve.segment, self.serve.firsts
        chosen = columns[_first_least(-start[columns], segment, firsts)]
        slack = np.minimum(activity[rows] - row_lower[rows], row_upper[rows] - activity[rows])
        tight = slack <= 1e-9 * np.maximum(1.0, np.abs(activity[rows]))
        basic_in[rows[tight]] = chosen[tight]  # else sites left unserved: the slack is basic

        unit_cost = arrays.cost
        if len(self.discounts):
            rate_rows, tier_rows = self.rate_rows, self.tier_rows
            discs = self.discounts
            rate_slack = row_upper[rate_rows] - activity[rate_rows]
            tier_slack = row_upper[tier_rows] - activity[tier_rows]
            by_tier = tier_slack < rate_slack - 1e-9 * np.maximum(1.0, np.abs(rate_slack))
            basic_in[np.where(by_tier, tier_rows, rate_rows)] = discs
            # unit costs at the plan's discounts: each rate row whose tier is
            # reached takes its discount off the links it lists
            reached = start[self.tiers] > 0.5
            disc_of_row = np.full(n_rows, -1, dtype=np.int64)
            disc_of_row[rate_rows[reached]] = discs[reached]
            entry = disc_of_row[arrays.row_of]
            entry = (entry >= 0) & (arrays.column_of != entry)
            unit_cost = arrays.cost + np.bincount(
                arrays.column_of[entry], weights=arrays.value[entry], minlength=len(start)
            )

        if len(self.wifi.rows):
            columns, segment, firsts = self.wifi.columns, self.wifi.segment, self.wifi.firsts
            values = start[columns]
            most = np.maximum.reduceat(values, firsts)
            # the class's count with the most sites, or with none, the cheapest
            key = np.where(most[segment] > 0, -values, unit_cost[columns])
            basic_in[self.wifi.rows] = columns[_first_least(key, segment, firsts)]

        basic_in[self.own_rows] = self.own_columns

        made = basic_in >= 0
        col[basic_in[made]] = BASIC
        # a nonbasic row sits at a bound it reaches: >= and = rows at their lower
        row = np.where(np.isfinite(row_lower), LOWER, UPPER).astype(np.int8)
        row[~made] = BASIC
        return col, row


def _indices(columns: list[Any]) -> np.ndarray:
    return np.fromiter(map(_index, columns), dtype=np.int64, count=len(columns))


def _segments(groups: list[list[Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The groups' column indices end to end, each one's group, and where each group starts."""
    lengths = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    columns = _indices(list(itertools.chain.from_iterable(groups)))
    firsts = np.zeros(len(groups), dtype=np.int64)
    np.cumsum(lengths[:-1], out=firsts[1:])
    return columns, np.repeat(np.arange(len(groups)), lengths), firsts


def _first_least(key: np.ndarray, segment: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Per group (``segment`` ascending, groups starting at ``firsts``): the
    position of its least ``key``, the first of equals (as ``np.argmin``)."""
    return np.lexsort((key, segment))[firsts]
