"""Pure helpers behind the app's pages: inputs, scenario settings, tables and cache keys.

The Streamlit pages (``app_pages/``) hold only widgets; everything they decide
lives here so it can be unit-tested without a browser:

* :class:`DataInputs` holds the user's files as raw bytes (catalogue YAML,
  sites CSV, organisations CSV). It is the canonical form of "what was
  uploaded": its :meth:`~DataInputs.digest` keys every cached solve, and it is
  what a saved scenario stores, so a reload gives back exactly the same data.
* :func:`load_data` turns it into validated models through
  :mod:`procurement.inputs`, so a mistake reads exactly as the CLI says it.
* The scenario settings of the Plan page are a plain dict with the SPEC's
  field names (:data:`DEFAULT_CONTROLS`); :func:`controls_to_scenario` makes
  the :class:`~procurement.models.Scenario`.
* The sites table editor round-trips through CSV (:func:`editor_frame`,
  :func:`editor_frame_to_csv`), so an edited table is validated by the same
  loader, with the same line numbers a downloaded CSV of the table would have.
* Tables for the screens: plan metrics and sites, the catalogue, route
  comparisons, shortlists, a budget sweep and saved scenarios side by side.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from procurement import inputs as inputs_mod
from procurement.errors import InputError, Problem
from procurement.models import (
    Catalog,
    Objective,
    Organisation,
    Region,
    Resilience,
    Route,
    Scenario,
    Site,
)
from procurement.options import supplier_exclusion
from procurement.plan import Level, Plan, PlanStatus

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CATALOG_DIR = REPO_ROOT / "catalog"
SAMPLE_SITES = REPO_ROOT / "examples" / "sites.csv"
SAMPLE_ORGANISATIONS = REPO_ROOT / "examples" / "organisations.csv"
SAMPLE_SCENARIO = REPO_ROOT / "examples" / "scenario.yaml"

#: How the app names the sample files in messages (as the CLI would, run from the repo).
SAMPLE_CATALOG_LABEL = "catalog"
SAMPLE_SITES_NAME = "examples/sites.csv"
SAMPLE_ORGANISATIONS_NAME = "examples/organisations.csv"

#: The name an edited sites table goes by in messages.
EDITED_SITES_NAME = "sites table"

REGION_CODES: tuple[str, ...] = tuple(r.value for r in Region)
RESILIENCE_LEVELS: tuple[str, ...] = tuple(r.value for r in Resilience)
LINK_TECHNOLOGY_NAMES: tuple[str, ...] = ("fibre", "ethernet", "4g")
ROUTES: tuple[str, ...] = tuple(r.value for r in Route)

#: What each route means, in the words of the SPEC, for select boxes and tables.
ROUTE_WORDS: dict[str, str] = {
    "solo": "solo: each organisation buys alone",
    "collaborative": "collaborative: the organisations buy as one consortium",
    "central": "central: each organisation calls off a central framework",
}
OBJECTIVE_WORDS: dict[str, str] = {
    "cost": "cheapest plan",
    "quality": "best quality within the budget",
}


# =========================================================================== money


def gbp(value: float | None, *, pence: bool = False) -> str:
    """Money for the screen: ``£1,234`` (or ``£1,234.56``), ``-£1,234``, ``—`` for none.

    >>> gbp(1234567.891), gbp(-12.5, pence=True), gbp(None)
    ('£1,234,568', '-£12.50', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "-" if value < 0 and round(abs(value), 2 if pence else 0) != 0 else ""
    text = f"{abs(value):,.2f}" if pence else f"{abs(value):,.0f}"
    return f"{sign}£{text}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$|~])")


