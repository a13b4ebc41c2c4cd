"""The result of planning: which offerings each site buys, and what it all costs.

A :class:`Plan` is plain data. ``to_dict()`` gives the SPEC's Plan JSON and
``to_frames()`` gives pandas tables for the app and the exports, so neither has
to know how the plan was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from procurement.lazy import LazyModule
from procurement.models import Objective, Route, Scenario

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")


class PlanStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    PARTIAL = "partial"
    INFEASIBLE = "infeasible"


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Diagnostic:
    """A sentence for the buyer: why no plan fits, or what to watch out for."""

    level: Level
    message: str
    site_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"level": str(self.level), "site_id": self.site_id, "message": self.message}


@dataclass(frozen=True)
class Link:
    """One offering bought for a site, priced for the plan's term."""

    offering_id: str
    supplier_id: str
    technology: str
    quantity: int
    one_off: float
    recurring: float  # after the supplier's discount
    recurring_list: float  # before any discount
    offering_name: str = ""
    download_mbps: float | None = None
    availability_pct: float | None = None
    quality_score: float = 50.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "offering_id": self.offering_id,
            "supplier_id": self.supplier_id,
            "technology": self.technology,
            "quantity": self.quantity,
            "one_off": self.one_off,
            "recurring": self.recurring,
        }

    @property
    def cost(self) -> float:
        return self.one_off + self.recurring


@dataclass(frozen=True)
class RunnerUp:
    """The next-cheapest way to serve a site with every other choice held."""

    offering_ids: tuple[str, ...]
    suppliers: tuple[str, ...]
    extra_cost: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "offering_ids": list(self.offering_ids),
            "suppliers": list(self.suppliers),
            "extra_cost": self.extra_cost,
        }


@dataclass(frozen=True)
class SitePlan:
    """What one site gets (nothing, when ``served`` is false)."""

    site_id: str
    organisation: str
    served: bool
    primary: Link | None = None
    secondary: Link | None = None
    wifi: Link | None = None
    availability_pct: float | None = None
    cost: float = 0.0  # links' one-off and discounted recurring, no fees
    name: str = ""
    region: str = ""
    priority: int = 3
    runner_up: RunnerUp | None = None

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(x for x in (self.primary, self.secondary, self.wifi) if x is not None)

    @property
    def suppliers(self) -> tuple[str, ...]:
        return tuple(sorted({x.supplier_id for x in self.links}))

    def to_dict(self) -> dict[str, Any]:
        out = {
            "site_id": self.site_id,
            "organisation": self.organisation,
            "served": self.served,
            "primary": self.primary.to_dict() if self.primary else None,
            "secondary": self.secondary.to_dict() if self.secondary else None,
            "wifi": self.wifi.to_dict() if self.wifi else None,
            "availability_pct": self.availability_pct,
            "cost": self.cost,
        }
        if self.runner_up is not None:
            out["runner_up"] = self.runner_up.to_dict()
        return out


@dataclass(frozen=True)
class SupplierLine:
    """What one contracting party pays one supplier."""

    party: str
    supplier_id: str
    sites: int
    discount: float  # the rate applied to recurring charges
    fees: float
    cost: float
    one_off: float = 0.0
    recurring_list: float = 0.0

    @property
    def discount_amount(self) -> float:
        return self.discount * self.recurring_list

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "supplier_id": self.supplier_id,
            "sites": self.sites,
            "discount": self.discount,
            "fees": self.fees,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class OrganisationCost:
    organisation: str
    cost: float
    budget: float | None = None
    name: str = ""
    sites: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"organisation": self.organisation, "cost": self.cost, "budget": self.budget}


@dataclass(frozen=True)
class Breakdown:
    one_off: float = 0.0
    recurring_list: float = 0.0
    discount: float = 0.0
    fees: float = 0.0

    @property
    def total(self) -> float:
        return self.one_off + self.recurring_list - self.discount + self.fees

    def to_dict(self) -> dict[str, float]:
        return {
            "one_off": self.one_off,
            "recurring_list": self.recurring_list,
            "discount": self.discount,
            "fees": self.fees,
        }


@dataclass(frozen=True)
class Baseline:
    """Today's spend on the served sites that report it, and the plan's saving."""

    sites: int = 0
    cost: float = 0.0
    saving: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"sites": self.sites, "cost": self.cost, "saving": self.saving}


@dataclass(frozen=True)
class ModelStats:
    """Size of the optimisation model, for benchmarks and the curious."""

    sites: int = 0
    profiles: int = 0
    bundles: int = 0
    variables: int = 0
    constraints: int = 0
    build_seconds: float = 0.0
    solver: str = ""
    #: the solver's outcome: optimal, feasible, infeasible (proven) or no_solution
    outcome: str = ""


