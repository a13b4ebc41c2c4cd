"""A simplex basis at a plan, so the root LP starts where the plan is.

Probing (:func:`procurement.optimiser.probe_root`) first solves the LP
relaxation with the supplier-used and tier binaries held at the start plan's
values; that LP's optimum is the plan, or close to it. HiGHS, handed the plan
as a solution, builds a crash basis from it and still took 6,780 dual simplex
iterations at 500 sites and 29,279 at 25,000 (ten organisations,
collaborative), most of them pivoting the helper columns (sites per supplier,
discounts) into the basis one by one. The model's structure says where each
belongs, so the basis is written down here instead:

* each profile's ``serve`` row: the pair count with the most sites;
* each wifi class's row: the wifi count with the most sites, or where the
  class has none, the cheapest at the plan's discounts (so the others price
  out);
* each ``count`` row its ``y``; a partial-service ``served`` row its served
  count; a quality ``spend`` row its spend;
* each discount column in whichever of its two rows binds at the plan, its
  rate row on a tie (so the discount prices out the links it applies to,
  which is what the relaxation will use once the tier binaries are freed);
* every other row its slack.

Ordered serve and wifi rows, then count rows, then discount rows, the basis
matrix is block triangular with unit diagonal blocks, so it is never
singular. It is only a starting point: the simplex method finishes from it
(a few hundred iterations where the plan is not quite a vertex or not quite
optimal), and the LP's optimum, hence every bound and proof, is the same
from any basis.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
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
    model over.
    """

    #: (serve row, the profile's pair counts)
    serve: list[tuple[int, list[Any]]] = field(default_factory=list)
    #: (wifi class row, the class's wifi counts)
    wifi: list[tuple[int, list[Any]]] = field(default_factory=list)
    #: (row, the column that defines it): count rows' y, served and spend columns
    own: list[tuple[int, Any]] = field(default_factory=list)
    #: (rate row, tier row, discount column, tier binary)
    discounts: list[tuple[int, int, Any, Any]] = field(default_factory=list)

    def statuses(
        self, start: np.ndarray, arrays: ModelArrays, held: Sequence[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Column and row statuses of a basis at ``start`` (HiGHS's codes).

        ``held``: columns fixed at their start values (nonbasic at that bound).
        """
        lower, upper = arrays.col_lower, arrays.col_upper
        n_rows = len(arrays.row_lower)
        # nonbasic columns sit at the bound nearer their start value (free ones at 0)
        col = np.where(start - lower > upper - start, UPPER, LOWER).astype(np.int8)
        col[np.isinf(lower) & np.isinf(upper)] = ZERO
        col[np.asarray(held, dtype=np.int64)] = LOWER
        activity = np.bincount(
            arrays.row_of, weights=arrays.value * start[arrays.column_of], minlength=n_rows
        )
        basic_in = np.full(n_rows, -1, dtype=np.int64)  # row -> its basic column

        row_lower, row_upper = arrays.row_lower, arrays.row_upper
        for row, counts in self.serve:
            slack = min(activity[row] - row_lower[row], row_upper[row] - activity[row])
            if slack > 1e-9 * max(1.0, abs(activity[row])):
                continue  # sites left unserved: the slack is basic
            columns = np.fromiter(map(_index, counts), dtype=np.int64, count=len(counts))
            basic_in[row] = columns[np.argmax(start[columns])]

        if self.discounts:
            rate_rows, tier_rows, discs, tiers = (
                np.fromiter(map(f, self.discounts), dtype=np.int64, count=len(self.discounts))
                for f in (
                    operator.itemgetter(0),
                    operator.itemgetter(1),
                    lambda d: d[2].index,
                    lambda d: d[3].index,
                )
            )
            rate_slack = row_upper[rate_rows] - activity[rate_rows]
            tier_slack = row_upper[tier_rows] - activity[tier_rows]
            by_tier = tier_slack < rate_slack - 1e-9 * np.maximum(1.0, np.abs(rate_slack))
            basic_in[np.where(by_tier, tier_rows, rate_rows)] = discs
            # unit costs at the plan's discounts: each rate row whose tier is
            # reached takes its discount off the links it lists
            reached = np.zeros(n_rows, dtype=bool)
            reached[rate_rows[start[tiers] > 0.5]] = True
            entry = reached[arrays.row_of]
            disc_of_row = np.full(n_rows, -1, dtype=np.int64)
            disc_of_row[rate_rows] = discs
            entry &= arrays.column_of != disc_of_row[arrays.row_of]
            unit_cost = arrays.cost.copy()
            np.add.at(unit_cost, arrays.column_of[entry], arrays.value[entry])
        else:
            unit_cost = arrays.cost

        for row, counts in self.wifi:
            columns = np.fromiter(map(_index, counts), dtype=np.int64, count=len(counts))
            values = start[columns]
            if values.max() > 0:
                basic_in[row] = columns[np.argmax(values)]
            else:
                basic_in[row] = columns[np.argmin(unit_cost[columns])]

        for row, var in self.own:
            basic_in[row] = var.index

        made = basic_in >= 0
        col[basic_in[made]] = BASIC
        # a nonbasic row sits at a bound it reaches: >= and = rows at their lower
        row = np.where(np.isfinite(row_lower), LOWER, UPPER).astype(np.int8)
        row[~made] = BASIC
        return col, row
