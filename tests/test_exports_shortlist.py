"""Shortlist exports: CSV, JSON and Excel, safe to open.

Shortlists are built here from plans priced directly (no optimiser), so these
tests are about the files only.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from conftest import catalog, offering, scenario, site, supplier
from openpyxl import load_workbook

from procurement.costing import price
from procurement.exports import (
    MONEY_FORMAT,
    shortlist_frames,
    shortlist_to_csv,
    shortlist_to_json,
    shortlist_to_xlsx,
)
from procurement.inputs import resolve_organisations
from procurement.options import eligible_suppliers
from procurement.plan import Plan, PlanStatus
from procurement.runner_up import bundle_for
from procurement.shortlist import Shortlist, ShortlistEntry

CAT = catalog(
    supplier("sup-a", [offering("a-fibre", monthly_cost=100)]),
    supplier("sup-b", [offering("b-fibre", monthly_cost=120)]),
)
SC = scenario(term_months=12)
SITES = [
    site("s1", "=HYPERLINK(\"http://evil\")", name="+cmd|' /C calc'!A0", technologies=["fibre"]),
    site("s2", "org-b", name="@SUM(1+1)", technologies=["fibre"]),
]


def plan_on(offering_id: str) -> Plan:
    choice = {s.site_id: bundle_for(s, [offering_id], CAT, SC) for s in SITES}
    priced = price(choice, SITES, resolve_organisations(SITES, ()), SC, eligible_suppliers(CAT, SC))
    return Plan(
        status=PlanStatus.OPTIMAL, route=SC.route, objective=SC.objective,
        term_months=SC.term_months, total_cost=priced.total_cost, breakdown=priced.breakdown,
        quality=priced.quality, gap=0.0, solve_seconds=0.0, baseline=priced.baseline,
        sites=priced.sites, suppliers=priced.suppliers, organisations=priced.organisations,
        scenario=SC,
    )


def make_shortlist(k: int = 5) -> Shortlist:
    plans = [plan_on("a-fibre"), plan_on("b-fibre")]
    best = plans[0].total_cost
    entries = tuple(
        ShortlistEntry(i, p.supplier_ids, p.total_cost, p.total_cost - best, p.status, p)
        for i, p in enumerate(plans, start=1)
    )
    return Shortlist(
        plans=entries, k=k, exhausted=True,
        message="only 2 distinct supplier sets can serve these sites under this scenario",
    )


def test_xlsx_has_the_sheets_money_formats_frozen_headers_and_no_formulas() -> None:
    wb = load_workbook(io.BytesIO(shortlist_to_xlsx(make_shortlist(), "catalog")))
    assert wb.sheetnames == ["Summary", "Shortlist", "Sites", "Suppliers"]
    ws = wb["Shortlist"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["rank", "suppliers", "n_suppliers", "total_cost", "delta_vs_best"]
    assert ws.max_row == 3
    for name in ("total_cost", "delta_vs_best"):
        col = header.index(name) + 1
        assert ws.cell(row=2, column=col).number_format == MONEY_FORMAT
        assert isinstance(ws.cell(row=3, column=col).value, int | float)
    assert ws.cell(row=3, column=header.index("delta_vs_best") + 1).value == pytest.approx(480.0)
    assert ws.cell(row=2, column=header.index("delta_pct") + 1).number_format.endswith("%")
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=2)}
    assert summary["best_total_cost"].number_format == MONEY_FORMAT
    assert summary["best_total_cost"].value == pytest.approx(2400.0)
    assert summary["plans_found"].value == 2 and summary["exhausted"].value is True
    assert summary["message"].value.startswith("only 2")
    for sheet in wb.worksheets:
        assert sheet.freeze_panes == "A2"
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value


def test_xlsx_neutralises_hostile_text_from_the_best_plan() -> None:
    wb = load_workbook(io.BytesIO(shortlist_to_xlsx(make_shortlist())))
    names = [c.value for c in wb["Sites"]["B"][1:]]
    assert names == ["'+cmd|' /C calc'!A0", "'@SUM(1+1)"]
    orgs = {c.value for c in wb["Sites"]["C"][1:]}
    assert "'=HYPERLINK(\"http://evil\")" in orgs


def test_empty_shortlist_exports_say_there_is_no_plan() -> None:
    empty = Shortlist(plans=(), k=3, exhausted=True, message="no plan meets the scenario")
    wb = load_workbook(io.BytesIO(shortlist_to_xlsx(empty)))
    assert wb.sheetnames == ["Summary", "Shortlist"]
    assert wb["Shortlist"].max_row == 1
    assert json.loads(shortlist_to_json(empty))["plans"] == []
    text = shortlist_to_csv(empty).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("rank,suppliers,")
    assert len(text.splitlines()) == 1


def test_csv_is_one_row_per_plan_with_numbers_as_numbers() -> None:
    raw = shortlist_to_csv(make_shortlist())
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    df = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert list(df["rank"]) == [1, 2]
    assert list(df["suppliers"]) == ["sup-a", "sup-b"]
    assert df["total_cost"].tolist() == pytest.approx([2400.0, 2880.0])
    assert df["delta_vs_best"].tolist() == pytest.approx([0.0, 480.0])


def test_json_is_the_spec_shape_with_the_note() -> None:
    raw = shortlist_to_json(make_shortlist())
    assert raw.endswith(b"\n")
    data = json.loads(raw.decode("utf-8"))
    assert [set(p) for p in data["plans"]] == [
        {"rank", "suppliers", "total_cost", "delta_vs_best", "status"}
    ] * 2
    assert data["plans"][1] == {"rank": 2, "suppliers": ["sup-b"],
                                "total_cost": pytest.approx(2880.0),
                                "delta_vs_best": pytest.approx(480.0), "status": "optimal"}
    assert data["exhausted"] is True and data["message"].startswith("only 2")


def test_frames_are_the_workbook_sheets() -> None:
    frames = shortlist_frames(make_shortlist())
    assert list(frames) == ["Summary", "Shortlist", "Sites", "Suppliers"]
    assert list(frames["Sites"]["site_id"]) == ["s1", "s2"]