@dataclass(frozen=True)
class Plan:
    """The chosen offerings for every site, with their costs (SPEC "Plan JSON")."""

    status: PlanStatus
    route: Route
    objective: Objective
    term_months: int
    total_cost: float
    breakdown: Breakdown
    quality: float
    gap: float
    solve_seconds: float
    baseline: Baseline
    sites: tuple[SitePlan, ...]
    suppliers: tuple[SupplierLine, ...]
    organisations: tuple[OrganisationCost, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    scenario: Scenario | None = None
    stats: ModelStats = field(default_factory=ModelStats)

    @property
    def has_plan(self) -> bool:
        return self.status is not PlanStatus.INFEASIBLE

    @property
    def served_sites(self) -> tuple[SitePlan, ...]:
        return tuple(s for s in self.sites if s.served)

    @property
    def supplier_ids(self) -> tuple[str, ...]:
        """Distinct suppliers used anywhere in the plan, sorted."""
        return tuple(sorted({line.supplier_id for line in self.suppliers}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "route": str(self.route),
            "objective": str(self.objective),
            "term_months": self.term_months,
            "total_cost": self.total_cost,
            "breakdown": self.breakdown.to_dict(),
            "quality": self.quality,
            "gap": self.gap,
            "solve_seconds": self.solve_seconds,
            "baseline": self.baseline.to_dict(),
            "sites": [s.to_dict() for s in self.sites],
            "suppliers": [s.to_dict() for s in self.suppliers],
            "organisations": [o.to_dict() for o in self.organisations],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Tables for screens and spreadsheets: sites, links, suppliers, organisations."""
        site_rows = []
        link_rows = []
        for s in self.sites:
            row: dict[str, Any] = {
                "site_id": s.site_id,
                "name": s.name,
                "organisation": s.organisation,
                "region": s.region,
                "priority": s.priority,
                "served": s.served,
            }
            for role in ("primary", "secondary", "wifi"):
                link: Link | None = getattr(s, role)
                row[f"{role}_offering"] = link.offering_id if link else None
                row[f"{role}_supplier"] = link.supplier_id if link else None
                if link is not None:
                    link_rows.append(
                        {
                            "site_id": s.site_id,
                            "name": s.name,
                            "organisation": s.organisation,
                            "role": role,
                            "offering_id": link.offering_id,
                            "offering_name": link.offering_name,
                            "supplier_id": link.supplier_id,
                            "technology": link.technology,
                            "download_mbps": link.download_mbps,
                            "quantity": link.quantity,
                            "one_off": link.one_off,
                            "recurring_list": link.recurring_list,
                            "recurring": link.recurring,
                            "cost": link.cost,
                        }
                    )
            row["availability_pct"] = s.availability_pct
            row["cost"] = s.cost
            row["monthly_cost"] = s.cost / self.term_months if self.term_months else 0.0
            row["runner_up_extra_cost"] = s.runner_up.extra_cost if s.runner_up else None
            row["runner_up"] = ", ".join(s.runner_up.offering_ids) if s.runner_up else None
            site_rows.append(row)
        sites = pd.DataFrame(site_rows)
        links = pd.DataFrame(
            link_rows,
            columns=[
                "site_id",
                "name",
                "organisation",
                "role",
                "offering_id",
                "offering_name",
                "supplier_id",
                "technology",
                "download_mbps",
                "quantity",
                "one_off",
                "recurring_list",
                "recurring",
                "cost",
            ],
        )
        suppliers = pd.DataFrame(
            [
                {
                    "party": x.party,
                    "supplier_id": x.supplier_id,
                    "sites": x.sites,
                    "one_off": x.one_off,
                    "recurring_list": x.recurring_list,
                    "discount_rate": x.discount,
                    "discount": x.discount_amount,
                    "fees": x.fees,
                    "cost": x.cost,
                }
                for x in self.suppliers
            ],
            columns=[
                "party",
                "supplier_id",
                "sites",
                "one_off",
                "recurring_list",
                "discount_rate",
                "discount",
                "fees",
                "cost",
            ],
        )
        organisations = pd.DataFrame(
            [
                {
                    "organisation": o.organisation,
                    "name": o.name,
                    "sites": o.sites,
                    "cost": o.cost,
                    "budget": o.budget,
                    "headroom": (o.budget - o.cost) if o.budget is not None else None,
                }
                for o in self.organisations
            ],
            columns=["organisation", "name", "sites", "cost", "budget", "headroom"],
        )
        diagnostics = pd.DataFrame(
            [d.to_dict() for d in self.diagnostics], columns=["level", "site_id", "message"]
        )
        summary = pd.DataFrame(
            [
                ("status", str(self.status)),
                ("route", str(self.route)),
                ("objective", str(self.objective)),
                ("term_months", self.term_months),
                ("total_cost", self.total_cost),
                ("one_off", self.breakdown.one_off),
                ("recurring_list", self.breakdown.recurring_list),
                ("discount", self.breakdown.discount),
                ("fees", self.breakdown.fees),
                ("quality", self.quality),
                ("gap", self.gap),
                ("solve_seconds", self.solve_seconds),
                ("sites_served", len(self.served_sites)),
                ("sites_total", len(self.sites)),
                ("suppliers_used", len(self.supplier_ids)),
                ("baseline_sites", self.baseline.sites),
                ("baseline_cost", self.baseline.cost),
                ("baseline_saving", self.baseline.saving),
            ],
            columns=["item", "value"],
        )
        return {
            "summary": summary,
            "sites": sites,
            "links": links,
            "suppliers": suppliers,
            "organisations": organisations,
            "diagnostics": diagnostics,
        }
