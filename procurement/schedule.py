"""Transition schedule: when each served site moves, within supplier install capacity.

Buying is half the job. An HSCN migration runs for up to a year, suppliers
install only so many circuits a month, lead times run to six months and some
sites must be live by a date. :func:`schedule` gives every served site of a
:class:`~procurement.plan.Plan` an install month (SPEC "Transition schedule"),
or says why none fits; :func:`solve_with_capacity` lets the supplier choice
itself take install capacity into account.

Rules (SPEC)
------------
Month ``m`` (1, 2, ...) ends ``30 * m`` days after ``start_date``. A site
installed in month ``m`` is live at that month's end. It may be installed in
month ``m`` only when ``30 * m >= lead_time_days`` of each of its links, and,
when it has ``go_live_by``, ``start_date + 30 * m days <= go_live_by``. Each
month a supplier installs at most ``install_capacity_per_month`` sites; a
site counts once for every supplier it buys any link from (no limit where
the field is absent). Every served site must be installed within
``horizon_months``.

Objective
---------
Among schedules that obey the rules, minimise the *weighted completion
month* ``sum_s w_s * m_s``: every site goes as early as capacity allows, and
when two sites compete for a supplier's month the heavier goes first, with

``w_s = priority_s + band_s / 20``, ``band_s = min(19, floor(20 * c_s / c_max))``

where ``c_s`` is the site's ``current_monthly_cost`` (0 when not given) and
``c_max`` the largest among the served sites. Priority comes in whole units
and today's cost as a fraction below one unit, so in any one-for-one swap a
higher-priority site always goes first and, within a priority, the site
whose current contract costs most (it is the one whose old bill stops
soonest). Summed over many sites the weights trade off as a priority-weighted
average completion month, which is what "high priority first" means when
capacity is short. Among sites of the same group (below), the one with the
higher exact ``current_monthly_cost`` then the lower ``site_id`` is given the
earlier month.

Formulation
-----------
Sites with the same supplier set, the same earliest month (lead time), the
same latest month (``go_live_by``) and the same weight are interchangeable,
so the MILP chooses integer *counts* ``x[g, m]`` of group ``g`` installed in
month ``m``, with ``sum_m x[g, m] = |g|`` and, per capped supplier ``p`` and
month ``m``, ``sum_{g uses p} x[g, m] <= capacity_p``. Its size grows with the
number of groups and months, not sites: exact for the sample, and a few
hundred groups for thousands of sites. Concrete sites are handed the group's
months in the order above.

When no schedule fits
---------------------
A diagnostic model with the deadlines made soft and the horizon long enough
for any schedule (``max(horizon, deadlines, lead times)`` plus a greedy
packing's length) is solved lexicographically: fewest sites missing their
``go_live_by``, then the smallest horizon (last install month), then the
weighted completion. Its months are returned (some beyond ``horizon_months``
or after a site's date) together with the suppliers whose capacity is full
in the months those sites needed, the sites that miss their dates, and the
smallest horizon that would work (none when some dates cannot be met at all,
or a supplier has zero capacity).

Cash profile
------------
One-off charges fall in the install month; recurring charges (after
discount) are spread evenly over the term, ``link.recurring / term_months``
a month for ``term_months`` months from the month after install; a site's
``current_monthly_cost`` runs in months ``1..m`` inclusive. Supplier fees,
which the SPEC does not place in time, are placed so that finance sees them:
onboarding as a one-off in the month of the party's first install with that
supplier, annual management monthly (``annual / 12``) for the term from the
month after. Over the whole profile (:meth:`Schedule.cash_profile`, months
``1..last install + term``) one-off plus recurring equals the plan's total
cost. ``monthly_spend`` (the JSON) covers months ``1..horizon_months``, or up
to the last proposed install month when that is later. Unserved sites keep
their current service and are left out of the baseline, as in the plan's.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd
import pulp

from procurement.costing import party_of, price
from procurement.errors import InputError, Problem
from procurement.inputs import resolve_organisations
from procurement.models import Catalog, Organisation, Route, Scenario, Site
from procurement.optimiser import (
    build_model,
    build_profiles,
    chosen_bundles,
    effective_budget,
    run_solver,
    solve,
    solve_stages,
)
from procurement.options import BundleBuilder, requirement_of
from procurement.plan import Diagnostic, Level, ModelStats, Plan, PlanStatus

if TYPE_CHECKING:
    from procurement.exports import CatalogInfo

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_HORIZON_MONTHS",
    "CapacityAwareResult",
    "CapacityRow",
    "FeeStream",
    "Schedule",
    "ScheduleStatus",
    "SiteSchedule",
    "SpendRow",
    "earliest_month",
    "latest_month",
    "month_end",
    "schedule",
    "schedule_to_xlsx",
    "schedule_xlsx_frames",
    "solve_with_capacity",
]

#: Month ``m`` ends ``DAYS_PER_MONTH * m`` days after the start date (SPEC).
DAYS_PER_MONTH = 30
DEFAULT_HORIZON_MONTHS = 12
#: Today's cost is quantised into this many bands below one priority unit.
WEIGHT_BANDS = 20


class ScheduleStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"


# --------------------------------------------------------------------------- month arithmetic


def month_end(start_date: date, month: int) -> date:
    """The day month ``month`` ends, when a site installed in it is live."""
    return start_date + timedelta(days=DAYS_PER_MONTH * month)


def earliest_month(lead_time_days: int) -> int:
    """First month whose end is at least ``lead_time_days`` after the start (at least 1)."""
    return max(1, math.ceil(lead_time_days / DAYS_PER_MONTH))


def latest_month(start_date: date, go_live_by: date | None) -> int | None:
    """Last month that ends on or before ``go_live_by`` (0 when even month 1 is too late)."""
    if go_live_by is None:
        return None
    return max(0, (go_live_by - start_date).days // DAYS_PER_MONTH)


def _ranges(months: Iterable[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    values = sorted(set(months))
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ", ".join(parts)


def _ids(ids: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SiteSchedule:
    """When one served site is installed, and what constrained it."""

    site_id: str
    suppliers: tuple[str, ...]
    install_month: int | None  # None only when a supplier of the site has no capacity at all
    name: str = ""
    organisation: str = ""
    priority: int = 3
    current_monthly_cost: float | None = None
    weight: float = 0.0
    lead_time_days: int = 0
    earliest_month: int = 1
    latest_month: int | None = None  # from go_live_by; None when the site has none
    go_live_by: date | None = None
    live_date: date | None = None
    one_off: float = 0.0
    monthly_recurring: float = 0.0  # the links' discounted recurring / term_months

    @property
    def on_time(self) -> bool:
        """Installed, and by its go-live date when it has one."""
        return self.install_month is not None and (
            self.latest_month is None or self.install_month <= self.latest_month
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "suppliers": list(self.suppliers),
            "install_month": self.install_month,
        }


@dataclass(frozen=True)
class CapacityRow:
    """One supplier's installs in one month against its capacity (None: no limit)."""

    supplier_id: str
    month: int
    installs: int
    capacity: int | None

    @property
    def binding(self) -> bool:
        return self.capacity is not None and self.installs >= self.capacity

    def to_dict(self) -> dict[str, Any]:
        return {
            "supplier_id": self.supplier_id,
            "month": self.month,
            "installs": self.installs,
            "capacity": self.capacity,
        }


