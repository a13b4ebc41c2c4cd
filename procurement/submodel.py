"""A coalition's model cut from the whole consortium's, instead of built again.

Why: an exact Shapley value or nucleolus solves one MILP per coalition (1,012
of them for ten organisations). On the collaborative route a coalition is one
contracting party, like the consortium, and its sites fall into the
consortium's profiles (same requirements, same options), only fewer sites in
each. Its model (:func:`procurement.optimiser.build_model`) is therefore the
consortium's with the profiles it lacks left out and each profile's site
count ``n`` changed. Building it with PuLP, handing it to HiGHS, setting the
start on PuLP's variables and reading the plan back through them took about
half of a five-organisation coalition's solve; cut from the consortium's
arrays it takes a few milliseconds.

Where a profile's count enters its model (all checked when the template is
made, so a change to :func:`~procurement.optimiser.build_model` that breaks
this fails loudly instead of cutting a wrong model):

* the finite upper bounds of its columns (pair and wifi counts, sites per
  supplier) are ``n``;
* the nonzero bounds of its rows (its serve row) are ``n``;
* its rows' coefficients on party-wide columns are proportional to ``n``
  (``y <= n * used``; a discount at most ``delta * n * per_site * z``).

Party-wide columns the coalition cannot use are left out, as ``build_model``
leaves them out: a supplier no member profile can use, and a tier whose
threshold is above the sites the coalition could bring its supplier, with
that tier's discount columns and rows. The cut model is the one
``build_model`` makes for the coalition up to the order of its columns and
some rows that bind nothing (a test compares their LP relaxations).

Only scenarios where nothing else depends on the party's size are cut this
way (:func:`cuttable`); others are built as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from procurement.models import Objective, Scenario
from procurement.optimiser import (
    PlanningModel,
    Profile,
    _ModelArrays,
    model_arrays,
    probe_chains,
    probe_columns,
)
from procurement.startbasis import IndexedRoles

__all__ = ["CutModel", "CutModelError", "ModelTemplate", "cuttable"]

#: per profile: sites per (pair index, wifi index or -1), as set_start takes a plan
Plan = Mapping[int, Mapping[tuple[int, int], int]]


class CutModelError(ValueError):
    """The consortium's model does not have the shape cutting relies on."""


def cuttable(scenario: Scenario) -> bool:
    """Whether a coalition's model may be cut from the consortium's under ``scenario``.

    Not with a supplier share cap (its rows' right-hand side is a share of
    the party's sites), partial service (the served counts enter the
    party-wide rows), budgets or the quality objective (rows over every
    cost); the comparison's scenario has none of the last three.
    """
    return (
        scenario.max_supplier_share is None
        and not scenario.allow_partial
        and scenario.budget is None
        and scenario.objective == Objective.COST
    )


@dataclass(frozen=True)
class CutModel:
    """One coalition's model, cut from a :class:`ModelTemplate`."""

    arrays: _ModelArrays
    roles: IndexedRoles
    #: the binaries worth probing (suppliers used, tiers reached), as
    #: :func:`~procurement.optimiser.probe_columns` orders them
    probe: np.ndarray
    chains: list[np.ndarray]
    #: the template column of each column of this model
    columns: np.ndarray
    #: the template profiles the coalition has sites in
    profiles: np.ndarray

    def expand(self, values: np.ndarray, n_template: int) -> np.ndarray:
        """Column values of this model as the template's (left-out columns at zero)."""
        full = np.zeros(n_template)
        full[self.columns] = values
        return full