def md_escape(text: object) -> str:
    r"""User text made inert in Streamlit markdown: no links, emphasis, HTML or LaTeX.

    >>> md_escape("[click](http://x) *now* $5")
    '\\[click\\](http://x) \\*now\\* \\$5'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.123`` is ``12.3%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.{digits}f}%"


# =========================================================================== inputs


@dataclass(frozen=True)
class NamedFile:
    """One uploaded (or sample) file: its name and its exact bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class DataInputs:
    """The user's files, as bytes: the canonical form of the data being planned.

    ``catalog_label`` names the catalogue in messages and exports (the sample
    folder is ``catalog``, as on the command line). ``organisations_csv`` may
    be None: every organisation a site names is then planned with no budget.
    """

    catalog_files: tuple[NamedFile, ...]
    catalog_label: str
    sites_csv: bytes
    sites_name: str
    organisations_csv: bytes | None = None
    organisations_name: str | None = None
    is_sample: bool = False

    def digest(self) -> str:
        """A stable hash of every byte of every file (and the names used in messages)."""
        h = hashlib.sha256()
        for part in self._parts():
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
        return h.hexdigest()

    def _parts(self) -> Iterable[bytes]:
        yield self.catalog_label.encode()
        for f in self.catalog_files:
            yield f.name.encode()
            yield f.data
        yield self.sites_name.encode()
        yield self.sites_csv
        yield (self.organisations_name or "").encode()
        yield self.organisations_csv if self.organisations_csv is not None else b"\x00none"

    def with_catalog(self, files: Sequence[NamedFile], label: str) -> DataInputs:
        return dataclasses.replace(
            self, catalog_files=tuple(sorted(files, key=lambda f: f.name)),
            catalog_label=label, is_sample=False,
        )

    def with_sites(self, data: bytes, name: str) -> DataInputs:
        return dataclasses.replace(self, sites_csv=data, sites_name=name, is_sample=False)

    @property
    def has_sample_organisations(self) -> bool:
        return (
            self.organisations_name == SAMPLE_ORGANISATIONS_NAME
            and SAMPLE_ORGANISATIONS.is_file()
            and self.organisations_csv == SAMPLE_ORGANISATIONS.read_bytes()
        )

    def with_own_sites(self, data: bytes, name: str) -> tuple[DataInputs, str | None]:
        """New sites from the user; the sample's organisations file is set aside with them.

        Returns the new inputs and, when the sample organisations were dropped,
        a sentence saying so (their budgets belong to the sample consortium).
        """
        new = self.with_sites(data, name)
        if self.has_sample_organisations:
            return new.with_organisations(None, None), (
                "The sample's organisations file was set aside, as it describes the sample "
                "consortium; upload your own organisations file to give names and budgets."
            )
        return new, None

    def with_organisations(self, data: bytes | None, name: str | None) -> DataInputs:
        return dataclasses.replace(
            self, organisations_csv=data, organisations_name=name, is_sample=False
        )

    def to_record(self) -> dict[str, Any]:
        """JSON-able form for the scenario store (text kept exactly, BOM and all)."""
        return {
            "catalog_label": self.catalog_label,
            "catalog_files": [
                {"name": f.name, "text": f.data.decode("utf-8")} for f in self.catalog_files
            ],
            "sites_name": self.sites_name,
            "sites_csv": self.sites_csv.decode("utf-8"),
            "organisations_name": self.organisations_name,
            "organisations_csv": (
                self.organisations_csv.decode("utf-8")
                if self.organisations_csv is not None
                else None
            ),
            "is_sample": self.is_sample,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DataInputs:
        orgs = record.get("organisations_csv")
        return cls(
            catalog_files=tuple(
                NamedFile(str(f["name"]), str(f["text"]).encode("utf-8"))
                for f in record["catalog_files"]
            ),
            catalog_label=str(record.get("catalog_label") or "catalogue"),
            sites_csv=str(record["sites_csv"]).encode("utf-8"),
            sites_name=str(record.get("sites_name") or "sites.csv"),
            organisations_csv=orgs.encode("utf-8") if isinstance(orgs, str) else None,
            organisations_name=record.get("organisations_name"),
            is_sample=bool(record.get("is_sample", False)),
        )


def read_catalog_folder(folder: str | Path) -> tuple[NamedFile, ...]:
    """The ``*.yaml`` / ``*.yml`` files of a folder, in name order, as bytes."""
    path = Path(folder)
    files = sorted(
        p for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in (".yaml", ".yml") and not p.name.startswith(".")
    )
    return tuple(NamedFile(p.name, p.read_bytes()) for p in files)


def sample_inputs() -> DataInputs:
    """The sample catalogue and the sample consortium shipped in the repository."""
    orgs = SAMPLE_ORGANISATIONS.read_bytes() if SAMPLE_ORGANISATIONS.is_file() else None
    return DataInputs(
        catalog_files=read_catalog_folder(SAMPLE_CATALOG_DIR),
        catalog_label=SAMPLE_CATALOG_LABEL,
        sites_csv=SAMPLE_SITES.read_bytes(),
        sites_name=SAMPLE_SITES_NAME,
        organisations_csv=orgs,
        organisations_name=SAMPLE_ORGANISATIONS_NAME if orgs is not None else None,
        is_sample=True,
    )


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_file_name(name: str, default: str = "upload.yaml") -> str:
    """The last part of an uploaded file's name, with anything odd replaced."""
    base = Path(str(name).replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("-", base).strip(" .")
    return cleaned or default


def catalog_from_files(files: Sequence[NamedFile], label: str) -> Catalog:
    """Load one or several catalogue YAML files given as bytes, as the CLI would.

    One file is read directly under its own name. Several are written to a
    temporary folder and read as a folder (name order, merged, duplicate ids
    across files reported); messages name each file as ``label/name``, as the
    CLI does for ``--catalog label``.
    """
    if not files:
        raise InputError([Problem("no catalogue file was given", label)])
    if len(files) == 1:
        only = files[0]
        return inputs_mod.load_catalog(only.data, name=only.name)
    names = [safe_file_name(f.name) for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            [Problem("two catalogue files have the same name", label, field=d) for d in duplicates]
        )
    with tempfile.TemporaryDirectory(prefix="hscn-catalog-") as folder:
        for name, f in zip(names, files, strict=True):
            target = Path(folder) / name
            if target.suffix.lower() not in (".yaml", ".yml"):
                target = target.with_name(target.name + ".yaml")
            target.write_bytes(f.data)
        return inputs_mod.load_catalog(folder, name=label)


@dataclass(frozen=True)
class LoadedData:
    """Validated models from :class:`DataInputs`."""

    catalog: Catalog
    sites: tuple[Site, ...]
    organisations: tuple[Organisation, ...]
    organisations_given: tuple[Organisation, ...] | None


def load_data(data: DataInputs) -> LoadedData:
    """Catalogue, sites and organisations, with every problem of every file at once."""
    problems: list[Problem] = []
    catalog = sites = orgs = None
    try:
        catalog = catalog_from_files(data.catalog_files, data.catalog_label)
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        sites = inputs_mod.load_sites(data.sites_csv, name=data.sites_name)
    except InputError as exc:
        problems.extend(exc.problems)
    if data.organisations_csv is not None:
        try:
            orgs = inputs_mod.load_organisations(
                data.organisations_csv, name=data.organisations_name or "organisations.csv"
            )
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None and sites is not None
    return LoadedData(
        catalog=catalog,
        sites=sites,
        organisations=inputs_mod.resolve_organisations(sites, orgs or ()),
        organisations_given=orgs,
    )


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """Each problem in the CLI's words, one line each."""
    return [" ".join(str(p).split()) for p in problems]


def problems_frame(problems: Iterable[Problem]) -> pd.DataFrame:
    """Problems as a table next to the data: file, line, column/field, what is wrong."""
    rows = [
        {"file": p.file or "", "line": p.line, "field": p.field or "", "problem": p.message}
        for p in problems
    ]
    return pd.DataFrame(rows, columns=["file", "line", "field", "problem"])


# =========================================================================== the sites table


#: Typed columns of the sites editor, in SPEC order (``technologies`` is a list).
EDITOR_COLUMNS: tuple[str, ...] = inputs_mod.SITE_COLUMNS


def editor_frame(sites: Iterable[Site]) -> pd.DataFrame:
    """Sites as a typed table for ``st.data_editor``.

    Numbers are numbers, flags are booleans, dates are dates and
    ``technologies`` is a list, so the editor shows the right control for
    each; extra columns (kept from the CSV) are text.
    """
    frame = inputs_mod.sites_frame(sites)
    frame["technologies"] = [
        [t for t in LINK_TECHNOLOGY_NAMES if t in str(v).split(";")] for v in frame["technologies"]
    ]
    numeric = ("bandwidth_mbps", "backup_mbps", "min_availability_pct", "current_monthly_cost")
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("wifi_aps", "priority"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    for column in ("allow_4g_primary", "uncontended"):
        frame[column] = frame[column].astype(bool)
    frame["go_live_by"] = pd.to_datetime(frame["go_live_by"], errors="coerce").dt.date
    live = frame["go_live_by"].astype(object)
    frame["go_live_by"] = live.where(live.notna(), None)
    for column in ("site_id", "organisation", "name", "region", "resilience", "current_supplier"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    extras = [c for c in frame.columns if c not in EDITOR_COLUMNS]
    for column in extras:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame.reset_index(drop=True)


def _editor_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set | frozenset):
        chosen = {str(v).strip().lower() for v in value}
        return ";".join(t for t in LINK_TECHNOLOGY_NAMES if t in chosen) + "".join(
            f";{v}" for v in sorted(chosen - set(LINK_TECHNOLOGY_NAMES)) if v
        )
    if getattr(value, "ndim", 0) == 1:  # a numpy array of chosen options from the editor
        return _editor_cell(column, list(value.tolist()))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "item"):
        return _editor_cell(column, value.item())
    return str(value)


def editor_frame_to_csv(frame: pd.DataFrame) -> bytes:
    """The edited table as CSV bytes: line ``n + 2`` of the CSV is row ``n`` of the table."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = [str(c) for c in frame.columns]
    writer.writerow(columns)
    for record in frame.itertuples(index=False, name=None):
        writer.writerow([_editor_cell(c, v) for c, v in zip(columns, record, strict=True)])
    return buffer.getvalue().encode("utf-8")


def sites_from_editor(
    frame: pd.DataFrame, name: str = EDITED_SITES_NAME
) -> tuple[tuple[Site, ...], bytes]:
    """Validate an edited sites table with the CSV loader; the sites and their CSV bytes.

    Raises InputError in the CLI's words; ``name:line`` points at the row
    (line 2 is the table's first row, as in a CSV download of it).
    """
    data = editor_frame_to_csv(frame)
    return inputs_mod.load_sites(data, name=name), data


# =========================================================================== scenario settings


#: The Plan page's settings, with the SPEC's field names and defaults.
DEFAULT_CONTROLS: dict[str, Any] = {
    "start_date": None,  # today
    "term_months": 36,
    "route": "collaborative",
    "budget": None,
    "objective": "cost",
    "max_suppliers": None,
    "min_suppliers": None,
    "max_supplier_share": None,
    "exclude_suppliers": [],
    "required_certifications": [],
    "max_supplier_changes": None,
    "allow_partial": False,
    "time_limit_s": 60.0,
    "mip_gap": 0.0,
}


def controls_from_scenario(scenario: Scenario) -> dict[str, Any]:
    """A Scenario as Plan page settings (plain JSON-able values)."""
    out = dict(DEFAULT_CONTROLS)
    data = scenario.model_dump(mode="json")
    for key in out:
        if key in data:
            value = data[key]
            out[key] = list(value) if isinstance(value, list | tuple) else value
    return out


def sample_controls() -> dict[str, Any]:
    """The sample scenario's settings (``examples/scenario.yaml``), or the defaults."""
    if SAMPLE_SCENARIO.is_file():
        try:
            scenario = inputs_mod.load_scenario(SAMPLE_SCENARIO)
        except InputError:
            return dict(DEFAULT_CONTROLS)
        controls = dict(DEFAULT_CONTROLS)
        explicit = scenario.model_dump(mode="json", exclude_unset=True)
        for key, value in explicit.items():
            if key in controls:
                controls[key] = list(value) if isinstance(value, list | tuple) else value
        return controls
    return dict(DEFAULT_CONTROLS)


def normalise_controls(controls: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with every known key, JSON-able values, sorted lists, None for blanks."""
    out = dict(DEFAULT_CONTROLS)
    for key in DEFAULT_CONTROLS:
        if key not in controls:
            continue
        value = controls[key]
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, date):
            value = value.isoformat()
        if key in ("exclude_suppliers", "required_certifications"):
            value = sorted({str(v) for v in value or ()})
        elif isinstance(value, str) and key not in ("start_date", "route", "objective"):
            value = value.strip() or None
        out[key] = value
    return out


def controls_to_scenario(
    controls: Mapping[str, Any], *, source: str = "scenario settings"
) -> Scenario:
    """The Scenario for these settings; InputError in the CLI's words if one is wrong."""
    values = normalise_controls(controls)
    mapping = {k: v for k, v in values.items() if v is not None and v != []}
    return inputs_mod.scenario_from_mapping(mapping, source=source)


def scenario_json(scenario: Scenario) -> str:
    """A Scenario as canonical JSON (sorted keys), for cache keys and records."""
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def cache_key(*parts: Any) -> str:
    """A sha256 over canonical JSON of the parts (bytes are hashed first)."""
    def canon(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return "sha256:" + hashlib.sha256(value).hexdigest()
        if isinstance(value, DataInputs):
            return "data:" + value.digest()
        if isinstance(value, Scenario):
            return json.loads(scenario_json(value))
        if isinstance(value, Mapping):
            return {str(k): canon(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple):
            return [canon(v) for v in value]
        if isinstance(value, date):
            return value.isoformat()
        return value

    text = json.dumps([canon(p) for p in parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def catalog_certifications(catalog: Catalog) -> list[str]:
    """Every certification any supplier holds, sorted."""
    return sorted({c for s in catalog.suppliers for c in s.certifications})


# =========================================================================== overview


def consortium_summary(data: LoadedData) -> dict[str, Any]:
    """Counts for the home page: sites, organisations, regions, suppliers, offerings."""
    sites = data.sites
    return {
        "sites": len(sites),
        "organisations": len(data.organisations),
        "regions": sorted({s.region.value for s in sites}),
        "suppliers": len(data.catalog.suppliers),
        "offerings": sum(len(s.offerings) for s in data.catalog.suppliers),
        "current_monthly_cost": sum(s.current_monthly_cost or 0.0 for s in sites),
        "sites_with_baseline": sum(1 for s in sites if s.current_monthly_cost is not None),
    }


def organisations_frame(data: LoadedData) -> pd.DataFrame:
    """Organisations with their site counts and budgets."""
    counts: dict[str, int] = {}
    for s in data.sites:
        counts[s.organisation] = counts.get(s.organisation, 0) + 1
    rows = [
        {
            "organisation": o.organisation,
            "name": o.name,
            "type": o.type,
            "sites": counts.get(o.organisation, 0),
            "budget": o.budget,
        }
        for o in data.organisations
    ]
    return pd.DataFrame(rows, columns=["organisation", "name", "type", "sites", "budget"])


# =========================================================================== plans


@dataclass(frozen=True)
class PlanMetrics:
    """The four headline numbers of a plan."""

    total_cost: float
    per_site_per_month: float | None
    suppliers_used: int
    saving: float | None
    saving_pct: float | None
    baseline_sites: int
    served: int
    sites: int

    def as_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plan_metrics(plan: Plan) -> PlanMetrics:
    """Total over the term, per served site per month, suppliers used, saving on the baseline."""
    served = len(plan.served_sites)
    per_site = (
        plan.total_cost / (served * plan.term_months) if served and plan.term_months else None
    )
    base = plan.baseline
    saving = base.saving if base.sites else None
    saving_pct = base.saving / base.cost if base.sites and base.cost else None
    return PlanMetrics(
        total_cost=plan.total_cost,
        per_site_per_month=per_site,
        suppliers_used=len(plan.supplier_ids),
        saving=saving,
        saving_pct=saving_pct,
        baseline_sites=base.sites,
        served=served,
        sites=len(plan.sites),
    )


def plan_headline(plan: Plan) -> tuple[str, str]:
    """(kind, sentence) summing up a plan's status; kind is success, warning or error."""
    served, total = len(plan.served_sites), len(plan.sites)
    route = str(plan.route)
    if plan.status is PlanStatus.INFEASIBLE:
        return (
            "error",
            "No plan fits: these sites cannot all be served under these settings. "
            "The reasons are below; change the setting they name and solve again.",
        )
    if plan.status is PlanStatus.PARTIAL:
        return (
            "warning",
            f"Partial plan on the {route} route: {served} of {total} sites served, the "
            "highest-priority ones first. The sites left out are listed below.",
        )
    if plan.status is PlanStatus.FEASIBLE:
        return (
            "warning",
            f"A plan for all {total} sites on the {route} route. The solver stopped at its "
            f"time limit, so a better plan may exist (proven within {plan.gap * 100:.1f}% of "
            "the best); raise the time limit to search longer.",
        )
    return ("success", f"Best plan for all {total} sites on the {route} route.")


def diagnostics_by_level(plan: Plan) -> list[tuple[str, str]]:
    """(level, sentence) for each diagnostic, errors first, then warnings, then notes."""
    order = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}
    items = sorted(plan.diagnostics, key=lambda d: order.get(d.level, 3))
    return [(str(d.level), d.message) for d in items]


def _link_words(link: Any) -> str | None:
    if link is None:
        return None
    name = getattr(link, "offering_name", "") or link.offering_id
    qty = f" × {link.quantity}" if link.quantity != 1 else ""
    return f"{name} ({link.supplier_id}){qty}"


def site_table(plan: Plan) -> pd.DataFrame:
    """One row per site: its links, availability, cost and how close its runner-up is."""
    rows = []
    for s in plan.sites:
        runner = s.runner_up
        breaks = getattr(runner, "breaks", ()) if runner is not None else ()
        rows.append(
            {
                "site_id": s.site_id,
                "name": s.name,
                "organisation": s.organisation,
                "served": s.served,
                "primary": _link_words(s.primary),
                "secondary": _link_words(s.secondary),
                "wifi": _link_words(s.wifi),
                "suppliers": ", ".join(s.suppliers),
                "availability_pct": s.availability_pct,
                "cost": s.cost if s.served else None,
                "monthly_cost": (
                    s.cost / plan.term_months if s.served and plan.term_months else None
                ),
                "runner_up_margin": runner.extra_cost if runner is not None else None,
                "runner_up": (
                    ", ".join(runner.offering_ids) + (f" (would break {', '.join(breaks)})"
                                                      if breaks else "")
                    if runner is not None
                    else None
                ),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "site_id", "name", "organisation", "served", "primary", "secondary", "wifi",
            "suppliers", "availability_pct", "cost", "monthly_cost", "runner_up_margin",
            "runner_up",
        ],
    )


def plan_record(plan: Plan) -> dict[str, Any]:
    """What a saved scenario keeps of its plan: headline numbers and the Plan JSON."""
    m = plan_metrics(plan)
    return {
        "status": str(plan.status),
        "route": str(plan.route),
        "objective": str(plan.objective),
        "term_months": plan.term_months,
        "total_cost": plan.total_cost if plan.has_plan else None,
        "per_site_per_month": m.per_site_per_month,
        "suppliers_used": m.suppliers_used,
        "suppliers": list(plan.supplier_ids),
        "saving": m.saving,
        "saving_pct": m.saving_pct,
        "served": m.served,
        "sites": m.sites,
        "quality": plan.quality,
        "breakdown": plan.breakdown.to_dict(),
        "plan": plan.to_dict(),
    }


# =========================================================================== catalogue


def supplier_frame(catalog: Catalog, scenario: Scenario) -> pd.DataFrame:
    """Suppliers with their terms and whether (and why not) they can be used."""
    rows = []
    for s in catalog.suppliers:
        reason = supplier_exclusion(s, scenario)
        rows.append(
            {
                "supplier_id": s.id,
                "name": s.name,
                "hscn_compliant": s.hscn_compliant,
                "compliance_expires": s.compliance_expires,
                "regions": ", ".join(r.value for r in s.regions),
                "certifications": ", ".join(s.certifications),
                "offerings": len(s.offerings),
                "onboarding": s.fees.onboarding,
                "annual_management": s.fees.annual_management,
                "volume_discounts": ", ".join(
                    f"{t.discount:.0%} from {t.min_sites} sites" for t in s.volume_discounts
                ),
                "central_framework": (
                    f"{s.central_framework.discount:.0%} discount"
                    if s.central_framework is not None
                    else "not on it"
                ),
                "usable": reason is None,
                "excluded_because": reason or "",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "supplier_id", "name", "hscn_compliant", "compliance_expires", "regions",
            "certifications", "offerings", "onboarding", "annual_management",
            "volume_discounts", "central_framework", "usable", "excluded_because",
        ],
    )


def excluded_suppliers(catalog: Catalog, scenario: Scenario) -> list[tuple[str, str, str]]:
    """(id, name, reason) of every supplier the scenario cannot use."""
    out = []
    for s in catalog.suppliers:
        reason = supplier_exclusion(s, scenario)
        if reason is not None:
            out.append((s.id, s.name, reason))
    return out


OFFERING_COLUMNS: tuple[str, ...] = (
    "supplier_id", "supplier", "offering_id", "name", "technology", "download_mbps",
    "upload_mbps", "availability_pct", "install_cost", "monthly_cost", "unit",
    "min_term_months", "lead_time_days", "regions", "quality_score", "contention_ratio",
    "central_framework", "usable",
)


def offering_frame(catalog: Catalog, scenario: Scenario) -> pd.DataFrame:
    """Every offering with its supplier, regions and whether its supplier can be used."""
    rows = []
    for s in catalog.suppliers:
        usable = supplier_exclusion(s, scenario) is None
        for o in s.offerings:
            rows.append(
                {
                    "supplier_id": s.id,
                    "supplier": s.name,
                    "offering_id": o.id,
                    "name": o.name,
                    "technology": o.technology.value,
                    "download_mbps": o.download_mbps,
                    "upload_mbps": o.upload_mbps,
                    "availability_pct": o.availability_pct,
                    "install_cost": o.install_cost,
                    "monthly_cost": o.monthly_cost,
                    "unit": o.unit.value,
                    "min_term_months": o.min_term_months,
                    "lead_time_days": o.lead_time_days,
                    "regions": ", ".join(r.value for r in s.offering_regions(o)),
                    "quality_score": o.quality_score,
                    "contention_ratio": o.effective_contention,
                    "central_framework": s.central_framework is not None,
                    "usable": usable,
                }
            )
    return pd.DataFrame(rows, columns=list(OFFERING_COLUMNS))


def filter_offerings(
    frame: pd.DataFrame,
    *,
    technologies: Iterable[str] = (),
    regions: Iterable[str] = (),
    route: str | None = None,
    usable_only: bool = False,
) -> pd.DataFrame:
    """Offerings of the chosen technologies, sold in any chosen region, on the route.

    Empty choices mean "all". On the central route only suppliers on the
    central framework are listed.
    """
    out = frame
    techs = set(technologies)
    if techs:
        out = out[out["technology"].isin(techs)]
    wanted = set(regions)
    if wanted:
        out = out[out["regions"].map(lambda text: bool(wanted & set(str(text).split(", "))))]
    if route == Route.CENTRAL.value:
        out = out[out["central_framework"]]
    if usable_only:
        out = out[out["usable"]]
    return out.reset_index(drop=True)


# =========================================================================== routes


def routes_frame(comparison: Any) -> pd.DataFrame:
    """The three routes side by side: status, total, saving against solo."""
    data = comparison.to_dict()
    routes = data.get("routes", {})
    solo = routes.get("solo", {}).get("total_cost")
    rows = []
    for route in ROUTES:
        r = routes.get(route)
        if r is None:
            continue
        total = r.get("total_cost")
        has = r.get("status") != PlanStatus.INFEASIBLE.value
        saving = (solo - total) if (solo is not None and total is not None and has) else None
        rows.append(
            {
                "route": route,
                "description": ROUTE_WORDS[route],
                "status": r.get("status"),
                "total_cost": total if has else None,
                "saving_vs_solo": saving if route != "solo" else 0.0 if has else None,
                "saving_pct": (saving / solo) if saving is not None and solo else None,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["route", "description", "status", "total_cost", "saving_vs_solo", "saving_pct"],
    )


def allocation_frame(comparison: Any) -> pd.DataFrame:
    """Each organisation's share of the collaborative total against its solo cost."""
    allocation = comparison.to_dict().get("allocation") or {}
    rows = []
    for m in allocation.get("members", []):
        solo = m.get("solo_cost")
        saving = m.get("saving")
        rows.append(
            {
                "organisation": m.get("organisation"),
                "solo_cost": solo,
                "allocated_cost": m.get("allocated_cost"),
                "saving": saving,
                "saving_pct": (saving / solo) if solo and saving is not None else None,
                "std_error": m.get("std_error"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "organisation", "solo_cost", "allocated_cost", "saving", "saving_pct", "std_error",
        ],
    )


def blocking_coalitions(comparison: Any) -> list[list[str]]:
    """Coalitions that would pay less on their own than the allocation charges them."""
    allocation = comparison.to_dict().get("allocation") or {}
    core = allocation.get("core") or {}
    return [list(c) for c in core.get("blocking_coalitions", [])]


def core_words(comparison: Any) -> tuple[str, str]:
    """(kind, sentence) on whether the split is stable: success, warning or info."""
    allocation = comparison.to_dict().get("allocation") or {}
    core = allocation.get("core") or {}
    blocking = core.get("blocking_coalitions") or []
    method = allocation.get("method", "")
    statement = getattr(comparison, "core_statement", None)
    if not allocation:
        return ("info", statement or "The savings were not shared: see the notes below.")
    if blocking or core.get("empty") or core.get("individually_rational") is False:
        if not statement:
            groups = "; ".join(" + ".join(c) for c in blocking)
            statement = (
                f"Under the {method} split, these groups would pay less buying on their own "
                f"than they are charged here: {groups}."
            )
        return ("warning", statement)
    if core.get("checked"):
        return ("success", statement or (
            f"The {method} split is stable: no organisation or group of organisations would "
            "pay less buying on its own."
        ))
    return ("info", statement or (
        f"Every organisation pays no more under the {method} split than it would alone; "
        "with this many organisations not every group could be checked."
    ))


def with_allocation(comparison: Any, method: str) -> Any:
    """The comparison with its savings shared by ``method``, without solving again.

    Uses ``comparison.reallocate`` (same coalition costs); the comparison is
    returned unchanged when it already uses ``method`` or shares nothing.
    Raises ValueError when the method cannot be applied (e.g. the nucleolus
    for a sampled game).
    """
    allocation = getattr(comparison, "allocation", None)
    if allocation is None or str(allocation.method) == method:
        return comparison
    return dataclasses.replace(comparison, allocation=comparison.reallocate(method))


def what_if_frame(comparison: Any) -> pd.DataFrame:
    """What each organisation's membership is worth to the consortium."""
    rows = [
        {
            "organisation": w.get("organisation"),
            "marginal_cost": w.get("marginal_cost"),
            "joining_saving": w.get("joining_saving"),
            "best_without": ", ".join(w.get("best_coalition_without") or []),
            "best_without_saving": w.get("best_coalition_without_saving"),
        }
        for w in comparison.to_dict().get("what_if", [])
    ]
    return pd.DataFrame(
        rows,
        columns=["organisation", "marginal_cost", "joining_saving", "best_without",
                 "best_without_saving"],
    )


def comparison_frames(comparison: Any) -> dict[str, pd.DataFrame]:
    """Sheets for a route comparison download (the comparison's own tables when it has them)."""
    if hasattr(comparison, "to_frames"):
        titles = {"summary": "Summary", "routes": "Routes", "allocation": "Allocation",
                  "blocking": "Blocking coalitions", "what_if": "What if",
                  "coalitions": "Coalitions", "diagnostics": "Notes"}
        return {
            titles.get(name, name.replace("_", " ").capitalize()): frame
            for name, frame in comparison.to_frames().items()
        }
    allocation = comparison.to_dict().get("allocation") or {}
    summary = pd.DataFrame(
        [
            ("allocation_method", allocation.get("method")),
            ("allocation_exact", allocation.get("exact")),
            *((k, v) for k, v in comparison.to_dict().get("savings", {}).items()),
        ],
        columns=["item", "value"],
        dtype=object,
    )
    coalitions = pd.DataFrame(
        [{"coalition": "; ".join(c)} for c in blocking_coalitions(comparison)],
        columns=["coalition"],
    )
    return {
        "Summary": summary,
        "Routes": routes_frame(comparison),
        "Allocation": allocation_frame(comparison),
        "Blocking coalitions": coalitions,
    }


# =========================================================================== shortlist


def shortlist_frame(result: Any) -> pd.DataFrame:
    """The shortlist's plans, best first: suppliers, total and the gap to the best."""
    frames = result.to_frames() if hasattr(result, "to_frames") else None
    if frames is not None and "shortlist" in frames:
        return frames["shortlist"]
    rows = [
        {
            "rank": p["rank"],
            "suppliers": "; ".join(p["suppliers"]),
            "total_cost": p["total_cost"],
            "delta_vs_best": p["delta_vs_best"],
            "status": p["status"],
        }
        for p in result.to_dict().get("plans", [])
    ]
    columns = ["rank", "suppliers", "total_cost", "delta_vs_best", "status"]
    return pd.DataFrame(rows, columns=columns)


def shortlist_frames(result: Any) -> dict[str, pd.DataFrame]:
    """Sheets for a shortlist download: summary and the plans."""
    if hasattr(result, "to_frames"):
        frames = result.to_frames()
        return {"Summary": frames["summary"], "Shortlist": frames["shortlist"]}
    return {"Shortlist": shortlist_frame(result)}


# =========================================================================== trade-off


@dataclass
class SweepResult:
    """Best quality reachable at each budget, and the plans behind it."""

    frame: pd.DataFrame
    cheapest: Plan | None = None
    message: str | None = None
    plans: list[Plan] = field(default_factory=list)


TRADEOFF_COLUMNS = (
    "budget", "quality", "quality_per_site", "total_cost", "served", "status", "suppliers",
)


def sweep_budgets(low: float, high: float, points: int) -> list[float]:
    """``points`` budgets from ``low`` to ``high`` inclusive, rounded up to the pound."""
    if points < 2 or high <= low:
        return [math.ceil(low * 100) / 100]
    step = (high - low) / (points - 1)
    return [math.ceil((low + i * step) * 100) / 100 for i in range(points)]


def budget_sweep(
    solve_fn: Callable[[Scenario], Plan],
    scenario: Scenario,
    *,
    points: int = 6,
    high_factor: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    """What more money buys: the best total quality reachable at each budget.

    ``solve_fn(scenario)`` solves the scenario for the data in hand (the app
    passes a cached solve). First the cheapest plan (cost objective, no
    budget) and the best-quality plan (quality objective, no effective
    budget) set the range; then the quality objective is solved at
    ``points`` budgets from the cheapest total to the cost of the best
    quality (or ``high_factor`` times the cheapest, if given).
    ``progress(done, total, words)`` is called as it goes.
    """
    total_steps = points + 2 if high_factor is None else points + 1

    def tell(done: int, words: str) -> None:
        if progress is not None:
            progress(done, total_steps, words)

    tell(0, "finding the cheapest plan")
    base = scenario.model_copy(update={"objective": Objective.COST, "budget": None})
    cheapest = solve_fn(base)
    if not cheapest.has_plan:
        return SweepResult(
            pd.DataFrame(columns=list(TRADEOFF_COLUMNS)),
            cheapest=cheapest,
            message="no plan fits these sites under these settings even with unlimited "
            "money, so there is nothing to sweep; see the Plan page for why",
        )
    low = cheapest.total_cost
    if high_factor is None:
        tell(1, "finding the best quality money can buy")
        best = solve_fn(
            scenario.model_copy(update={"objective": Objective.QUALITY, "budget": 1e12})
        )
        # no best-quality plan within the time limit: sweep up to twice the cheapest
        high = best.total_cost if best.has_plan else 2 * low
        done = 2
    else:
        high = low * high_factor
        done = 1
    plans: list[Plan] = []
    rows = []
    for i, budget in enumerate(sweep_budgets(low, max(high, low), points)):
        tell(done + i, f"budget {gbp(budget)} ({i + 1} of {points})")
        plan = solve_fn(scenario.model_copy(update={"objective": Objective.QUALITY,
                                                    "budget": budget}))
        plans.append(plan)
        served = len(plan.served_sites)
        rows.append(
            {
                "budget": budget,
                "quality": plan.quality if plan.has_plan else None,
                "quality_per_site": plan.quality / served if plan.has_plan and served else None,
                "total_cost": plan.total_cost if plan.has_plan else None,
                "served": served,
                "status": str(plan.status),
                "suppliers": ", ".join(plan.supplier_ids),
            }
        )
    tell(total_steps, "done")
    message = None
    missed = sum(1 for p in plans if not p.has_plan)
    if missed:
        message = (
            f"at {missed} of {points} budgets the solver found no plan within its time limit, "
            "although the cheapest plan fits every one of them: raise the time limit per "
            "solve and sweep again"
        )
    elif high <= low + 0.01:
        message = "the cheapest plan is already the best quality on offer: more money buys nothing"
    return SweepResult(pd.DataFrame(rows, columns=list(TRADEOFF_COLUMNS)), cheapest, message, plans)


# =========================================================================== saved scenarios


def scenario_inputs_record(data: DataInputs, controls: Mapping[str, Any]) -> dict[str, Any]:
    """What a saved scenario keeps as inputs: the files and the settings."""
    return {"data": data.to_record(), "controls": normalise_controls(controls)}


def scenario_from_record(record: Mapping[str, Any]) -> tuple[DataInputs, dict[str, Any]]:
    """The files and settings of a saved scenario (inverse of :func:`scenario_inputs_record`)."""
    return DataInputs.from_record(record["data"]), normalise_controls(record.get("controls", {}))


def saved_comparison_frame(saved: Iterable[Any]) -> pd.DataFrame:
    """Saved scenarios side by side: settings and what the plan came to."""
    rows = []
    for s in saved:
        r = s.results or {}
        c = (s.inputs or {}).get("controls", {})
        d = (s.inputs or {}).get("data", {})
        rows.append(
            {
                "scenario": s.name,
                "saved": s.updated_at.strftime("%Y-%m-%d %H:%M"),
                "route": r.get("route", c.get("route")),
                "objective": r.get("objective", c.get("objective")),
                "term_months": r.get("term_months", c.get("term_months")),
                "budget": c.get("budget"),
                "status": r.get("status"),
                "total_cost": r.get("total_cost"),
                "per_site_per_month": r.get("per_site_per_month"),
                "saving": r.get("saving"),
                "suppliers_used": r.get("suppliers_used"),
                "served": r.get("served"),
                "sites": r.get("sites"),
                "sites_file": d.get("sites_name"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "scenario", "saved", "route", "objective", "term_months", "budget", "status",
            "total_cost", "per_site_per_month", "saving", "suppliers_used", "served", "sites",
            "sites_file",
        ],
    )



#: Rows of the side-by-side view of saved scenarios, and how each value is shown.
_SIDE_BY_SIDE: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("route", "Route", str),
    ("objective", "Objective", str),
    ("term_months", "Term (months)", lambda v: f"{int(v)}"),
    ("budget", "Budget", gbp),
    ("status", "Status", str),
    ("total_cost", "Total over the term", gbp),
    ("per_site_per_month", "Per site per month", lambda v: gbp(v, pence=True)),
    ("saving", "Saving against today", gbp),
    ("suppliers_used", "Suppliers used", lambda v: f"{int(v)}"),
    ("served", "Sites served", lambda v: f"{int(v)}"),
    ("sites_file", "Sites file", str),
    ("saved", "Saved (UTC)", str),
)


def saved_side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """Saved scenarios as columns and their settings and results as rows, formatted."""
    out: dict[str, list[str]] = {}
    for _, row in frame.iterrows():
        column = []
        for key, _label, fmt in _SIDE_BY_SIDE:
            value = row.get(key)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            column.append("—" if missing else fmt(value))
        out[str(row["scenario"])] = column
    return pd.DataFrame(out, index=[label for _k, label, _f in _SIDE_BY_SIDE])
