"""The MILP that picks every site's links: the one place the model lives.

Formulation
-----------
Sites of one contracting party with the same requirements (and, where it
matters, the same current supplier or priority) are interchangeable, so they
form a *profile*; the model chooses how many sites of each profile take each
non-dominated bundle (:mod:`procurement.options`), as integer counts. Its size
grows with the number of distinct profiles, not sites.

For each party ``C`` and supplier ``p``:

* ``n[C,p]`` = sites of ``C`` using ``p`` (a bundle counts a site once per
  supplier, however many of its links come from ``p``);
* ``u[C,p]`` binary, 1 when ``p`` is used: fees ``u * fees`` and
  ``n <= N * u``;
* volume tiers: binary ``z[C,p,k]`` (at most one), ``n >= sum_k min_k z_k``,
  and a discount amount ``D_k <= d_k * R`` and ``D_k <= d_k * Rmax * z_k``
  where ``R`` is the list recurring spend. Minimising cost makes ``D`` the
  largest reachable tier's; the plan is priced again afterwards by
  :func:`procurement.costing.price` in any case.
* central route: the framework's flat discount and fees, no tiers.

Solo and central plans have a party per organisation. When nothing links
the parties (no scenario budget over all of them, no shortlist cut, no
supplier site limit) each party is solved as a model of its own, which is
exact and much faster; otherwise they share one model.

Before HiGHS runs, :mod:`procurement.incumbent` finds a plan by local search.
On the cost stage the LP relaxation is probed around that plan and then
branched on (:func:`probe_root`, :mod:`procurement.branching`), which usually
proves the optimum (that plan or a cheaper one found on the way) without
HiGHS's MIP; otherwise HiGHS's MIP starts from the best plan found and proves
the optimum. The model reaches HiGHS in bulk array calls (:class:`HighsSolver`),
not PuLP's column-by-column hand-over, which at national scale cost more than
the solve.

Objectives are lexicographic and solved in stages: served priority (when
``allow_partial``), then quality (objective ``quality``), then cost; each
stage's optimum is fixed as a constraint for the next.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import operator
import os
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from procurement.blas import use_one_blas_thread
from procurement.branching import branch_and_bound, run_lp
from procurement.costing import party_of, price
from procurement.errors import InputError, Problem
from procurement.gcpause import without_gc
from procurement.incumbent import find_quality_start, find_start
from procurement.inputs import resolve_organisations
from procurement.models import (
    Catalog,
    Objective,
    Organisation,
    Route,
    Scenario,
    Site,
)
from procurement.options import (
    Bundle,
    BundleBuilder,
    Candidate,
    Requirement,
    SupplierTerms,
    requirement_of,
    supplier_exclusion,
    unservable_sites,
    with_wifi,
)
from procurement.plan import (
    Baseline,
    Breakdown,
    Diagnostic,
    Level,
    ModelStats,
    Plan,
    PlanStatus,
)
from procurement.startbasis import RowRoles

SOLVERS = ("highs", "cbc")
#: Families of scenario constraints that diagnosis may relax one at a time.
RELAXABLE = (
    "budget",
    "organisation_budgets",
    "max_suppliers",
    "min_suppliers",
    "max_supplier_share",
    "max_supplier_changes",
)


# --------------------------------------------------------------------------- profiles


@dataclass
class Profile:
    """Interchangeable sites of one party: they share every valid link pair and wifi."""

    party: str
    requirement: Requirement
    site_ids: list[str]
    pairs: tuple[Bundle, ...]  # non-dominated (primary, secondary) pairs, no wifi
    wifis: tuple[Candidate, ...]  # wifi options; empty when the sites need no wifi
    current_supplier: str | None
    priority: int

    @property
    def count(self) -> int:
        return len(self.site_ids)

    @property
    def suppliers(self) -> list[str]:
        return sorted(
            {p for b in self.pairs for p in b.suppliers} | {w.supplier_id for w in self.wifis}
        )


def build_profiles(
    sites: Sequence[Site],
    scenario: Scenario,
    builder: BundleBuilder,
    *,
    aggregate: bool = True,
    requirements: Sequence[Requirement] | None = None,
) -> list[Profile]:
    """Group sites into profiles; a key holds only what the scenario makes relevant.

    ``aggregate=False`` gives every site a profile of its own: the per-site
    model, kept to check that aggregation changes no optimum.
    ``requirements``: each site's :func:`requirement_of`, if already worked out.
    """
    by_key: dict[tuple, Profile] = {}
    track_current = scenario.max_supplier_changes is not None
    track_priority = scenario.allow_partial
    if requirements is None:
        requirements = [requirement_of(site, scenario.start_date) for site in sites]
    in_order = sorted(zip(sites, requirements, strict=True), key=lambda sr: sr[0].site_id)
    for site, requirement in in_order:
        req = builder.normalise(requirement)
        current = site.current_supplier if track_current else None
        priority = site.priority if track_priority else 0
        key = (party_of(site, scenario.route), req, current, priority)
        if not aggregate:
            key += (site.site_id,)
        profile = by_key.get(key)
        if profile is None:
            pairs = builder.link_pairs(req)
            wifis = builder.wifi_options(req)
            if req.wifi_aps > 0 and not wifis:
                pairs = ()
            profile = Profile(
                party=key[0],
                requirement=req,
                site_ids=[],
                pairs=pairs,
                wifis=wifis,
                current_supplier=current,
                priority=site.priority,
            )
            by_key[key] = profile
        profile.site_ids.append(site.site_id)
    return [p for p in by_key.values() if p.pairs]


# --------------------------------------------------------------------------- the model

#: A (variable, coefficient) term of a linear expression.
Term = tuple[pulp.LpVariable, float]


@dataclass
class PlanningModel:
    """A built PuLP problem and the handles the stages and diagnosis need."""

    prob: pulp.LpProblem
    profiles: list[Profile]
    x: list[list[pulp.LpVariable]]
    #: per profile: (pair variables of one wifi class, [(t variable, wifi option)])
    wifi: list[list[tuple[list[pulp.LpVariable], list[tuple[pulp.LpVariable, Candidate]]]]]
    total_cost: pulp.LpAffineExpression
    party_cost: dict[str, pulp.LpAffineExpression]
    served: pulp.LpAffineExpression
    priority: pulp.LpAffineExpression
    quality: pulp.LpAffineExpression
    used: dict[tuple[str, str], pulp.LpVariable]
    site_count: dict[tuple[str, str], pulp.LpAffineExpression]
    party_served: dict[str, pulp.LpAffineExpression]
    party_sites: dict[str, int]
    changes: dict[str, pulp.LpAffineExpression]
    #: tier binaries per (party, supplier): (z, min_sites, extra discount)
    steps: dict[tuple[str, str], list[tuple[pulp.LpVariable, int, float]]] = field(
        default_factory=dict
    )
    #: per profile and supplier: (y, the (variable, coefficient) terms y must equal)
    y_links: list[tuple[pulp.LpVariable, list[Term]]] = field(default_factory=list)
    #: per profile, supplier and tier: (discount variable, step, profile recurring terms, z)
    discounts: list[tuple[pulp.LpVariable, float, list[Term], pulp.LpVariable]] = field(
        default_factory=list
    )
    #: per profile when partial service is allowed: (served variable, sites served terms)
    served_links: list[tuple[pulp.LpVariable, list[Term]]] = field(default_factory=list)
    #: per profile with the quality objective and a budget: (spend variable, its cost terms)
    spend_links: list[tuple[pulp.LpVariable, list[Term]]] = field(default_factory=list)
    #: which columns may be basic in which rows: the root LP's basis at a plan
    roles: RowRoles = field(default_factory=RowRoles)
    #: per profile: its rows, as (first, end) in the order added (HiGHS's order)
    profile_rows: list[tuple[int, int]] = field(default_factory=list)
    #: per profile: the columns made for it (counts, sites per supplier, discounts)
    profile_columns: list[list[pulp.LpVariable]] = field(default_factory=list)
    build_seconds: float = 0.0
    n_variables: int = 0
    n_constraints: int = 0


def _expr(
    pairs: list[tuple[pulp.LpVariable, float]], constant: float = 0.0
) -> pulp.LpAffineExpression:
    """A linear expression from (variable, coefficient) pairs, summing repeats.

    ``pulp.LpAffineExpression(pairs)`` keeps only the *last* coefficient of a
    repeated variable. Most rows repeat none, so the pairs are first copied in
    one C-level ``dict.update`` (one hash of each variable, a Python call in
    PuLP, rather than three); only when that lost a repeat are they summed.
    """
    expr = pulp.LpAffineExpression(constant=constant)
    dict.update(expr, pairs)
    if len(expr) != len(pairs):
        expr.clear()
        for var, coef in pairs:
            expr[var] = expr.get(var, 0.0) + coef
    return expr


EQ, LE, GE = pulp.LpConstraintEQ, pulp.LpConstraintLE, pulp.LpConstraintGE


def _row(
    prob: pulp.LpProblem,
    terms: list[Term],
    sense: int,
    rhs: float,
    name: str,
) -> None:
    """Add ``sum(coef * var) (sense) rhs`` built in one go.

    PuLP's operators copy the expression at every ``-`` and ``*``; at a
    quarter of a million rows those copies cost more than the solve. A
    :class:`PlanningProblem` keeps the row as plain lists until a PuLP
    constraint is asked for.
    """
    if isinstance(prob, PlanningProblem):
        prob.add_row(terms, sense, rhs, name)
    else:
        prob.addConstraint(pulp.LpConstraint(_expr(terms), sense, name, rhs))


def _tier_steps(terms: SupplierTerms, reach: int) -> list[tuple[int, float]]:
    """Reachable tiers as increments: (min_sites, extra discount over the tier below)."""
    steps: list[tuple[int, float]] = []
    previous = 0.0
    for m, d in sorted(terms.tiers):
        if m <= reach and d > previous:
            steps.append((m, d - previous))
            previous = d
    return steps


@without_gc
def build_model(
    profiles: list[Profile],
    terms: dict[str, SupplierTerms],
    scenario: Scenario,
    *,
    total_budget: float | None,
    party_budgets: dict[str, float],
    relax: frozenset[str] = frozenset(),
    exclude_supplier_sets: Sequence[frozenset[str]] = (),
    supplier_site_limits: Mapping[str, int] | None = None,
) -> PlanningModel:
    """Build the MILP for ``profiles``; constraint families in ``relax`` are left out.

    Per profile ``g``: ``x[g,l]`` counts sites taking link pair ``l``
    (primary and optional secondary). Wifi is a transport from *classes* of
    pairs (the pair's suppliers that also sell the profile's wifi) to wifi
    options, ``t[g,c,o]``, with ``sum_o t[g,c,o] = sum_{l in c} x[g,l]``: within a
    class every site overlaps the same wifi suppliers, so the distinct-site
    count ``y[g,p] = sum_{l uses p} x + sum_{c without p} t[g,c,o of p]`` is exact
    while the model avoids one variable per pair and wifi combination.

    Rows are kept sparse: party-wide rows (site counts, tiers, shares) sum
    ``y`` rather than thousands of ``x``.

    ``exclude_supplier_sets`` forbids plans whose set of suppliers (over all
    parties) equals one of those given: a no-good cut per set, for shortlists.
    ``supplier_site_limits`` caps the sites (over all parties) a supplier may
    serve, e.g. what it can install within a transition horizon.
    """
    t0 = time.perf_counter()
    prob = PlanningProblem("hscn_plan", pulp.LpMinimize)
    allow_partial = scenario.allow_partial

    # pass 1: which suppliers each profile may use, and how many sites could use each
    profile_suppliers = [pr.suppliers for pr in profiles]
    reach: dict[tuple[str, str], int] = defaultdict(int)
    party_sites: dict[str, int] = defaultdict(int)
    for profile, suppliers in zip(profiles, profile_suppliers, strict=True):
        party_sites[profile.party] += profile.count
        for supplier_id in suppliers:
            reach[(profile.party, supplier_id)] += profile.count

    used: dict[tuple[str, str], pulp.LpVariable] = {}
    steps: dict[tuple[str, str], list[tuple[pulp.LpVariable, int, float]]] = {}
    cost_terms: dict[str, list] = defaultdict(list)  # per party
    for i, key in enumerate(sorted(reach)):
        t = terms[key[1]]
        used[key] = prob.add_variable(f"use_{i}", cat=pulp.LpBinary)
        if t.fees:
            cost_terms[key[0]].append((used[key], t.fees))
        if t.flat_discount is None:
            steps[key] = [
                (prob.add_variable(f"tier_{i}_{k}", cat=pulp.LpBinary), m, delta)
                for k, (m, delta) in enumerate(_tier_steps(t, reach[key]))
            ]

    tiered_keys = {key for key, key_steps in steps.items() if key_steps}

    # pass 2: pair counts, the wifi transport and the per-profile rows
    x: list[list[pulp.LpVariable]] = []
    wifi_vars: list = []
    y_terms: dict[tuple[str, str], list] = defaultdict(list)
    priority_terms: list = []
    quality_terms: list = []
    party_served_terms: dict[str, list] = defaultdict(list)
    change_terms: dict[str, list] = defaultdict(list)
    y_links: list = []
    discounts: list = []
    served_links: list = []
    roles = RowRoles()
    n_disc = 0
    profile_costs: list[tuple[str, int, int]] = []  # (party, first, end) in cost_terms
    profile_rows: list[tuple[int, int]] = []
    profile_columns: list[list[pulp.LpVariable]] = []
    for g, profile in enumerate(profiles):
        party, n = profile.party, profile.count
        # the profile's own rows and columns (procurement.submodel cuts coalition
        # models by them); _variables is in the order made until variables() sorts it
        first_row, first_column = prob.numConstraints(), len(prob._variables)
        first_cost = len(cost_terms[party])
        cat = pulp.LpBinary if n == 1 else pulp.LpInteger
        row = [
            prob.add_variable(f"x_{g}_{j}", lowBound=0, upBound=n, cat=cat)
            for j in range(len(profile.pairs))
        ]
        x.append(row)
        uses: dict[str, list] = defaultdict(list)
        recurring: dict[str, list] = defaultdict(list)
        most_pair: dict[str, float] = defaultdict(float)
        most_wifi: dict[str, float] = defaultdict(float)

        def tiered(supplier_id: str, party: str = party) -> bool:
            return (party, supplier_id) in tiered_keys

        for var, pair in zip(row, profile.pairs, strict=True):
            cost = 0.0
            for supplier_id, one_off, rec in pair.charges:
                flat = terms[supplier_id].flat_discount
                cost += one_off + (1 - (flat or 0.0)) * rec
                uses[supplier_id].append((var, 1))
                if rec and tiered(supplier_id):
                    recurring[supplier_id].append((var, rec))
                    most_pair[supplier_id] = max(most_pair[supplier_id], rec)
            cost_terms[party].append((var, cost))
            quality_terms.append((var, pair.quality))
            if allow_partial:
                priority_terms.append((var, profile.priority))
            if (
                profile.current_supplier is not None
                and pair.primary_supplier != profile.current_supplier
            ):
                change_terms[party].append((var, 1))
        roles.serve(prob.numConstraints(), row)
        _row(prob, [(v, 1) for v in row], LE if allow_partial else EQ, n, f"serve_{g}")
        if allow_partial:
            served = prob.add_variable(f"served_{g}", lowBound=0, upBound=n)
            roles.own(prob.numConstraints(), served)
            _row(prob, [(served, 1)] + [(v, -1) for v in row], EQ, 0, f"served_{g}")
            served_links.append((served, [(v, 1.0) for v in row]))
            party_served_terms[party].append((served, 1))

        classes_out: list = []
        if profile.wifis:
            wifi_suppliers = {w.supplier_id for w in profile.wifis}
            classes: dict[tuple[str, ...], list[pulp.LpVariable]] = defaultdict(list)
            for var, pair in zip(row, profile.pairs, strict=True):
                classes[tuple(sorted(set(pair.suppliers) & wifi_suppliers))].append(var)
            for c, (overlap, members) in enumerate(sorted(classes.items())):
                transport = []
                for o, w in enumerate(profile.wifis):
                    t = prob.add_variable(f"t_{g}_{c}_{o}", lowBound=0, upBound=n, cat=cat)
                    transport.append((t, w))
                    flat = terms[w.supplier_id].flat_discount
                    cost_terms[party].append(
                        (t, w.one_off + (1 - (flat or 0.0)) * w.recurring_list)
                    )
                    if w.supplier_id not in overlap:
                        uses[w.supplier_id].append((t, 1))
                    if w.recurring_list and tiered(w.supplier_id):
                        recurring[w.supplier_id].append((t, w.recurring_list))
                        most_wifi[w.supplier_id] = max(most_wifi[w.supplier_id], w.recurring_list)
                roles.wifi(prob.numConstraints(), [t for t, _ in transport])
                _row(
                    prob,
                    [(t, 1) for t, _ in transport] + [(v, -1) for v in members],
                    EQ,
                    0,
                    f"wifi_{g}_{c}",
                )
                classes_out.append((members, transport))
        wifi_vars.append(classes_out)

        for supplier_id in profile_suppliers[g]:
            key = (party, supplier_id)
            y = prob.add_variable(f"y_{g}_{supplier_id}", lowBound=0, upBound=n)
            y_terms[key].append((y, 1))
            y_links.append((y, uses[supplier_id]))
            roles.own(prob.numConstraints(), y)
            _row(
                prob,
                [(y, 1)] + [(v, -c) for v, c in uses[supplier_id]],
                EQ,
                0,
                f"count_{g}_{supplier_id}",
            )
            # strong fixed-charge link: no fees paid by a sliver of u in the LP
            _row(prob, [(y, 1), (used[key], -n)], LE, 0, f"use_{g}_{supplier_id}")
            # this profile's discount from p: only as far as p's tier is reached
            if not recurring[supplier_id]:
                continue
            per_site = most_pair[supplier_id] + most_wifi[supplier_id]
            for z, _, delta in steps.get(key, ()):
                disc = prob.add_variable(f"disc_{n_disc}", lowBound=0)
                rate_row = prob.numConstraints()
                _row(
                    prob,
                    [(disc, 1)] + [(v, -delta * c) for v, c in recurring[supplier_id]],
                    LE,
                    0,
                    f"drate_{n_disc}",
                )
                roles.discount(rate_row, prob.numConstraints(), disc, z)
                _row(prob, [(disc, 1), (z, -delta * n * per_site)], LE, 0, f"dtier_{n_disc}")
                discounts.append((disc, delta, recurring[supplier_id], z))
                cost_terms[party].append((disc, -1))
                n_disc += 1
        profile_costs.append((party, first_cost, len(cost_terms[party])))
        profile_rows.append((first_row, prob.numConstraints()))
        profile_columns.append(prob._variables[first_column:])

    site_count = {key: _expr(pairs) for key, pairs in y_terms.items()}
    for i, key in enumerate(sorted(site_count)):
        n_expr = site_count[key]
        # tiers are reached in order, and the sites reach the highest one taken:
        # n >= sum_k (m_k - m_{k-1}) z_k (with ordered binaries, the highest
        # tier's threshold; tighter in the LP than n >= m_k z_k tier by tier)
        key_steps = steps.get(key, ())
        if key_steps:
            reach = [(y, -1.0) for y, _ in y_terms[key]]
            below = 0
            for z, m, _ in key_steps:
                reach.append((z, m - below))
                below = m
            _row(prob, reach, LE, 0, f"tier_reach_{i}")
        for k in range(1, len(key_steps)):
            _row(
                prob,
                [(key_steps[k][0], 1), (key_steps[k - 1][0], -1)],
                LE,
                0,
                f"tier_order_{i}_{k}",
            )
        # used only when really used: needed where being "used" could pay
        # (a minimum number of suppliers, or dodging a shortlist's no-good cut)
        if exclude_supplier_sets or (
            scenario.min_suppliers is not None and "min_suppliers" not in relax
        ):
            prob += (n_expr - used[key] >= 0, f"use_real_{i}")

    party_cost = {p: _expr(pairs) for p, pairs in cost_terms.items()}
    total_cost = _expr([pair for pairs in cost_terms.values() for pair in pairs])
    parties = sorted(party_sites)
    if allow_partial:
        party_served = {p: _expr(party_served_terms[p]) for p in parties}
    else:
        party_served = {p: pulp.LpAffineExpression(constant=party_sites[p]) for p in parties}

    total_binds = total_budget is not None and "budget" not in relax
    party_binds = {
        party: budget
        for party, budget in party_budgets.items()
        if party in party_cost and "organisation_budgets" not in relax
    }
    spend_links: list[tuple[pulp.LpVariable, list[Term]]] = []
    budget_terms: dict[str, list[Term]] = cost_terms
    if (total_binds or party_binds) and scenario.objective == Objective.QUALITY:
        # With the quality objective a budget row over every cost term (as
        # dense as the model) makes HiGHS's root cut rounds (path aggregation)
        # crawl: 18 s a round at 500 sites, past the time limit. Each
        # profile's spend gets its own variable and row, and the budgets sum
        # those: the same constraint in short rows (rounds of ~5 s after the
        # first there). Not with the cost objective: there the short rows
        # made the 500-site, 10-organisation solves 1.5-2.7 times slower.
        budget_terms = defaultdict(list)
        profile_ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for party, first, end in profile_costs:
            profile_ranges[party].append((first, end))
        for party, pairs in cost_terms.items():
            covered = 0
            for first, end in profile_ranges[party]:
                budget_terms[party].extend(pairs[covered:first])  # fees before a profile
                spend = prob.add_variable(f"spend_{len(spend_links)}")
                roles.own(prob.numConstraints(), spend)
                _row(
                    prob,
                    [(spend, 1.0)] + [(v, -c) for v, c in pairs[first:end]],
                    EQ,
                    0,
                    f"spend_{len(spend_links)}",
                )
                spend_links.append((spend, pairs[first:end]))
                budget_terms[party].append((spend, 1.0))
                covered = end
            budget_terms[party].extend(pairs[covered:])
    if total_binds:
        all_terms = [t for ts in budget_terms.values() for t in ts]
        _row(prob, all_terms, LE, total_budget, "budget")
    for party, budget in sorted(party_binds.items()):
        _row(prob, budget_terms[party], LE, budget, f"budget_{party}")

    suppliers_of: dict[str, list] = defaultdict(list)
    for (party, _), u in used.items():
        suppliers_of[party].append((u, 1))
    for pi, party in enumerate(parties):
        n_used = _expr(suppliers_of[party])
        if scenario.max_suppliers is not None and "max_suppliers" not in relax:
            prob += (n_used <= scenario.max_suppliers, f"max_suppliers_{pi}")
        if scenario.min_suppliers is not None and "min_suppliers" not in relax:
            if allow_partial:
                active = prob.add_variable(f"active_{pi}", cat=pulp.LpBinary)
                prob += (party_served[party] - active >= 0, f"active_low_{pi}")
                prob += (party_served[party] - party_sites[party] * active <= 0, f"active_up_{pi}")
                prob += (n_used - scenario.min_suppliers * active >= 0, f"min_suppliers_{pi}")
            else:
                prob += (n_used >= scenario.min_suppliers, f"min_suppliers_{pi}")
        if scenario.max_supplier_changes is not None and "max_supplier_changes" not in relax:
            prob += (
                _expr(change_terms[party]) <= scenario.max_supplier_changes,
                f"max_changes_{pi}",
            )
    if scenario.max_supplier_share is not None and "max_supplier_share" not in relax:
        share = scenario.max_supplier_share
        for i, key in enumerate(sorted(site_count)):
            prob += (site_count[key] - share * party_served[key[0]] <= 0, f"share_{i}")

    if exclude_supplier_sets:
        _add_supplier_set_cuts(prob, used, exclude_supplier_sets)
    for i, (supplier_id, limit) in enumerate(sorted((supplier_site_limits or {}).items())):
        counts = [(y, 1) for (_, p), pairs in y_terms.items() if p == supplier_id for y, _ in pairs]
        if counts:
            prob += (_expr(counts) <= limit, f"supplier_limit_{i}")

    served = _expr([(v, 1) for row in x for v in row])
    model = PlanningModel(
        prob=prob,
        profiles=profiles,
        x=x,
        wifi=wifi_vars,
        total_cost=total_cost,
        party_cost=party_cost,
        served=served,
        priority=_expr(priority_terms),
        quality=_expr(quality_terms),
        used=used,
        site_count=site_count,
        party_served=party_served,
        party_sites=dict(party_sites),
        changes={p: _expr(change_terms[p]) for p in parties},
        steps=steps,
        y_links=y_links,
        discounts=discounts,
        served_links=served_links,
        spend_links=spend_links,
        roles=roles,
        profile_rows=profile_rows,
        profile_columns=profile_columns,
    )
    model.build_seconds = time.perf_counter() - t0
    model.n_variables = prob.numVariables()
    return model


def _add_supplier_set_cuts(
    prob: pulp.LpProblem,
    used: dict[tuple[str, str], pulp.LpVariable],
    exclude: Sequence[frozenset[str]],
) -> None:
    """No-good cuts: the plan's supplier set must differ from each excluded set."""
    by_supplier: dict[str, list[pulp.LpVariable]] = defaultdict(list)
    for (_, supplier_id), u in used.items():
        by_supplier[supplier_id].append(u)
    anywhere: dict[str, pulp.LpVariable] = {}
    for i, supplier_id in enumerate(sorted(by_supplier)):
        w = prob.add_variable(f"anywhere_{i}", cat=pulp.LpBinary)
        anywhere[supplier_id] = w
        for j, u in enumerate(by_supplier[supplier_id]):
            prob += (w - u >= 0, f"anywhere_low_{i}_{j}")
        prob += (w - _expr([(u, 1) for u in by_supplier[supplier_id]]) <= 0, f"anywhere_up_{i}")
    for k, banned in enumerate(exclude):
        if not banned <= set(anywhere):
            continue  # a set using an unavailable supplier cannot recur
        pairs = [(w, -1 if p in banned else 1) for p, w in anywhere.items()]
        prob += (_expr(pairs) >= 1 - len(banned), f"nogood_{k}")


