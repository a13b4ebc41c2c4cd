"""Route comparisons as JSON, CSV and Excel: the SPEC's keys, safe cells, money formats."""

from __future__ import annotations

import io
import json
import pickle

import pytest
from conftest import catalog, offering, org, scenario, site, supplier
from openpyxl import load_workbook

from procurement.exports import (
    MONEY_FORMAT,
    CatalogInfo,
    comparison_frames,
    comparison_to_csv,
    comparison_to_json,
    comparison_to_xlsx,
)
from procurement.models import CentralFramework, Fees, Route, VolumeTier
from procurement.routes import RouteComparison, compare

EVIL = "=HYPERLINK(\"http://x\")"


@pytest.fixture(scope="module")
def comparison() -> RouteComparison:
    cat = catalog(
        supplier(
            "s0",
            [offering("s0-fibre", monthly_cost=100), offering("s0-4g", "4g", download_mbps=50,
             monthly_cost=20, availability_pct=98)],
            fees=Fees(onboarding=2000, annual_management=600),
            volume_discounts=(VolumeTier(min_sites=3, discount=0.1),),
            central_framework=CentralFramework(discount=0.05),
        ),
        supplier("s1", [offering("s1-fibre", monthly_cost=95)], fees=Fees(onboarding=500)),
    )
    sites = [
        site("a1", "org-a"), site("a2", "org-a", resilience="backup"),
        site("b1", "org-b"), site("e1", EVIL), site("e2", EVIL),
    ]
    organisations = [org("org-a"), org("org-b"), org(EVIL)]
    return compare(cat, sites, scenario(), organisations, "shapley", workers=1)


def test_json_has_the_spec_shape(comparison: RouteComparison) -> None:
    data = comparison_to_json(comparison)
    assert data.endswith(b"\n")
    d = json.loads(data.decode("utf-8"))
    assert set(d["routes"]) == {"solo", "collaborative", "central"}
    for route in d["routes"].values():
        assert {"status", "total_cost"} <= set(route)
    assert set(d["savings"]) == {"collaborative_vs_solo", "central_vs_solo"}
    assert d["savings"]["collaborative_vs_solo"] == pytest.approx(
        d["routes"]["solo"]["total_cost"] - d["routes"]["collaborative"]["total_cost"]
    )
    allocation = d["allocation"]
    assert {"method", "exact", "members", "core"} <= set(allocation)
    assert [m["organisation"] for m in allocation["members"]] == ["org-a", "org-b", EVIL]
    for member in allocation["members"]:
        assert {"organisation", "solo_cost", "allocated_cost", "saving", "std_error"} <= set(
            member
        )
    assert {"checked", "blocking_coalitions"} <= set(allocation["core"])
    assert sum(m["allocated_cost"] for m in allocation["members"]) == pytest.approx(
        d["routes"]["collaborative"]["total_cost"]
    )


def test_csv_is_the_allocation_table_with_inert_cells(comparison: RouteComparison) -> None:
    data = comparison_to_csv(comparison)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 right
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:6] == [
        "organisation", "name", "sites", "solo_cost", "allocated_cost", "saving",
    ]
    assert len(lines) == 4
    evil = [line for line in lines if "HYPERLINK" in line]
    assert len(evil) == 1 and evil[0].startswith("\"'=HYPERLINK")
    for line in lines[1:]:
        assert not line.startswith(("=", "+", "-", "@"))


def test_xlsx_sheets_formats_and_no_formulas(comparison: RouteComparison) -> None:
    data = comparison_to_xlsx(comparison, CatalogInfo(name="test-catalogue"))
    wb = load_workbook(io.BytesIO(data))
    for sheet in ("Summary", "Routes", "Allocation", "Blocking", "What-if", "Coalitions",
                  "Suppliers solo", "Suppliers collaborative", "Suppliers central",
                  "Diagnostics"):
        assert sheet in wb.sheetnames, wb.sheetnames
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    alloc = wb["Allocation"]
    header = [c.value for c in alloc[1]]
    col = header.index("allocated_cost") + 1
    assert alloc.cell(row=2, column=col).number_format == MONEY_FORMAT
    assert isinstance(alloc.cell(row=2, column=col).value, float)
    names = [alloc.cell(row=r, column=1).value for r in range(2, alloc.max_row + 1)]
    assert "'" + EVIL in names
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=2)}
    assert summary["catalogue"].value == "test-catalogue"
    assert summary["collaborative_total_cost"].number_format == MONEY_FORMAT
    assert summary["allocation"].value == "shapley"
    coalitions = wb["Coalitions"]
    assert coalitions.max_row == 1 + 7  # every coalition of three organisations
    what_if = wb["What-if"]
    header = [c.value for c in what_if[1]]
    cell = what_if.cell(row=2, column=header.index("marginal_cost") + 1)
    assert cell.number_format == MONEY_FORMAT


def test_frames_without_an_allocation_still_export(comparison: RouteComparison) -> None:
    from dataclasses import replace

    bare = replace(comparison, allocation=None, what_if=())
    frames = comparison_frames(bare)
    assert frames["Allocation"].empty and frames["Blocking"].empty
    d = json.loads(comparison_to_json(bare))
    assert d["allocation"] is None and d["core_empty"] is None
    assert comparison_to_csv(bare).decode("utf-8-sig").startswith("organisation,")
    assert comparison_to_xlsx(bare)[:2] == b"PK"


def test_comparison_pickles_for_caches(comparison: RouteComparison) -> None:
    again = pickle.loads(pickle.dumps(comparison))
    assert again.totals == comparison.totals
    assert again.allocation == comparison.allocation
    assert again.routes[Route.SOLO].total_cost == comparison.routes[Route.SOLO].total_cost
