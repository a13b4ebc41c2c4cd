"""Exports: hostile text comes back inert, numbers stay numbers, totals survive.

The plan is built by hand from the dataclasses of :mod:`procurement.plan`, so
these tests need no solver and pin the bytes a buyer downloads.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import procurement
from procurement import exports
from procurement.exports import (
    MONEY_FORMAT,
    CatalogInfo,
    frames_to_csv,
    frames_to_xlsx,
    neutralise_cell,
    plan_to_csv,
    plan_to_json,
    plan_to_xlsx,
    write_atomic,
)
from procurement.models import Objective, Route, Scenario
from procurement.plan import (
    Baseline,
    Breakdown,
    Diagnostic,
    Level,
    Link,
    OrganisationCost,
    Plan,
    PlanStatus,
    SitePlan,
    SupplierLine,
)

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]


def _link(offering: str, supplier: str, tech: str = "fibre", qty: int = 1) -> Link:
    return Link(
        offering_id=offering,
        supplier_id=supplier,
        technology=tech,
        quantity=qty,
        one_off=250.0 * qty,
        recurring=3000.0 * qty,
        recurring_list=3600.0 * qty,
        offering_name=f"{offering} name",
        download_mbps=None if tech == "wifi" else 100.0,
    )


def hostile_plan() -> Plan:
    """Six served sites named with formula payloads, one unserved; a negative saving."""
    sites = []
    for i, name in enumerate(HOSTILE):
        primary = _link("acme-fttp", "acme")
        wifi = _link("acme-wifi", "acme", "wifi", qty=2) if i == 0 else None
        cost = primary.cost + (wifi.cost if wifi else 0.0)
        sites.append(
            SitePlan(
                site_id=f"s{i}",
                organisation="=org" if i % 2 else "org-b",
                served=True,
                primary=primary,
                wifi=wifi,
                availability_pct=99.5,
                cost=cost,
                name=name,
                region="london",
            )
        )
    sites.append(
        SitePlan(site_id="s-unserved", organisation="org-b", served=False, name="@unserved")
    )
    link_cost = sum(s.cost for s in sites)
    one_off = sum(x.one_off for s in sites for x in s.links)
    recurring_list = sum(x.recurring_list for s in sites for x in s.links)
    recurring = sum(x.recurring for s in sites for x in s.links)
    fees = 1500.0
    breakdown = Breakdown(one_off, recurring_list, recurring_list - recurring, fees)
    total = link_cost + fees
    assert abs(breakdown.total - total) < 1e-6
    return Plan(
        status=PlanStatus.PARTIAL,
        route=Route.COLLABORATIVE,
        objective=Objective.COST,
        term_months=36,
        total_cost=total,
        breakdown=breakdown,
        quality=300.0,
        gap=0.0,
        solve_seconds=0.12,
        baseline=Baseline(sites=6, cost=total - 1234.5, saving=-1234.5),
        sites=tuple(sites),
        suppliers=(
            SupplierLine(
                party="consortium", supplier_id="acme", sites=6, discount=1 / 6, fees=fees,
                cost=total, one_off=one_off, recurring_list=recurring_list,
            ),
        ),
        organisations=(
            OrganisationCost("=org", total / 2, budget=-5.0, name="+Org A", sites=3),
            OrganisationCost("org-b", total / 2, budget=None, name="Org B", sites=4),
        ),
        diagnostics=(
            Diagnostic(Level.WARNING, "-site s-unserved cannot be served", "s-unserved"),
        ),
        scenario=Scenario(
            start_date=date(2025, 1, 1), exclude_suppliers=("=evil",), allow_partial=True
        ),
    )


@pytest.fixture
def plan() -> Plan:
    return hostile_plan()


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralise_cell_prefixes_formula_triggers(text: str) -> None:
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-2, -2.5, 0, 3.25, True, None, "plain", "a=b", " -1"])
def test_neutralise_cell_leaves_numbers_and_plain_text(value: object) -> None:
    assert neutralise_cell(value) == value


def test_frames_to_csv_text_columns_only() -> None:
    df = pd.DataFrame({"name": ["=1+1", "ok"], "amount": [-2.5, 3.0], "count": [-1, 2]})
    rows = list(csv.reader(io.StringIO(frames_to_csv(df).decode("utf-8-sig"))))
    assert rows[0] == ["name", "amount", "count"]
    assert rows[1] == ["'=1+1", "-2.5", "-1"]
    assert rows[2] == ["ok", "3.0", "2"]


# --------------------------------------------------------------------------- CSV


def _read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel reads the encoding"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_plan_csv_rows_per_link_and_unserved(plan: Plan) -> None:
    rows = _read_csv(plan_to_csv(plan))
    links = sum(len(s.links) for s in plan.sites)
    assert len(rows) == links + 1
    unserved = [r for r in rows if r["site_id"] == "s-unserved"]
    assert len(unserved) == 1
    assert unserved[0]["role"] == ""
    assert unserved[0]["served"] == "False"
    assert unserved[0]["name"] == "'@unserved"
    # rows follow the plan's site order
    order = [r["site_id"] for r in rows]
    assert order == sorted(order, key=[s.site_id for s in plan.sites].index)
    total = sum(float(r["cost"]) for r in rows if r["cost"])
    assert total == pytest.approx(sum(s.cost for s in plan.sites))


def test_plan_csv_hostile_names_are_inert(plan: Plan) -> None:
    rows = _read_csv(plan_to_csv(plan))
    names = {r["site_id"]: r["name"] for r in rows}
    for i, text in enumerate(HOSTILE):
        assert names[f"s{i}"] == "'" + text
    for row in rows:
        for key, value in row.items():
            if value and value[0] in "=+@\t\r":
                pytest.fail(f"live formula in column {key}: {value!r}")
            if value.startswith("-"):
                float(value)  # a leading minus is only allowed on a number
    assert {r["organisation"] for r in rows} == {"'=org", "org-b"}


# --------------------------------------------------------------------------- JSON


def test_plan_json_round_trips(plan: Plan) -> None:
    data = json.loads(plan_to_json(plan))
    assert data == json.loads(json.dumps(plan.to_dict()))
    assert data["total_cost"] == pytest.approx(plan.total_cost)
    assert data["baseline"]["saving"] == -1234.5


def test_json_bytes_is_indented_utf8_with_iso_dates_and_plain_numbers() -> None:
    import numpy as np

    data = {
        "name": "Ysbyty Gwynedd — Bangor",
        "start": date(2027, 4, 1),
        "stamp": datetime(2027, 4, 1, 9, 30),
        "sites": np.int64(3),
        "cost": np.float64(1234.5),
        "served": np.bool_(True),
        "links": [{"quantity": 2}],
    }
    text = exports.json_bytes(data)
    assert text.endswith(b"}\n")
    assert "Ysbyty Gwynedd — Bangor".encode() in text  # not \u-escaped
    assert b'\n  "links": [\n    {\n      "quantity": 2\n' in text  # two-space indent
    assert json.loads(text) == {
        "name": "Ysbyty Gwynedd — Bangor",
        "start": "2027-04-01",
        "stamp": "2027-04-01T09:30:00",
        "sites": 3,
        "cost": 1234.5,
        "served": True,
        "links": [{"quantity": 2}],
    }
    with pytest.raises(TypeError):  # orjson's JSONEncodeError is a TypeError
        exports.json_bytes({"bad": object()})


# --------------------------------------------------------------------------- XLSX


def _workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _summary(wb: openpyxl.Workbook) -> dict[str, object]:
    ws = wb["Summary"]
    return {row[0].value: row[1].value for row in ws.iter_rows(min_row=2)}


def test_plan_xlsx_sheets_and_totals(plan: Plan, tmp_path: Path) -> None:
    wb = _workbook(plan_to_xlsx(plan))
    for sheet in ("Summary", "Sites", "Suppliers", "Organisations", "Diagnostics"):
        assert sheet in wb.sheetnames
    summary = _summary(wb)
    assert summary["total_cost"] == pytest.approx(plan.total_cost)
    assert summary["one_off"] == pytest.approx(plan.breakdown.one_off)
    assert summary["discount"] == pytest.approx(plan.breakdown.discount)
    assert summary["fees"] == pytest.approx(plan.breakdown.fees)
    assert summary["baseline_saving"] == pytest.approx(-1234.5)
    assert summary["version"] == procurement.__version__
    assert summary["catalogue_date"] == "unknown"
    assert summary["route"] == "collaborative"
    assert summary["exclude_suppliers"] == "'=evil"
    ws = wb["Suppliers"]
    header = [c.value for c in ws[1]]
    cost = ws.cell(row=2, column=header.index("cost") + 1)
    assert cost.value == pytest.approx(plan.total_cost)
    assert cost.number_format == MONEY_FORMAT
    sites = wb["Sites"]
    header = [c.value for c in sites[1]]
    costs = [r[header.index("cost")].value for r in sites.iter_rows(min_row=2)]
    assert sum(costs) == pytest.approx(sum(s.cost for s in plan.sites))


def test_plan_xlsx_has_no_formulas_and_hostile_text_is_inert(plan: Plan) -> None:
    data = plan_to_xlsx(plan)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(member), f"formula element in {member}"
    wb = _workbook(data)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(exports.FORMULA_TRIGGERS), (
                        f"{ws.title}!{cell.coordinate} = {cell.value!r}"
                    )
    sites = wb["Sites"]
    header = [c.value for c in sites[1]]
    names = {r[header.index("site_id")].value: r[header.index("name")].value
             for r in sites.iter_rows(min_row=2)}
    for i, text in enumerate(HOSTILE):
        # XML reads a raw CR back as LF; the leading quote is what matters
        assert names[f"s{i}"] == "'" + text.replace("\r", "\n")


def test_plan_xlsx_numbers_stay_numbers(plan: Plan) -> None:
    wb = _workbook(plan_to_xlsx(plan))
    orgs = wb["Organisations"]
    header = [c.value for c in orgs[1]]
    budget = orgs.cell(row=2, column=header.index("budget") + 1)
    assert budget.value == -5.0 and budget.data_type == "n"
    assert budget.number_format == MONEY_FORMAT
    summary = wb["Summary"]
    saving = next(r[1] for r in summary.iter_rows(min_row=2) if r[0].value == "baseline_saving")
    assert saving.data_type == "n" and saving.value == -1234.5
    assert saving.number_format == MONEY_FORMAT


def test_plan_xlsx_layout(plan: Plan) -> None:
    wb = _workbook(plan_to_xlsx(plan))
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1] if cell.value is not None)
        assert ws.column_dimensions["A"].width >= 8


def test_catalogue_date_is_newest_yaml(plan: Plan, tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    old, new = folder / "a.yaml", folder / "b.yml"
    old.write_text("suppliers: []\n")
    new.write_text("suppliers: []\n")
    (folder / "notes.txt").write_text("ignored")
    os.utime(old, (0, datetime(2024, 3, 1, tzinfo=UTC).timestamp()))
    os.utime(new, (0, datetime(2025, 6, 30, 12, tzinfo=UTC).timestamp()))
    os.utime(folder / "notes.txt", (0, datetime(2026, 1, 1, tzinfo=UTC).timestamp()))
    info = CatalogInfo.from_path(folder)
    assert info.date_text == "2025-06-30"
    summary = _summary(_workbook(plan_to_xlsx(plan, catalog_info=info)))
    assert summary["catalogue_date"] == "2025-06-30"
    assert summary["catalogue"] == "catalog"
    summary = _summary(_workbook(plan_to_xlsx(plan, catalog_info=folder)))
    assert summary["catalogue_date"] == "2025-06-30"


def test_frames_to_xlsx_generic() -> None:
    frames = {
        "Routes": pd.DataFrame({"route": ["solo", "=central"], "total_cost": [100.0, -5.0]}),
        "A very long sheet name that Excel would refuse": pd.DataFrame({"x": [1]}),
        "Empty": pd.DataFrame(columns=["a", "b"]),
    }
    wb = _workbook(frames_to_xlsx(frames))
    assert wb.sheetnames[0] == "Routes"
    assert len(wb.sheetnames[1]) <= 31
    ws = wb["Routes"]
    assert ws["A3"].value == "'=central"
    assert ws["B3"].value == -5.0 and ws["B3"].number_format == MONEY_FORMAT
    assert [c.value for c in wb["Empty"][1]] == ["a", "b"]


def test_xlsx_strips_characters_the_format_cannot_hold() -> None:
    df = pd.DataFrame({"name": ["bell\x07 site", "tab\tok"]})
    ws = _workbook(frames_to_xlsx({"S": df}))["S"]
    assert ws["A2"].value == "bell site"
    assert ws["A3"].value == "tab\tok"


# --------------------------------------------------------------------------- atomic writes


def test_write_atomic_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert list(tmp_path.iterdir()) == [target]


def test_write_atomic_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exports.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_write_atomic_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "nope" / "plan.json", b"x")