# --------------------------------------------------------------------------- solving


@contextlib.contextmanager
def solver_output_to_stderr(verbose: bool = False) -> Iterator[None]:
    """Keep whatever a solver writes to file descriptor 1 off stdout.

    Solvers print from C++ or a subprocess, below Python's ``sys.stdout``
    (HiGHS prints a banner even when told to be quiet); the CLI's JSON on
    stdout must stay parseable. With ``verbose`` the output goes to stderr,
    otherwise it is discarded.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (e.g. some notebook kernels)
        yield
        return
    target = os.dup(2) if verbose else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


#: PuLP's own replacement of the characters a variable name may not hold
_NAME_FIX = pulp.LpElement.trans


#: a variable's name as PuLP's ``name`` property returns it
_VARIABLE_NAME = operator.attrgetter("_LpElement__name")


class PlanningProblem(pulp.LpProblem):
    """A PuLP problem that keeps its rows as lists and lists its variables once.

    Rows added by :meth:`add_row` stay plain lists of variables and
    coefficients: :class:`HighsSolver` hands them to HiGHS as arrays, and a
    PuLP constraint (a dict keyed by variables, each hashed in Python) is
    made for each only when something asks for the problem's constraints
    (``prob += ...``, ``constraints()``, CBC's file, a copy). Making those
    dicts cost a quarter of the model's build at 25,000 sites. They are made
    in the order the rows were added, before any row added later, so row
    ``i`` is the same row for HiGHS and for PuLP.

    PuLP rebuilds ``variables()`` by walking every row each time it is asked,
    and a solve asks several times: at a few hundred thousand variables that
    walking cost more than the solve. The list is kept until a row is added
    or the objective replaced (the only ways a variable can join), and its
    order is PuLP's own, so solver column indices stay the same.
    """

    _known: list[pulp.LpVariable] | None = None
    _known_at: tuple[int, int] = (-1, -1)
    _keeping = False

    def __init__(self, name: str = "NoName", sense: int = pulp.LpMinimize) -> None:
        self._clear_pending()
        super().__init__(name, sense)

    def _clear_pending(self) -> None:
        #: rows not yet made PuLP constraints: their terms end to end, and per row
        #: its number of terms, sense, right-hand side and name
        self.row_variables: list[pulp.LpVariable] = []
        self.row_coefficients: list[float] = []
        self.row_lengths: list[int] = []
        self.row_senses: list[int] = []
        self.row_rhs: list[float] = []
        self.row_names: list[str] = []

    @property  # type: ignore[override]
    def _constraints(self) -> dict[str, pulp.LpConstraint]:
        """PuLP's rows by name, every pending row made a constraint first."""
        if self.row_lengths and not self._keeping:
            self._make_constraints()
        return self.__dict__["_made"]

    @_constraints.setter
    def _constraints(self, rows: dict[str, pulp.LpConstraint]) -> None:
        self.__dict__["_made"] = rows

    @property
    def made_constraints(self) -> dict[str, pulp.LpConstraint]:
        """The rows already made PuLP constraints; the pending rows all come after them."""
        return self.__dict__["_made"]

    def _make_constraints(self) -> None:
        made = self.__dict__["_made"]
        variables, coefficients = self.row_variables, self.row_coefficients
        start = 0
        for length, sense, rhs, name in zip(
            self.row_lengths, self.row_senses, self.row_rhs, self.row_names, strict=True
        ):
            end = start + length
            if name in made:
                raise pulp.PulpError(f"overlapping constraint names: {name}")
            terms = list(zip(variables[start:end], coefficients[start:end], strict=True))
            constraint = pulp.LpConstraint(_expr(terms), sense, name, rhs)
            made[name] = constraint
            self.modifiedConstraints.append(constraint)
            start = end
        self._clear_pending()

    def add_variable(
        self,
        name: str,
        lowBound: float | None = None,
        upBound: float | None = None,
        cat: str = pulp.LpContinuous,
    ) -> pulp.LpVariable:
        """A variable of this problem, registered at once (PuLP 3.3 waits for a row).

        Made as :class:`pulp.LpVariable` would make it, without its
        constructor: a model has a variable per profile and option (416,000
        for 5,000 distinct sites), and PuLP's way (``add_variable``, then
        the constructor's checks of a name pattern only worth a warning and
        of a deprecation flag) took 3.2 us a variable, this 1.4 us. The
        attributes set are exactly the constructor's (a test compares them).
        """
        if cat == pulp.LpBinary:
            lowBound, upBound, cat = 0, 1, pulp.LpInteger
        for bound in (lowBound, upBound):
            if bound is not None and not math.isfinite(bound):
                raise pulp.PulpError(f"The bounds of a variable must be finite, got {bound}")
        var = object.__new__(pulp.LpVariable)
        # one by one, in the constructor's order, so the instance dictionaries
        # share their keys as the constructor's do (a dict.update made each
        # its own table: 200 MB more at 416,000 variables)
        var._LpElement__name = str(name).translate(_NAME_FIX)
        var.hash = id(var)
        var.modified = True
        var._lowbound_original = var.lowBound = lowBound
        var._upbound_original = var.upBound = upBound
        var.cat = cat
        var.varValue = None
        var.dj = None
        self._variables.append(var)
        self._variable_ids[var.hash] = var
        return var

    def add_row(self, terms: list[Term], sense: int, rhs: float, name: str) -> None:
        """Add ``sum(coef * var) (sense) rhs`` over variables made by
        :meth:`add_variable`, kept as lists (repeated variables are summed
        when the row is used)."""
        if not math.isfinite(rhs):
            raise pulp.PulpError("Cannot set constraint RHS to NaN/inf values")
        if terms:
            variables, coefficients = zip(*terms, strict=True)
            self.row_variables.extend(variables)
            self.row_coefficients.extend(coefficients)
        self.row_lengths.append(len(terms))
        self.row_senses.append(sense)
        self.row_rhs.append(rhs)
        self.row_names.append(name)

    def numConstraints(self) -> int:
        return len(self.made_constraints) + len(self.row_lengths)

    def variables(self) -> list[pulp.LpVariable]:
        stamp = (self.numConstraints(), id(self.objective))
        if self._known is None or self._known_at != stamp:
            # PuLP's own walk re-registers every variable of every row (1.4
            # million calls at 25,000 sites); here rows hold only variables
            # registered when made (add_variable) or by addConstraint, so only
            # the objective's are left to register. Same sort, same columns.
            if self.objective:
                self._add_variables(self.objective.keys())
            # PuLP's order (by name), the name read in C rather than through
            # the property: 12 rather than 19 ms for 24,000 variables
            self._variables.sort(key=_VARIABLE_NAME)
            self._known = self._variables
            self._known_at = stamp
        return self._known

    @contextlib.contextmanager
    def pending_rows_kept(self) -> Iterator[None]:
        """Within: ``_constraints`` gives only the rows already made and leaves
        the pending ones as lists, for PuLP's HiGHS interface, which walks the
        constraints only to store row duals that nothing here reads (the
        rows reach HiGHS through :meth:`HighsSolver.buildSolverModel`)."""
        made = len(self.made_constraints)
        self._keeping = True
        try:
            yield
        finally:
            self._keeping = False
        if len(self.made_constraints) != made:
            raise pulp.PulpError("a row was added while the pending rows were kept")


#: GBP: a plan within a penny of the lower bound is the optimum (the SPEC's
#: totals agree within 0.01 + 1e-6 relative)
PROOF_TOLERANCE = 0.01
#: share of the time left that probing the root may take before the MIP runs
PROBE_TIME_SHARE = 0.5
#: probing after the root LP may take this many times as long as the root LP
#: (at least :data:`PROBE_MIN_S`; 0: none) before the branch and bound takes
#: over. A route plan's start from the local search is often optimal, and
#: probing proves it with fewer LPs than branching (500 sites of ten
#: organisations, collaborative: 18 LPs by probing alone, 25 when probing
#: handed over after as long as the root LP); see
#: coalitions.COALITION_PROBE_EFFORT for starts seldom optimal
PROBE_EFFORT = 3.0
#: the least time probing is given, when it is given any (small models' root
#: LPs take milliseconds, their probes about as long)
PROBE_MIN_S = 0.25
#: a probe (one binary's far side) stops unpruned after this share of the root
#: LP's simplex iterations (at least PROBE_MIN_ITERATIONS): over the generated
#: portfolios' plans every probe that pruned did so within 0.41 of the root's
#: iterations, while one that did not ran 407 iterations after a root of 325
#: (a quarter of probing at 500 sites of ten organisations, collaborative)
PROBE_ITERATION_SHARE = 0.5
PROBE_MIN_ITERATIONS = 100
#: HiGHS's own default: no iteration limit
NO_ITERATION_LIMIT = 2_147_483_647
#: probing and branching together may take this many times as long as the root LP
BRANCH_EFFORT = 40.0


@dataclass(frozen=True)
class RootProof:
    """What the LP relaxation, probed around a starting plan, says about that plan.

    ``proven``: no plan is cheaper than the start by more than the tolerance.
    ``bound``: a lower bound on any plan cheaper than the start (the start's
    own cost when proven). ``fixings``: binary columns whose other value was
    shown unable to beat the start, restricted to those the start agrees
    with, so the start stays a valid incumbent for the MIP that follows.
    """

    proven: bool
    start_cost: float
    bound: float
    fixings: dict[int, float]
    lp_solves: int
    seconds: float
    #: the best plan found: the start, or a cheaper one the branching found
    plan: np.ndarray
    #: that plan's cost
    cost: float
    #: nodes the branch and bound after probing solved (0: it did not run)
    nodes: int = 0
    #: the whole relaxation's optimum, before any probing (at least the
    #: start's cost less the tolerance where that LP stopped at the cutoff)
    root_bound: float = -math.inf

    @property
    def improved(self) -> bool:
        """Whether the branching found a plan cheaper than the start."""
        return self.cost < self.start_cost


@dataclass(frozen=True)
class _ModelArrays:
    """A HiGHS model's costs, bounds, integrality and rows as numpy arrays, read once.

    highspy hands each over as a Python list: reading a 25,000-site party's
    matrix for every check cost about as much as the check.
    """

    cost: np.ndarray
    offset: float
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray  # column indices
    row_of: np.ndarray  # per matrix entry: its row
    column_of: np.ndarray  # per matrix entry: its column
    value: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    @classmethod
    def of(cls, lp: Any) -> _ModelArrays:
        import highspy

        n, m = lp.num_col_, lp.num_row_
        integrality = np.asarray(lp.integrality_, dtype=np.uint8)
        integer = np.flatnonzero(integrality == 1) if len(integrality) else np.zeros(0, np.int64)
        matrix = lp.a_matrix_
        starts, index = np.asarray(matrix.start_), np.asarray(matrix.index_)
        if matrix.format_ == highspy.MatrixFormat.kRowwise:
            row_of, column_of = np.repeat(np.arange(m), np.diff(starts[: m + 1])), index
        else:
            row_of, column_of = index, np.repeat(np.arange(n), np.diff(starts[: n + 1]))
        return cls(
            cost=np.asarray(lp.col_cost_, dtype=float),
            offset=float(lp.offset_),
            col_lower=np.asarray(lp.col_lower_, dtype=float),
            col_upper=np.asarray(lp.col_upper_, dtype=float),
            integer=integer,
            row_of=row_of,
            column_of=column_of,
            value=np.asarray(matrix.value_, dtype=float),
            row_lower=np.asarray(lp.row_lower_, dtype=float),
            row_upper=np.asarray(lp.row_upper_, dtype=float),
        )

    def row_starts(self) -> np.ndarray:
        """Where each row's entries start (the entries are in row order)."""
        starts = np.zeros(len(self.row_lower), dtype=np.int32)
        if len(starts) > 1:
            np.cumsum(np.bincount(self.row_of, minlength=len(starts))[:-1], out=starts[1:])
        return starts

    def relaxation(self) -> Any:
        """A HiGHS holding the model without integrality (:attr:`integer` keeps
        it), for :func:`probe_root`. Passed as arrays in one call: setting a
        ``HighsLp``'s fields from numpy took 20 ms at 25,000 columns, this 1 ms."""
        import highspy

        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        status = highs.passModel(
            len(self.cost),
            len(self.row_lower),
            len(self.value),
            highspy.MatrixFormat.kRowwise.value,
            highspy.ObjSense.kMinimize.value,
            self.offset,
            self.cost,
            self.col_lower,
            self.col_upper,
            self.row_lower,
            self.row_upper,
            np.append(self.row_starts(), len(self.value)).astype(np.int32),
            self.column_of.astype(np.int32),
            self.value,
            np.zeros(len(self.cost), dtype=np.int32),  # every column continuous
        )
        if status != highspy.HighsStatus.kOk:
            raise RuntimeError(f"HiGHS refused a model's arrays: {status}")
        return highs

    def admits(self, x: np.ndarray) -> bool:
        """Whether ``x`` meets every bound, row and integrality of the model."""
        if len(x) != len(self.cost) or not np.all(np.isfinite(x)):
            return False
        if np.any(x < self.col_lower - 1e-6) or np.any(x > self.col_upper + 1e-6):
            return False
        whole = x[self.integer]
        if np.any(np.abs(whole - np.round(whole)) > 1e-6):
            return False
        activity = np.bincount(
            self.row_of, weights=self.value * x[self.column_of], minlength=len(self.row_lower)
        )
        slack = 1e-6 * np.maximum(1.0, np.abs(activity))
        return bool(
            np.all(activity >= self.row_lower - slack)
            and np.all(activity <= self.row_upper + slack)
        )


def lp_relaxation(lp: Any) -> Any:
    """A new HiGHS holding ``lp`` (a ``HighsLp``, changed) without integrality,
    set up as probing and branching solve it."""
    import highspy

    lp.integrality_ = []
    relax = highspy.Highs()
    relax.setOptionValue("output_flag", False)
    relax.setOptionValue("presolve", "off")
    # Devex pricing rather than HiGHS's default (steepest edge): the same
    # iterations, each cheaper; probing took about a fifth less time at 500
    # and at 25,000 sites (the MIP itself was not faster with it)
    relax.setOptionValue("simplex_dual_edge_weight_strategy", 1)
    relax.passModel(lp)
    return relax


def probe_root(
    highs: Any,
    start: np.ndarray,
    columns: Sequence[int],
    *,
    gap: float,
    deadline: float,
    branch: bool = True,
    effort: float = PROBE_EFFORT,
    arrays: _ModelArrays | None = None,
    roles: RowRoles | None = None,
    chains: Sequence[Sequence[int]] = (),
) -> RootProof | None:
    """Try to prove ``start`` optimal for the (minimising) HiGHS model ``highs`` by LP alone.

    Why: the LP relaxation of a tiered-discount model lets a supplier short
    of a tier take that tier's discount in part, and HiGHS closes such gaps
    with rounds of root cuts that took 5 s each at 25,000 sites. Here each
    fractional tier or supplier binary in ``columns`` is probed instead:
    the relaxation is re-solved (warm, from the root basis) with it fixed
    at the value the start does not have. When that bound reaches the
    start's cost, no cheaper plan has that value, so the binary is fixed at
    the start's; when the relaxation with the fixings reaches it, the start
    is optimal. Exact: only LP bounds prune, as in branch and bound.

    When probing alone does not prove it, ``branch`` runs a branch and bound
    on the same relaxation (:func:`procurement.branching.branch_and_bound`),
    which may find a cheaper plan and prove that one, within
    :data:`BRANCH_EFFORT` times the root LP's time. Probing hands over to it
    after ``effort`` times the root LP's time (at least :data:`PROBE_MIN_S`;
    ``effort`` 0: at once).

    The relaxation starts from the plan itself: from a basis at the plan
    where ``roles`` says which column is basic in which row
    (:mod:`procurement.startbasis`), else from the crash basis HiGHS builds
    from the plan (2.7 s rather than 26 s of dual phase 1 at 25,000 sites).
    Returns None when the start breaks a row or bound of the model, or the
    relaxation cannot be solved by ``deadline``. ``arrays``: the model as
    numpy arrays, when the caller has them (else they are read from HiGHS).
    ``chains``: columns of ``columns`` each of which, in every plan, implies
    the one before it in its chain (:func:`probe_chains`): a fixing at 1
    then fixes the columns before it, one at 0 those after it, with no LP.
    """
    import highspy

    t0 = time.perf_counter()
    lp = highs.getLp()
    if arrays is None:
        arrays = _ModelArrays.of(lp)
    if not arrays.admits(start):
        return None
    start_cost = float(np.dot(arrays.cost, start) + arrays.offset)
    tolerance = max(PROOF_TOLERANCE, gap * abs(start_cost))
    integers = arrays.integer
    relax = lp_relaxation(lp)
    # The dual simplex stops once its bound passes the start's cost less the
    # tolerance: such a side prunes whatever its exact bound (probing the
    # 500-site, ten-organisation plan: 1.06 -> 0.82 s, 20 -> 18 LPs)
    cutoff = start_cost - tolerance
    relax.setOptionValue("objective_bound", cutoff)
    lower, upper = arrays.col_lower, arrays.col_upper
    optimal, infeasible = highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible
    cut_off = highspy.HighsModelStatus.kObjectiveBound
    iteration_limit = highspy.HighsModelStatus.kIterationLimit
    lp_solves = 0
    fixed: dict[int, float] = {}  # every fixing, including those the start disagrees with
    root_bound = -math.inf

    def solve(iterations: int | None = None) -> float | None:
        """The relaxation's bound as it stands (None: out of time); with an
        ``iterations`` cap, -inf when the cap stops it (no bound to prune by)."""
        nonlocal lp_solves
        if deadline - time.perf_counter() <= 0:
            return None
        if iterations is not None:
            relax.setOptionValue("simplex_iteration_limit", iterations)
        try:
            status = run_lp(relax, deadline)
        finally:
            if iterations is not None:
                relax.setOptionValue("simplex_iteration_limit", NO_ITERATION_LIMIT)
        lp_solves += 1
        if status == optimal:
            return float(relax.getInfo().objective_function_value)
        if status == cut_off:  # the bound is at least this: enough to prune
            return cutoff
        if status == iteration_limit:
            return -math.inf
        return math.inf if status == infeasible else None

    def fix(j: int, value: float) -> bool:
        """Fix ``j`` at ``value`` for every plan cheaper than the start, and what
        that implies along its chain; False when that contradicts an earlier
        fixing (then no plan is cheaper than the start)."""
        chain, position = chain_of.get(j, ((j,), 0))
        implied = chain[:position] if value > 0.5 else chain[position + 1 :]
        for k in (j, *implied):
            if k in fixed:
                if fixed[k] != value:
                    return False
                continue
            fixed[k] = value
            relax.changeColBounds(k, value, value)
        return True

    def outcome(proven: bool, bound: float) -> RootProof:
        bound = start_cost if proven else min(bound, start_cost)
        seconds = time.perf_counter() - t0
        kept = _agreeing(space.fixings(fixed), start)
        return RootProof(
            proven, start_cost, bound, kept, lp_solves, seconds, start, start_cost, 0, root_bound
        )

    # The relaxation starts from the basis at the plan where the model's row
    # roles are known (procurement.startbasis: its basic solution is the
    # plan, a few hundred iterations from the optimum). Otherwise it is first
    # solved with the probed binaries held at the start's values, from the
    # crash basis HiGHS builds from the plan, then freed: that LP's optimum
    # is (nearly) the start, and its basis a far better warm start than the
    # crash basis (500 sites of ten organisations, collaborative: root 0.45
    # -> 0.30 s). The bounds change before the plan is given: HiGHS drops a
    # plan given before a bound change.
    if roles is None or not _set_basis(relax, *roles.statuses(start, arrays)):
        held = np.asarray(columns, dtype=np.int32)
        if len(held):
            relax.changeColsBounds(len(held), held, start[held], start[held])
        solution = highspy.HighsSolution()
        solution.col_value = start.tolist()
        solution.value_valid = True
        relax.setSolution(solution)
        if len(held):
            if solve() is None:
                return None
            relax.changeColsBounds(len(held), held, lower[held], upper[held])
    bound = root_bound = solve()
    if bound is None:
        return None
    root_solves = lp_solves
    # a probe that has not pruned within half the root LP's iterations seldom
    # does (see PROBE_ITERATION_SHARE): it stops there, unpruned
    probe_iterations = max(
        PROBE_MIN_ITERATIONS, int(PROBE_ITERATION_SHARE * relax.getInfo().simplex_iteration_count)
    )
    # From here on the relaxation may have fewer columns (``space``): the
    # count columns that the root's reduced costs price out of every plan
    # cheaper than the start are deleted, and what follows indexes the rest
    space = _ColumnSpace.whole(len(start))
    # the root's solution, read before any deletion (HiGHS then drops it)
    solution = relax.getSolution()
    values: np.ndarray | None = np.asarray(solution.col_value, dtype=float)
    if bound < cutoff:
        space = _price_out(relax, arrays, solution, values, bound, cutoff, protected=columns)
    values = space.restrict(values)
    root_values = values
    probe_start = space.restrict(start)
    lower, upper = space.restrict(lower), space.restrict(upper)
    columns = space.indices(columns)
    integers = space.indices(integers)
    chains = [space.indices(chain) for chain in chains]
    chain_of: dict[int, tuple[Sequence[int], int]] = {
        j: (chain, position) for chain in chains for position, j in enumerate(chain)
    }
    # probes cost a fraction of the root LP each; where many are needed the
    # start is usually not optimal, and branching gets there sooner
    root_seconds = time.perf_counter() - t0
    search_deadline = min(deadline, time.perf_counter() + BRANCH_EFFORT * root_seconds + 0.25)
    deadline = min(
        deadline, time.perf_counter() + (max(effort * root_seconds, PROBE_MIN_S) if effort else 0.0)
    )
    out_of_time = False
    while bound < cutoff and not out_of_time:
        if values is None:
            values = np.asarray(relax.getSolution().col_value)
        fractional = [
            j for j in columns if j not in fixed and 1e-6 < values[j] - lower[j] < upper[j] - 1e-6
        ]
        if not fractional:
            break
        fractional = _chain_order(fractional, probe_start, chain_of)
        values = None  # the next round reads the LP last solved
        basis = relax.getBasis()
        # whether HiGHS holds ``basis`` already (setBasis would only redo its
        # factorisation): so right after it is taken or re-solved to
        holds_basis = True
        fixed_before = len(fixed)
        kept_in_round = 0
        current = True  # the LP last solved had every fixing made so far
        for j in fractional:
            if j in fixed:  # implied by an earlier fixing of its chain
                continue
            # the side the start is not on: when it prunes, the start's own
            # side is the relaxation from now on, bounded by a re-solve after
            # the 1st, 2nd, 4th, 8th... such fixing of the round and at its
            # end (not one LP per fixing, nor only one a round: the proof may
            # need the first few fixings or all of them). The start's side is
            # not probed: it seldom prunes (4 times in 45 over the generated
            # portfolios' plans), and the branch and bound finds the cheaper
            # plan then
            if probe_start[j] - lower[j] < 0.5:
                far, kept = upper[j], lower[j]
            else:
                far, kept = lower[j], upper[j]
            if not holds_basis:
                relax.setBasis(basis)
            holds_basis = False
            relax.changeColBounds(j, far, far)
            far_bound = solve(probe_iterations)
            relax.changeColBounds(j, lower[j], upper[j])
            if far_bound is None:  # out of time: what is proven so far stands
                out_of_time = True
                break
            if far_bound < cutoff:
                continue
            # no cheaper plan on the far side: keep the start's
            if not fix(j, float(kept)):
                return outcome(True, start_cost)
            current = False
            kept_in_round += 1
            if kept_in_round & (kept_in_round - 1) == 0:  # a power of two
                relax.setBasis(basis)
                check = solve()
                if check is None:
                    out_of_time = True
                    break
                current = True
                bound = max(bound, check)
                if bound >= cutoff:
                    return outcome(True, start_cost)
                # solved to its optimum (below the cutoff): the relaxation with
                # every fixing so far, the nearer start for the probes after it
                # (about a tenth less probing time at 500 and 25,000 sites)
                basis = relax.getBasis()
                holds_basis = True
        if out_of_time:
            relax.setBasis(basis)
            break
        if len(fixed) == fixed_before:  # nothing fixed: probing cannot go further
            break
        if not current:
            relax.setBasis(basis)
            fixed_bound = solve()
            if fixed_bound is None:
                break
            bound = max(bound, fixed_bound)
    if bound >= cutoff:
        return outcome(True, start_cost)
    if not branch or time.perf_counter() >= search_deadline:
        return outcome(False, bound)
    # every fixing holds for any plan cheaper than the start, so the search
    # keeps them all, and any plan it finds agrees with them; with no probe
    # LP since the root (so no fixing either), it starts from the root's LP
    solved = (root_bound, root_values) if lp_solves == root_solves else None
    tree = branch_and_bound(
        relax,
        probe_start,
        start_cost,
        binaries=[j for j in columns if j not in fixed],
        integers=integers.tolist(),
        tolerance=tolerance,
        deadline=search_deadline,
        is_plan=lambda x: arrays.admits(space.expand(x)),
        chains=chains,
        solved=solved,
    )
    lp_solves += tree.lp_solves
    seconds = time.perf_counter() - t0
    bound = tree.cost if tree.proven else min(max(bound, tree.bound), tree.cost)
    plan = space.expand(tree.plan) if tree.cost < start_cost else start
    kept = _agreeing(space.fixings(fixed), plan)
    return RootProof(
        tree.proven,
        start_cost,
        bound,
        kept,
        lp_solves,
        seconds,
        plan,
        tree.cost,
        tree.nodes,
        root_bound,
    )


#: count columns are priced out of the probed relaxation only when at least
#: this share of its columns go (deleting them costs HiGHS a rebuild)
PRICE_OUT_MIN_SHARE = 0.02


@dataclass(frozen=True)
class _ColumnSpace:
    """The probed relaxation's columns when some of the model's were deleted.

    ``keep``: the model column of each relaxation column. Deleted columns
    (see :func:`_price_out`) are at zero in every plan the relaxation can
    still lead to.
    """

    keep: np.ndarray
    new_of: np.ndarray  # model column -> relaxation column, -1 when deleted

    @classmethod
    def whole(cls, n: int) -> _ColumnSpace:
        every = np.arange(n)
        return cls(every, every)

    @property
    def deleted(self) -> np.ndarray:
        return np.flatnonzero(self.new_of < 0)

    def restrict(self, x: np.ndarray) -> np.ndarray:
        return x[self.keep]

    def expand(self, x: np.ndarray) -> np.ndarray:
        """A relaxation vector as a model vector."""
        full = np.zeros(len(self.new_of))
        full[self.keep] = x
        return full

    def indices(self, columns: Sequence[int] | np.ndarray) -> np.ndarray:
        """Model columns as relaxation columns (deleted ones left out)."""
        found = self.new_of[np.asarray(columns, dtype=np.int64)]
        return found[found >= 0]

    def fixings(self, fixed: Mapping[int, float]) -> dict[int, float]:
        """Fixings of relaxation columns, and every deleted column at zero, by model column."""
        out = {int(self.keep[j]): value for j, value in fixed.items()}
        out.update((int(j), 0.0) for j in self.deleted)
        return out


def _price_out(
    relax: Any,
    arrays: _ModelArrays,
    solution: Any,
    values: np.ndarray,
    bound: float,
    cutoff: float,
    *,
    protected: Sequence[int],
) -> _ColumnSpace:
    """Delete from ``relax``, just solved to its optimum ``bound`` (its
    ``solution``, whose column values the caller has read as ``values``), the
    integer columns that no plan cheaper than ``cutoff`` can raise from zero.

    Reduced-cost fixing: with the LP optimal, any plan with an integer column
    ``j`` at ``lower + 1`` or more costs at least ``bound + d_j`` (``d_j``
    its reduced cost), so where that reaches the cutoff the column stays at
    its lower bound. Only columns at a lower bound of zero go (the objective
    is unchanged without them), and none of ``protected`` (the probed
    binaries). Why: every later LP is smaller; at 500 sites of ten
    organisations a sixth of the columns went, and probe LPs took 14-19 ms
    rather than 15-22 ms. The basis stays valid (the columns were nonbasic).
    """
    n = len(arrays.cost)
    whole = _ColumnSpace.whole(n)
    reduced = np.asarray(solution.col_dual, dtype=float)
    if len(reduced) != n:
        return whole
    margin = 1e-6 * max(1.0, abs(cutoff))
    out = np.zeros(n, dtype=bool)
    out[arrays.integer] = True
    out &= (arrays.col_lower == 0) & (np.abs(values) <= 1e-9)
    out &= reduced > cutoff - bound + margin
    out[np.asarray(protected, dtype=np.int64)] = False
    gone = np.flatnonzero(out)
    if len(gone) < max(1, PRICE_OUT_MIN_SHARE * n):
        return whole
    import highspy

    if relax.deleteCols(len(gone), gone.astype(np.int32)) != highspy.HighsStatus.kOk:
        return whole  # pragma: no cover - HiGHS refuses only bad indices
    keep = np.flatnonzero(~out)
    new_of = np.full(n, -1, dtype=np.int64)
    new_of[keep] = np.arange(len(keep))
    return _ColumnSpace(keep, new_of)


def _set_basis(highs: Any, col_status: np.ndarray, row_status: np.ndarray) -> bool:
    """Hand HiGHS a basis given as status codes; False if it refuses it.

    The basis is given as HiGHS's own (not *alien*): HiGHS then only checks
    that it has one basic column or slack per row, where for an alien basis
    it factorises the basis matrix to repair any singularity (7 ms of the
    15 ms this took at 500 sites of ten organisations). The bases written
    down by :mod:`procurement.startbasis` are nonsingular by construction; a
    basis with the wrong number of basic columns is refused, and probing then
    starts from the plan instead.
    """
    import highspy

    codes = list(highspy.HighsBasisStatus.__members__.values())
    by_code = {int(code.value): code for code in codes}
    basis = highspy.HighsBasis()
    basis.col_status = [by_code[c] for c in col_status.tolist()]
    basis.row_status = [by_code[c] for c in row_status.tolist()]
    basis.valid = True
    basis.alien = False
    return highs.setBasis(basis) == highspy.HighsStatus.kOk


def _chain_order(
    columns: Sequence[int], start: np.ndarray, chain_of: Mapping[int, tuple[Sequence[int], int]]
) -> list[int]:
    """``columns`` in the order to probe them: each chain where its first
    member stands, and within a chain the member whose fixing settles most
    of it first (the highest of those at 1 in the start, the lowest of
    those at 0)."""
    keyed = []
    group_at: dict[int, int] = {}
    for n, j in enumerate(columns):
        chain, position = chain_of.get(j, ((j,), 0))
        group = group_at.setdefault(chain[0], n)
        keyed.append((group, position if start[j] < 0.5 else -position, j))
    return [j for _, _, j in sorted(keyed)]


def _agreeing(fixed: Mapping[int, float], start: np.ndarray) -> dict[int, float]:
    return {j: value for j, value in fixed.items() if abs(start[j] - value) < 1e-6}


def _sparse_rows(
    lengths: list[int], index: list[int], value: list[float], repeats: bool
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Rows given end to end as HiGHS's compressed rows (count, starts,
    columns, values): zero coefficients dropped and, where ``repeats``, a
    column named twice in a row given once with the coefficients summed."""
    n_rows = len(lengths)
    rows = np.repeat(np.arange(n_rows), lengths)
    columns = np.asarray(index, dtype=np.int64)
    values = np.asarray(value, dtype=float)
    if repeats and len(columns):
        width = int(columns.max()) + 1
        keys = rows * width + columns
        # a plain sort tells whether any column repeats in a row; the model's
        # rows seldom repeat one, and np.unique's index and inverse took 13 ms
        # (the sort 3 ms) for the 500-site, ten-organisation model's rows
        ordered = np.sort(keys)
        if np.any(ordered[1:] == ordered[:-1]):
            unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            # summed, each at its first place (as a PuLP constraint would give it)
            order = np.argsort(first)
            values = np.bincount(inverse, weights=values, minlength=len(unique))[order]
            rows, columns = np.divmod(unique[order], width)
    kept = values != 0
    rows, columns, values = rows[kept], columns[kept], values[kept]
    starts = np.zeros(n_rows, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n_rows)[:-1], out=starts[1:])
    return len(values), starts, columns.astype(np.int32), values


def _bounds(bounds: list[float | None], missing: float) -> np.ndarray:
    """Column bounds as floats, ``missing`` where PuLP has None."""
    values = np.array(bounds, dtype=object)
    values[np.equal(values, None)] = missing
    return values.astype(float)


def model_arrays(lp: pulp.LpProblem, *, mip: bool = True) -> _ModelArrays:
    """``lp`` as the arrays HiGHS is handed: columns in PuLP's order, rows in
    the order they were added; each variable's (and made row's) ``index`` is set.

    PuLP adds columns and rows one call at a time; a few array calls are far
    faster, and the arrays serve probing and cutting coalition models
    (:mod:`procurement.submodel`) without reading the model back from HiGHS.
    ``mip`` False leaves every column continuous.
    """
    inf = math.inf
    variables = lp.variables()
    sign = -1.0 if lp.sense == pulp.LpMaximize else 1.0
    objective = lp.objective or {}
    n = len(variables)
    for i, var in enumerate(variables):
        var.index = i
    # attributes read in C (map), compared in numpy: a loop reading them, and
    # the objective looked up per variable (PuLP hashes a variable in
    # Python), took 70 ms of the 500-site, ten-organisation model's 85
    column_of = operator.attrgetter("index")
    cost = np.zeros(n)
    if objective:
        cost[np.fromiter(map(column_of, objective.keys()), np.int64, len(objective))] = (
            np.fromiter(objective.values(), float, len(objective)) * sign
        )
    lower = _bounds(list(map(operator.attrgetter("lowBound"), variables)), -inf)
    upper = _bounds(list(map(operator.attrgetter("upBound"), variables)), inf)
    cats = np.array(list(map(operator.attrgetter("cat"), variables)), dtype=object)
    integer = np.flatnonzero(cats == pulp.LpInteger) if mip else np.zeros(0, np.int64)
    lengths: list[int] = []
    index: list[int] = []
    value: list[float] = []
    row_lower: list[float] = []
    row_upper: list[float] = []
    planning = isinstance(lp, PlanningProblem)
    made = lp.made_constraints if planning else lp._constraints
    for i, constraint in enumerate(made.values()):
        constraint.index = i
        # C-level copies of the row's terms (a Python loop per term cost
        # 0.1 s per 25,000-site party); zero coefficients dropped below
        lengths.append(len(constraint))
        index.extend(map(column_of, constraint.keys()))
        value.extend(constraint.values())
        lb, ub = constraint.getLb(), constraint.getUb()
        row_lower.append(-inf if lb is None else lb)
        row_upper.append(inf if ub is None else ub)
    repeats = False
    if planning and lp.row_lengths:  # rows still lists: they come after the rows made
        lengths.extend(lp.row_lengths)
        index.extend(map(column_of, lp.row_variables))
        value.extend(lp.row_coefficients)
        senses = np.asarray(lp.row_senses)
        rhs = np.asarray(lp.row_rhs, dtype=float)
        pending_lower = np.where(senses == LE, -inf, rhs)
        pending_upper = np.where(senses == GE, inf, rhs)
        repeats = True  # a list row may name a variable twice; a constraint cannot
    else:
        pending_lower = pending_upper = np.zeros(0)
    n_rows = len(lengths)
    nnz, starts, columns, values = _sparse_rows(lengths, index, value, repeats)
    return _ModelArrays(
        cost=cost,
        offset=0.0,
        col_lower=lower,
        col_upper=upper,
        integer=integer.astype(np.int64),
        row_of=np.repeat(np.arange(n_rows), np.diff(np.append(starts, nnz))),
        column_of=columns,
        value=values,
        row_lower=np.concatenate([np.asarray(row_lower, dtype=float), pending_lower]),
        row_upper=np.concatenate([np.asarray(row_upper, dtype=float), pending_upper]),
    )


class HighsSolver(pulp.HiGHS):
    """PuLP's in-process HiGHS, handed the whole model in a few array calls.

    PuLP adds columns and rows one call at a time and sets integrality per
    column, which at national scale took longer than HiGHS's own solve.
    ``warm_start`` also gives HiGHS the variables' current values as a
    starting plan (PuLP 3.3 has no warm start for HiGHS): a later stage of a
    lexicographic solve, or a plan from :mod:`procurement.incumbent`, spares
    HiGHS the search for a first plan.

    The time limit is enforced here too. HiGHS checks its own limit, and the
    stop flag a cancel sets, only between steps: one round of root cuts took
    45 s on a 500-site quality model given 10 s. So a watchdog cancels the
    solve at :attr:`stop_after` seconds and, if HiGHS has not stopped
    :data:`ABANDON_AFTER_S` seconds later, leaves its thread to finish the
    step on its own (it stops at the next check) and answers with the best
    plan HiGHS reported so far. The outcome read back says whether a plan
    exists at all (PuLP 3.3 reports an interrupted solve without one as a
    feasible plan).
    """

    warm_start = False
    #: binaries to probe around a complete, feasible start (see :func:`probe_root`)
    probe: Sequence[pulp.LpVariable] = ()
    #: the model's rows by role, to start probing from a basis at the start
    roles: RowRoles | None = None
    #: chains of probed binaries that imply one another (see :func:`probe_chains`)
    probe_chains: Sequence[Sequence[pulp.LpVariable]] = ()
    #: how long probing runs before branching, in root LPs (see :func:`probe_root`)
    probe_effort: float = PROBE_EFFORT
    #: what probing the root established in the last solve, if it ran
    proof: RootProof | None = None
    #: wall seconds after which the solve is cancelled; None: no watchdog
    stop_after: float | None = None
    #: True when the watchdog cancelled the last solve
    cancelled = False
    #: set when the last solve was left running: what HiGHS had reported by then
    abandoned: _Reported | None = None
    #: the model as last handed to HiGHS (:meth:`buildSolverModel`)
    arrays: _ModelArrays | None = None

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        import highspy

        arrays = model_arrays(lp, mip=self.mip)
        highs = lp.solverModel
        n = len(arrays.cost)
        highs.addCols(
            n, arrays.cost, arrays.col_lower, arrays.col_upper, 0, np.zeros(n, np.int32), [], []
        )
        if len(arrays.integer):
            highs.changeColsIntegrality(
                len(arrays.integer),
                arrays.integer.astype(np.int32),
                np.full(len(arrays.integer), highspy.HighsVarType.kInteger.value, dtype=np.uint8),
            )
        if len(arrays.row_lower):
            highs.addRows(
                len(arrays.row_lower),
                arrays.row_lower,
                arrays.row_upper,
                len(arrays.value),
                arrays.row_starts(),
                arrays.column_of,
                arrays.value,
            )
        # the arrays just handed over, kept for probing (reading them back
        # from HiGHS, as Python lists, took 80 ms per 25,000-site party)
        self.arrays = arrays

    def actualSolve(self, lp: pulp.LpProblem) -> int:
        """PuLP's solve, leaving a :class:`PlanningProblem`'s rows as lists
        (:meth:`buildSolverModel` reads them so)."""
        if not isinstance(lp, PlanningProblem):
            return super().actualSolve(lp)
        with lp.pending_rows_kept():
            return super().actualSolve(lp)

    def callSolver(self, lp: pulp.LpProblem) -> None:
        highs = lp.solverModel
        self.proof = None
        self.cancelled = False
        self.abandoned = None
        if self.warm_start:
            indices, values = [], []
            for var in lp.variables():
                if var.varValue is not None:
                    indices.append(var.index)
                    values.append(var.varValue)
            if self.probe and len(indices) == lp.numVariables():
                start = np.empty(len(indices))
                start[np.asarray(indices)] = values
                if self._prove(highs, start):
                    return
                if self.proof is not None and self.proof.improved:
                    # the branching's cheaper plan is HiGHS's incumbent instead
                    values = self.proof.plan[np.asarray(indices)].tolist()
            if indices:  # after any fixing: HiGHS drops a start given before a bound change
                highs.setSolution(
                    len(indices), np.asarray(indices, dtype=np.int32), np.asarray(values)
                )
        if self.stop_after is None:
            highs.run()
            return
        # highspy runs the solve in a thread and polls a stop flag from its
        # simplex, IPM and MIP callbacks; the GIL is released while it runs
        reported = _Reported()
        highs.HandleUserInterrupt = True
        highs.cbMipImprovingSolution += reported.improving
        highs.cbMipInterrupt += reported.progress
        thread = highs.startSolve()
        finished, _ = highs.wait(self.stop_after)
        if not finished:
            self.cancelled = True
            highs.cancelSolve()
            finished, _ = highs.wait(ABANDON_AFTER_S)
            if not finished:
                self.abandoned = reported
                _left_running.append(thread)

    def _prove(self, highs: Any, start: np.ndarray) -> bool:
        """Probe the root around ``start``; True when that proves it optimal.

        Otherwise the binaries shown unable to beat the start are fixed for
        the MIP, and its limits are shortened by the time probing took.
        """
        limit = float(self.timeLimit) if self.timeLimit is not None else math.inf
        t0 = time.perf_counter()
        self.proof = probe_root(
            highs,
            start,
            [var.index for var in self.probe],
            gap=float(self.gapRel or 0.0),
            deadline=t0 + PROBE_TIME_SHARE * min(limit, 3600.0),
            effort=self.probe_effort,
            arrays=self.arrays,
            roles=self.roles,
            chains=[[var.index for var in chain] for chain in self.probe_chains],
        )
        proof = self.proof
        if self.msg and proof is not None:  # the solver log asked for: say what probing did
            print(
                f"Root probing: {proof.lp_solves} LP solves in {proof.seconds:.2f} s "
                f"({proof.nodes} branch-and-bound nodes); root bound {proof.root_bound:.2f}, "
                f"start {proof.start_cost:.2f}, "
                + (f"cheaper plan {proof.cost:.2f}, " if proof.improved else "")
                + f"bound {proof.bound:.2f}, {len(proof.fixings)} fixed"
                + ("; optimal, no MIP needed" if proof.proven else ""),
                flush=True,
            )
        if proof is not None and proof.proven:
            return True
        if proof is not None and proof.fixings:
            # one call: with columns priced out there may be thousands
            columns = np.fromiter(proof.fixings.keys(), np.int32, len(proof.fixings))
            values = np.fromiter(proof.fixings.values(), float, len(proof.fixings))
            highs.changeColsBounds(len(columns), columns, values, values)
        spent = time.perf_counter() - t0
        if math.isfinite(limit):
            highs.setOptionValue("time_limit", max(limit - spent, 0.01))
        if self.stop_after is not None:
            self.stop_after = max(self.stop_after - spent, 0.01)
        return False

    def findSolutionValues(self, lp: pulp.LpProblem) -> tuple[int, int]:
        import highspy

        if self.proof is not None and self.proof.proven:
            # HiGHS's MIP never ran: the variables hold the proven start, unless
            # the branching found (and proved) a cheaper plan
            if self.proof.improved:
                plan = self.proof.plan
                for var in lp.variables():
                    var.varValue = float(plan[var.index])
            return pulp.LpStatusOptimal, pulp.LpSolutionOptimal
        if self.abandoned is not None:
            # HiGHS is still running: read nothing from it, only what it reported
            values = self.abandoned.values
            if values is None:
                return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
            for var in lp.variables():
                var.varValue = float(values[var.index])
            return pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
        status, sol_status = super().findSolutionValues(lp)
        has_plan = lp.solverModel.getInfo().primal_solution_status == int(
            highspy.kSolutionStatusFeasible
        )
        if sol_status == pulp.LpSolutionIntegerFeasible and not has_plan:
            # stopped (time limit or watchdog) before any feasible plan
            return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
        return status, sol_status

    def mip_gap(self, lp: pulp.LpProblem) -> float | None:
        """The relative gap HiGHS proved for its plan, if it proved one."""
        if self.proof is not None and self.proof.proven:
            slack = max(self.proof.cost - self.proof.bound, 0.0)
            return slack / max(abs(self.proof.cost), 1e-9)
        if self.abandoned is not None:
            return self.abandoned.gap()
        value = getattr(lp.solverModel.getInfo(), "mip_gap", None)
        if value is None or not math.isfinite(value) or value < 0:
            return None
        return float(value)


#: seconds a cancelled HiGHS solve may take to stop before it is left running
ABANDON_AFTER_S = 2.0

_left_running: list[threading.Thread] = []


def solves_left_running() -> int:
    """HiGHS solves cancelled but still finishing a step in their own thread.

    A process must not exit normally while one runs: HiGHS's worker threads
    would be destroyed under it and the C++ runtime aborts the process. The
    CLI leaves through ``os._exit`` in that case (see
    :func:`procurement.cli.run`); tests wait with :func:`wait_for_solves_left_running`.
    """
    _left_running[:] = [t for t in _left_running if t.is_alive()]
    return len(_left_running)


def wait_for_solves_left_running(timeout: float | None = None) -> bool:
    """Wait for every solve left running to stop; True when none is left."""
    for thread in list(_left_running):
        thread.join(timeout)
    return solves_left_running() == 0


class _Reported:
    """What a HiGHS solve has reported through its callbacks: plans and bound."""

    def __init__(self) -> None:
        self.values: np.ndarray | None = None
        self.objective = math.inf
        self.bound = -math.inf

    def improving(self, event: Any) -> None:
        out = event.data_out
        self.values = np.array(out.mip_solution, dtype=float)
        self.objective = float(out.objective_function_value)
        self.progress(event)

    def progress(self, event: Any) -> None:
        bound = float(event.data_out.mip_dual_bound)
        if math.isfinite(bound):
            self.bound = bound

    def gap(self) -> float | None:
        """HiGHS's relative gap, ``|plan - bound| / |plan|`` (in its minimising sense)."""
        if self.values is None or not math.isfinite(self.bound):
            return None
        return abs(self.objective - self.bound) / max(abs(self.objective), 1e-9)