class ModelTemplate:
    """The consortium's model as arrays, and what it takes to cut coalitions from it.

    ``model``: :func:`~procurement.optimiser.build_model` for every site of
    every player on the collaborative route, under a :func:`cuttable`
    scenario, with nothing relaxed. Its objective is set to the total cost here.
    """

    def __init__(self, model: PlanningModel) -> None:
        prob = model.prob
        prob.setObjective(model.total_cost)
        arrays = model_arrays(prob)
        self.arrays = arrays
        self.profiles: list[Profile] = list(model.profiles)
        self.counts = np.array([p.count for p in self.profiles], dtype=np.int64)
        n_col, n_row = len(arrays.cost), len(arrays.row_lower)

        col_profile = np.full(n_col, -1, dtype=np.int64)
        for g, columns in enumerate(model.profile_columns):
            col_profile[[v.index for v in columns]] = g
        row_profile = np.full(n_row, -1, dtype=np.int64)
        for g, (first, end) in enumerate(model.profile_rows):
            row_profile[first:end] = g
        self.col_profile, self.row_profile = col_profile, row_profile

        # where a profile's count enters: checked, not assumed
        owned = col_profile >= 0
        self.counted_columns = owned & np.isfinite(arrays.col_upper)
        counted_upper = arrays.col_upper[self.counted_columns]
        if not np.array_equal(counted_upper, self.counts[col_profile[self.counted_columns]]):
            raise CutModelError("a profile column's upper bound is not the profile's site count")
        rows_owned = row_profile >= 0
        counts_of_row = self.counts[np.maximum(row_profile, 0)]
        for bound in (arrays.row_lower, arrays.row_upper):
            set_ = rows_owned & np.isfinite(bound) & (bound != 0)
            if not np.array_equal(bound[set_], counts_of_row[set_]):
                raise CutModelError("a profile row's bound is not zero or the profile's site count")
        entry_profile = row_profile[arrays.row_of]
        #: matrix entries proportional to their row's profile count
        self.scaled_entries = (entry_profile >= 0) & (col_profile[arrays.column_of] < 0)

        roles = model.roles.indexed()
        own_entries = np.isin(arrays.row_of, roles.own_rows) & np.isin(
            arrays.column_of, roles.own_columns
        )
        if not np.all(arrays.value[own_entries] == 1.0):
            raise CutModelError("a count, served or spend row does not define its column with 1")
        self.roles = roles

        # party-wide binaries: suppliers used and tiers, per (party, supplier)
        keys = list(model.used)
        key_of = {key: k for k, key in enumerate(keys)}
        self.used_columns = np.array([model.used[key].index for key in keys], dtype=np.int64)
        tier_columns, tier_keys, tier_thresholds = [], [], []
        for key, steps in model.steps.items():
            for z, m, _ in steps:
                tier_columns.append(z.index)
                tier_keys.append(key_of[key])
                tier_thresholds.append(m)
        self.tier_columns = np.array(tier_columns, dtype=np.int64)
        self.tier_keys = np.array(tier_keys, dtype=np.int64)
        self.tier_thresholds = np.array(tier_thresholds, dtype=np.int64)
        # which profiles can bring each key's supplier sites: a key's reach
        incidence = np.zeros((len(keys), len(self.profiles)), dtype=np.int64)
        y_key = np.full(n_col, -1, dtype=np.int64)
        for key, expr in model.site_count.items():
            for y in expr:
                y_key[y.index] = key_of[key]
                incidence[key_of[key], col_profile[y.index]] = 1
        self.incidence = incidence
        self.y_columns = np.flatnonzero(y_key >= 0)
        self.y_keys = y_key[self.y_columns]
        # a discount column goes with its tier
        self.disc_tier = np.full(n_col, -1, dtype=np.int64)
        self.disc_tier[roles.discounts] = roles.tiers
        self.probe = np.array([v.index for v in probe_columns(model)], dtype=np.int64)
        self.chains = [
            np.array([v.index for v in chain], dtype=np.int64) for chain in probe_chains(model)
        ]

        # per profile: its pair count columns, and per wifi class its pairs and wifi counts
        self.pair_columns = [np.array([v.index for v in row], dtype=np.int64) for row in model.x]
        self.wifi_classes: list[list[tuple[np.ndarray, np.ndarray]]] = []
        #: per profile: each pair's wifi class (-1: the profile has no wifi)
        self.pair_class: list[list[int]] = []
        for row, classes in zip(model.x, model.wifi, strict=True):
            position = {v.index: j for j, v in enumerate(row)}
            class_of = [-1] * len(row)
            for c, (members, _) in enumerate(classes):
                for v in members:
                    class_of[position[v.index]] = c
            self.pair_class.append(class_of)
            self.wifi_classes.append(
                [
                    (
                        np.array([position[v.index] for v in members], dtype=np.int64),
                        np.array([t.index for t, _ in transport], dtype=np.int64),
                    )
                    for members, transport in classes
                ]
            )

    @property
    def n_columns(self) -> int:
        return len(self.arrays.cost)

    # ------------------------------------------------------------------ cutting

    def cut(self, counts: np.ndarray) -> CutModel:
        """The model of a coalition with ``counts[g]`` sites in template profile ``g``."""
        a = self.arrays
        counts = np.asarray(counts, dtype=np.int64)
        kept_profiles = counts > 0
        reach = self.incidence @ counts
        keep_col = np.ones(self.n_columns, dtype=bool)
        owned = self.col_profile >= 0
        keep_col[owned] = kept_profiles[self.col_profile[owned]]
        keep_col[self.used_columns] = reach > 0
        keep_col[self.tier_columns] = self.tier_thresholds <= reach[self.tier_keys]
        discs = np.flatnonzero(self.disc_tier >= 0)
        keep_col[discs] &= keep_col[self.disc_tier[discs]]

        keep_row = np.ones(len(a.row_lower), dtype=bool)
        rows_owned = self.row_profile >= 0
        keep_row[rows_owned] = kept_profiles[self.row_profile[rows_owned]]
        gone = ~keep_col[self.roles.discounts]
        keep_row[self.roles.rate_rows[gone]] = False
        keep_row[self.roles.tier_rows[gone]] = False
        entries = keep_row[a.row_of] & keep_col[a.column_of]
        # rows left without entries go where they bind nothing (0 within their bounds)
        empty = np.bincount(a.row_of[entries], minlength=len(keep_row)) == 0
        keep_row &= ~(empty & (a.row_lower <= 0) & (a.row_upper >= 0))
        entries &= keep_row[a.row_of]

        # the counts, where they enter
        ratio = np.zeros(len(counts))
        ratio[kept_profiles] = counts[kept_profiles] / self.counts[kept_profiles]
        value = a.value.copy()
        scaled = self.scaled_entries
        value[scaled] = (
            a.value[scaled]
            / self.counts[self.row_profile[a.row_of[scaled]]]
            * counts[self.row_profile[a.row_of[scaled]]]
        )
        upper = a.col_upper.copy()
        upper[self.counted_columns] = counts[self.col_profile[self.counted_columns]]
        row_lower, row_upper = a.row_lower.copy(), a.row_upper.copy()
        row_count = counts[np.maximum(self.row_profile, 0)]
        for bound in (row_lower, row_upper):
            set_ = rows_owned & np.isfinite(bound) & (bound != 0)
            bound[set_] = row_count[set_]

        columns = np.flatnonzero(keep_col)
        col_new = np.full(self.n_columns, -1, dtype=np.int64)
        col_new[columns] = np.arange(len(columns))
        rows = np.flatnonzero(keep_row)
        row_new = np.full(len(keep_row), -1, dtype=np.int64)
        row_new[rows] = np.arange(len(rows))
        integer = col_new[a.integer]
        arrays = _ModelArrays(
            cost=a.cost[columns],
            offset=a.offset,
            col_lower=a.col_lower[columns],
            col_upper=upper[columns],
            integer=integer[integer >= 0],
            row_of=row_new[a.row_of[entries]],
            column_of=col_new[a.column_of[entries]].astype(np.int32),
            value=value[entries],
            row_lower=row_lower[rows],
            row_upper=row_upper[rows],
        )
        probe = col_new[self.probe]
        chains = [c for c in (col_new[chain] for chain in self.chains) if len(c) and c[0] >= 0]
        return CutModel(
            arrays=arrays,
            roles=self.roles.restrict(col_new, row_new),
            probe=probe[probe >= 0],
            chains=[c[c >= 0] for c in chains],
            columns=columns,
            profiles=np.flatnonzero(kept_profiles),
        )

    # ------------------------------------------------------------------ plans

    def values(self, plan: Plan) -> np.ndarray:
        """Every template column's value in ``plan`` (template profile -> sites
        per (pair, wifi or -1)), as :func:`~procurement.optimiser.set_start` sets them."""
        a = self.arrays
        x = np.zeros(self.n_columns)
        for g, combos in plan.items():
            columns, classes, class_of = (
                self.pair_columns[g],
                self.wifi_classes[g],
                self.pair_class[g],
            )
            for (j, o), sites in combos.items():
                x[columns[j]] += sites
                if o >= 0:
                    x[classes[class_of[j]][1][o]] += sites
        # each count row defines its column (coefficient 1, the rest of the row
        # over pair and wifi counts): sites per supplier
        activity = np.bincount(
            a.row_of, weights=a.value * x[a.column_of], minlength=len(a.row_lower)
        )
        x[self.roles.own_columns] = -activity[self.roles.own_rows]
        sites = np.bincount(
            self.y_keys, weights=x[self.y_columns], minlength=len(self.used_columns)
        )
        x[self.used_columns] = sites > 0.5
        x[self.tier_columns] = sites[self.tier_keys] >= self.tier_thresholds - 0.5
        # a discount is its rate row's links' recurring times the step, where its tier is reached
        activity = np.bincount(
            a.row_of, weights=a.value * x[a.column_of], minlength=len(a.row_lower)
        )
        reached = x[self.roles.tiers] > 0.5
        x[self.roles.discounts] = np.where(reached, -activity[self.roles.rate_rows], 0.0)
        return x

    def pair_and_wifi_counts(
        self, values: np.ndarray, g: int
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Profile ``g``'s pair counts in ``values`` (template columns), and per
        wifi class its pairs and their wifi counts."""
        pairs = np.rint(values[self.pair_columns[g]]).astype(np.int64)
        classes = [
            (members, np.rint(values[transport]).astype(np.int64))
            for members, transport in self.wifi_classes[g]
        ]
        return pairs, classes


def coalition_profiles(
    template: ModelTemplate, cut_profiles: Sequence[int], site_ids: Sequence[Sequence[str]]
) -> list[Profile]:
    """The coalition's profiles: the template's, each with only its member sites."""
    return [
        dataclasses.replace(template.profiles[g], site_ids=list(ids))
        for g, ids in zip(cut_profiles, site_ids, strict=True)
    ]
