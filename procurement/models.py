"""Validated domain models: catalogue, sites, organisations and scenario.

These are the contract of ``../shared/SPEC.md`` in code. Every model is frozen
and rejects unknown fields, so a typo in a catalogue is an error rather than a
silently ignored price. The loaders in :mod:`procurement.inputs` turn files
into these models and attach file and line numbers to any validation error.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG = re.compile(r"^[a-z0-9-]+$")
Slug = Annotated[str, Field(pattern=r"^[a-z0-9-]+$", min_length=1)]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class Region(StrEnum):
    """NHS England's seven regions."""

    NORTH_EAST_AND_YORKSHIRE = "north-east-and-yorkshire"
    NORTH_WEST = "north-west"
    MIDLANDS = "midlands"
    EAST_OF_ENGLAND = "east-of-england"
    LONDON = "london"
    SOUTH_EAST = "south-east"
    SOUTH_WEST = "south-west"


class Technology(StrEnum):
    FIBRE = "fibre"
    ETHERNET = "ethernet"
    G4 = "4g"
    WIFI = "wifi"


#: Technologies a site can have as a wired or mobile link (wifi is on-site).
LINK_TECHNOLOGIES: frozenset[Technology] = frozenset(
    {Technology.FIBRE, Technology.ETHERNET, Technology.G4}
)
WIRED_TECHNOLOGIES: frozenset[Technology] = frozenset({Technology.FIBRE, Technology.ETHERNET})


class Unit(StrEnum):
    SITE = "site"
    ACCESS_POINT = "access_point"


class Resilience(StrEnum):
    SINGLE = "single"
    BACKUP = "backup"
    DIVERSE = "diverse"


class Route(StrEnum):
    SOLO = "solo"
    COLLABORATIVE = "collaborative"
    CENTRAL = "central"


class Objective(StrEnum):
    COST = "cost"
    QUALITY = "quality"


#: Party id that signs for the whole consortium on the collaborative route.
CONSORTIUM = "consortium"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --------------------------------------------------------------------------- catalogue


class Fees(_Frozen):
    """Supplier charges per contracting party that uses it."""

    onboarding: Money = 0.0
    annual_management: Money = 0.0


class VolumeTier(_Frozen):
    """All-units discount on recurring charges from ``min_sites`` sites."""

    min_sites: int = Field(ge=1)
    discount: Rate


class CentralFramework(_Frozen):
    """Terms when called off a centrally negotiated framework."""

    discount: Rate
    onboarding: Money = 0.0
    annual_management: Money = 0.0


class Offering(_Frozen):
    """One priced product of a supplier."""

    id: Slug
    name: str
    technology: Technology
    download_mbps: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    upload_mbps: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    availability_pct: float | None = Field(default=None, ge=90, lt=100)
    install_cost: Money
    monthly_cost: Money
    unit: Unit = Unit.SITE
    min_term_months: int = Field(default=1, ge=1)
    lead_time_days: int = Field(default=0, ge=0)
    regions: tuple[Region, ...] | None = None
    quality_score: float = Field(default=50, ge=0, le=100)
    contention_ratio: float | None = Field(default=None, ge=1)
    managed_cpe: bool | None = None
    product_code: str | None = None

    @model_validator(mode="after")
    def _unit_and_speeds(self) -> Offering:
        if self.technology is Technology.WIFI:
            if self.unit is not Unit.ACCESS_POINT:
                raise ValueError("a wifi offering must have unit: access_point")
        else:
            if self.unit is Unit.ACCESS_POINT:
                raise ValueError("unit: access_point is for wifi offerings only")
            missing = [
                f
                for f in ("download_mbps", "upload_mbps", "availability_pct")
                if getattr(self, f) is None
            ]
            if missing:
                raise ValueError(f"a {self.technology} offering needs {', '.join(missing)}")
        return self

    @property
    def effective_contention(self) -> float | None:
        """Contention ratio, with ethernet uncontended unless it says otherwise."""
        if self.contention_ratio is not None:
            return self.contention_ratio
        return 1.0 if self.technology is Technology.ETHERNET else None