@dataclass(frozen=True)
class SpendRow:
    """Cash out in one month: new one-off and recurring charges, and today's contracts."""

    month: int
    one_off: float
    recurring: float
    baseline: float

    @property
    def total(self) -> float:
        return self.one_off + self.recurring + self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "one_off": self.one_off,
            "recurring": self.recurring,
            "baseline": self.baseline,
            "total": self.total,
        }


@dataclass(frozen=True)
class FeeStream:
    """A supplier's fees to one party, placed from that party's first install with it."""

    party: str
    supplier_id: str
    first_month: int | None
    onboarding: float
    monthly_management: float


@dataclass(frozen=True)
class Schedule:
    """Install months for every served site, capacity use and the cash profile."""

    status: ScheduleStatus
    horizon_months: int
    plan_total_cost: float
    sites: tuple[SiteSchedule, ...]
    capacity: tuple[CapacityRow, ...]
    monthly_spend: tuple[SpendRow, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    start_date: date | None = None
    term_months: int = 36
    fees: tuple[FeeStream, ...] = ()
    #: the smallest horizon that would fit every site (set when infeasible and one exists)
    smallest_horizon: int | None = None
    #: sum of weight * install month over scheduled sites (the objective)
    weighted_completion: float | None = None
    solve_seconds: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.status is not ScheduleStatus.INFEASIBLE

    @property
    def months_used(self) -> int:
        """The last install month (0 when nothing is installed)."""
        return max((s.install_month or 0 for s in self.sites), default=0)

    @property
    def binding(self) -> tuple[CapacityRow, ...]:
        return tuple(r for r in self.capacity if r.binding)

    @property
    def late_sites(self) -> tuple[SiteSchedule, ...]:
        """Sites not installed by their date or within the horizon."""
        return tuple(
            s for s in self.sites if not s.on_time or (s.install_month or 0) > self.horizon_months
        )

    def cash_profile(self, last_month: int | None = None) -> tuple[SpendRow, ...]:
        """Spend in months ``1..last_month`` (default: through the last recurring month)."""
        if last_month is None:
            last_month = max(self.months_used + self.term_months, self.horizon_months)
        return _cash_profile(self.sites, self.fees, self.term_months, last_month)

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's schedule JSON."""
        return {
            "status": str(self.status),
            "horizon_months": self.horizon_months,
            "plan_total_cost": self.plan_total_cost,
            "sites": [s.to_dict() for s in self.sites],
            "capacity": [r.to_dict() for r in self.capacity],
            "monthly_spend": [r.to_dict() for r in self.monthly_spend],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Tables: summary, sites, capacity, monthly_spend, cash_profile, diagnostics."""
        start = self.start_date
        summary = pd.DataFrame(
            [
                ("status", str(self.status)),
                ("horizon_months", self.horizon_months),
                ("months_used", self.months_used),
                ("smallest_horizon", self.smallest_horizon),
                ("start_date", start.isoformat() if start else None),
                ("term_months", self.term_months),
                ("plan_total_cost", self.plan_total_cost),
                ("sites_scheduled", sum(1 for s in self.sites if s.install_month is not None)),
                ("sites_late", len(self.late_sites)),
                ("binding_supplier_months", len(self.binding)),
                ("weighted_completion", self.weighted_completion),
                ("solve_seconds", self.solve_seconds),
            ],
            columns=["item", "value"],
            dtype=object,
        )
        sites = pd.DataFrame(
            [
                {
                    "site_id": s.site_id,
                    "name": s.name,
                    "organisation": s.organisation,
                    "priority": s.priority,
                    "suppliers": ", ".join(s.suppliers),
                    "lead_time_days": s.lead_time_days,
                    "earliest_month": s.earliest_month,
                    "go_live_by": s.go_live_by,
                    "latest_month": s.latest_month,
                    "install_month": s.install_month,
                    "live_date": s.live_date,
                    "on_time": s.on_time and (s.install_month or 0) <= self.horizon_months,
                    "current_monthly_cost": s.current_monthly_cost,
                    "one_off": s.one_off,
                    "monthly_cost": s.monthly_recurring,
                    "weight": s.weight,
                }
                for s in self.sites
            ],
            columns=[
                "site_id",
                "name",
                "organisation",
                "priority",
                "suppliers",
                "lead_time_days",
                "earliest_month",
                "go_live_by",
                "latest_month",
                "install_month",
                "live_date",
                "on_time",
                "current_monthly_cost",
                "one_off",
                "monthly_cost",
                "weight",
            ],
        )
        for column in ("latest_month", "install_month"):
            sites[column] = sites[column].astype("Int64")
        capacity = pd.DataFrame(
            [
                {
                    "supplier_id": r.supplier_id,
                    "month": r.month,
                    "month_end": month_end(start, r.month) if start else None,
                    "installs": r.installs,
                    "capacity": r.capacity,
                    "spare": None if r.capacity is None else r.capacity - r.installs,
                    "binding": r.binding,
                }
                for r in self.capacity
            ],
            columns=[
                "supplier_id",
                "month",
                "month_end",
                "installs",
                "capacity",
                "spare",
                "binding",
            ],
        )
        for column in ("capacity", "spare"):
            capacity[column] = capacity[column].astype("Int64")
        diagnostics = pd.DataFrame(
            [d.to_dict() for d in self.diagnostics], columns=["level", "site_id", "message"]
        )
        return {
            "summary": summary,
            "sites": sites,
            "capacity": capacity,
            "monthly_spend": _spend_frame(self.monthly_spend, start),
            "cash_profile": _spend_frame(self.cash_profile(), start),
            "diagnostics": diagnostics,
        }


def _spend_frame(rows: Sequence[SpendRow], start: date | None) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "month": r.month,
                "month_end": month_end(start, r.month) if start else None,
                "one_off": r.one_off,
                "recurring": r.recurring,
                "baseline": r.baseline,
                "total": r.total,
            }
            for r in rows
        ],
        columns=["month", "month_end", "one_off", "recurring", "baseline", "total"],
    )
    frame["cumulative"] = frame["total"].cumsum()
    return frame


def _cash_profile(
    sites: Sequence[SiteSchedule], fees: Sequence[FeeStream], term: int, last_month: int
) -> tuple[SpendRow, ...]:
    n = max(last_month, 0)
    one_off = [0.0] * (n + 2)
    recurring = [0.0] * (n + 2)
    baseline = [0.0] * (n + 2)

    def add_run(series: list[float], first: int, months: int, amount: float) -> None:
        for m in range(max(first, 1), min(first + months - 1, n) + 1):
            series[m] += amount

    for s in sites:
        m = s.install_month
        if m is None:  # never installed: today's contract runs on
            add_run(baseline, 1, n, s.current_monthly_cost or 0.0)
            continue
        if m <= n:
            one_off[m] += s.one_off
        add_run(recurring, m + 1, term, s.monthly_recurring)
        add_run(baseline, 1, m, s.current_monthly_cost or 0.0)
    for f in fees:
        if f.first_month is None:
            continue
        if f.first_month <= n:
            one_off[f.first_month] += f.onboarding
        add_run(recurring, f.first_month + 1, term, f.monthly_management)
    return tuple(
        SpendRow(month=m, one_off=one_off[m], recurring=recurring[m], baseline=baseline[m])
        for m in range(1, n + 1)
    )


# --------------------------------------------------------------------------- the model


@dataclass
class _Job:
    """A served site reduced to what scheduling needs."""

    site_id: str
    suppliers: tuple[str, ...]
    earliest: int
    latest: int | None  # deadline month from go_live_by
    weight: int  # priority * WEIGHT_BANDS + cost band
    cost: float  # exact current monthly cost, for order within a group


@dataclass
class _Group:
    suppliers: tuple[str, ...]
    earliest: int
    latest: int | None
    weight: int
    site_ids: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.site_ids)


def _groups(jobs: Sequence[_Job]) -> list[_Group]:
    """Interchangeable sites together; members ordered heaviest (by exact cost) first."""
    by_key: dict[tuple, _Group] = {}
    for job in sorted(jobs, key=lambda j: (-j.cost, j.site_id)):
        key = (job.suppliers, job.earliest, job.latest, job.weight)
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = _Group(job.suppliers, job.earliest, job.latest, job.weight)
        group.site_ids.append(job.site_id)
    return [by_key[k] for k in sorted(by_key, key=lambda k: (k[0], k[1], k[2] or 0, -k[3]))]


@dataclass
class _Model:
    prob: pulp.LpProblem
    x: dict[tuple[int, int], pulp.LpVariable]
    weighted: pulp.LpAffineExpression
    late: pulp.LpAffineExpression
    months: int


def _build(
    groups: Sequence[_Group], caps: Mapping[str, int | None], months: int, *, hard: bool
) -> _Model | None:
    """Counts ``x[g, m]``; ``hard`` enforces each group's deadline, else lateness is counted.

    None when some group has no month at all (an infeasible model, hard only).
    """
    prob = pulp.LpProblem("hscn_schedule", pulp.LpMinimize)
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    weighted: list[tuple[pulp.LpVariable, float]] = []
    late: list[tuple[pulp.LpVariable, float]] = []
    per_month: dict[tuple[str, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for g, group in enumerate(groups):
        last = months
        if hard and group.latest is not None:
            last = min(last, group.latest)
        if group.earliest > last:
            return None
        cat = pulp.LpBinary if group.count == 1 else pulp.LpInteger
        row = []
        for m in range(group.earliest, last + 1):
            var = prob.add_variable(f"x_{g}_{m}", lowBound=0, upBound=group.count, cat=cat)
            x[(g, m)] = var
            row.append((var, 1.0))
            weighted.append((var, group.weight * m))
            if group.latest is not None and m > group.latest:
                late.append((var, 1.0))
            for p in group.suppliers:
                if caps.get(p) is not None:
                    per_month[(p, m)].append((var, 1.0))
        prob += (pulp.LpAffineExpression(row) == group.count, f"all_{g}")
    for i, (p, m) in enumerate(sorted(per_month)):
        prob += (pulp.LpAffineExpression(per_month[(p, m)]) <= caps[p], f"cap_{i}_{m}")
    return _Model(
        prob=prob,
        x=x,
        weighted=pulp.LpAffineExpression(weighted),
        late=pulp.LpAffineExpression(late),
        months=months,
    )


def _months_of(model: _Model, groups: Sequence[_Group]) -> dict[str, int]:
    """Hand each group's monthly counts to its sites, heaviest first."""
    out: dict[str, int] = {}
    for g, group in enumerate(groups):
        members = iter(group.site_ids)
        for m in range(1, model.months + 1):
            var = model.x.get((g, m))
            if var is None:
                continue
            for _ in range(round(var.varValue or 0.0)):
                out[next(members)] = m
        leftover = list(members)
        if leftover:  # solver rounding: should not happen, never leave a site out
            raise RuntimeError(f"schedule model left sites unassigned: {leftover}")
    return out


def _greedy(jobs: Sequence[_Job], caps: Mapping[str, int | None], first: int = 1) -> dict[str, int]:
    """Each job, heaviest first, in the first month from ``max(first, earliest)`` with room.

    Deadlines are ignored; every supplier used must have capacity >= 1.
    """
    used: dict[tuple[str, int], int] = defaultdict(int)
    out: dict[str, int] = {}
    order = sorted(jobs, key=lambda j: (j.latest is None, j.latest or 0, -j.weight, j.site_id))
    for job in order:
        m = max(first, job.earliest)
        while any(
            caps.get(p) is not None and used[(p, m)] >= (caps[p] or 0) for p in job.suppliers
        ):
            m += 1
        for p in job.suppliers:
            used[(p, m)] += 1
        out[job.site_id] = m
    return out


# --------------------------------------------------------------------------- schedule()


def _jobs_of(
    plan: Plan, catalog: Catalog, site_by_id: Mapping[str, Site], start: date
) -> tuple[list[_Job], dict[str, int]]:
    """Jobs for the plan's served sites, and each one's longest lead time in days."""
    problems: list[Problem] = []
    served = plan.served_sites
    costs = [
        site_by_id[s.site_id].current_monthly_cost or 0.0 for s in served if s.site_id in site_by_id
    ]
    c_max = max(costs, default=0.0)
    jobs: list[_Job] = []
    leads: dict[str, int] = {}
    for sp in served:
        site = site_by_id.get(sp.site_id)
        if site is None:
            problems.append(
                Problem(
                    f"the plan's site {sp.site_id} is not among the sites given", field="site_id"
                )
            )
            continue
        lead = 0
        for link in sp.links:
            offering = catalog.offering_by_id.get(link.offering_id)
            if offering is None:
                problems.append(
                    Problem(
                        f"site {sp.site_id}: offering {link.offering_id} is not in the catalogue",
                        field="offering_id",
                    )
                )
                continue
            lead = max(lead, offering.lead_time_days)
        for p in sp.suppliers:
            if p not in catalog.supplier_by_id:
                problems.append(
                    Problem(
                        f"site {sp.site_id}: supplier {p} is not in the catalogue",
                        field="supplier_id",
                    )
                )
        cost = site.current_monthly_cost or 0.0
        band = min(WEIGHT_BANDS - 1, math.floor(WEIGHT_BANDS * cost / c_max)) if c_max > 0 else 0
        leads[sp.site_id] = lead
        jobs.append(
            _Job(
                site_id=sp.site_id,
                suppliers=sp.suppliers,
                earliest=earliest_month(lead),
                latest=latest_month(start, site.go_live_by),
                weight=site.priority * WEIGHT_BANDS + band,
                cost=cost,
            )
        )
    if problems:
        raise InputError(problems)
    return jobs, leads


def schedule(
    plan: Plan,
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    verbose: bool = False,
) -> Schedule:
    """Give every served site of ``plan`` an install month within ``horizon_months``.

    Minimises the weighted completion month (module docstring: priority
    first, then today's monthly cost). When no schedule fits, the result is
    ``infeasible`` with a best-effort schedule (months may exceed the horizon
    or a site's date), the binding suppliers, months and sites, and the
    smallest horizon that works when there is one. ``time_limit`` (default
    the scenario's ``time_limit_s``) bounds each solver call.
    """
    if horizon_months < 1:
        raise InputError(
            [Problem(f"must be at least 1, not {horizon_months}", field="horizon_months")]
        )
    t0 = time.perf_counter()
    scenario = Scenario.model_validate(dict(scenario))  # enums again after a model_copy
    start = scenario.start_date
    term = plan.term_months or scenario.term_months
    limit = time_limit if time_limit is not None else scenario.time_limit_s
    if not plan.has_plan:
        return Schedule(
            status=ScheduleStatus.INFEASIBLE,
            horizon_months=horizon_months,
            plan_total_cost=plan.total_cost,
            sites=(),
            capacity=(),
            monthly_spend=_cash_profile((), (), term, horizon_months),
            diagnostics=(
                *plan.diagnostics,
                Diagnostic(Level.ERROR, "there is no plan to schedule: the plan is infeasible"),
            ),
            start_date=start,
            term_months=term,
        )
    site_by_id = {s.site_id: s for s in sites}
    jobs, leads = _jobs_of(plan, catalog, site_by_id, start)
    caps = {
        p: catalog.supplier_by_id[p].install_capacity_per_month for j in jobs for p in j.suppliers
    }
    zero = {p for p, c in caps.items() if c == 0}
    blocked = [j for j in jobs if zero.intersection(j.suppliers)]
    open_jobs = [j for j in jobs if not zero.intersection(j.suppliers)]
    groups = _groups(open_jobs)

    months: dict[str, int] = {}
    status = ScheduleStatus.INFEASIBLE
    weighted: float | None = None
    diags: list[Diagnostic] = []
    smallest: int | None = None
    model = None if blocked else _build(groups, caps, horizon_months, hard=True)
    solved = not jobs  # nothing served: nothing to install
    if solved:
        status = ScheduleStatus.OPTIMAL
    elif model is not None:
        model.prob.setObjective(model.weighted)
        result = run_solver(model.prob, solver, time_limit=limit, gap=0.0, verbose=verbose)
        if result.has_solution:
            solved = True
            months = _months_of(model, groups)
            status = ScheduleStatus.OPTIMAL if result.optimal else ScheduleStatus.FEASIBLE
            if not result.optimal:
                diags.append(
                    Diagnostic(
                        Level.WARNING,
                        "the scheduler stopped at its time limit: the schedule fits every rule but "
                        "may not put the heaviest sites first as well as it could",
                    )
                )
    if not solved:
        months, smallest, why = _diagnose(
            open_jobs, groups, blocked, caps, horizon_months, solver, limit, verbose
        )
        if smallest is not None and smallest <= horizon_months:
            # only the strict model's time limit stood in the way: the diagnosis fits
            status, smallest = ScheduleStatus.FEASIBLE, None
            diags.append(
                Diagnostic(
                    Level.WARNING,
                    "the scheduler hit its time limit; this schedule fits every rule but was found "
                    "by the fallback model",
                )
            )
        else:
            diags.extend(why)

    site_rows = _site_rows(plan, site_by_id, jobs, leads, months, start, term)
    weighted = sum(s.weight * s.install_month for s in site_rows if s.install_month is not None)
    fees = _fee_streams(plan, site_by_id, catalog, scenario, months)
    last = max(horizon_months, max(months.values(), default=0))
    capacity = _capacity_rows(site_rows, caps, last)
    spend = _cash_profile(site_rows, fees, term, last)
    if status is not ScheduleStatus.INFEASIBLE:
        diags = _feasible_notes(site_rows, capacity, horizon_months, start) + diags
    missing_baseline = sum(1 for s in site_rows if s.current_monthly_cost is None)
    if missing_baseline:
        diags.append(
            Diagnostic(
                Level.INFO,
                f"{missing_baseline} served site(s) have no current_monthly_cost: the "
                "baseline line leaves them out",
            )
        )
    return Schedule(
        status=status,
        horizon_months=horizon_months,
        plan_total_cost=plan.total_cost,
        sites=tuple(site_rows),
        capacity=capacity,
        monthly_spend=spend,
        diagnostics=tuple(diags),
        start_date=start,
        term_months=term,
        fees=fees,
        smallest_horizon=smallest,
        weighted_completion=weighted,
        solve_seconds=time.perf_counter() - t0,
    )


def _site_rows(
    plan: Plan,
    site_by_id: Mapping[str, Site],
    jobs: Sequence[_Job],
    leads: Mapping[str, int],
    months: Mapping[str, int],
    start: date,
    term: int,
) -> list[SiteSchedule]:
    job_by_id = {j.site_id: j for j in jobs}
    rows = []
    for sp in plan.served_sites:
        site = site_by_id[sp.site_id]
        job = job_by_id[sp.site_id]
        m = months.get(sp.site_id)
        rows.append(
            SiteSchedule(
                site_id=sp.site_id,
                suppliers=sp.suppliers,
                install_month=m,
                name=site.name,
                organisation=site.organisation,
                priority=site.priority,
                current_monthly_cost=site.current_monthly_cost,
                weight=job.weight / WEIGHT_BANDS,
                lead_time_days=leads[sp.site_id],
                earliest_month=job.earliest,
                latest_month=job.latest,
                go_live_by=site.go_live_by,
                live_date=month_end(start, m) if m is not None else None,
                one_off=sum(link.one_off for link in sp.links),
                monthly_recurring=sum(link.recurring for link in sp.links) / term,
            )
        )
    return rows


def _capacity_rows(
    rows: Sequence[SiteSchedule], caps: Mapping[str, int | None], last: int
) -> tuple[CapacityRow, ...]:
    installs: dict[tuple[str, int], int] = defaultdict(int)
    for s in rows:
        if s.install_month is not None:
            for p in s.suppliers:
                installs[(p, s.install_month)] += 1
    return tuple(
        CapacityRow(p, m, installs[(p, m)], caps[p])
        for p in sorted(caps)
        for m in range(1, last + 1)
    )


def _fee_streams(
    plan: Plan,
    site_by_id: Mapping[str, Site],
    catalog: Catalog,
    scenario: Scenario,
    months: Mapping[str, int],
) -> tuple[FeeStream, ...]:
    first: dict[tuple[str, str], int] = {}
    for sp in plan.served_sites:
        m = months.get(sp.site_id)
        if m is None:
            continue
        party = party_of(site_by_id[sp.site_id], scenario.route)
        for p in sp.suppliers:
            first[(party, p)] = min(first.get((party, p), m), m)
    out = []
    term = plan.term_months or scenario.term_months
    for line in plan.suppliers:
        supplier = catalog.supplier_by_id.get(line.supplier_id)
        if supplier is None:
            continue
        if scenario.route == Route.CENTRAL:
            framework = supplier.central_framework
            onboarding = framework.onboarding if framework else 0.0
        else:
            onboarding = supplier.fees.onboarding
        onboarding = min(onboarding, line.fees)
        out.append(
            FeeStream(
                party=line.party,
                supplier_id=line.supplier_id,
                first_month=first.get((line.party, line.supplier_id)),
                onboarding=onboarding,
                monthly_management=(line.fees - onboarding) / term,
            )
        )
    return tuple(out)


def _feasible_notes(
    rows: Sequence[SiteSchedule], capacity: Sequence[CapacityRow], horizon: int, start: date
) -> list[Diagnostic]:
    last = max((s.install_month or 0 for s in rows), default=0)
    notes = []
    if rows:
        notes.append(
            Diagnostic(
                Level.INFO,
                f"all {len(rows)} served sites are installed within {horizon} months: the last in "
                f"month {last} (live by {month_end(start, last).isoformat()})",
            )
        )
    else:
        notes.append(Diagnostic(Level.INFO, "the plan serves no site: nothing to install"))
    by_supplier: dict[str, list[CapacityRow]] = defaultdict(list)
    for r in capacity:
        if r.binding and r.installs > 0:
            by_supplier[r.supplier_id].append(r)
    for p, full in sorted(by_supplier.items()):
        notes.append(
            Diagnostic(
                Level.INFO,
                f"capacity binds: {p} installs its maximum of {full[0].capacity} sites a month in "
                f"month(s) {_ranges(r.month for r in full)}",
            )
        )
    tight = [
        s.site_id for s in rows if s.latest_month is not None and s.install_month == s.latest_month
    ]
    if tight:
        notes.append(
            Diagnostic(
                Level.INFO,
                f"{len(tight)} site(s) go live in the last month their go_live_by allows: "
                f"{_ids(tight)}",
            )
        )
    return notes


# --------------------------------------------------------------------------- diagnosis


def _relaxed_schedule(
    jobs: Sequence[_Job],
    groups: Sequence[_Group],
    caps: Mapping[str, int | None],
    horizon: int,
    solver: str,
    limit: float,
    verbose: bool,
) -> dict[str, int] | None:
    """Deadlines soft: fewest sites late, then the shortest span, then the usual weights.

    The span is found by bisection on the last month, each step a plain feasibility
    model (month-indexed makespan binaries make a weak relaxation); None when a
    solve finds nothing within the time limit.
    """
    longest = max([horizon, *(j.earliest for j in jobs), *(j.latest or 0 for j in jobs)])
    # any schedule that meets the dates can put its undated sites after every date and
    # lead time, where a first-fit packing needs at most this many months more
    extended = longest + max(_greedy(jobs, caps).values())
    # weights matter only in the last stage: merge groups that differ only by weight
    merged: dict[tuple, _Group] = {}
    for group in groups:
        key = (group.suppliers, group.earliest, group.latest)
        if key not in merged:
            merged[key] = _Group(group.suppliers, group.earliest, group.latest, 1)
        merged[key].site_ids.extend(group.site_ids)
    coarse = list(merged.values())
    model = _build(coarse, caps, extended, hard=False)
    assert model is not None  # soft deadlines and a long enough horizon always fit
    model.prob.setObjective(model.late)
    if not run_solver(model.prob, solver, time_limit=limit, gap=0.0, verbose=verbose).has_solution:
        return None
    fewest_late = round(pulp.value(model.late) or 0.0)
    months = _months_of(model, coarse)

    def attempt(chosen: Sequence[_Group], last: int, gap: float) -> dict[str, int] | None:
        trial = _build(chosen, caps, last, hard=False)
        if trial is None:
            return None
        trial.prob += (trial.late <= fewest_late + 0.5, "fewest_late")
        trial.prob.setObjective(trial.weighted)
        r = run_solver(trial.prob, solver, time_limit=limit, gap=gap, verbose=verbose)
        return _months_of(trial, chosen) if r.has_solution else None

    low, high = max(j.earliest for j in jobs), max(months.values())
    while low < high:
        mid = (low + high) // 2
        found = attempt(coarse, mid, 1.0)  # any feasible point will do
        if found is not None:
            high, months = mid, found
        else:
            low = mid + 1
    best = attempt(groups, high, 0.0)
    return best if best is not None else months


def _diagnose(
    jobs: Sequence[_Job],
    groups: Sequence[_Group],
    blocked: Sequence[_Job],
    caps: Mapping[str, int | None],
    horizon: int,
    solver: str,
    limit: float,
    verbose: bool,
) -> tuple[dict[str, int], int | None, list[Diagnostic]]:
    """A best-effort schedule, the smallest horizon that works, and why ``horizon`` fails."""
    diags: list[Diagnostic] = []
    months: dict[str, int] = {}
    if jobs:
        found = _relaxed_schedule(jobs, groups, caps, horizon, solver, limit, verbose)
        if found is not None:
            months = found
        else:  # time limit without any solution: the greedy packing still tells a story
            months = _greedy(jobs, caps)
            diags.append(
                Diagnostic(
                    Level.WARNING,
                    "the diagnosis hit its time limit: the proposed months come from a simple "
                    "first-fit packing and the smallest horizon may be shorter",
                )
            )

    job_by_id = {j.site_id: j for j in jobs}
    hopeless = [j for j in jobs if j.latest is not None and j.latest < j.earliest]
    late = [
        j
        for j in jobs
        if j.latest is not None and j.latest >= j.earliest and months[j.site_id] > j.latest
    ]
    dated = {j.site_id for j in (*hopeless, *late)}
    late_ids = {j.site_id for j in late}
    beyond = [j for j in jobs if months[j.site_id] > horizon and j.site_id not in dated]
    made_span = max(months.values(), default=0)
    smallest = None if (blocked or hopeless or late) else max(made_span, 1)

    # headline
    total = len(jobs) + len(blocked)
    if smallest is not None:
        diags.insert(
            0,
            Diagnostic(
                Level.ERROR,
                f"the {total} served sites cannot all be installed within {horizon} months; the "
                f"smallest horizon that works is {smallest} months",
            ),
        )
    else:
        causes = []
        if blocked:
            causes.append(f"{len(blocked)} site(s) use a supplier with no install capacity")
        if hopeless or late:
            causes.append(f"{len(hopeless) + len(late)} site(s) cannot meet their go_live_by")
        rest = (
            f"; with those dates moved, {made_span} months would fit the other sites"
            if not blocked and jobs
            else ""
        )
        diags.insert(
            0,
            Diagnostic(
                Level.ERROR,
                f"no horizon works: {' and '.join(causes)}{rest}",
            ),
        )

    for p in sorted({p for j in blocked for p in j.suppliers if caps.get(p) == 0}):
        ids = [j.site_id for j in blocked if p in j.suppliers]
        diags.append(
            Diagnostic(
                Level.ERROR,
                f"supplier {p} has install_capacity_per_month 0: its {len(ids)} site(s) can never "
                f"be installed ({_ids(ids)})",
            )
        )
    for j in blocked:
        diags.append(
            Diagnostic(
                Level.ERROR,
                f"site {j.site_id} cannot be installed: a supplier "
                "of its plan has no install capacity",
                site_id=j.site_id,
            )
        )

    full_months: dict[str, set[int]] = defaultdict(set)
    used: dict[tuple[str, int], int] = defaultdict(int)
    for sid, m in months.items():
        for p in job_by_id[sid].suppliers:
            used[(p, m)] += 1

    def full_in(job: _Job, last: int) -> list[str]:
        names = []
        for p in job.suppliers:
            cap = caps.get(p)
            if cap is None:
                continue
            fulls = [m for m in range(job.earliest, last + 1) if used[(p, m)] >= cap]
            if fulls:
                full_months[p].update(fulls)
                names.append(f"{p} (full in month(s) {_ranges(fulls)})")
        return names

    for j in hopeless:
        if j.latest == 0:
            why = (
                f"its go_live_by is less than {DAYS_PER_MONTH} days after the start date, "
                "before month 1 ends"
            )
        else:
            why = (
                f"its lead time makes month {j.earliest} the earliest install, but its "
                f"go_live_by needs month {j.latest} or earlier"
            )
        diags.append(
            Diagnostic(
                Level.ERROR,
                f"site {j.site_id} cannot meet its go_live_by: {why}",
                site_id=j.site_id,
            )
        )
    for j in late:
        names = full_in(j, j.latest or 0)
        diags.append(
            Diagnostic(
                Level.ERROR,
                f"site {j.site_id} misses its go_live_by (needs month {j.latest} or earlier, "
                f"proposed month {months[j.site_id]}): install capacity of "
                f"{', '.join(names) or 'its suppliers'} is taken by other sites with dates",
                site_id=j.site_id,
            )
        )
    for j in beyond:
        m = months[j.site_id]
        if j.earliest > horizon:
            why = f"its lead time makes month {j.earliest} the earliest install"
        else:
            names = full_in(j, horizon)
            why = f"install capacity of {', '.join(names) or 'its suppliers'} is used up"
        diags.append(
            Diagnostic(
                Level.WARNING,
                f"site {j.site_id} falls after month {horizon} (proposed month {m}): {why}",
                site_id=j.site_id,
            )
        )
    binding_lines = []
    for p in sorted(full_months):
        waiting = [
            j.site_id
            for j in (*late, *beyond)
            if p in j.suppliers and (months[j.site_id] > horizon or j.site_id in late_ids)
        ]
        binding_lines.append(
            Diagnostic(
                Level.ERROR,
                f"capacity binds: {p} installs its maximum of {caps[p]} sites a month in month(s) "
                f"{_ranges(full_months[p])}, and {len(waiting)} of its sites are late or fall "
                "after the horizon",
            )
        )
    lead_bound = [j.site_id for j in beyond if j.earliest > horizon]
    if lead_bound:
        binding_lines.append(
            Diagnostic(
                Level.ERROR,
                f"lead time binds: {len(lead_bound)} site(s) cannot be installed within {horizon} "
                f"months whatever the capacity ({_ids(lead_bound)})",
            )
        )
    return months, smallest, diags[:1] + binding_lines + diags[1:]


# --------------------------------------------------------------------------- joint mode


@dataclass(frozen=True)
class CapacityAwareResult:
    """The cheapest plan, and the cheapest plan found that can be installed in the horizon.

    ``plan`` is the plan to buy: the unconstrained optimum when its schedule
    already fits (then ``changed`` is false and ``cost_of_capacity`` 0), else
    the capacity-aware plan. ``cost_of_capacity`` is what install capacity
    adds to the total over the best plan known without it (None when no plan
    fits at all); it is 0, not negative, when the capacity-aware solve finds a
    plan cheaper than a time-limited unconstrained solve did. ``exact`` is true
    when the plan is proven the cheapest that fits (the first round fitted;
    see :func:`solve_with_capacity`), ``rounds`` the number of re-solves.
    """

    plan: Plan
    schedule: Schedule
    unconstrained_plan: Plan
    unconstrained_schedule: Schedule
    cost_of_capacity: float | None
    changed: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    exact: bool = True
    rounds: int = 0
    #: the most sites each capped supplier was allowed in the last round
    limits: Mapping[str, int] = field(default_factory=dict)

    def supplier_changes(self) -> list[dict[str, Any]]:
        """Sites per supplier before and after, for suppliers whose count changed."""
        before, after = _sites_per_supplier(self.unconstrained_plan), _sites_per_supplier(self.plan)
        return [
            {"supplier_id": p, "sites_before": before.get(p, 0), "sites_after": after.get(p, 0)}
            for p in sorted(set(before) | set(after))
            if before.get(p, 0) != after.get(p, 0)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "cost_of_capacity": self.cost_of_capacity,
            "exact": self.exact,
            "rounds": self.rounds,
            "unconstrained": {
                "status": str(self.unconstrained_plan.status),
                "total_cost": self.unconstrained_plan.total_cost,
                "schedule_status": str(self.unconstrained_schedule.status),
                "smallest_horizon": self.unconstrained_schedule.smallest_horizon,
            },
            "capacity_aware": {
                "status": str(self.plan.status),
                "total_cost": self.plan.total_cost,
                "schedule_status": str(self.schedule.status),
            },
            "supplier_changes": self.supplier_changes(),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def _sites_per_supplier(plan: Plan) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for s in plan.served_sites:
        for p in s.suppliers:
            out[p] += 1
    return dict(out)


def _within_horizon(sites: Sequence[Site], start: date, horizon: int) -> tuple[Site, ...]:
    """Sites whose ``go_live_by`` is moved to the end of the last month they may use.

    The optimiser then offers only links whose lead time ends by that month's
    end: exactly the bundles a schedule could install within the horizon and
    by the site's date, before any capacity is considered.
    """
    out = []
    for site in sites:
        last = horizon
        if site.go_live_by is not None:
            last = min(last, latest_month(start, site.go_live_by) or 0)
        out.append(site.model_copy(update={"go_live_by": month_end(start, last)}))
    return tuple(out)


def _limited_plan(
    catalog: Catalog,
    sites: Sequence[Site],
    timed: Sequence[Site],
    scenario: Scenario,
    orgs: Sequence[Organisation],
    builder: BundleBuilder,
    limits: Mapping[str, int],
    solver: str,
    verbose: bool,
) -> tuple[Plan | None, bool]:
    """The optimiser's model for ``timed`` sites, each capped supplier used by at most
    ``limits[p]`` sites; priced on the real sites. ``(None, proven)`` when no plan is
    found, ``proven`` saying the model is infeasible rather than out of time."""
    t0 = time.perf_counter()
    party_budgets: dict[str, float] = {}
    if scenario.route != Route.COLLABORATIVE:
        party_budgets = {o.organisation: o.budget for o in orgs if o.budget is not None}
    profiles = build_profiles(timed, scenario, builder)
    model = build_model(
        profiles,
        builder.terms,
        scenario,
        total_budget=effective_budget(scenario, orgs),
        party_budgets=party_budgets,
        supplier_site_limits=limits,
    )
    outcome = solve_stages(model, scenario, solver, verbose=verbose)
    if not outcome.has_solution:
        return None, model.prob.status == pulp.LpStatusInfeasible
    choice = chosen_bundles(model)
    priced = price(choice, sites, orgs, scenario, builder.terms)
    unserved = sorted(s.site_id for s in sites if choice.get(s.site_id) is None)
    if unserved:
        status = PlanStatus.PARTIAL
    else:
        status = PlanStatus.OPTIMAL if outcome.optimal else PlanStatus.FEASIBLE
    notes = [
        Diagnostic(Level.WARNING, f"site {sid} is left unserved to fit install capacity", sid)
        for sid in unserved
    ]
    if not outcome.optimal:
        notes.append(
            Diagnostic(
                Level.WARNING,
                f"the solver stopped at the time limit with a plan proven within "
                f"{(outcome.gap or 0) * 100:.2f}% of the optimum",
            )
        )
    plan = Plan(
        status=status,
        route=scenario.route,
        objective=scenario.objective,
        term_months=scenario.term_months,
        total_cost=priced.total_cost,
        breakdown=priced.breakdown,
        quality=priced.quality,
        gap=outcome.gap if outcome.gap is not None else 0.0,
        solve_seconds=time.perf_counter() - t0,
        baseline=priced.baseline,
        sites=priced.sites,
        suppliers=priced.suppliers,
        organisations=priced.organisations,
        diagnostics=tuple(notes),
        scenario=scenario,
        stats=ModelStats(
            sites=len(sites),
            profiles=len(profiles),
            variables=model.prob.numVariables(),
            constraints=model.prob.numConstraints(),
            build_seconds=model.build_seconds,
            solver=outcome.solver,
        ),
    )
    return plan, True


def _overflow(result: Schedule, caps: Mapping[str, int | None]) -> dict[str, int]:
    """Per capped supplier, its sites that miss the horizon or their date while it is full."""
    full = {(r.supplier_id, r.month) for r in result.capacity if r.binding}
    out: dict[str, int] = defaultdict(int)
    for s in result.late_sites:
        last = result.horizon_months
        if s.latest_month is not None:
            last = min(last, s.latest_month)
        for p in s.suppliers:
            if caps.get(p) is not None and any(
                (p, m) in full for m in range(s.earliest_month, last + 1)
            ):
                out[p] += 1
    return dict(out)


def solve_with_capacity(
    catalog: Catalog,
    sites: Sequence[Site],
    scenario: Scenario,
    organisations: Sequence[Organisation] | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    *,
    solver: str = "highs",
    verbose: bool = False,
    builder: BundleBuilder | None = None,
    base_plan: Plan | None = None,
    max_rounds: int = 6,
) -> CapacityAwareResult:
    """The cheapest plan found whose sites can all be installed within ``horizon_months``.

    The unconstrained plan is solved (or ``base_plan`` used) and scheduled
    first; when it fits, it is returned unchanged. Otherwise the optimiser's
    own model is re-solved with two changes:

    1. each site's ``go_live_by`` is moved to the end of the last month it may
       use (the horizon, or its own date rounded down to a month end), so
       only links whose lead time allows installation in time are offered;
    2. each capped supplier ``p`` serves at most ``limit_p`` sites, starting
       from ``install_capacity_per_month * horizon_months``, which every
       installable plan obeys.

    Both are necessary conditions, so when this first plan can be scheduled
    it is the cheapest plan that can be installed in time (``exact``). When
    it still cannot (capacity is needed earlier than the horizon's end, for
    dates or lead times, or shared between suppliers of diverse sites), each
    supplier that is full while some of its sites wait has its limit cut to
    its current sites minus those waiting, and the model is solved again, up
    to ``max_rounds`` times. Every round's limit only removes plans that
    failed to fit, but a cut may also remove a fitting plan, so after the
    first round the plan is a good one, not proven the cheapest, and
    ``cost_of_capacity`` an upper bound. The chosen plan is then scheduled
    with :func:`schedule` for the usual order of sites.
    """
    scenario = Scenario.model_validate(dict(scenario))
    builder = builder or BundleBuilder(catalog, scenario)
    base = base_plan or solve(
        catalog, sites, scenario, organisations, solver=solver, verbose=verbose, builder=builder
    )
    base_schedule = schedule(
        base, catalog, sites, scenario, horizon_months, solver=solver, verbose=verbose
    )

    def unchanged(
        note: Diagnostic, cost: float | None, exact: bool = True, rounds: int = 0
    ) -> CapacityAwareResult:
        return CapacityAwareResult(
            plan=base,
            schedule=base_schedule,
            unconstrained_plan=base,
            unconstrained_schedule=base_schedule,
            cost_of_capacity=cost,
            changed=False,
            diagnostics=(note,),
            exact=exact,
            rounds=rounds,
        )

    if base_schedule.feasible:
        return unchanged(
            Diagnostic(
                Level.INFO,
                "the cheapest plan can already be installed within the horizon: capacity "
                "costs nothing",
            ),
            0.0,
            exact=base.status == PlanStatus.OPTIMAL,
        )
    if not base.has_plan:
        return unchanged(
            Diagnostic(Level.ERROR, "there is no plan to make capacity-aware: it is infeasible"),
            None,
        )

    start = scenario.start_date
    orgs = resolve_organisations(sites, organisations or ())
    timed = _within_horizon(sites, start, horizon_months)
    needs = (
        f"{base_schedule.smallest_horizon} months"
        if base_schedule.smallest_horizon
        else "more than any horizon gives"
    )
    late_for_good = [
        s.site_id
        for s in timed
        if not scenario.allow_partial
        and (
            (s.go_live_by is not None and s.go_live_by < month_end(start, 1))
            or not builder.servable(requirement_of(s, start))
        )
    ]
    if late_for_good:
        return unchanged(
            Diagnostic(
                Level.ERROR,
                f"no plan can be installed within {horizon_months} months: no offering's lead "
                f"time lets {len(late_for_good)} site(s) go live in time ({_ids(late_for_good)})",
            ),
            None,
        )
    caps = {s.id: s.install_capacity_per_month for s in catalog.suppliers}
    limits = {p: c * horizon_months for p, c in caps.items() if c is not None}
    plan: Plan | None = None
    result: Schedule | None = None
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        plan, proven = _limited_plan(
            catalog, sites, timed, scenario, orgs, builder, limits, solver, verbose
        )
        if plan is None:
            if proven:
                message = (
                    f"no plan can be installed within {horizon_months} months, whichever "
                    "suppliers are chosen"
                    if rounds == 1
                    else f"no plan was found within {horizon_months} months once suppliers' "
                    "site numbers were cut to what they could install"
                )
            else:
                message = (
                    f"the solver found no capacity-aware plan within its time limit of "
                    f"{scenario.time_limit_s:g} s; allow it longer (time_limit_s, --time-limit)"
                )
            return unchanged(
                Diagnostic(Level.ERROR, f"{message}; the cheapest plan needs {needs}"),
                None,
                exact=proven and rounds == 1,
                rounds=rounds,
            )
        result = schedule(plan, catalog, sites, scenario, horizon_months, solver=solver)
        if result.feasible:
            break
        waiting = _overflow(result, caps)
        if not waiting:
            break
        using = _sites_per_supplier(plan)
        for p, n in waiting.items():
            limits[p] = max(0, min(limits[p], using.get(p, 0) - n))
    assert plan is not None and result is not None
    exact = rounds == 1 and result.feasible and plan.status == PlanStatus.OPTIMAL
    if not result.feasible:
        return CapacityAwareResult(
            plan=base,
            schedule=base_schedule,
            unconstrained_plan=base,
            unconstrained_schedule=base_schedule,
            cost_of_capacity=None,
            changed=False,
            diagnostics=(
                Diagnostic(
                    Level.ERROR,
                    f"no capacity-aware plan that fits {horizon_months} months was found in "
                    f"{rounds} round(s); the cheapest plan needs {needs}",
                ),
            ),
            exact=False,
            rounds=rounds,
            limits=dict(limits),
        )

    extra = plan.total_cost - base.total_cost
    bound = "" if exact else " at most"
    if extra >= 0:
        summary = (
            f"capacity-aware plan: suppliers chosen so that every site can be installed within "
            f"{horizon_months} months; it costs £{plan.total_cost:,.2f},{bound} £{extra:,.2f} "
            f"more than the cheapest plan (£{base.total_cost:,.2f}), which needs {needs}"
        )
    else:
        # The plan found without capacity was not optimal (time limit): this one is a
        # cheaper plan for both problems, so capacity costs nothing that can be shown.
        summary = (
            f"capacity-aware plan: suppliers chosen so that every site can be installed within "
            f"{horizon_months} months; at £{plan.total_cost:,.2f} it is £{-extra:,.2f} cheaper "
            f"than the plan found without capacity (£{base.total_cost:,.2f}, which needs "
            f"{needs} and was proven only within {100 * base.gap:.2f}% of the optimum), so "
            "install capacity costs nothing here"
        )
        extra = 0.0
    capped = {p: n for p, n in _sites_per_supplier(base).items() if caps.get(p) is not None}
    moved = [
        f"{p} {n} -> {_sites_per_supplier(plan).get(p, 0)}"
        for p, n in sorted(capped.items())
        if _sites_per_supplier(plan).get(p, 0) != n
    ]
    notes = [Diagnostic(Level.INFO, summary)]
    if moved:
        notes.append(
            Diagnostic(
                Level.INFO,
                "sites per capped supplier, cheapest -> capacity-aware: " + ", ".join(moved),
            )
        )
    context = tuple(
        d
        for d in base.diagnostics
        if d.site_id is None and d.message.startswith(("supplier ", "excluded supplier"))
    )
    from dataclasses import replace

    plan = replace(plan, diagnostics=(*context, *notes, *plan.diagnostics))
    return CapacityAwareResult(
        plan=plan,
        schedule=_with_notes(result, notes),
        unconstrained_plan=base,
        unconstrained_schedule=base_schedule,
        cost_of_capacity=extra,
        changed=True,
        diagnostics=tuple(notes),
        exact=exact,
        rounds=rounds,
        limits=dict(limits),
    )


def _with_notes(result: Schedule, notes: Sequence[Diagnostic]) -> Schedule:
    from dataclasses import replace

    return replace(result, diagnostics=(*notes, *result.diagnostics))


# --------------------------------------------------------------------------- Excel


def schedule_xlsx_frames(result: Schedule) -> dict[str, pd.DataFrame]:
    """The Transition sheets: per-site months, capacity, spend, cash profile, notes."""
    frames = result.to_frames()
    return {
        "Transition": frames["sites"],
        "Transition summary": frames["summary"],
        "Transition capacity": frames["capacity"],
        "Transition spend": frames["monthly_spend"],
        "Transition cash profile": frames["cash_profile"],
        "Transition diagnostics": frames["diagnostics"],
    }


def schedule_to_xlsx(
    result: Schedule, plan: Plan | None = None, catalog_info: CatalogInfo | None = None
) -> bytes:
    """The schedule as Excel, with the plan's sheets first when ``plan`` is given.

    Built with :func:`procurement.exports.frames_to_xlsx`, so every text cell is
    neutralised and money columns get the GBP format.
    """
    from procurement.exports import MONEY_COLUMNS, frames_to_xlsx, plan_frames

    frames: dict[str, pd.DataFrame] = {}
    if plan is not None:
        frames.update(plan_frames(plan, catalog_info))
    frames.update(schedule_xlsx_frames(result))
    money = MONEY_COLUMNS | {"cumulative", "monthly_recurring"}
    return frames_to_xlsx(frames, money_columns=money)