def hard_stop(time_limit: float) -> float:
    """When the watchdog cancels a solve that HiGHS lets run past ``time_limit``.

    A little slack (10%, at least a second) so HiGHS's own limit, which
    stops cleanly with its best plan and bound, normally comes first.
    """
    return max(time_limit, 0.01) + max(1.0, 0.1 * time_limit)


def make_solver(
    name: str,
    *,
    time_limit: float,
    gap: float,
    verbose: bool,
    warm_start: bool = False,
    probe: Sequence[pulp.LpVariable] = (),
    roles: RowRoles | None = None,
    chains: Sequence[Sequence[pulp.LpVariable]] = (),
) -> pulp.LpSolver:
    """HiGHS (via highspy) by default; CBC bundled with PuLP as the fallback.

    ``probe``: binaries HiGHS's root is probed on around a warm start (see
    :func:`probe_root`), from a basis at the start where ``roles`` (the
    model's :attr:`PlanningModel.roles`) are given, and with ``chains`` of
    them that imply one another (:func:`probe_chains`); CBC ignores all three.
    """
    if name not in SOLVERS:
        raise InputError(
            [Problem(f"unknown solver {name!r} (use {' or '.join(SOLVERS)})", field="solver")]
        )
    if name == "highs":
        # presolve off: the model is already reduced (profiles, pruned options)
        # and HiGHS's presolve cost more than it saved on every portfolio measured
        solver = HighsSolver(
            msg=verbose, timeLimit=max(time_limit, 0.01), gapRel=gap, presolve="off"
        )
        solver.warm_start = warm_start
        solver.probe = tuple(probe)
        solver.roles = roles
        solver.probe_chains = tuple(chains)
        solver.stop_after = hard_stop(time_limit)
        if solver.available():
            return solver
    return pulp.PULP_CBC_CMD(msg=verbose, timeLimit=max(time_limit, 1), gapRel=gap)