class Supplier(_Frozen):
    """An accredited HSCN Consumer Network Service Provider (CN-SP)."""

    id: Slug
    name: str
    hscn_compliant: bool
    compliance_expires: date | None = None
    regions: tuple[Region, ...] = Field(min_length=1)
    certifications: tuple[str, ...] = ()
    fees: Fees = Fees()
    volume_discounts: tuple[VolumeTier, ...] = ()
    central_framework: CentralFramework | None = None
    install_capacity_per_month: int | None = Field(default=None, ge=0)
    offerings: tuple[Offering, ...] = ()

    @field_validator("volume_discounts")
    @classmethod
    def _increasing(cls, tiers: tuple[VolumeTier, ...]) -> tuple[VolumeTier, ...]:
        for before, after in pairwise(tiers):
            if after.min_sites <= before.min_sites:
                raise ValueError(
                    "min_sites thresholds must increase "
                    f"({before.min_sites} then {after.min_sites})"
                )
        return tiers

    @model_validator(mode="after")
    def _offering_regions(self) -> Supplier:
        own = set(self.regions)
        for offering in self.offerings:
            outside = [r.value for r in offering.regions or () if r not in own]
            if outside:
                raise ValueError(
                    f"offering {offering.id}: regions {', '.join(outside)} "
                    f"are outside supplier {self.id}'s regions"
                )
        return self

    def volume_discount(self, n_sites: int) -> float:
        """The largest tier discount whose threshold ``n_sites`` reaches (0 if none)."""
        return max(
            (t.discount for t in self.volume_discounts if t.min_sites <= n_sites), default=0.0
        )

    def offering_regions(self, offering: Offering) -> tuple[Region, ...]:
        return offering.regions if offering.regions is not None else self.regions


class Catalog(_Frozen):
    """Accredited suppliers and their offerings, merged from one or more files."""

    schema_version: Literal[1] = 1
    currency: Literal["GBP"] = "GBP"
    suppliers: tuple[Supplier, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: set[str] = set()
        offers: set[str] = set()
        for supplier in self.suppliers:
            if supplier.id in seen:
                raise ValueError(f"duplicate supplier id {supplier.id}")
            seen.add(supplier.id)
            for offering in supplier.offerings:
                if offering.id in offers:
                    raise ValueError(f"duplicate offering id {offering.id}")
                offers.add(offering.id)
        return self

    @cached_property
    def supplier_by_id(self) -> dict[str, Supplier]:
        return {s.id: s for s in self.suppliers}

    @cached_property
    def offering_by_id(self) -> dict[str, Offering]:
        return {o.id: o for s in self.suppliers for o in s.offerings}

    @cached_property
    def supplier_of(self) -> dict[str, Supplier]:
        """Supplier of each offering id."""
        return {o.id: s for s in self.suppliers for o in s.offerings}


# --------------------------------------------------------------------------- sites


class Site(_Frozen):
    """A building that must be connected, with its requirements."""

    site_id: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    name: str = ""
    region: Region
    bandwidth_mbps: float = Field(gt=0, allow_inf_nan=False)
    resilience: Resilience = Resilience.SINGLE
    backup_mbps: float = Field(default=10, gt=0, allow_inf_nan=False)
    min_availability_pct: float | None = Field(default=None, gt=0, lt=100)
    wifi_aps: int = Field(default=0, ge=0)
    technologies: frozenset[Technology] = LINK_TECHNOLOGIES
    allow_4g_primary: bool = False
    go_live_by: date | None = None
    priority: int = Field(default=3, ge=1, le=5)
    uncontended: bool = False
    current_supplier: str | None = None
    current_monthly_cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("technologies")
    @classmethod
    def _link_technologies(cls, techs: frozenset[Technology]) -> frozenset[Technology]:
        if not techs:
            raise ValueError("at least one of fibre, ethernet, 4g is needed")
        if Technology.WIFI in techs:
            raise ValueError("wifi is not a link technology (use wifi_aps)")
        return techs

    @model_validator(mode="after")
    def _default_name(self) -> Site:
        if not self.name:
            object.__setattr__(self, "name", self.site_id)
        return self


class Organisation(_Frozen):
    """An NHS or social-care body that owns sites."""

    organisation: str = Field(min_length=1)
    name: str = ""
    type: str = ""
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _default_name(self) -> Organisation:
        if not self.name:
            object.__setattr__(self, "name", self.organisation)
        return self


# --------------------------------------------------------------------------- scenario


class Scenario(_Frozen):
    """What is being bought and under which rules (SPEC "Scenario")."""

    start_date: date = Field(default_factory=date.today)
    term_months: int = Field(default=36, ge=1, le=240)
    route: Route = Route.COLLABORATIVE
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    objective: Objective = Objective.COST
    max_suppliers: int | None = Field(default=None, ge=1)
    min_suppliers: int | None = Field(default=None, ge=1)
    max_supplier_share: float | None = Field(default=None, gt=0, le=1)
    exclude_suppliers: tuple[str, ...] = ()
    required_certifications: tuple[str, ...] = ()
    max_supplier_changes: int | None = Field(default=None, ge=0)
    allow_partial: bool = False
    time_limit_s: float = Field(default=60, gt=0)
    mip_gap: float = Field(default=0, ge=0, lt=1)

    @model_validator(mode="after")
    def _limits_consistent(self) -> Scenario:
        if (
            self.max_suppliers is not None
            and self.min_suppliers is not None
            and self.min_suppliers > self.max_suppliers
        ):
            raise ValueError(
                f"min_suppliers ({self.min_suppliers}) is above "
                f"max_suppliers ({self.max_suppliers})"
            )
        return self
