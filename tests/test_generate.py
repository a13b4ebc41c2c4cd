"""Tests for the synthetic portfolio generator and the sample data it relies on.

The generator promises portfolios that are reproducible, follow SPEC's file
formats, compress into few requirement profiles and are feasible with the
sample catalogue; the sample catalogue and examples promise the shape that the
docs describe. Feasibility is checked here with a small, independent reading
of SPEC's "Which offerings may serve a site" rules, so these tests do not
depend on the solver.
"""

from __future__ import annotations

import math
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from procurement.generate import Portfolio, generate_portfolio, write_portfolio

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog"
EXAMPLES = ROOT / "examples"

SPEC_SITE_COLUMNS = [
    "site_id",
    "organisation",
    "name",
    "region",
    "bandwidth_mbps",
    "resilience",
    "backup_mbps",
    "min_availability_pct",
    "wifi_aps",
    "technologies",
    "allow_4g_primary",
    "go_live_by",
    "priority",
    "uncontended",
    "current_supplier",
    "current_monthly_cost",
]
REGIONS = {
    "north-east-and-yorkshire",
    "north-west",
    "midlands",
    "east-of-england",
    "london",
    "south-east",
    "south-west",
}
SCENARIO_FIELDS = {
    "start_date",
    "term_months",
    "route",
    "budget",
    "objective",
    "max_suppliers",
    "min_suppliers",
    "max_supplier_share",
    "exclude_suppliers",
    "required_certifications",
    "max_supplier_changes",
    "allow_partial",
    "time_limit_s",
    "mip_gap",
}
PROFILE = [
    "organisation",
    "region",
    "bandwidth_mbps",
    "resilience",
    "backup_mbps",
    "min_availability_pct",
    "wifi_aps",
    "technologies",
    "allow_4g_primary",
    "uncontended",
]


@pytest.fixture(scope="module")
def big() -> Portfolio:
    return generate_portfolio(25_000, seed=3)


# --- generator ---------------------------------------------------------------


def test_same_seed_gives_same_frames() -> None:
    a = generate_portfolio(800, 6, seed=42)
    b = generate_portfolio(800, 6, seed=42)
    pd.testing.assert_frame_equal(a.sites, b.sites)
    pd.testing.assert_frame_equal(a.organisations, b.organisations)
    assert a.scenario == b.scenario


def test_different_seed_differs() -> None:
    a = generate_portfolio(800, 6, seed=1)
    b = generate_portfolio(800, 6, seed=2)
    assert not a.sites.equals(b.sites)


@pytest.mark.parametrize(("n_sites", "n_orgs"), [(1, 1), (7, 7), (150, 5), (2_000, 12)])
def test_requested_counts(n_sites: int, n_orgs: int) -> None:
    p = generate_portfolio(n_sites, n_orgs, seed=5)
    assert len(p.sites) == n_sites
    assert len(p.organisations) == n_orgs
    # every organisation owns a site, and every site's owner is listed
    assert set(p.sites["organisation"]) == set(p.organisations["organisation"])


@pytest.mark.parametrize(("n_sites", "n_orgs"), [(0, 1), (5, 0), (3, 4)])
def test_bad_counts_are_refused(n_sites: int, n_orgs: int) -> None:
    with pytest.raises(ValueError):
        generate_portfolio(n_sites, n_orgs)


def test_columns_follow_spec() -> None:
    p = generate_portfolio(300)
    assert list(p.sites.columns[: len(SPEC_SITE_COLUMNS)]) == SPEC_SITE_COLUMNS
    assert list(p.organisations.columns) == ["organisation", "name", "type", "budget"]
    assert set(p.scenario) <= SCENARIO_FIELDS
    assert p.scenario["start_date"] == date(2027, 4, 1)
    assert p.scenario["route"] in {"solo", "collaborative", "central"}
    assert p.scenario["objective"] == "cost"


def test_ids_unique(big: Portfolio) -> None:
    assert big.sites["site_id"].is_unique
    assert big.organisations["organisation"].is_unique
    assert big.sites["site_id"].str.fullmatch(r"[A-Za-z0-9-]+").all()
    assert big.organisations["organisation"].str.fullmatch(r"[a-z0-9-]+").all()