@dataclass
class StageResult:
    has_solution: bool
    optimal: bool
    gap: float | None
    seconds: float
    solver: str
    objective: float | None = None
    #: "optimal", "feasible", "infeasible" (proven) or "no_solution" (stopped first)
    outcome: str = ""


@without_gc
def run_solver(
    prob: pulp.LpProblem,
    solver_name: str,
    *,
    time_limit: float,
    gap: float,
    verbose: bool,
    warm_start: bool = False,
    probe: Sequence[pulp.LpVariable] = (),
    roles: RowRoles | None = None,
    chains: Sequence[Sequence[pulp.LpVariable]] = (),
) -> StageResult:
    """Solve once and read the true outcome (PuLP 3.3 says Optimal for a time-limited incumbent).

    ``warm_start`` hands HiGHS the variables' current values as a starting
    plan; ``probe`` the binaries to probe the root on around it (``roles``
    and ``chains``: see :func:`make_solver`).
    """
    solver = make_solver(
        solver_name,
        time_limit=time_limit,
        gap=gap,
        verbose=verbose,
        warm_start=warm_start,
        probe=probe,
        roles=roles,
        chains=chains,
    )
    t0 = time.perf_counter()
    with solver_output_to_stderr(verbose):
        prob.solve(solver)
    seconds = time.perf_counter() - t0
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    optimal = prob.sol_status == pulp.LpSolutionOptimal
    mip_gap: float | None = 0.0 if optimal else None
    if has_solution and isinstance(solver, HighsSolver):
        found = solver.mip_gap(prob)
        mip_gap = found if found is not None else mip_gap
    objective = pulp.value(prob.objective) if has_solution else None
    if has_solution:
        outcome = "optimal" if optimal else "feasible"
    elif prob.status == pulp.LpStatusInfeasible:
        outcome = "infeasible"
    else:
        outcome = "no_solution"
    return StageResult(
        has_solution=has_solution,
        optimal=optimal,
        gap=mip_gap,
        seconds=seconds,
        solver="HiGHS" if isinstance(solver, pulp.HiGHS) else type(solver).__name__,
        objective=objective,
        outcome=outcome,
    )


