"""Turn results into bytes: CSV, JSON and Excel, safe to open in a spreadsheet.

This is the only module that serialises results for download or ``--out``, so
spreadsheet safety is enforced in one place. Every text cell goes through
:func:`neutralise_cell` (OWASP CSV injection: a cell that starts with ``=``,
``+``, ``-``, ``@``, tab or carriage return would be run as a formula by Excel
or LibreOffice, so it gets a leading ``'``). Numbers are never touched, so a
negative saving stays a number.

The building blocks are generic so that other results (route comparisons,
allocations, shortlists, transition schedules) need only a few lines::

    def comparison_to_xlsx(comparison) -> bytes:
        return frames_to_xlsx({
            "Summary": summary_frame([("route", ...), ("total_cost", ...)]),
            "Routes": routes_df,
            "Allocation": allocation_df,
        })

A money column (or, in an ``item``/``value`` sheet, a money item) is any name in
``money_columns``; :data:`MONEY_COLUMNS` already covers the usual names.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

import procurement
from procurement.lazy import LazyModule

if TYPE_CHECKING:
    import openpyxl
    import pandas as pd
else:
    pd = LazyModule("pandas")
    openpyxl = LazyModule("openpyxl")

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from procurement.plan import Plan

#: First characters that make a spreadsheet treat a text cell as a formula (OWASP).
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Excel number format for pounds sterling.
MONEY_FORMAT = '"£"#,##0.00'
#: Excel number format for rates held as fractions (0.05 shows as 5.0%).
PERCENT_FORMAT = "0.0%"

#: Column (or summary item) names that hold GBP amounts, across every result type.
MONEY_COLUMNS: frozenset[str] = frozenset(
    {
        "one_off",
        "recurring_list",
        "recurring",
        "discount",
        "fees",
        "cost",
        "total_cost",
        "budget",
        "headroom",
        "baseline",
        "baseline_cost",
        "baseline_saving",
        "saving",
        "monthly_cost",
        "current_monthly_cost",
        "runner_up_extra_cost",
        "extra_cost",
        "solo_cost",
        "allocated_cost",
        "std_error",
        "delta_vs_best",
        "plan_total_cost",
        "total",
        "spend",
        "collaborative_vs_solo",
        "central_vs_solo",
        "cheapest_cost",
    }
)
#: Column (or summary item) names that hold fractions to show as percentages.
PERCENT_COLUMNS: frozenset[str] = frozenset({"discount_rate", "max_supplier_share"})

#: Control characters that the XLSX format cannot hold (tab, LF and CR are fine).
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MIN_WIDTH, _MAX_WIDTH = 8, 60


# --------------------------------------------------------------------------- cells


def neutralise_cell(value: Any) -> Any:
    """Make one cell inert: text that a spreadsheet would run as a formula gets a ``'``.

    Only ``str`` values change; numbers, booleans, dates and ``None`` pass
    through, so numeric columns keep their type (``-2.5`` stays a number).
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`neutralise_cell` applied to its text columns.

    Numeric, boolean and datetime columns are left alone; object and string
    columns (which may mix text with numbers, as a summary's ``value`` does)
    have only their ``str`` cells changed.
    """
    out = df.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            out[column] = out[column].map(neutralise_cell, na_action="ignore")
    return out


def _plain(value: Any) -> Any:
    """A value openpyxl can store: numpy scalars to Python, NaN/NA to ``None``."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if value is None or isinstance(value, str | bool | int | date):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return None if math.isnan(value) else value
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------- generic tables


def frames_to_csv(df: pd.DataFrame) -> bytes:
    """One table as CSV bytes: neutralised text, UTF-8 with BOM so Excel reads it right."""
    text = neutralise_frame(df).to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def summary_frame(items: Iterable[tuple[str, Any]]) -> pd.DataFrame:
    """An ``item``/``value`` table, the layout every Summary sheet uses."""
    return pd.DataFrame(list(items), columns=["item", "value"], dtype=object)


def _number_format(name: str, money: Collection[str], percent: Collection[str]) -> str | None:
    if name in money:
        return MONEY_FORMAT
    if name in percent:
        return PERCENT_FORMAT
    return None


def _write_sheet(
    ws: Worksheet,
    df: pd.DataFrame,
    money_columns: Collection[str],
    percent_columns: Collection[str],
) -> None:
    """Fill one worksheet: bold frozen header, typed cells, formats, widths.

    Text cells are neutralised, stripped of characters XLSX cannot hold and
    stored with ``data_type 's'``, so no cell can ever become a formula.
    """
    df = neutralise_frame(df)
    columns = [str(c) for c in df.columns]
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    widths = [len(c) for c in columns]
    key_value = columns[:2] == ["item", "value"]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=_ILLEGAL_XLSX.sub("", neutralise_cell(name)))
        cell.data_type = "s"
        cell.font = bold
    column_formats = [_number_format(c, money_columns, percent_columns) for c in columns]
    for i, row in enumerate(df.itertuples(index=False, name=None), start=2):
        row_format = None
        if key_value:
            row_format = _number_format(str(row[0]), money_columns, percent_columns)
        for j, raw in enumerate(row, start=1):
            value = _plain(raw)
            if value is None:
                continue
            cell = ws.cell(row=i, column=j)
            if isinstance(value, str):
                cell.value = _ILLEGAL_XLSX.sub("", value)
                cell.data_type = "s"
                shown = len(cell.value)
            else:
                cell.value = value
                fmt = row_format if key_value and j == 2 else column_formats[j - 1]
                if (
                    fmt is not None
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    cell.number_format = fmt
                shown = len(f"{value:,.2f}") + 2 if isinstance(value, float) else len(str(value))
            widths[j - 1] = max(widths[j - 1], min(shown, _MAX_WIDTH))
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(df) + 1, 1)}"
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(_MIN_WIDTH, width + 2)


