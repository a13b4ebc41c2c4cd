"""Synthetic site portfolios for demonstrations, tests and benchmarks.

Real site lists are confidential, yet the planner has to be shown, tested and
timed on portfolios from a handful of sites up to a whole region's tens of
thousands. This module builds such portfolios (sites, organisations and a
scenario, in the formats of SPEC.md) that are

* realistic: sites come from the same archetypes as ``examples/sites.csv``
  (hospital, clinic, GP practice, pharmacy, care home, office, mental health
  unit, hospice), in the proportions a region really has (many GP practices,
  pharmacies and care homes, few hospitals), owned by organisation types that
  own them in practice (a GP federation owns GP practices, a council owns care
  homes);
* solvable: every generated site is feasible with the sample catalogue in
  ``catalog/`` (each archetype's requirement options were checked against its
  offerings, sites are placed only in regions the catalogue covers well, and
  ``go_live_by`` is always at least 200 days after the start date, beyond the
  longest lead time of 180 days);
* compressible: requirements are drawn from small discrete sets, so many sites
  share a requirement profile, which is what lets a solver aggregate identical
  sites (25,000 sites give one or two thousand profiles, not 25,000);
* reproducible: one seed gives the same portfolio on every machine;
* fast: columns are drawn with numpy, looping only over archetypes, regions and
  organisations, never over sites, so 25,000 sites take a fraction of a second.

It needs only numpy, pandas and PyYAML (no streamlit), so the CLI's
``generate`` command, benchmarks and tests can import it anywhere.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from procurement.inputs import ORGANISATION_COLUMNS
from procurement.inputs import SITE_COLUMNS as SPEC_SITE_COLUMNS

__all__ = ["SITE_COLUMNS", "Portfolio", "generate_portfolio", "write_portfolio"]

#: Sites columns in SPEC order, then ``site_type`` (an extra column, kept by the loader).
SITE_COLUMNS: tuple[str, ...] = (*SPEC_SITE_COLUMNS, "site_type")

TERM_MONTHS = 36
#: go_live_by is drawn this many days (inclusive range) after start_date; the
#: sample catalogue's longest lead time is 180 days, so every offering fits.
GO_LIVE_MIN_DAYS = 200
GO_LIVE_MAX_DAYS = 420
GO_LIVE_SHARE = 0.08

# Regions where the sample catalogue has at least six usable (compliant,
# unexpired) suppliers; an organisation's extra regions are its neighbours.
REGIONS: tuple[str, ...] = (
    "north-west",
    "north-east-and-yorkshire",
    "midlands",
    "east-of-england",
)
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "north-west": ("north-east-and-yorkshire", "midlands"),
    "north-east-and-yorkshire": ("north-west", "midlands"),
    "midlands": ("north-west", "north-east-and-yorkshire", "east-of-england"),
    "east-of-england": ("midlands",),
}
HOME_REGION_SHARE = 0.7

# Today's suppliers per region: sample-catalogue ids that sell there (including
# the non-compliant and the expiring one: sites must move off them) and the
# legacy transition network, which is not in the catalogue.
LEGACY_SUPPLIER = "n3-transition"
CURRENT_SUPPLIERS: dict[str, tuple[str, ...]] = {
    "north-west": (
        "albion-health",
        "britannia-networks",
        "pennine-fibre",
        "mersey-connect",
        "carelink-digital",
        "bracken-broadband",
    ),
    "north-east-and-yorkshire": (
        "albion-health",
        "britannia-networks",
        "pennine-fibre",
        "humber-data",
        "tyne-tees-telecom",
        "bracken-broadband",
    ),
    "midlands": (
        "albion-health",
        "britannia-networks",
        "midshires-connect",
        "humber-data",
        "carelink-digital",
    ),
    "east-of-england": (
        "albion-health",
        "britannia-networks",
        "midshires-connect",
        "fenland-wireless",
    ),
}
LEGACY_SHARE = 0.35
LEGACY_UPLIFT = 1.15
NO_CURRENT_SHARE = 0.08

ALL_TECH = "fibre;ethernet;4g"
#: The values the generator uses for ``resilience`` and ``technologies``.
RESILIENCES: tuple[str, ...] = ("single", "backup", "diverse")
TECHNOLOGY_SETS: tuple[str, ...] = (
    ALL_TECH,
    "fibre;ethernet",
    "fibre;4g",
    "ethernet;4g",
    "fibre",
    "4g",
)


@dataclass(frozen=True)
class Archetype:
    """Requirement options of one kind of site, each a (values, weights) pair.

    Every combination of options is feasible with the sample catalogue in every
    region of ``REGIONS``; a technology set without two link technologies
    (``fibre`` alone, ``4g`` alone) forces ``single`` resilience, and ``4g``
    alone also sets ``allow_4g_primary``.
    """

    label: str
    bandwidth: tuple[tuple[int, ...], tuple[float, ...]]
    resilience: tuple[tuple[str, ...], tuple[float, ...]]
    backup: tuple[tuple[int, ...], tuple[float, ...]]
    availability: tuple[tuple[float, ...], tuple[float, ...]]  # nan = no target
    wifi: tuple[tuple[int, ...], tuple[float, ...]]
    technologies: tuple[tuple[str, ...], tuple[float, ...]]
    priority: tuple[tuple[int, ...], tuple[float, ...]]
    uncontended: bool = False


NAN = float("nan")

ARCHETYPES: dict[str, Archetype] = {
    "hospital": Archetype(
        "Hospital",
        ((1000, 2000, 5000, 10000), (0.45, 0.25, 0.15, 0.15)),
        (("diverse",), (1.0,)),
        ((10,), (1.0,)),
        ((99.95, 99.99), (0.7, 0.3)),
        ((20, 30, 40, 60), (0.3, 0.3, 0.25, 0.15)),
        (("fibre;ethernet",), (1.0,)),
        ((5,), (1.0,)),
        uncontended=True,
    ),
    "clinic": Archetype(
        "Health centre",
        ((100, 200, 300), (0.4, 0.35, 0.25)),
        (("backup",), (1.0,)),
        ((10, 20, 30), (0.5, 0.35, 0.15)),
        ((99.5, 99.9), (0.8, 0.2)),
        ((4, 6, 8, 10, 12), (0.25, 0.3, 0.2, 0.15, 0.1)),
        ((ALL_TECH, "fibre;4g", "ethernet;4g"), (0.75, 0.2, 0.05)),
        ((3, 4), (0.6, 0.4)),
    ),
    "gp_practice": Archetype(
        "GP practice",
        ((80, 160, 330), (0.8, 0.15, 0.05)),
        (("backup",), (1.0,)),
        ((10, 20), (0.7, 0.3)),
        ((NAN, 99.5), (0.6, 0.4)),
        ((2, 3, 4, 5, 6, 8), (0.15, 0.25, 0.25, 0.2, 0.1, 0.05)),
        ((ALL_TECH, "fibre;4g"), (0.8, 0.2)),
        ((3, 4), (0.6, 0.4)),
    ),
    "pharmacy": Archetype(
        "Pharmacy",
        ((40, 80), (0.5, 0.5)),
        (("single", "backup"), (0.7, 0.3)),
        ((10,), (1.0,)),
        ((NAN,), (1.0,)),
        ((0, 1, 2, 3), (0.45, 0.3, 0.15, 0.1)),
        ((ALL_TECH, "fibre;4g"), (0.7, 0.3)),
        ((2, 3), (0.5, 0.5)),
    ),
    "care_home": Archetype(
        "Care home",
        ((30, 40, 50, 80), (0.25, 0.25, 0.25, 0.25)),
        (("single", "backup"), (0.6, 0.4)),
        ((10, 20), (0.7, 0.3)),
        ((NAN,), (1.0,)),
        ((1, 2, 3, 4, 6), (0.1, 0.35, 0.3, 0.15, 0.1)),
        ((ALL_TECH, "fibre;4g", "fibre", "4g"), (0.7, 0.2, 0.07, 0.03)),
        ((2, 3), (0.3, 0.7)),
    ),
    "office": Archetype(
        "Office",
        ((100, 200, 500), (0.4, 0.35, 0.25)),
        (("single", "backup"), (0.8, 0.2)),
        ((10, 20), (0.5, 0.5)),
        ((NAN,), (1.0,)),
        ((2, 4, 6, 8, 12, 16), (0.1, 0.25, 0.25, 0.2, 0.12, 0.08)),
        ((ALL_TECH, "ethernet;4g"), (0.85, 0.15)),
        ((1, 2), (0.4, 0.6)),
    ),
    "mental_health_unit": Archetype(
        "Mental health unit",
        ((200, 500, 1000), (0.45, 0.35, 0.2)),
        (("backup",), (1.0,)),
        ((20,), (1.0,)),
        ((99.5, 99.9), (0.5, 0.5)),
        ((6, 8, 10, 16), (0.3, 0.3, 0.25, 0.15)),
        ((ALL_TECH,), (1.0,)),
        ((4, 5), (0.5, 0.5)),
    ),
    "hospice": Archetype(
        "Hospice",
        ((100, 200), (0.6, 0.4)),
        (("backup",), (1.0,)),
        ((10, 20), (0.5, 0.5)),
        ((99.5,), (1.0,)),
        ((4, 6, 8), (0.4, 0.4, 0.2)),
        ((ALL_TECH,), (1.0,)),
        ((4,), (1.0,)),
    ),
}
ARCHETYPE_NAMES: tuple[str, ...] = tuple(ARCHETYPES)


@dataclass(frozen=True)
class OrganisationType:
    """Who owns which kinds of site, and how many sites relative to others."""

    type: str
    label: str
    size: float
    mix: dict[str, float] = field(default_factory=dict)


# Cycled in this order, so the default five organisations are a GP federation,
# an acute trust, a council, a pharmacy group and a community trust.
ORGANISATION_TYPES: tuple[OrganisationType, ...] = (
    OrganisationType(
        type="gp-federation",
        label="GP Federation",
        size=6.0,
        mix={"gp_practice": 0.9, "clinic": 0.05, "office": 0.05},
    ),
    OrganisationType(
        type="acute-trust",
        label="Hospitals NHS Foundation Trust",
        size=1.2,
        mix={"hospital": 0.15, "clinic": 0.5, "office": 0.35},
    ),
    OrganisationType(
        type="council",
        label="Council Adult Social Care",
        size=4.0,
        mix={"care_home": 0.8, "office": 0.2},
    ),
    OrganisationType(
        type="pharmacy-group",
        label="Community Pharmacy Group",
        size=5.0,
        mix={"pharmacy": 0.97, "office": 0.03},
    ),
    OrganisationType(
        type="community-trust",
        label="Community Health NHS Trust",
        size=2.5,
        mix={"clinic": 0.8, "hospital": 0.03, "office": 0.17},
    ),
    OrganisationType(
        type="mental-health-trust",
        label="Mental Health NHS Foundation Trust",
        size=1.5,
        mix={"mental_health_unit": 0.5, "clinic": 0.35, "office": 0.15},
    ),
    OrganisationType(
        type="hospice",
        label="Hospice Care",
        size=0.3,
        mix={"hospice": 0.6, "clinic": 0.2, "office": 0.2},
    ),
)

# Fictional organisation names are made from these (mostly river) names.
PLACES: tuple[str, ...] = (
    "Aire",
    "Calder",
    "Dane",
    "Eden",
    "Fylde",
    "Hallam",
    "Irwell",
    "Kennet",
    "Lune",
    "Mersey",
    "Nene",
    "Ouse",
    "Ribble",
    "Soar",
    "Tame",
    "Trent",
    "Wear",
    "Wharfe",
    "Yare",
    "Colne",
    "Derwent",
    "Douglas",
    "Hodder",
    "Swale",
    "Tees",
    "Welland",
)

# Rough monthly prices (GBP) by bandwidth, in the upper half of the sample
# catalogue's range: used only for budgets and today's costs.
_FIBRE_MBPS = np.array([40, 80, 160, 330, 500, 1000], dtype=float)
_FIBRE_GBP = np.array([26, 32, 38, 46, 58, 80], dtype=float)
_ETH_MBPS = np.array([100, 200, 500, 1000, 2000, 5000, 10000], dtype=float)
_ETH_GBP = np.array([280, 360, 600, 1050, 1500, 2500, 3600], dtype=float)
_BACKUP_4G_GBP = 28.0
_WIFI_AP_GBP = 14.0
_INSTALL_SHARE = 0.12  # one-off charges as a share of recurring, roughly
_FEES_PER_ORG = 20000.0  # onboarding and management of a few suppliers over the term
_FEES_PER_REGION = 5000.0
BUDGET_MARGIN = 1.5


@dataclass(frozen=True, eq=False)
class Portfolio:
    """A generated portfolio: the three inputs of a plan, as SPEC describes them.

    ``sites`` has the SPEC sites columns (plus ``site_type``), ``organisations``
    has ``organisation, name, type, budget``, and ``scenario`` holds SPEC
    scenario fields (``start_date`` as a :class:`datetime.date`).
    """

    sites: pd.DataFrame
    organisations: pd.DataFrame
    scenario: dict[str, Any]


def _draw(
    rng: np.random.Generator, options: tuple[tuple[Any, ...], tuple[float, ...]], size: int
) -> np.ndarray:
    """Draw ``size`` indices into a (values, weights) option pair."""
    weights = np.asarray(options[1], dtype=float)
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _codes(values: tuple[Any, ...], categories: tuple[Any, ...]) -> np.ndarray:
    """Positions of ``values`` in ``categories``."""
    return np.array([categories.index(v) for v in values], dtype=np.int64)


def _strings(categories: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A string column from category codes (-1 = missing), without a per-site loop."""
    return pd.array(list(categories), dtype="str").take(codes, allow_fill=True)