def test_values_within_spec_rules(big: Portfolio) -> None:
    s = big.sites
    assert set(s["region"]) <= REGIONS
    assert (s["bandwidth_mbps"] > 0).all()
    assert set(s["resilience"]) <= {"single", "backup", "diverse"}
    backup = s["backup_mbps"].dropna()
    assert (backup > 0).all()
    # a backup requirement is given exactly where a backup link is required
    assert s["backup_mbps"].notna().equals(s["resilience"] == "backup")
    avail = s["min_availability_pct"].dropna()
    assert ((avail >= 90) & (avail < 100)).all()
    assert (s["wifi_aps"] >= 0).all()
    assert s["priority"].between(1, 5).all()
    for techs in s["technologies"].unique():
        parts = techs.split(";")
        assert parts and set(parts) <= {"fibre", "ethernet", "4g"}
        assert len(parts) == len(set(parts))
    assert s["allow_4g_primary"].dtype == bool
    assert s["uncontended"].dtype == bool
    start = big.scenario["start_date"]
    deadlines = s["go_live_by"].dropna().map(date.fromisoformat)
    assert len(deadlines) > 0
    assert (deadlines >= start + timedelta(days=200)).all()
    assert (s["current_monthly_cost"].dropna() >= 0).all()
    assert (big.organisations["budget"] > 0).all()
    # realistic mix: many GP practices, pharmacies and care homes, few hospitals
    share = s["site_type"].value_counts(normalize=True)
    assert share["hospital"] < 0.05
    assert share["gp_practice"] + share["pharmacy"] + share["care_home"] > 0.5


def test_profiles_compress(big: Portfolio) -> None:
    profiles = len(big.sites.drop_duplicates(PROFILE))
    assert profiles < 5_000


def test_large_portfolio_is_fast() -> None:
    generate_portfolio(100)  # warm imports
    started = time.perf_counter()
    generate_portfolio(25_000, seed=9)
    assert time.perf_counter() - started < 3.0  # well under 1 s locally; slack for CI


def test_write_portfolio_round_trips(tmp_path: Path) -> None:
    p = generate_portfolio(400, 4, seed=8)
    out = tmp_path / "nested" / "portfolio"
    paths = write_portfolio(p, out)
    assert [path.name for path in paths] == ["sites.csv", "organisations.csv", "scenario.yaml"]
    assert sorted(f.name for f in out.iterdir()) == sorted(path.name for path in paths)

    text = (out / "sites.csv").read_text(encoding="utf-8")
    assert ",true," in text and ",false," in text  # SPEC's boolean spelling
    read = pd.read_csv(out / "sites.csv")
    expected = p.sites.copy()
    for column in ("backup_mbps", "current_monthly_cost"):
        expected[column] = expected[column].astype("float64")
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)

    orgs = pd.read_csv(out / "organisations.csv")
    pd.testing.assert_frame_equal(orgs, p.organisations, check_dtype=False)
    assert yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8")) == p.scenario

    # writing again replaces the files and leaves no temporary files behind
    write_portfolio(generate_portfolio(10, 2, seed=1), out)
    assert len(pd.read_csv(out / "sites.csv")) == 10
    assert sorted(f.name for f in out.iterdir()) == sorted(path.name for path in paths)


# --- sample catalogue ----------------------------------------------------------


def _catalogue() -> tuple[list[Path], list[dict[str, Any]]]:
    files = sorted(CATALOG.glob("*.yaml"))
    suppliers: list[dict[str, Any]] = []
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["schema_version"] == 1, path
        assert doc["currency"] == "GBP", path
        assert len(doc["suppliers"]) == 1, path
        suppliers.extend(doc["suppliers"])
    return files, suppliers


def test_sample_catalogue_shape() -> None:
    files, suppliers = _catalogue()
    assert len(files) == 17
    ids = [s["id"] for s in suppliers]
    assert len(set(ids)) == 17
    for path, supplier in zip(files, suppliers, strict=True):
        assert path.stem == supplier["id"]
    offering_ids = [o["id"] for s in suppliers for o in s["offerings"]]
    assert len(offering_ids) == len(set(offering_ids))
    assert 180 <= len(offering_ids) <= 220
    assert [s["id"] for s in suppliers if not s["hscn_compliant"]] == ["bracken-broadband"]
    expiring = [s["id"] for s in suppliers if "compliance_expires" in s]
    assert expiring == ["tyne-tees-telecom"]
    assert suppliers[ids.index("tyne-tees-telecom")]["compliance_expires"] == date(2027, 1, 31)
    assert 8 <= sum("central_framework" in s for s in suppliers) <= 12
    for s in suppliers:
        assert set(s["regions"]) <= REGIONS
        assert 8 <= len(s["offerings"]) <= 15, s["id"]
        tiers = [t["min_sites"] for t in s.get("volume_discounts", [])]
        assert tiers == sorted(set(tiers))
        for o in s["offerings"]:
            assert o["id"].startswith(s["id"] + "-")
            assert set(o.get("regions", s["regions"])) <= set(s["regions"])
            assert o["install_cost"] >= 0 and o["monthly_cost"] >= 0
            if o["technology"] == "wifi":
                assert o["unit"] == "access_point"
                assert "download_mbps" not in o and "availability_pct" not in o
            else:
                assert o["technology"] in {"fibre", "ethernet", "4g"}
                assert o["download_mbps"] > 0 and 90 <= o["availability_pct"] < 100
                assert o["lead_time_days"] <= 180
    per_region = {r: sum(r in s["regions"] for s in suppliers) for r in REGIONS}
    assert min(per_region.values()) >= 5
    assert 8 <= per_region["north-west"] <= 11
    assert 8 <= per_region["north-east-and-yorkshire"] <= 11