def frames_to_workbook(
    frames: Mapping[str, pd.DataFrame],
    money_columns: Collection[str] = MONEY_COLUMNS,
    percent_columns: Collection[str] = PERCENT_COLUMNS,
) -> openpyxl.Workbook:
    """A workbook with one sheet per frame, in the mapping's order.

    Sheet names are cut to Excel's 31 characters. Returned (not saved) so a
    caller can add charts or notes before :func:`workbook_to_bytes`.
    """
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, df in frames.items():
        ws = wb.create_sheet(title=_sheet_title(name))
        _write_sheet(ws, df, money_columns, percent_columns)
    if not wb.sheetnames:
        wb.create_sheet(title="Empty")
    return wb


def workbook_to_bytes(wb: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def frames_to_xlsx(
    frames: Mapping[str, pd.DataFrame],
    money_columns: Collection[str] = MONEY_COLUMNS,
    percent_columns: Collection[str] = PERCENT_COLUMNS,
) -> bytes:
    """Several tables as one ``.xlsx`` (see :func:`frames_to_workbook`)."""
    return workbook_to_bytes(frames_to_workbook(frames, money_columns, percent_columns))


def _sheet_title(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", "-", name).strip("'") or "Sheet"
    return cleaned[:31]


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class CatalogInfo:
    """Where the catalogue came from and how fresh it is, for the Summary sheet."""

    name: str = "unknown"
    modified: datetime | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> CatalogInfo:
        """Newest modification time of the catalogue file, or of a folder's YAML files."""
        p = Path(path)
        if p.is_dir():
            files = [f for f in p.iterdir() if f.suffix in {".yaml", ".yml"} and f.is_file()]
        else:
            files = [p] if p.is_file() else []
        if not files:
            return cls(name=p.name or str(p))
        newest = max(f.stat().st_mtime for f in files)
        return cls(name=p.name or str(p), modified=datetime.fromtimestamp(newest, tz=UTC))

    @property
    def date_text(self) -> str:
        return self.modified.date().isoformat() if self.modified else "unknown"


def _scenario_items(plan: Plan) -> list[tuple[str, Any]]:
    """The scenario's fields as summary items (lists joined, ``None`` as "none")."""
    if plan.scenario is None:
        return []
    items: list[tuple[str, Any]] = []
    for name, value in plan.scenario.model_dump(mode="json").items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        elif value is None:
            value = "none"
        items.append((name, value))
    return items


def plan_summary_frame(plan: Plan, catalog_info: CatalogInfo | None = None) -> pd.DataFrame:
    """The Summary sheet: tool, catalogue, scenario fields, totals and baseline."""
    info = catalog_info or CatalogInfo()
    items: list[tuple[str, Any]] = [
        ("tool", "hscn-procure"),
        ("version", procurement.__version__),
        ("generated_utc", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ("catalogue", info.name),
        ("catalogue_date", info.date_text),
    ]
    seen = {k for k, _ in items}
    for key, value in _scenario_items(plan):
        if key not in seen:
            items.append((key, value))
            seen.add(key)
    summary = plan.to_frames()["summary"]
    for key, value in zip(summary["item"], summary["value"], strict=True):
        if key in seen:
            continue  # route, objective, term_months already came from the scenario
        items.append((str(key), value))
        seen.add(str(key))
    return summary_frame(items)


def plan_frames(plan: Plan, catalog_info: CatalogInfo | None = None) -> dict[str, pd.DataFrame]:
    """The sheets of a plan workbook, in order."""
    frames = plan.to_frames()
    return {
        "Summary": plan_summary_frame(plan, catalog_info),
        "Sites": frames["sites"],
        "Links": frames["links"],
        "Suppliers": frames["suppliers"],
        "Organisations": frames["organisations"],
        "Diagnostics": frames["diagnostics"],
    }


def plan_to_xlsx(
    plan: Plan, catalog_info: CatalogInfo | str | os.PathLike[str] | None = None
) -> bytes:
    """The plan as an Excel workbook, with GBP formats, bold frozen headers, no formulas.

    Sheets: Summary, Sites, Links, Suppliers, Organisations, Diagnostics.
    ``catalog_info`` may be the catalogue's path (file or folder), whose newest
    YAML modification date is reported; without it the date is "unknown".
    """
    if catalog_info is not None and not isinstance(catalog_info, CatalogInfo):
        catalog_info = CatalogInfo.from_path(catalog_info)
    return frames_to_xlsx(plan_frames(plan, catalog_info))


def plan_links_frame(plan: Plan) -> pd.DataFrame:
    """One row per link of every served site, and one row (empty role) per unserved site."""
    links = plan.to_frames()["links"]
    links.insert(3, "served", True)
    unserved = pd.DataFrame(
        [
            {
                "site_id": s.site_id,
                "name": s.name,
                "organisation": s.organisation,
                "served": False,
                "role": "",
            }
            for s in plan.sites
            if not s.served
        ],
        columns=list(links.columns),
    )
    parts = [df for df in (links, unserved) if not df.empty]
    if not parts:
        return links
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    order = {s.site_id: i for i, s in enumerate(plan.sites)}
    table = table.sort_values("site_id", key=lambda col: col.map(order), kind="stable").reset_index(
        drop=True
    )
    table["quantity"] = table["quantity"].astype("Int64")  # stays whole beside empty rows
    return table


def plan_to_csv(plan: Plan) -> bytes:
    """The plan as CSV: one row per site and link, unserved sites with an empty role."""
    return frames_to_csv(plan_links_frame(plan))


def json_bytes(data: Any) -> bytes:
    """``data`` as indented UTF-8 JSON with a final newline, the form of every JSON export.

    orjson rather than :func:`json.dumps`: with ``indent`` the standard
    library falls back to its pure-Python encoder, which took 0.7 s for a
    25,000-site plan (orjson: 0.06 s). Dates are written as ISO 8601, numpy
    scalars as numbers.
    """
    options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(data, default=_json_default, option=options)


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def plan_to_json(plan: Plan) -> bytes:
    """The SPEC's Plan JSON, indented, UTF-8, with a final newline."""
    return json_bytes(plan.to_dict())


def schedule_to_json(schedule: Schedule) -> bytes:
    """The SPEC's schedule JSON, indented, UTF-8, with a final newline."""
    return json_bytes(schedule.to_dict())


# --------------------------------------------------------------------------- files


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    A temporary file in the same directory is written, flushed and fsynced,
    then renamed over ``path`` with :func:`os.replace`; on any failure the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    directory = target.parent
    mode = 0o644
    with contextlib.suppress(OSError):
        mode = target.stat().st_mode & 0o777
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(directory)
    return target


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------- shortlists

if TYPE_CHECKING:
    from procurement.schedule import Schedule
    from procurement.shortlist import Shortlist

#: Summary items of a shortlist that are GBP amounts, or fractions shown as %.
SHORTLIST_MONEY_COLUMNS: frozenset[str] = MONEY_COLUMNS | {"best_total_cost", "last_total_cost"}
SHORTLIST_PERCENT_COLUMNS: frozenset[str] = PERCENT_COLUMNS | {"delta_pct"}


def shortlist_summary_frame(
    shortlist: Shortlist, catalog_info: CatalogInfo | None = None
) -> pd.DataFrame:
    """The Summary sheet: tool, catalogue, the scenario, plans found and the note."""
    info = catalog_info or CatalogInfo()
    items: list[tuple[str, Any]] = [
        ("tool", "hscn-procure"),
        ("version", procurement.__version__),
        ("generated_utc", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ("catalogue", info.name),
        ("catalogue_date", info.date_text),
    ]
    seen = {k for k, _ in items}
    if shortlist.best is not None:
        for key, value in _scenario_items(shortlist.best.plan):
            if key not in seen:
                items.append((key, value))
                seen.add(key)
    own = shortlist.to_frames()["summary"]
    _add_unseen(items, seen, zip(own["item"], own["value"], strict=True))
    return summary_frame(items)


def _add_unseen(
    items: list[tuple[str, Any]], seen: set[str], pairs: Iterable[tuple[Any, Any]]
) -> None:
    """Append the (item, value) rows whose item is not on the summary yet."""
    for key, value in pairs:
        if str(key) not in seen:
            items.append((str(key), value))
            seen.add(str(key))


def shortlist_frames(
    shortlist: Shortlist, catalog_info: CatalogInfo | None = None
) -> dict[str, pd.DataFrame]:
    """Sheets of a shortlist workbook: Summary, Shortlist, and the best plan's Sites and
    Suppliers (when there is a plan)."""
    frames: dict[str, pd.DataFrame] = {
        "Summary": shortlist_summary_frame(shortlist, catalog_info),
        "Shortlist": shortlist.to_frames()["shortlist"],
    }
    if shortlist.best is not None:
        best = shortlist.best.plan.to_frames()
        frames["Sites"] = best["sites"]
        frames["Suppliers"] = best["suppliers"]
    return frames


def shortlist_to_xlsx(
    shortlist: Shortlist, catalog_info: CatalogInfo | str | os.PathLike[str] | None = None
) -> bytes:
    """The shortlist as an Excel workbook (see :func:`shortlist_frames`): GBP formats,
    bold frozen headers, no formula cells."""
    if catalog_info is not None and not isinstance(catalog_info, CatalogInfo):
        catalog_info = CatalogInfo.from_path(catalog_info)
    return frames_to_xlsx(
        shortlist_frames(shortlist, catalog_info),
        SHORTLIST_MONEY_COLUMNS,
        SHORTLIST_PERCENT_COLUMNS,
    )


def shortlist_to_csv(shortlist: Shortlist) -> bytes:
    """The shortlist as CSV: one row per plan (suppliers joined with ``; ``)."""
    return frames_to_csv(shortlist.to_frames()["shortlist"])


def shortlist_to_json(shortlist: Shortlist) -> bytes:
    """SPEC ``shortlist --format json`` (``{"plans": [...]}`` plus the note), UTF-8."""
    return json_bytes(shortlist.to_dict())


# --------------------------------------------------------------------------- route comparisons

if TYPE_CHECKING:
    from procurement.routes import RouteComparison

#: GBP columns and summary items of a route comparison, beyond :data:`MONEY_COLUMNS`.
COMPARISON_MONEY_COLUMNS: frozenset[str] = MONEY_COLUMNS | {
    "solo_total_cost",
    "collaborative_total_cost",
    "central_total_cost",
    "marginal_cost",
    "joining_saving",
    "best_without_cost",
    "best_without_saving",
    "attributed_cost",
    "charged",
    "alone_cost",
    "excess",
}


def comparison_summary_frame(
    comparison: RouteComparison, catalog_info: CatalogInfo | None = None
) -> pd.DataFrame:
    """The Summary sheet: tool, catalogue, the comparison's scenario, totals, savings,
    the allocation and its core check in words."""
    info = catalog_info or CatalogInfo()
    items: list[tuple[str, Any]] = [
        ("tool", "hscn-procure"),
        ("version", procurement.__version__),
        ("generated_utc", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
        ("catalogue", info.name),
        ("catalogue_date", info.date_text),
    ]
    seen = {k for k, _ in items} | {"route", "objective", "budget", "allow_partial"}
    own = comparison.to_frames()["summary"]
    own_keys = {str(k) for k in own["item"]}
    for key, value in comparison.scenario.model_dump(mode="json").items():
        if key in seen or key in own_keys:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        elif value is None:
            value = "none"
        items.append((key, value))
        seen.add(key)
    _add_unseen(items, seen, zip(own["item"], own["value"], strict=True))
    return summary_frame(items)


def comparison_frames(
    comparison: RouteComparison, catalog_info: CatalogInfo | None = None
) -> dict[str, pd.DataFrame]:
    """Sheets of a comparison workbook: Summary, Routes, Allocation, Blocking, What-if,
    Coalitions, each route's Suppliers (when it has a plan) and Diagnostics."""
    own = comparison.to_frames()
    frames: dict[str, pd.DataFrame] = {
        "Summary": comparison_summary_frame(comparison, catalog_info),
        "Routes": own["routes"],
        "Allocation": own["allocation"],
        "Blocking": own["blocking"],
        "What-if": own["what_if"],
        "Coalitions": own["coalitions"],
    }
    for key, df in own.items():
        if key.startswith("suppliers_"):
            frames[f"Suppliers {key.removeprefix('suppliers_')}"] = df
    frames["Diagnostics"] = own["diagnostics"]
    return frames


def comparison_to_xlsx(
    comparison: RouteComparison,
    catalog_info: CatalogInfo | str | os.PathLike[str] | None = None,
) -> bytes:
    """The comparison as an Excel workbook (see :func:`comparison_frames`): GBP formats,
    bold frozen headers, no formula cells."""
    if catalog_info is not None and not isinstance(catalog_info, CatalogInfo):
        catalog_info = CatalogInfo.from_path(catalog_info)
    return frames_to_xlsx(
        comparison_frames(comparison, catalog_info), COMPARISON_MONEY_COLUMNS, PERCENT_COLUMNS
    )


def comparison_to_csv(comparison: RouteComparison) -> bytes:
    """The comparison as CSV: the allocation table, one row per organisation."""
    return frames_to_csv(comparison.to_frames()["allocation"])


def comparison_to_json(comparison: RouteComparison) -> bytes:
    """SPEC ``compare --format json`` (plus percent savings, what-if, coalitions), UTF-8."""
    return json_bytes(comparison.to_dict())