def probe_columns(model: PlanningModel) -> list[pulp.LpVariable]:
    """The binaries worth probing at the root: suppliers used and discount tiers reached.

    They decide fees and discounts; the pair counts follow from them.
    """
    tiers = [z for steps in model.steps.values() for z, _, _ in steps]
    return [*model.used.values(), *tiers]


def probe_chains(model: PlanningModel) -> list[list[pulp.LpVariable]]:
    """Per party and supplier: its used binary, then its tier binaries, lowest tier first.

    In every plan each implies the one before it (a tier reached means some
    site uses the supplier, and every lower tier is reached too), so a
    binary fixed at 1 fixes those before it at 1, and one fixed at 0 those
    after it at 0 (:func:`probe_root`).
    """
    return [
        [used, *(z for z, _, _ in model.steps.get(key, ()))] for key, used in model.used.items()
    ]


def _fix_tolerance(value: float) -> float:
    return 1e-6 * max(1.0, abs(value))


def solve_stages(
    model: PlanningModel,
    scenario: Scenario,
    solver_name: str,
    *,
    verbose: bool = False,
    deadline: float | None = None,
    started: bool = False,
    before_quality: Callable[[], bool] | None = None,
) -> StageResult:
    """Priority, then quality, then cost: each stage's optimum fixed for the next.

    ``started``: the variables already hold a plan (:func:`set_start`) that the
    first stage starts from. ``before_quality`` may load a better plan to
    start the quality stage from (when it returns True, that plan is kept
    unless the previous stage's plan has more quality).

    With the quality objective a cost solve comes first: its plan is within the
    budget, so it starts the quality stage from a feasible plan (a budget row
    alone makes a first plan hard for the solver to find). Each later stage
    starts from the previous stage's plan, which stays feasible once fixed.
    """
    stages: list[tuple[str, int, pulp.LpAffineExpression, bool]] = []
    if scenario.allow_partial:
        stages.append(("priority", pulp.LpMaximize, model.priority, True))
    if scenario.objective == Objective.QUALITY:
        stages.append(("start", pulp.LpMinimize, model.total_cost, False))
        stages.append(("quality", pulp.LpMaximize, model.quality, True))
    stages.append(("cost", pulp.LpMinimize, model.total_cost, True))
    deadline = deadline if deadline is not None else time.perf_counter() + scenario.time_limit_s
    total_seconds = 0.0
    all_optimal = True
    gaps: list[float | None] = []
    result = StageResult(False, False, None, 0.0, solver_name)
    for i, (name, sense, expr, fix) in enumerate(stages):
        left = deadline - time.perf_counter()
        if i > 0 and left <= 0:
            # out of time: keep the last stage's plan (feasible, not proven best;
            # its gap is that of the objectives solved so far)
            all_optimal = False
            break
        if name == "quality" and before_quality is not None:
            previous = {v: v.varValue for v in model.prob.variables()}
            had = pulp.value(model.quality)
            if before_quality() and pulp.value(model.quality) <= had:
                for v, value in previous.items():
                    v.varValue = value
        model.prob.sense = sense
        model.prob.setObjective(expr)
        result = run_solver(
            model.prob,
            solver_name,
            time_limit=max(left, 0.5),
            gap=scenario.mip_gap,
            verbose=verbose,
            warm_start=i > 0 or started,
            probe=probe_columns(model) if name == "cost" else (),
            roles=model.roles,
            chains=probe_chains(model) if name == "cost" else (),
        )
        total_seconds += result.seconds
        if not result.has_solution:
            result.seconds = total_seconds
            return result
        if fix:
            all_optimal = all_optimal and result.optimal
            gaps.append(result.gap)
        if fix and i < len(stages) - 1:
            value = pulp.value(expr)
            tol = _fix_tolerance(value) + (0.5 if name == "priority" else 0.0)
            # the next stage keeps this one's optimum (as a list row: a PuLP
            # constraint here would make every pending row one too)
            terms, constant = list(expr.items()), expr.constant
            if sense == pulp.LpMaximize:
                _row(model.prob, terms, GE, value - tol - constant, f"fix_{name}")
            else:
                _row(model.prob, terms, LE, value + tol - constant, f"fix_{name}")
    result.optimal = all_optimal
    result.seconds = total_seconds
    # the plan is as far from the optimum as its loosest stage
    result.gap = None if None in gaps else max(gaps, default=0.0)
    return result