def _pick_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of ``rows`` draw a column index of ``probs[row]`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(rows))
    return np.minimum((u[:, None] >= cum[rows]).sum(axis=1), probs.shape[1] - 1)


def _organisations(
    rng: np.random.Generator, n_organisations: int
) -> tuple[list[OrganisationType], list[str], list[str], list[list[str]]]:
    """Types, ids, names and regions (home region first) of the organisations."""
    types = [ORGANISATION_TYPES[i % len(ORGANISATION_TYPES)] for i in range(n_organisations)]
    places = [PLACES[i] for i in rng.permutation(len(PLACES))]
    ids: list[str] = []
    names: list[str] = []
    regions: list[list[str]] = []
    for i, org_type in enumerate(types):
        place = places[i % len(places)]
        round_no = i // len(places)
        ids.append(f"{place.lower()}-{org_type.type}" + (f"-{round_no + 1}" if round_no else ""))
        names.append(f"{place} {org_type.label}" + (f" {round_no + 1}" if round_no else ""))
        home = REGIONS[int(rng.integers(len(REGIONS)))]
        neighbours = list(NEIGHBOURS[home])
        n_extra = min(int(rng.integers(0, 3)), len(neighbours))
        extra = [neighbours[j] for j in rng.permutation(len(neighbours))[:n_extra]]
        regions.append([home, *extra])
    return types, ids, names, regions


def _monthly_estimate(
    bandwidth: np.ndarray,
    resilience: np.ndarray,
    wifi: np.ndarray,
    technologies: np.ndarray,
    uncontended: np.ndarray,
) -> np.ndarray:
    """A rough (rather high) monthly cost per site, for budgets and baselines.

    ``resilience`` and ``technologies`` are codes into ``RESILIENCES`` and
    ``TECHNOLOGY_SETS``.
    """
    sets = [set(t.split(";")) for t in TECHNOLOGY_SETS]
    has_fibre = np.array(["fibre" in t for t in sets])[technologies]
    has_eth = np.array(["ethernet" in t for t in sets])[technologies]
    only_4g = np.array([t == {"4g"} for t in sets])[technologies]
    fibre = np.interp(bandwidth, _FIBRE_MBPS, _FIBRE_GBP)
    ethernet = np.interp(bandwidth, _ETH_MBPS, _ETH_GBP)
    use_fibre = (has_fibre & ~uncontended | ~has_eth) & (bandwidth <= 1000)
    primary = np.where(only_4g, _BACKUP_4G_GBP, np.where(use_fibre, fibre, ethernet))
    secondary = np.select(
        [resilience == RESILIENCES.index("diverse"), resilience == RESILIENCES.index("backup")],
        [ethernet, _BACKUP_4G_GBP],
        0.0,
    )
    return (primary + secondary + wifi * _WIFI_AP_GBP) * (1.0 + _INSTALL_SHARE)


def generate_portfolio(
    n_sites: int,
    n_organisations: int = 5,
    seed: int = 0,
    start_date: date = date(2027, 4, 1),
) -> Portfolio:
    """Generate a reproducible synthetic portfolio usable with the sample catalogue.

    ``n_sites`` sites are shared among ``n_organisations`` organisations (each
    owns at least one), whose budgets for the 36-month term are generous
    (``BUDGET_MARGIN`` times a rather high estimate of its costs), so budgets
    do not make a generated portfolio infeasible on any route. The same arguments always give the
    same frames. Raises ``ValueError`` when a count is not positive or there
    are more organisations than sites.
    """
    if n_sites < 1:
        raise ValueError(f"n_sites must be at least 1, got {n_sites}")
    if n_organisations < 1:
        raise ValueError(f"n_organisations must be at least 1, got {n_organisations}")
    if n_organisations > n_sites:
        raise ValueError(
            f"n_organisations ({n_organisations}) cannot exceed n_sites ({n_sites}):"
            " every organisation owns at least one site"
        )
    rng = np.random.default_rng(seed)
    types, org_ids, org_names, org_regions = _organisations(rng, n_organisations)

    # Sites per organisation: one each, the rest in proportion to type size.
    size = np.array([t.size for t in types]) * rng.uniform(0.7, 1.3, n_organisations)
    counts = 1 + rng.multinomial(n_sites - n_organisations, size / size.sum())
    org = np.repeat(np.arange(n_organisations), counts)

    # Region: the home region takes HOME_REGION_SHARE, the others share the rest.
    region_idx = np.array(
        [[REGIONS.index(r) for r in (regs + [regs[0]] * 3)[:3]] for regs in org_regions]
    )
    region_probs = np.zeros((n_organisations, 3))
    for i, regs in enumerate(org_regions):
        if len(regs) == 1:
            region_probs[i, 0] = 1.0
        else:
            region_probs[i, 0] = HOME_REGION_SHARE
            region_probs[i, 1 : len(regs)] = (1.0 - HOME_REGION_SHARE) / (len(regs) - 1)
    region = region_idx[org, _pick_rows(rng, region_probs, org)]

    # Archetype from the owner's type mix.
    mix = np.array([[t.mix.get(a, 0.0) for a in ARCHETYPE_NAMES] for t in types])
    mix /= mix.sum(axis=1, keepdims=True)
    arch = _pick_rows(rng, mix, org)

    bandwidth = np.zeros(n_sites, dtype=np.int64)
    resilience = np.zeros(n_sites, dtype=np.int64)
    backup = np.zeros(n_sites, dtype=np.int64)
    availability = np.full(n_sites, np.nan)
    wifi = np.zeros(n_sites, dtype=np.int64)
    technologies = np.zeros(n_sites, dtype=np.int64)
    priority = np.zeros(n_sites, dtype=np.int64)
    uncontended = np.zeros(n_sites, dtype=bool)
    for a, name in enumerate(ARCHETYPE_NAMES):
        spec = ARCHETYPES[name]
        idx = np.flatnonzero(arch == a)
        k = len(idx)
        bandwidth[idx] = np.asarray(spec.bandwidth[0])[_draw(rng, spec.bandwidth, k)]
        resilience[idx] = _codes(spec.resilience[0], RESILIENCES)[_draw(rng, spec.resilience, k)]
        backup[idx] = np.asarray(spec.backup[0])[_draw(rng, spec.backup, k)]
        availability[idx] = np.asarray(spec.availability[0])[_draw(rng, spec.availability, k)]
        wifi[idx] = np.asarray(spec.wifi[0])[_draw(rng, spec.wifi, k)]
        technologies[idx] = _codes(spec.technologies[0], TECHNOLOGY_SETS)[
            _draw(rng, spec.technologies, k)
        ]
        priority[idx] = np.asarray(spec.priority[0])[_draw(rng, spec.priority, k)]
        uncontended[idx] = spec.uncontended
    # A site with one link technology cannot have a backup of another one, and
    # a 4G-only site must be allowed a 4G primary.
    one_tech = np.isin(technologies, _codes(("fibre", "4g"), TECHNOLOGY_SETS))
    resilience[one_tech] = RESILIENCES.index("single")
    allow_4g_primary = technologies == TECHNOLOGY_SETS.index("4g")
    is_backup = resilience == RESILIENCES.index("backup")
    backup_mbps = pd.array(backup, dtype="Int64")
    backup_mbps[~is_backup] = pd.NA

    # go_live_by, on a few sites, always beyond the catalogue's longest lead time.
    has_deadline = rng.random(n_sites) < GO_LIVE_SHARE
    days = rng.integers(GO_LIVE_MIN_DAYS, GO_LIVE_MAX_DAYS + 1, n_sites)
    day_codes = np.where(has_deadline, days - GO_LIVE_MIN_DAYS, -1)
    start = np.datetime64(start_date.isoformat(), "D")
    deadlines = (start + np.arange(GO_LIVE_MIN_DAYS, GO_LIVE_MAX_DAYS + 1)).astype(str)

    # Today's supplier (a code into `suppliers`, -1 = none) and monthly cost.
    suppliers = [LEGACY_SUPPLIER, *sorted({s for v in CURRENT_SUPPLIERS.values() for s in v})]
    u = rng.random(n_sites)
    pick = rng.random(n_sites)
    legacy = suppliers.index(LEGACY_SUPPLIER)
    current = np.full(n_sites, legacy, dtype=np.int64)
    for r, name in enumerate(REGIONS):
        options = np.array([suppliers.index(s) for s in CURRENT_SUPPLIERS[name]])
        choice = options[np.minimum((pick * len(options)).astype(np.int64), len(options) - 1)]
        use_catalogue = (region == r) & (u >= LEGACY_SHARE)
        current[use_catalogue] = choice[use_catalogue]
    no_current = u < NO_CURRENT_SHARE
    current[no_current] = -1
    estimate = _monthly_estimate(
        bandwidth.astype(float), resilience, wifi.astype(float), technologies, uncontended
    )
    # Today's services cost about as much as the estimate, legacy ones more.
    paid = (
        estimate * rng.uniform(0.9, 1.3, n_sites) * np.where(current == legacy, LEGACY_UPLIFT, 1.0)
    )
    current_cost = pd.array(np.round(paid / 5.0).astype(np.int64) * 5, dtype="Int64")
    current_cost[no_current] = pd.NA

    number = pd.Series(np.arange(1, n_sites + 1)).astype("str").str.zfill(len(str(n_sites)) + 1)
    labels = pd.Series(_strings([ARCHETYPES[a].label for a in ARCHETYPE_NAMES], arch))

    sites = pd.DataFrame(
        {
            "site_id": ("S" + number).array,
            "organisation": _strings(org_ids, org),
            "name": (labels + " " + number).array,
            "region": _strings(REGIONS, region),
            "bandwidth_mbps": bandwidth,
            "resilience": _strings(RESILIENCES, resilience),
            "backup_mbps": backup_mbps,
            "min_availability_pct": availability,
            "wifi_aps": wifi,
            "technologies": _strings(TECHNOLOGY_SETS, technologies),
            "allow_4g_primary": allow_4g_primary,
            "go_live_by": _strings(list(deadlines), day_codes),
            "priority": priority,
            "uncontended": uncontended,
            "current_supplier": _strings(suppliers, current),
            "current_monthly_cost": current_cost,
            "site_type": _strings(ARCHETYPE_NAMES, arch),
        },
        columns=list(SITE_COLUMNS),
    )

    per_org = np.bincount(org, weights=estimate * TERM_MONTHS, minlength=n_organisations)
    fees = _FEES_PER_ORG + _FEES_PER_REGION * np.array([len(r) for r in org_regions])
    budget = np.ceil(BUDGET_MARGIN * (per_org + fees) / 1000.0) * 1000.0
    organisations = pd.DataFrame(
        {
            "organisation": pd.array(org_ids, dtype="str"),
            "name": pd.array(org_names, dtype="str"),
            "type": pd.array([t.type for t in types], dtype="str"),
            "budget": budget.astype(np.int64),
        },
        columns=list(ORGANISATION_COLUMNS),
    )
    scenario: dict[str, Any] = {
        "start_date": start_date,
        "term_months": TERM_MONTHS,
        "route": "collaborative",
        "objective": "cost",
    }
    return Portfolio(sites=sites, organisations=organisations, scenario=scenario)


def _csv_text(frame: pd.DataFrame) -> str:
    """CSV as SPEC reads it: booleans as ``true``/``false``, missing values empty."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column].to_numpy(), "true", "false")
    return out.to_csv(index=False, lineterminator="\n")


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``.

    Readers never see a half-written file, and a failed write leaves any
    previous file in place.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_portfolio(portfolio: Portfolio, out_dir: Path) -> list[Path]:
    """Write ``sites.csv``, ``organisations.csv`` and ``scenario.yaml`` into ``out_dir``.

    The folder is created if needed and each file is replaced atomically.
    Returns the three paths in that order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Dates stay dates: safe_dump writes them unquoted, as ISO, like examples/scenario.yaml.
    scenario = dict(portfolio.scenario)
    header = (
        "# Synthetic scenario written by hscn-procure generate; use it with the\n"
        "# sample catalogue (catalog/), sites.csv and organisations.csv beside it.\n"
    )
    files = {
        "sites.csv": _csv_text(portfolio.sites),
        "organisations.csv": _csv_text(portfolio.organisations),
        "scenario.yaml": header + yaml.safe_dump(scenario, sort_keys=False),
    }
    paths: list[Path] = []
    for name, text in files.items():
        path = out_dir / name
        _write_atomic(path, text)
        paths.append(path)
    return paths