# --- feasibility (SPEC "Which offerings may serve a site") ----------------------


def _offerings(start: date, route: str) -> list[dict[str, Any]]:
    _, suppliers = _catalogue()
    out = []
    for s in suppliers:
        if not s["hscn_compliant"]:
            continue
        if s.get("compliance_expires") is not None and s["compliance_expires"] < start:
            continue
        if route == "central" and "central_framework" not in s:
            continue
        for o in s["offerings"]:
            contention = o.get("contention_ratio", 1 if o["technology"] == "ethernet" else None)
            out.append(
                {
                    **o,
                    "supplier": s["id"],
                    "regions": o.get("regions", s["regions"]),
                    "lead_time_days": o.get("lead_time_days", 0),
                    "contention_ratio": contention,
                }
            )
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _flag(value: Any) -> bool:
    return not _missing(value) and str(value).strip().lower() == "true"


def _site_feasible(site: dict[str, Any], offerings: list[dict[str, Any]], start: date) -> bool:
    techs = set(str(site["technologies"]).split(";"))
    deadline = None if _missing(site["go_live_by"]) else date.fromisoformat(site["go_live_by"])
    usable = [
        o
        for o in offerings
        if site["region"] in o["regions"]
        and (deadline is None or start + timedelta(days=o["lead_time_days"]) <= deadline)
        and (o["technology"] == "wifi" or o["technology"] in techs)
    ]
    if int(site["wifi_aps"]) > 0 and not any(o["technology"] == "wifi" for o in usable):
        return False
    bandwidth = float(site["bandwidth_mbps"])
    resilience = site["resilience"]
    backup = 10.0 if _missing(site["backup_mbps"]) else float(site["backup_mbps"])
    primary_tech = {"fibre", "ethernet"} | ({"4g"} if _flag(site["allow_4g_primary"]) else set())
    primaries = [
        o
        for o in usable
        if o["technology"] in primary_tech
        and o["download_mbps"] >= bandwidth
        and (not _flag(site["uncontended"]) or o["contention_ratio"] == 1)
    ]
    links = [o for o in usable if o["technology"] != "wifi"]
    target = None if _missing(site["min_availability_pct"]) else float(site["min_availability_pct"])
    for p in primaries:
        if resilience == "diverse":
            seconds = [
                o
                for o in links
                if o["technology"] in {"fibre", "ethernet"}
                and o["download_mbps"] >= bandwidth
                and o["supplier"] != p["supplier"]
            ]
        else:
            seconds = [
                o
                for o in links
                if o["technology"] != p["technology"] and o["download_mbps"] >= backup
            ]
        options: list[dict[str, Any] | None] = list(seconds)
        if resilience == "single":
            options.append(None)
        for b in options:
            down = (1 - p["availability_pct"] / 100) * (
                1 if b is None else 1 - b["availability_pct"] / 100
            )
            if target is None or 100 * (1 - down) >= target - 1e-9:
                return True
    return False


def _infeasible(sites: pd.DataFrame, start: date, route: str) -> list[str]:
    offerings = _offerings(start, route)
    columns = [c for c in SPEC_SITE_COLUMNS if c not in ("site_id", "name", "organisation")]
    unique = sites.drop_duplicates(columns)
    return [
        str(row["site_id"])
        for row in unique.to_dict("records")
        if not _site_feasible(row, offerings, start)
    ]


@pytest.mark.parametrize("route", ["collaborative", "central"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_sites_are_feasible_with_sample_catalogue(route: str, seed: int) -> None:
    p = generate_portfolio(6_000, 7, seed=seed)
    assert _infeasible(p.sites, p.scenario["start_date"], route) == []


def test_examples_follow_the_formats_and_are_feasible() -> None:
    sites = pd.read_csv(EXAMPLES / "sites.csv", dtype=str, keep_default_na=False)
    orgs = pd.read_csv(EXAMPLES / "organisations.csv")
    scenario = yaml.safe_load((EXAMPLES / "scenario.yaml").read_text(encoding="utf-8"))
    assert set(scenario) <= SCENARIO_FIELDS
    assert list(sites.columns[: len(SPEC_SITE_COLUMNS)]) == SPEC_SITE_COLUMNS
    assert len(sites.columns) > len(SPEC_SITE_COLUMNS)  # an extra column, kept by the loader
    assert sites["site_id"].is_unique
    assert 140 <= len(sites) <= 160
    assert set(sites["organisation"]) == set(orgs["organisation"])
    assert len(orgs) == 6
    assert set(sites["region"]) == {"north-west", "north-east-and-yorkshire"}
    for route in ("collaborative", "central"):
        assert _infeasible(sites, scenario["start_date"], route) == [], route
    # the expiring supplier is excluded from this start date, not just unused
    assert scenario["start_date"] > date(2027, 1, 31)