@without_gc
def chosen_bundles(model: PlanningModel) -> dict[str, Bundle | None]:
    """Hand the chosen counts back out to concrete sites, in site-id order."""

    def count(var: pulp.LpVariable) -> int:
        return round(var.varValue or 0.0)

    choice: dict[str, Bundle | None] = {}
    for profile, row, classes in zip(model.profiles, model.x, model.wifi, strict=True):
        sites = iter(profile.site_ids)
        pair_of: dict[pulp.LpVariable, list[str]] = {}
        for var, pair in zip(row, profile.pairs, strict=True):
            pair_of[var] = [next(sites) for _ in range(count(var))]
            for site_id in pair_of[var]:
                choice[site_id] = pair
        for site_id in sites:
            choice[site_id] = None
        combined: dict[tuple[int, int], Bundle] = {}  # one bundle per pair and wifi, shared
        for members, transport in classes:
            class_sites = iter([sid for var in members for sid in pair_of[var]])
            for o, (t, wifi) in enumerate(transport):
                for _ in range(count(t)):
                    site_id = next(class_sites)
                    pair = choice[site_id]
                    assert pair is not None
                    key = (id(pair), o)
                    bundle = combined.get(key)
                    if bundle is None:
                        bundle = combined[key] = with_wifi(pair, wifi)
                    choice[site_id] = bundle
    return choice


@without_gc
def set_start(model: PlanningModel, start: Mapping[int, Mapping[tuple[int, int], int]]) -> None:
    """Give every variable of ``model`` its value in the plan ``start``.

    ``start`` maps a profile's index to its sites per (pair index, wifi index
    or -1), as :func:`procurement.incumbent.find_start` returns it. The values
    are what the solver is handed as a first plan (see :class:`HighsSolver`).
    """
    for var in model.prob.variables():
        var.varValue = 0.0
    for g, (row, classes) in enumerate(zip(model.x, model.wifi, strict=True)):
        combos = start.get(g, {})
        class_of = {var: c for c, (members, _) in enumerate(classes) for var in members}
        for (j, o), sites in combos.items():
            row[j].varValue = (row[j].varValue or 0.0) + sites
            if o >= 0:
                t, _ = classes[class_of[row[j]]][1][o]
                t.varValue = (t.varValue or 0.0) + sites

    def value(terms: list[Term]) -> float:
        return sum((var.varValue or 0.0) * coef for var, coef in terms)

    for served, sites in model.served_links:
        served.varValue = value(sites)
    for y, uses in model.y_links:
        y.varValue = value(uses)
    for key, n_expr in model.site_count.items():
        n = pulp.value(n_expr)
        model.used[key].varValue = 1.0 if n > 0.5 else 0.0
        for z, m, _ in model.steps.get(key, ()):
            z.varValue = 1.0 if n >= m - 0.5 else 0.0
    for disc, delta, recurring, z in model.discounts:
        disc.varValue = delta * value(recurring) * (z.varValue or 0.0)
    for spend, costs in model.spend_links:
        spend.varValue = value(costs)


# --------------------------------------------------------------------------- the API


@dataclass
class _Context:
    """Inputs resolved once per solve: organisations, budgets, suppliers, profiles."""

    catalog: Catalog
    sites: tuple[Site, ...]
    scenario: Scenario
    organisations: tuple[Organisation, ...]
    builder: BundleBuilder
    total_budget: float | None
    party_budgets: dict[str, float]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def effective_budget(scenario: Scenario, organisations: Sequence[Organisation]) -> float | None:
    """The scenario budget, or on collaborative the organisations' when all have one."""
    if scenario.budget is not None:
        return scenario.budget
    if (
        scenario.route == Route.COLLABORATIVE
        and organisations
        and all(o.budget is not None for o in organisations)
    ):
        return sum(o.budget or 0.0 for o in organisations)
    return None


def _context(
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None,
    builder: BundleBuilder | None,
) -> _Context:
    if not sites:
        raise InputError([Problem("there are no sites to plan", field="sites")])
    # model_copy(update=...) skips validation: make enums enums again
    scenario = Scenario.model_validate(dict(scenario))
    orgs = resolve_organisations(sites, organisations or ())
    budget = effective_budget(scenario, orgs)
    if scenario.objective == Objective.QUALITY and budget is None:
        raise InputError(
            [
                Problem(
                    "the quality objective needs a budget (give --budget, or budgets for "
                    "every organisation on the collaborative route)",
                    field="objective",
                )
            ]
        )
    known = {s.id for s in catalog.suppliers}
    unknown = [s for s in scenario.exclude_suppliers if s not in known]
    diagnostics = [
        Diagnostic(Level.WARNING, f"excluded supplier {s!r} is not in the catalogue")
        for s in unknown
    ]
    regions = {s.region for s in sites}
    for supplier in catalog.suppliers:
        reason = supplier_exclusion(supplier, scenario)
        if reason is None or not regions.intersection(supplier.regions):
            continue
        level = (
            Level.WARNING if (not supplier.hscn_compliant or "expired" in reason) else Level.INFO
        )
        diagnostics.append(Diagnostic(level, f"supplier {supplier.id} ignored: {reason}"))
    party_budgets: dict[str, float] = {}
    if scenario.route != Route.COLLABORATIVE:
        party_budgets = {o.organisation: o.budget for o in orgs if o.budget is not None}
    return _Context(
        catalog=catalog,
        sites=tuple(sites),
        scenario=scenario,
        organisations=orgs,
        builder=builder or BundleBuilder(catalog, scenario),
        total_budget=budget,
        party_budgets=party_budgets,
        diagnostics=diagnostics,
    )


def _independent_parties(
    ctx: _Context,
    exclude_supplier_sets: Sequence[frozenset[str]],
    supplier_site_limits: Mapping[str, int] | None,
) -> bool:
    """Whether each contracting party's plan can be solved on its own, exactly.

    On ``solo`` and ``central`` only a scenario budget (over all parties), a
    shortlist's supplier-set cut or a supplier's site limit link the parties;
    without them every constraint and every objective stage is a sum of
    per-party terms, so the parties' own lexicographic optima make the
    global one, and many small models solve far faster than one large one.
    """
    return (
        ctx.scenario.route != Route.COLLABORATIVE
        and ctx.total_budget is None
        and not exclude_supplier_sets
        and not supplier_site_limits
    )


def _merge_outcomes(outcomes: Sequence[StageResult]) -> StageResult:
    """One outcome for independently solved parties: as good as the worst of them."""
    for bad in ("no_solution", "infeasible"):
        for o in outcomes:
            if o.outcome == bad:
                return StageResult(
                    False,
                    False,
                    None,
                    sum(x.seconds for x in outcomes),
                    o.solver,
                    outcome=bad,
                )
    gaps = [o.gap for o in outcomes]
    optimal = all(o.optimal for o in outcomes)
    objectives = [o.objective for o in outcomes]
    return StageResult(
        has_solution=True,
        optimal=optimal,
        # each party within its gap: the total is within the largest of them
        gap=None if None in gaps else max(gaps, default=0.0),
        seconds=sum(o.seconds for o in outcomes),
        solver=outcomes[0].solver,
        objective=None if None in objectives else sum(objectives),
        outcome="optimal" if optimal else "feasible",
    )


def search_fits(scenario: Scenario) -> bool:
    """Whether the local search's plan is likely to satisfy the scenario's rules.

    It serves every site and ignores rules on suppliers and changes.
    """
    return not scenario.allow_partial and all(
        v is None
        for v in (
            scenario.max_suppliers,
            scenario.min_suppliers,
            scenario.max_supplier_share,
            scenario.max_supplier_changes,
        )
    )


def _start_from_search(
    model: PlanningModel,
    terms: dict[str, SupplierTerms],
    scenario: Scenario,
    solver: str,
    exclude_supplier_sets: Sequence[frozenset[str]],
    supplier_site_limits: Mapping[str, int] | None,
) -> dict[int, dict[tuple[int, int], int]] | None:
    """Hand the solver a first plan from the local search, where one is likely to fit.

    The search knows costs, fees and tiers but no scenario rule that limits
    suppliers or leaves sites unserved; with such rules its plan would mostly
    be refused, so none is offered. A plan over budget is simply refused by
    the solver, which then starts without it. Returns the plan set, if any.
    """
    if (
        solver != "highs"
        or exclude_supplier_sets
        or supplier_site_limits
        or not search_fits(scenario)
    ):
        return None
    start = find_start(model.profiles, terms, seconds=min(2.0, scenario.time_limit_s / 10))
    if start is not None:
        set_start(model, start)
    return start


def _quality_start(
    model: PlanningModel,
    terms: dict[str, SupplierTerms],
    cheapest: Mapping[int, Mapping[tuple[int, int], int]],
    total_budget: float | None,
    party_budgets: dict[str, float],
) -> Callable[[], bool]:
    """Before the quality stage: load a greedy high-quality plan within the budgets.

    HiGHS's root cut rounds on this stage can take the whole time limit
    (seconds each at a few hundred sites), so without a start it may stop
    with nothing better than the cheapest plan.
    """

    def load() -> bool:
        quality = [[pair.quality for pair in p.pairs] for p in model.profiles]
        start = find_quality_start(
            model.profiles,
            terms,
            dict(cheapest),
            total_budget=total_budget,
            party_budgets=party_budgets,
            quality=quality,
        )
        if start is None:
            return False
        set_start(model, start)
        return True

    return load


@dataclass(frozen=True)
class _Group:
    """One model to build and solve: all profiles, or one contracting party's.

    Everything it needs travels with it, so a worker process can solve it.
    """

    profiles: list[Profile]
    terms: dict[str, SupplierTerms]
    scenario: Scenario
    total_budget: float | None
    party_budgets: dict[str, float]
    exclude_supplier_sets: tuple[frozenset[str], ...]
    supplier_site_limits: dict[str, int] | None
    solver: str
    verbose: bool

    @property
    def size(self) -> int:
        return sum(len(p.pairs) + len(p.wifis) for p in self.profiles)


@dataclass
class _Solved:
    """A group's plan (site id -> bundle) and what it took."""

    choice: dict[str, Bundle | None]
    outcome: StageResult
    variables: int
    constraints: int
    build_seconds: float


@without_gc
def _solve_group(group: _Group, deadline: float) -> _Solved:
    """Build the group's model, start it from the local search, solve its stages."""
    scenario = group.scenario
    model = build_model(
        group.profiles,
        group.terms,
        scenario,
        total_budget=group.total_budget,
        party_budgets=group.party_budgets,
        exclude_supplier_sets=group.exclude_supplier_sets,
        supplier_site_limits=group.supplier_site_limits,
    )
    start = _start_from_search(
        model,
        group.terms,
        scenario,
        group.solver,
        group.exclude_supplier_sets,
        group.supplier_site_limits,
    )
    outcome = solve_stages(
        model,
        scenario,
        group.solver,
        verbose=group.verbose,
        deadline=deadline,
        started=start is not None,
        before_quality=None
        if start is None or scenario.objective != Objective.QUALITY
        else _quality_start(model, group.terms, start, group.total_budget, group.party_budgets),
    )
    return _Solved(
        choice=chosen_bundles(model) if outcome.has_solution else {},
        outcome=outcome,
        variables=model.prob.numVariables(),
        constraints=model.prob.numConstraints(),
        build_seconds=model.build_seconds,
    )


def _solve_group_in_worker(group: _Group, wall_deadline: float) -> _Solved:
    """:func:`_solve_group` in a worker process (``time.perf_counter`` is per process)."""
    return _solve_group(group, time.perf_counter() + (wall_deadline - time.time()))


#: parties solved in worker processes only when their models add up to at
#: least this many options (pairs and Wi-Fi choices over profiles): below it,
#: starting the workers costs more than the second core saves (the sample's
#: six parties, 4,200 options: 0.50 s in turn, 0.73 s side by side; 500
#: generated sites of ten parties, 27,000 options: 2.40 s and 1.93 s)
PARALLEL_MIN_SIZE = 15_000


#: portfolios of at least this many sites, of parties solved on their own,
#: start the workers' fork server before their sites are grouped, as their
#: models are then likely to reach :data:`PARALLEL_MIN_SIZE` (generated
#: portfolios of ten organisations: 13,600 options at 500 sites, 22,000 at
#: 1,000). Started for nothing, it cost a 500-site solve 0.05 s; started
#: early when needed, it saves up to 0.4 s.
EARLY_SERVER_MIN_SITES = 1_000


def _likely_side_by_side(
    ctx: _Context,
    solver: str,
    exclude_supplier_sets: Sequence[frozenset[str]],
    supplier_site_limits: Mapping[str, int] | None,
) -> bool:
    """Whether the parties will probably be solved in worker processes
    (:func:`_solve_groups` decides once their models' sizes are known)."""
    return (
        solver == "highs"
        and len(ctx.sites) >= EARLY_SERVER_MIN_SITES
        and available_cpus() > 1
        and _independent_parties(ctx, exclude_supplier_sets, supplier_site_limits)
        and len({party_of(site, ctx.scenario.route) for site in ctx.sites}) > 1
    )


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def pin_highs_to_one_thread() -> None:
    """Make this process's HiGHS use one thread.

    Worker processes are the parallelism: a second HiGHS thread per worker
    only competes for the same cores (and measured slower even alone). HiGHS
    fixes its thread pool at its first solve in a process and then refuses a
    different ``threads`` setting, so this must be the first solve: later
    solves with the default setting reuse the one-thread pool.
    """
    solver = pulp.HiGHS(msg=False, threads=1)
    if not solver.available():
        return
    prob = pulp.LpProblem("pin_threads", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=1, cat=pulp.LpInteger)
    prob += pulp.LpAffineExpression([(x, 1.0)])
    prob += (pulp.LpAffineExpression([(x, 1.0)]) >= 0, "pin")
    with solver_output_to_stderr():
        prob.solve(solver)


#: seconds between a worker's checks that the process that started it is alive
PARENT_CHECK_S = 1.0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process took the pid
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (not Linux): kill(0) is the answer
        return True


def exit_when_parent_dies(parent: int, every: float = PARENT_CHECK_S) -> None:
    """End this worker process soon after process ``parent`` ends.

    Workers come from a fork server, which outlives the process that asked
    for them: killed, a ``compare`` of ten organisations left its two workers
    solving coalitions (and their HiGHS threads running) for many minutes. A
    daemon thread checks every ``every`` seconds and exits at once, whatever
    HiGHS is doing. POSIX only: on Windows ``os.kill(pid, 0)`` is not a
    harmless check (it would send the parent a Ctrl-C).
    """
    if os.name != "posix":  # pragma: no cover - Windows
        return

    def watch() -> None:
        while True:
            time.sleep(every)
            if not _alive(parent):
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def init_worker(parent: int) -> None:
    """A worker process's set-up: it ends with ``parent`` and runs HiGHS and BLAS
    on one thread each (see :mod:`procurement.blas`)."""
    exit_when_parent_dies(parent)
    pin_highs_to_one_thread()
    use_one_blas_thread()


def process_pool_context(preload: str) -> Any:
    """Worker processes from a fork server that has imported ``preload`` (else spawned).

    Never a plain fork: the parent may already run HiGHS's thread pool.
    """
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([preload])
        return context
    return multiprocessing.get_context("spawn")


def start_worker_server(preload: str) -> None:
    """Start the fork server that worker processes come from, without waiting for it.

    The server imports ``preload`` before it can fork a worker (0.4 s), and
    the first pool to start waits for that. Started while this process still
    groups the sites, it imports on the other core meanwhile; later pools of
    this process (app reruns included) reuse it. Nothing happens where
    workers are spawned rather than forked from a server. Only a head start:
    if the server cannot be started here, the first pool tries again as it
    always did.
    """
    context = process_pool_context(preload)
    if context.get_start_method() == "forkserver":
        import multiprocessing.forkserver

        with contextlib.suppress(OSError):
            multiprocessing.forkserver.ensure_running()


@contextlib.contextmanager
def main_hidden_from_workers() -> Iterator[None]:
    """Start worker processes without re-running the ``__main__`` script in them.

    A fork-server or spawned worker re-runs the parent's main script (as
    ``__mp_main__``) when it was started from a file. Under ``streamlit run``
    that script is the app page itself, which then solves again inside the
    worker and breaks the pool. The workers need only this package, so the
    script's path is hidden while they start.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _solve_groups(groups: list[_Group], time_limit: float) -> tuple[list[_Solved], float | None]:
    """Solve the groups one after another, or side by side in worker processes.

    In turn, a group may use the time left but for a reserve for the groups
    after it (a quarter of their proportional share), so one slow party
    cannot leave the others no time at all, nor a quick one leave time
    unused. Side by side (big portfolios of several parties, two or more
    cores), each worker runs HiGHS on one thread, largest groups first, and
    every group has the whole time limit; the wall seconds that took
    (models built in the workers included) are returned too, else None.
    """
    sizes = [g.size for g in groups]
    workers = min(available_cpus(), len(groups))
    if workers > 1 and sum(sizes) >= PARALLEL_MIN_SIZE and groups[0].solver == "highs":
        wall_deadline = time.time() + time_limit
        order = sorted(range(len(groups)), key=lambda i: -sizes[i])
        t0 = time.perf_counter()
        try:
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=process_pool_context("procurement.optimiser"),
                initializer=init_worker,
                initargs=(os.getpid(),),
            ) as pool:
                with main_hidden_from_workers():  # the workers start on the first submit
                    futures = {
                        i: pool.submit(_solve_group_in_worker, groups[i], wall_deadline)
                        for i in order
                    }
                solved = [futures[i].result() for i in range(len(groups))]
            return solved, time.perf_counter() - t0
        except BrokenProcessPool as exc:
            # a worker died (memory, a signal): solve in this process instead
            warnings.warn(
                f"a worker process failed ({exc}); solving the parties one by one",
                RuntimeWarning,
                stacklevel=2,
            )
    deadline = time.perf_counter() + time_limit
    solved: list[_Solved] = []
    for i, group in enumerate(groups):
        left = max(deadline - time.perf_counter(), 0.0)
        reserve = 0.25 * left * sum(sizes[i + 1 :]) / max(sum(sizes[i:]), 1)
        solved.append(_solve_group(group, time.perf_counter() + left - reserve))
        if not solved[-1].outcome.has_solution:
            break
    return solved, None


def _solve_parties(
    ctx: _Context,
    profiles: list[Profile],
    solver: str,
    *,
    verbose: bool,
    exclude_supplier_sets: Sequence[frozenset[str]],
    supplier_site_limits: Mapping[str, int] | None,
) -> tuple[list[_Solved], StageResult]:
    """Build and solve one model, or one per party when the parties are independent."""
    if _independent_parties(ctx, exclude_supplier_sets, supplier_site_limits):
        by_party: dict[str, list[Profile]] = defaultdict(list)
        for profile in profiles:
            by_party[profile.party].append(profile)
        members = [by_party[p] for p in sorted(by_party)]
    else:
        members = [profiles]
    groups = [
        _Group(
            profiles=group,
            terms=ctx.builder.terms,
            scenario=ctx.scenario,
            total_budget=ctx.total_budget,
            party_budgets={
                p: b for p, b in ctx.party_budgets.items() if p in {g.party for g in group}
            },
            exclude_supplier_sets=tuple(exclude_supplier_sets),
            supplier_site_limits=dict(supplier_site_limits) if supplier_site_limits else None,
            solver=solver,
            verbose=verbose,
        )
        for group in members
    ]
    solved, side_by_side = _solve_groups(groups, ctx.scenario.time_limit_s)
    outcome = _merge_outcomes([s.outcome for s in solved])
    if side_by_side is not None:
        # solver seconds summed over workers would exceed the time it took
        outcome.seconds = side_by_side
    return solved, outcome


@without_gc
def solve(
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None = None,
    *,
    solver: str = "highs",
    verbose: bool = False,
    explain: bool = True,
    builder: BundleBuilder | None = None,
    exclude_supplier_sets: Sequence[frozenset[str]] = (),
    supplier_site_limits: Mapping[str, int] | None = None,
) -> Plan:
    """The best plan for ``sites`` under ``scenario``, or an infeasible one that says why.

    ``builder`` may be passed to reuse bundle enumerations between solves of
    the same catalogue and scenario rules (coalitions, sweeps, app reruns).
    ``explain`` re-solves with each scenario constraint relaxed in turn when no
    plan fits, to say which one to change and by how much.
    ``exclude_supplier_sets`` forbids plans using exactly one of these sets of
    suppliers, and ``supplier_site_limits`` caps the sites each supplier may
    serve (see :func:`build_model`).
    """
    t_start = time.perf_counter()
    ctx = _context(catalog, sites, scenario, organisations, builder)
    scenario = ctx.scenario
    site_by_id = {s.site_id: s for s in ctx.sites}
    if len(site_by_id) != len(ctx.sites):
        raise InputError([Problem("site ids must be unique", field="site_id")])

    if _likely_side_by_side(ctx, solver, exclude_supplier_sets, supplier_site_limits):
        start_worker_server("procurement.optimiser")
    # worked out once for both: 0.1 s at 25,000 sites
    requirements = [requirement_of(site, scenario.start_date) for site in ctx.sites]
    unservable = unservable_sites(
        ctx.sites, catalog, scenario, ctx.builder, requirements=requirements
    )
    level = Level.WARNING if scenario.allow_partial else Level.ERROR
    site_diags = [
        Diagnostic(level, f"site {sid} cannot be served: {reason}", site_id=sid)
        for sid, reason in unservable.items()
    ]
    if unservable and not scenario.allow_partial:
        return _empty_plan(ctx, PlanStatus.INFEASIBLE, ctx.diagnostics + site_diags, t_start)

    profiles = build_profiles(ctx.sites, scenario, ctx.builder, requirements=requirements)
    if not profiles:  # allow_partial and nothing at all can be served
        if frozenset() in exclude_supplier_sets:  # serving nothing is itself excluded
            return _empty_plan(ctx, PlanStatus.INFEASIBLE, ctx.diagnostics + site_diags, t_start)
        return _empty_plan(ctx, PlanStatus.PARTIAL, ctx.diagnostics + site_diags, t_start)
    solved, outcome = _solve_parties(
        ctx,
        profiles,
        solver,
        verbose=verbose,
        exclude_supplier_sets=exclude_supplier_sets,
        supplier_site_limits=supplier_site_limits,
    )
    stats = ModelStats(
        sites=len(ctx.sites),
        profiles=len(profiles),
        bundles=sum(len(p.pairs) * max(1, len(p.wifis)) for p in profiles),
        variables=sum(g.variables for g in solved),
        constraints=sum(g.constraints for g in solved),
        build_seconds=sum(g.build_seconds for g in solved),
        solver=outcome.solver,
        outcome=outcome.outcome,
    )
    if not outcome.has_solution:
        diags = ctx.diagnostics + site_diags
        if outcome.outcome == "no_solution":
            diags.append(
                Diagnostic(
                    Level.ERROR,
                    f"the solver found no plan within the time limit of "
                    f"{scenario.time_limit_s:g} s; one may exist: allow more time",
                )
            )
        elif explain:
            diags += explain_infeasible(ctx, profiles, solver)
        else:
            diags.append(Diagnostic(Level.ERROR, "no plan meets every constraint"))
        return _empty_plan(ctx, PlanStatus.INFEASIBLE, diags, t_start, outcome.seconds, stats)

    choice = {sid: b for g in solved for sid, b in g.choice.items()}
    priced = price(choice, ctx.sites, ctx.organisations, scenario, ctx.builder.terms)
    unserved = [sid for sid, b in choice.items() if b is None] + list(unservable)
    diags = ctx.diagnostics + site_diags
    for sid in sorted(set(choice) - set(unservable)):
        if choice[sid] is None:
            diags.append(
                Diagnostic(
                    Level.WARNING,
                    f"site {sid} (priority {site_by_id[sid].priority}) is left unserved "
                    "to stay within the constraints",
                    site_id=sid,
                )
            )
    diags += _budget_notes(ctx, priced.total_cost, priced.organisations)
    if unserved:
        status = PlanStatus.PARTIAL
    elif outcome.optimal:
        status = PlanStatus.OPTIMAL
    else:
        status = PlanStatus.FEASIBLE
    if not outcome.optimal:
        if outcome.gap is None:
            note = (
                "the solver stopped at the time limit; how far this plan is from the "
                "optimum is not known"
            )
        else:
            note = (
                "the solver stopped at the time limit with a plan proven within "
                f"{outcome.gap * 100:.2f}% of the optimum"
            )
        diags.append(Diagnostic(Level.WARNING, note))
    return Plan(
        status=status,
        route=scenario.route,
        objective=scenario.objective,
        term_months=scenario.term_months,
        total_cost=priced.total_cost,
        breakdown=priced.breakdown,
        quality=priced.quality,
        # no proven bound: the plan is only known to be within 100% of the optimum
        gap=outcome.gap if outcome.gap is not None else (0.0 if outcome.optimal else 1.0),
        solve_seconds=outcome.seconds,
        baseline=priced.baseline,
        sites=priced.sites,
        suppliers=priced.suppliers,
        organisations=priced.organisations,
        diagnostics=tuple(diags),
        scenario=scenario,
        stats=stats,
    )


def _budget_notes(ctx: _Context, total: float, orgs: Sequence) -> list[Diagnostic]:
    notes = []
    if ctx.total_budget is not None:
        notes.append(
            Diagnostic(
                Level.INFO,
                f"total £{total:,.2f} against a budget of £{ctx.total_budget:,.2f} "
                f"(headroom £{ctx.total_budget - total:,.2f})",
            )
        )
    if ctx.scenario.route == Route.COLLABORATIVE:
        for org in orgs:
            if org.budget is not None and org.cost > org.budget + 0.01:
                notes.append(
                    Diagnostic(
                        Level.INFO,
                        f"{org.organisation}'s attributed cost £{org.cost:,.2f} is above its own "
                        f"budget £{org.budget:,.2f}; on the collaborative route only the "
                        "consortium's total budget binds",
                    )
                )
    return notes


def _empty_plan(
    ctx: _Context,
    status: PlanStatus,
    diagnostics: list[Diagnostic],
    t_start: float,
    solve_seconds: float = 0.0,
    stats: ModelStats | None = None,
) -> Plan:
    priced = price({}, ctx.sites, ctx.organisations, ctx.scenario, ctx.builder.terms)
    scenario = ctx.scenario
    return Plan(
        status=status,
        route=scenario.route,
        objective=scenario.objective,
        term_months=scenario.term_months,
        total_cost=0.0,
        breakdown=Breakdown(),
        quality=0.0,
        gap=0.0,
        solve_seconds=solve_seconds or (time.perf_counter() - t_start),
        baseline=Baseline(),
        sites=priced.sites,
        suppliers=(),
        organisations=priced.organisations,
        diagnostics=tuple(diagnostics),
        scenario=scenario,
        stats=stats or ModelStats(sites=len(ctx.sites)),
    )


# --------------------------------------------------------------------------- diagnosis


def _active_constraints(ctx: _Context) -> list[str]:
    s = ctx.scenario
    active = []
    if ctx.total_budget is not None:
        active.append("budget")
    if ctx.party_budgets:
        active.append("organisation_budgets")
    for name in ("max_suppliers", "min_suppliers", "max_supplier_share", "max_supplier_changes"):
        if getattr(s, name) is not None:
            active.append(name)
    return active


def explain_infeasible(
    ctx: _Context, profiles: list[Profile], solver: str, *, time_limit: float = 20.0
) -> list[Diagnostic]:
    """Say which scenario constraint to relax, and by how much, for a plan to exist.

    Each active constraint family is relaxed on its own and the model re-solved
    with an objective that measures how far that constraint must move.
    """
    scenario = ctx.scenario
    cost_only = scenario.model_copy(update={"objective": Objective.COST, "mip_gap": 0.0})
    out: list[Diagnostic] = []
    active = _active_constraints(ctx)
    if not active:
        return [Diagnostic(Level.ERROR, "no plan meets every site's requirements together")]

    def model_without(relax: frozenset[str]) -> PlanningModel:
        return build_model(
            profiles,
            ctx.builder.terms,
            cost_only,
            total_budget=ctx.total_budget,
            party_budgets=ctx.party_budgets,
            relax=relax,
        )

    def optimise(model: PlanningModel, sense: int, expr) -> float | None:
        model.prob.sense = sense
        model.prob.setObjective(expr)
        r = run_solver(model.prob, solver, time_limit=time_limit, gap=0.0, verbose=False)
        return pulp.value(expr) if r.has_solution else None

    for name in active:
        model = model_without(frozenset({name}))
        if name == "budget":
            cheapest = optimise(model, pulp.LpMinimize, model.total_cost)
            if cheapest is not None:
                out.append(
                    Diagnostic(
                        Level.ERROR,
                        f"budget short by £{cheapest - (ctx.total_budget or 0):,.2f}: the cheapest "
                        f"plan that meets every site costs £{cheapest:,.2f} against a budget "
                        f"of £{ctx.total_budget:,.2f}",
                    )
                )
        elif name == "organisation_budgets":
            if optimise(model, pulp.LpMinimize, model.total_cost) is not None:
                for party, budget in sorted(ctx.party_budgets.items()):
                    if party not in model.party_cost:
                        continue
                    alone = model_without(frozenset({name}))
                    cheapest = optimise(alone, pulp.LpMinimize, alone.party_cost[party])
                    if cheapest is not None and cheapest > budget + 0.01:
                        out.append(
                            Diagnostic(
                                Level.ERROR,
                                f"{party}'s budget is short by £{cheapest - budget:,.2f}: its "
                                f"cheapest plan costs £{cheapest:,.2f} against £{budget:,.2f}",
                            )
                        )
        elif name == "max_suppliers":
            worst = model.prob.add_variable("most_suppliers", lowBound=0)
            for party in model.party_sites:
                uses = _expr([(u, 1) for (p, _), u in model.used.items() if p == party])
                model.prob += (uses - worst <= 0, f"most_{party}")
            need = optimise(model, pulp.LpMinimize, _expr([(worst, 1)]))
            if need is not None:
                out.append(
                    Diagnostic(
                        Level.ERROR,
                        f"max_suppliers {scenario.max_suppliers} is too few: it would need to "
                        f"be {round(need)}",
                    )
                )
        elif name == "min_suppliers":
            least = model.prob.add_variable("least_suppliers", lowBound=0)
            for party in model.party_sites:
                uses = _expr([(u, 1) for (p, _), u in model.used.items() if p == party])
                model.prob += (uses - least >= 0, f"least_{party}")
                for i, ((p, _), u) in enumerate(sorted(model.used.items())):
                    if p == party:
                        model.prob += (model.site_count[(p, _)] - u >= 0, f"real_{party}_{i}")
            can = optimise(model, pulp.LpMaximize, _expr([(least, 1)]))
            if can is not None:
                out.append(
                    Diagnostic(
                        Level.ERROR,
                        f"min_suppliers {scenario.min_suppliers} cannot be met: at most "
                        f"{round(can)} suppliers can serve these sites together",
                    )
                )
        elif name == "max_supplier_share":
            if scenario.allow_partial:
                if optimise(model, pulp.LpMinimize, model.total_cost) is not None:
                    out.append(
                        Diagnostic(
                            Level.ERROR,
                            f"max_supplier_share {scenario.max_supplier_share:g} cannot hold; "
                            "relaxing it makes a plan possible",
                        )
                    )
                continue
            cap = model.prob.add_variable("share_cap", lowBound=0, upBound=1)
            for i, (key, n_expr) in enumerate(sorted(model.site_count.items())):
                sites_of_party = model.party_sites[key[0]]
                model.prob += (n_expr - sites_of_party * cap <= 0, f"cap_{i}")
            need = optimise(model, pulp.LpMinimize, _expr([(cap, 1)]))
            if need is not None:
                limit = (
                    f" with at most {scenario.max_suppliers} suppliers"
                    if scenario.max_suppliers is not None
                    else ""
                )
                out.append(
                    Diagnostic(
                        Level.ERROR,
                        f"share cap {scenario.max_supplier_share:g} cannot hold{limit}: the "
                        f"smallest cap that works is {math.ceil(need * 1000 - 1e-6) / 1000:g}",
                    )
                )
        elif name == "max_supplier_changes":
            most = model.prob.add_variable("most_changes", lowBound=0)
            for party, expr in model.changes.items():
                model.prob += (expr - most <= 0, f"changes_{party}")
            need = optimise(model, pulp.LpMinimize, _expr([(most, 1)]))
            if need is not None:
                out.append(
                    Diagnostic(
                        Level.ERROR,
                        f"max_supplier_changes {scenario.max_supplier_changes} is too few: it "
                        f"would need to be {round(need)}",
                    )
                )
    if not out:
        out.append(
            Diagnostic(
                Level.ERROR,
                "no single constraint relaxed makes a plan possible; these constraints "
                f"conflict together: {', '.join(active)}",
            )
        )
    return out
