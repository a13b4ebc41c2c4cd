"""The Streamlit app: every page through AppTest, and the pure helpers behind the pages.

AppTest runs the real ``app.py`` (router and pages) in-process. Most tests load
a tiny consortium (4 sites, 3 suppliers) into the session first, so a solve
takes well under a second; one test solves the shipped sample. The scenario
store goes to a temporary folder through ``HSCN_PROCURE_DATA``.
"""

from __future__ import annotations

import io
import json
import re
import sys
import types
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from procurement import app_state as A
from procurement import exports
from procurement.errors import InputError
from procurement.models import Route
from procurement.optimiser import solve
from procurement.store import ScenarioStore

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")

TINY_CATALOG = b"""\
schema_version: 1
currency: GBP
suppliers:
  - id: alpha-net
    name: Alpha Networks
    hscn_compliant: true
    regions: [london, south-east]
    certifications: [iso27001]
    fees: {onboarding: 500, annual_management: 240}
    volume_discounts:
      - {min_sites: 2, discount: 0.1}
    central_framework: {discount: 0.05}
    offerings:
      - {id: alpha-fttp-100, name: FTTP 100/20, technology: fibre, download_mbps: 100,
         upload_mbps: 20, availability_pct: 99.5, install_cost: 100, monthly_cost: 60,
         quality_score: 60}
      - {id: alpha-eth-1000, name: Ethernet 1G, technology: ethernet, download_mbps: 1000,
         upload_mbps: 1000, availability_pct: 99.9, install_cost: 1500, monthly_cost: 400,
         quality_score: 90}
      - {id: alpha-4g, name: 4G backup, technology: 4g, download_mbps: 30, upload_mbps: 10,
         availability_pct: 98.0, install_cost: 0, monthly_cost: 25, quality_score: 40}
      - {id: alpha-wifi, name: Managed Wi-Fi, technology: wifi, unit: access_point,
         install_cost: 50, monthly_cost: 8}
  - id: beta-link
    name: Beta Link
    hscn_compliant: true
    regions: [london]
    certifications: [iso27001, cyber-essentials-plus]
    central_framework: {discount: 0.02}
    offerings:
      - {id: beta-fttp-300, name: FTTP 300/50, technology: fibre, download_mbps: 300,
         upload_mbps: 50, availability_pct: 99.6, install_cost: 200, monthly_cost: 70,
         quality_score: 70}
  - id: gamma-old
    name: Gamma Legacy
    hscn_compliant: false
    regions: [london]
    offerings:
      - {id: gamma-fttc, name: FTTC, technology: fibre, download_mbps: 80, upload_mbps: 20,
         availability_pct: 99.0, install_cost: 0, monthly_cost: 10}
"""

TINY_SITES = b"""\
site_id,organisation,name,region,bandwidth_mbps,resilience,wifi_aps,current_monthly_cost,notes
s1,org-a,Alpha House,london,50,single,2,120,main site
s2,org-a,Beta House,london,80,backup,0,150,
s3,org-b,Gamma Clinic,south-east,50,single,0,90,
s4,org-b,Delta Surgery,london,200,single,0,,
"""

TINY_ORGS = b"""\
organisation,name,type,budget
org-a,Org A Trust,acute-trust,20000
org-b,Org B Council,council,15000
"""

TINY_CONTROLS = {**A.DEFAULT_CONTROLS, "start_date": "2026-04-01", "time_limit_s": 20.0}


def tiny_inputs() -> A.DataInputs:
    return A.DataInputs(
        catalog_files=(A.NamedFile("tiny.yaml", TINY_CATALOG),),
        catalog_label="tiny.yaml",
        sites_csv=TINY_SITES,
        sites_name="sites.csv",
        organisations_csv=TINY_ORGS,
        organisations_name="organisations.csv",
    )


def tiny_plan(**controls):
    data = A.load_data(tiny_inputs())
    scenario = A.controls_to_scenario({**TINY_CONTROLS, **controls})
    return solve(data.catalog, data.sites, scenario, data.organisations_given), data, scenario


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Each test: its own scenario store and empty caches."""
    monkeypatch.setenv("HSCN_PROCURE_DATA", str(tmp_path / "data"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def app(data: A.DataInputs | None = None, controls: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if data is not None:
        at.session_state["data_inputs"] = data
    if controls is not None:
        at.session_state["scenario_controls"] = A.normalise_controls(controls)
    return at


def tiny_app() -> AppTest:
    at = app(tiny_inputs(), TINY_CONTROLS)
    at.run()
    assert not at.exception
    return at


def unescape(markdown: str) -> str:
    """Markdown source as the reader sees it (the app escapes user text)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(at: AppTest) -> str:
    """Every message, caption, markdown and metric on the page, as one string (as shown)."""
    parts = []
    for kind in ("error", "warning", "info", "success", "markdown", "caption", "title",
                 "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return unescape("\n".join(parts))


def errors(at: AppTest) -> str:
    return unescape("\n".join(e.value for e in at.error))


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# =========================================================================== AppTest: pages


def test_opens_on_the_sample_with_next_steps() -> None:
    at = app()
    at.run()
    assert not at.exception
    m = metrics(at)
    assert m["Sites"] == "150"
    assert m["Suppliers in the catalogue"] == "17"
    body = texts(at)
    assert "sample" in body and "illustrative" in body
    assert at.session_state["data_inputs"].is_sample
    assert any("Solve this consortium now" in b.label for b in at.button)


@pytest.mark.parametrize(
    "page", ["home", "data", "plan", "routes", "shortlist", "catalogue", "tradeoff", "scenarios"]
)
def test_every_page_renders_without_an_exception(page: str) -> None:
    at = tiny_app()
    goto(at, page)
    assert at.title, f"{page} has no title"


def test_the_sample_solves_and_shows_its_metrics() -> None:
    controls = {**A.sample_controls(), "time_limit_s": 10.0}
    at = app(controls=controls)
    at.run()
    at.button[0].click().run(timeout=240)  # "Solve this consortium now"
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    total = m["Total cost over the term"]
    assert total.startswith("£") and int(total[1:].replace(",", "")) > 100_000
    assert m["Suppliers used"].isdigit()
    assert m["Per site per month"].startswith("£")
    assert m["Saving against today"].startswith(("£", "-£"))
    result = at.session_state["plan_result"]
    assert result.plan.has_plan
    assert total == A.gbp(result.plan.total_cost)
    assert len(result.plan.sites) == 150


def test_tiny_plan_metrics_match_the_library() -> None:
    at = goto(tiny_app(), "plan")
    assert "Press **Solve**" in texts(at)
    at.button(key="plan_solve").click().run()
    assert not at.exception
    plan, _, _ = tiny_plan()
    m = metrics(at)
    assert m["Total cost over the term"] == A.gbp(plan.total_cost)
    assert m["Suppliers used"] == str(len(plan.supplier_ids))
    assert m["Saving against today"] == A.gbp(plan.baseline.saving)
    assert "Best plan for all 4 sites" in texts(at)
    # the per-site table with links and runner-up margins
    sites = at.dataframe[0].value
    assert list(sites["site_id"]) == ["s1", "s2", "s3", "s4"]
    assert {"primary", "runner_up_margin"} <= set(sites.columns)
    labels = [b.label for b in at.get("download_button")]
    assert {"Excel workbook", "CSV (one row per link)", "JSON"} <= set(labels)


def test_changing_a_setting_marks_the_plan_out_of_date() -> None:
    at = goto(tiny_app(), "plan")
    at.button(key="plan_solve").click().run()
    at.selectbox(key="plan_w_route").set_value("solo").run()
    assert "changed since this plan was solved" in texts(at)
    at.button(key="plan_solve").click().run()
    assert "changed since" not in texts(at)
    assert at.session_state["plan_result"].plan.route is Route.SOLO


def test_moving_between_pages_never_solves_again(monkeypatch) -> None:
    import procurement.optimiser as optimiser

    calls = []
    real = optimiser.solve

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(optimiser, "solve", counting)
    at = goto(tiny_app(), "plan")
    at.button(key="plan_solve").click().run()
    assert len(calls) == 1
    for page in ("catalogue", "data", "home", "plan"):
        goto(at, page)
    at.button(key="plan_solve").click().run()  # same inputs: from the cache
    assert len(calls) == 1
    assert metrics(at)["Total cost over the term"].startswith("£")


def test_an_impossible_budget_explains_itself() -> None:
    at = tiny_app()
    at.session_state["scenario_controls"] = A.normalise_controls({**TINY_CONTROLS, "budget": 100})
    goto(at, "plan")
    at.button(key="plan_solve").click().run()
    assert not at.exception
    body = texts(at)
    assert "No plan fits" in body
    assert "budget short by £" in body


def test_quality_without_a_budget_says_what_to_do() -> None:
    at = tiny_app()
    at.session_state["scenario_controls"] = A.normalise_controls(
        {**TINY_CONTROLS, "objective": "quality", "route": "solo"}
    )
    goto(at, "plan")
    at.button(key="plan_solve").click().run()
    assert not at.exception
    assert "the quality objective needs a budget" in texts(at)


def test_a_bad_sites_upload_shows_its_message_and_changes_nothing() -> None:
    at = goto(tiny_app(), "data")
    bad = TINY_SITES.replace(b"s2,org-a,Beta House,london", b"s2,org-a,Beta House,londn")
    at.file_uploader(key="data_upload_sites").set_value(("my-sites.csv", bad, "text/csv")).run()
    assert not at.exception
    shown = errors(at)
    assert "my-sites.csv:3: region: unknown region 'londn'" in shown
    assert at.session_state["data_inputs"].sites_name == "sites.csv"


def test_user_text_in_messages_is_not_markdown() -> None:
    at = goto(tiny_app(), "data")
    bad = TINY_SITES.replace(b"s2,org-a,Beta House,london", b"s2,org-a,Beta House,[x](http://e)")
    at.file_uploader(key="data_upload_sites").set_value(("s.csv", bad, "text/csv")).run()
    raw = "\n".join(e.value for e in at.error)
    assert "\\[x\\](http://e)" in raw  # shown as typed, never as a link
    assert "[x](http://e)" in errors(at)


def test_bad_upload_messages_are_the_clis_words() -> None:
    at = goto(tiny_app(), "data")
    bad = b"site_id,organisation,region,bandwidth_mbps\nx,org,london,-5\n"
    at.file_uploader(key="data_upload_sites").set_value(("bad.csv", bad, "text/csv")).run()
    with pytest.raises(InputError) as err:
        A.inputs_mod.load_sites(bad, name="bad.csv")
    shown = errors(at)
    for line in A.problem_lines(err.value.problems):
        assert line in shown


def test_a_bad_catalogue_upload_shows_file_and_line() -> None:
    at = goto(tiny_app(), "data")
    bad = TINY_CATALOG.replace(b"monthly_cost: 60", b"monthly_cost: -60")
    at.file_uploader(key="data_upload_catalog").set_value(
        [("mine.yaml", bad, "application/yaml")]
    ).run()
    assert not at.exception
    shown = errors(at)
    assert "mine.yaml:" in shown and "monthly_cost" in shown
    assert at.session_state["data_inputs"].catalog_label == "tiny.yaml"


def test_own_sites_uploaded_and_solved() -> None:
    at = app()  # the sample catalogue
    at.run()
    goto(at, "data")
    own = (
        b"site_id,organisation,region,bandwidth_mbps,current_monthly_cost\n"
        b"gp-1,my-pcn,north-west,80,210\n"
        b"gp-2,my-pcn,north-west,300,420\n"
        b"care-1,my-council,north-west,30,95\n"
    )
    at.file_uploader(key="data_upload_sites").set_value(("our-sites.csv", own, "text/csv")).run()
    assert not at.exception
    assert "Sites loaded: 3 sites from our-sites.csv" in texts(at)
    data = at.session_state["data_inputs"]
    assert data.sites_name == "our-sites.csv" and not data.is_sample
    goto(at, "plan")
    at.button(key="plan_solve").click().run(timeout=120)
    assert not at.exception
    plan = at.session_state["plan_result"].plan
    assert plan.has_plan and len(plan.sites) == 3
    assert metrics(at)["Total cost over the term"] == A.gbp(plan.total_cost)


def test_going_back_to_the_sample() -> None:
    at = goto(tiny_app(), "data")
    at.button[0].click().run()  # "Go back to the sample"
    assert at.session_state["data_inputs"].is_sample


def test_a_scenario_saved_reloaded_and_deleted(tmp_path) -> None:
    at = goto(tiny_app(), "plan")
    at.button(key="plan_solve").click().run()
    solved = at.session_state["plan_result"]
    goto(at, "scenarios")
    at.text_input(key="scenarios_name").set_value("Tiny collaborative").run()
    at.button(key="scenarios_save").click().run()
    assert not at.exception
    assert "Saved scenario 'Tiny collaborative'" in texts(at)
    store = ScenarioStore()
    assert store.path.parent == tmp_path / "data"
    saved = store.load("Tiny collaborative")
    assert saved.results["total_cost"] == pytest.approx(solved.plan.total_cost)
    assert saved.inputs["data"]["sites_csv"] == TINY_SITES.decode()

    # change everything, then load it back
    at.session_state["data_inputs"] = A.sample_inputs()
    at.session_state["scenario_controls"] = A.normalise_controls(
        {**TINY_CONTROLS, "route": "solo", "term_months": 24}
    )
    at.run()
    at.selectbox(key="scenarios_chosen").set_value("Tiny collaborative").run()
    at.button(key="scenarios_load").click().run()
    assert not at.exception
    assert "Loaded scenario 'Tiny collaborative'" in texts(at)
    assert at.session_state["data_inputs"].sites_csv == TINY_SITES
    assert at.session_state["scenario_controls"]["route"] == "collaborative"
    assert at.session_state["scenario_controls"]["term_months"] == 36
    goto(at, "plan")  # solves the loaded scenario on arrival
    assert metrics(at)["Total cost over the term"] == A.gbp(solved.plan.total_cost)

    goto(at, "scenarios")
    at.button(key="scenarios_delete").click().run()
    assert "Deleted scenario 'Tiny collaborative'" in texts(at)
    assert ScenarioStore().names() == []


def test_saved_scenarios_compare_side_by_side() -> None:
    at = goto(tiny_app(), "plan")
    at.button(key="plan_solve").click().run()
    goto(at, "scenarios")
    at.text_input(key="scenarios_name").set_value("A").run()
    at.button(key="scenarios_save").click().run()
    goto(at, "plan")
    at.selectbox(key="plan_w_route").set_value("solo").run()
    at.button(key="plan_solve").click().run()
    goto(at, "scenarios")
    at.text_input(key="scenarios_name").set_value("B").run()
    at.button(key="scenarios_save").click().run()
    assert not at.exception
    side = at.dataframe[-1].value
    assert {"A", "B"} <= set(side.columns)
    assert side.loc["Route", "A"] == "collaborative" and side.loc["Route", "B"] == "solo"


def test_catalogue_page_says_who_is_excluded_and_why() -> None:
    at = goto(tiny_app(), "catalogue")
    excluded = at.dataframe[0].value
    assert list(excluded["supplier_id"]) == ["gamma-old"]
    assert list(excluded["reason"]) == ["not HSCN compliant"]
    at.multiselect(key="catalogue_tech").set_value(["ethernet"]).run()
    offerings = at.dataframe[1].value
    assert list(offerings["offering_id"]) == ["alpha-eth-1000"]


def test_tradeoff_page_sweeps_the_budget() -> None:
    at = goto(tiny_app(), "tradeoff")
    at.slider(key="tradeoff_points").set_value(3).run()
    at.button(key="tradeoff_run").click().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) == 3
    assert list(frame["quality"]) == sorted(frame["quality"])


def test_shortlist_page_lists_alternatives() -> None:
    pytest.importorskip("procurement.shortlist")
    at = goto(tiny_app(), "shortlist")
    at.slider(key="shortlist_k").set_value(3).run()
    at.button(key="shortlist_run").click().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["rank"])[:1] == [1]
    assert frame["delta_vs_best"].iloc[0] == 0
    labels = [b.label for b in at.get("download_button")]
    assert "Excel workbook" in labels


def test_routes_page_shows_the_split(monkeypatch) -> None:
    routes = pytest.importorskip("procurement.routes", reason="procurement.routes is missing")
    calls = []
    real = routes.compare

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(routes, "compare", counting)
    at = goto(tiny_app(), "routes")
    at.button(key="routes_run").click().run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert {"Solo", "Collaborative", "Central"} <= set(m)
    data = A.load_data(tiny_inputs())
    expected = real(data.catalog, data.sites, A.controls_to_scenario(TINY_CONTROLS),
                    data.organisations_given)
    assert m["Solo"] == A.gbp(expected.totals[Route.SOLO])
    frames = [d.value for d in at.dataframe]
    allocation = next(f for f in frames if "allocated_cost" in f.columns)
    assert set(allocation["organisation"]) == {"org-a", "org-b"}
    assert (allocation["allocated_cost"] <= allocation["solo_cost"] + 0.01).all()
    assert allocation["allocated_cost"].sum() == pytest.approx(
        expected.totals[Route.COLLABORATIVE]
    )
    assert "no organisation or group of organisations would pay less" in texts(at)
    # another method shares the same costs again, without solving again
    at.radio(key="routes_method").set_value("proportional").run()
    assert not at.exception
    shares = next(d.value for d in at.dataframe if "allocated_cost" in d.value.columns)
    solo = shares["solo_cost"]
    assert list(shares["allocated_cost"]) == pytest.approx(
        list(solo / solo.sum() * expected.totals[Route.COLLABORATIVE])
    )
    goto(at, "plan")
    goto(at, "routes")
    assert len(calls) == 1
    labels = [b.label for b in at.get("download_button")]
    assert {"Excel workbook", "JSON"} <= set(labels)


class _FakeComparison:
    """What procurement.routes.compare returns, reduced to its SPEC JSON."""

    def __init__(self, method: str) -> None:
        self.method = method

    def to_dict(self) -> dict:
        return {
            "routes": {
                "solo": {"status": "optimal", "total_cost": 116.0},
                "collaborative": {"status": "optimal", "total_cost": 85.0},
                "central": {"status": "optimal", "total_cost": 100.0},
            },
            "savings": {"collaborative_vs_solo": 31.0, "central_vs_solo": 16.0},
            "allocation": {
                "method": self.method,
                "exact": True,
                "members": [
                    {"organisation": "org-a", "solo_cost": 80.0, "allocated_cost": 64.5,
                     "saving": 15.5, "std_error": None},
                    {"organisation": "org-b", "solo_cost": 36.0, "allocated_cost": 20.5,
                     "saving": 15.5, "std_error": None},
                ],
                "core": {"checked": True, "empty": False, "blocking_coalitions": [],
                         "individually_rational": True},
            },
        }


def test_routes_page_layout_with_a_stand_in_comparison(monkeypatch) -> None:
    """The page's own work, whatever state procurement.routes is in."""
    fake = types.ModuleType("procurement.routes")
    told = []

    def compare(catalog, sites, scenario, organisations, allocation="shapley", *, progress=None):
        for solved in (0, 2, 3):  # the page's progress bar is fed as coalitions are costed
            progress(solved, 3)
            told.append(solved)
        return _FakeComparison(allocation)

    fake.compare = compare
    monkeypatch.setitem(sys.modules, "procurement.routes", fake)
    at = goto(tiny_app(), "routes")
    at.button(key="routes_run").click().run()
    assert not at.exception
    assert told == [0, 2, 3]
    m = metrics(at)
    assert m["Solo"] == "£116" and m["Collaborative"] == "£85"
    body = texts(at)
    assert "The shapley split is stable" in body
    allocation = next(d.value for d in at.dataframe if "allocated_cost" in d.value.columns)
    assert list(allocation["allocated_cost"]) == [64.5, 20.5]


# =========================================================================== pure helpers


def test_gbp_and_percent() -> None:
    assert A.gbp(1234567.891) == "£1,234,568"
    assert A.gbp(-1234.5, pence=True) == "-£1,234.50"
    assert A.gbp(-0.2) == "£0"
    assert A.gbp(None) == "—"
    assert A.gbp(float("nan")) == "—"
    assert A.percent(0.1234) == "12.3%"


def test_data_inputs_digest_and_record_round_trip() -> None:
    data = tiny_inputs()
    again = A.DataInputs.from_record(json.loads(json.dumps(data.to_record())))
    assert again == data
    assert again.digest() == data.digest()
    assert data.with_sites(TINY_SITES + b"\n", "sites.csv").digest() != data.digest()
    bom = data.with_sites(b"\xef\xbb\xbf" + TINY_SITES, "sites.csv")
    assert A.DataInputs.from_record(bom.to_record()).sites_csv.startswith(b"\xef\xbb\xbf")


def test_sample_inputs_are_the_shipped_files() -> None:
    data = A.sample_inputs()
    assert data.is_sample
    assert len(data.catalog_files) == 17
    assert data.sites_csv == (ROOT / "examples" / "sites.csv").read_bytes()
    loaded = A.load_data(data)
    assert len(loaded.sites) == 150
    assert A.sample_controls()["start_date"] == "2027-04-01"


def test_load_data_reports_every_file_at_once() -> None:
    data = A.DataInputs(
        catalog_files=(A.NamedFile("c.yaml", b"suppliers: 7\n"),),
        catalog_label="c.yaml",
        sites_csv=b"site_id,organisation\n",
        sites_name="s.csv",
        organisations_csv=b"organisation,budget\nx,lots\n",
        organisations_name="o.csv",
    )
    with pytest.raises(InputError) as err:
        A.load_data(data)
    files = {p.file for p in err.value.problems}
    assert {"c.yaml", "s.csv", "o.csv"} <= files


def test_several_catalogue_files_are_merged_and_named() -> None:
    one = TINY_CATALOG
    other = b"""\
schema_version: 1
currency: GBP
suppliers:
  - id: delta-net
    name: Delta
    hscn_compliant: true
    regions: [london]
    offerings:
      - {id: delta-fttp, name: FTTP, technology: fibre, download_mbps: 100, upload_mbps: 20,
         availability_pct: 99.5, install_cost: 0, monthly_cost: 50}
"""
    files = [A.NamedFile("b.yaml", other), A.NamedFile("a.yaml", one)]
    catalog = A.catalog_from_files(files, "uploaded")
    assert [s.id for s in catalog.suppliers] == ["alpha-net", "beta-link", "gamma-old",
                                                 "delta-net"]
    with pytest.raises(InputError) as err:
        A.catalog_from_files([A.NamedFile("a.yaml", one), A.NamedFile("b.yml", one)], "uploaded")
    text = "\n".join(A.problem_lines(err.value.problems))
    assert "uploaded/b.yml:" in text and "duplicate supplier id 'alpha-net'" in text
    with pytest.raises(InputError, match="same name"):
        A.catalog_from_files([A.NamedFile("a.yaml", one), A.NamedFile("x/a.yaml", one)], "u")


def test_safe_file_name() -> None:
    assert A.safe_file_name("../../etc/passwd") == "passwd"
    assert A.safe_file_name("C:\\Users\\me\\sites (1).csv") == "sites -1-.csv"
    assert A.safe_file_name("", "x.csv") == "x.csv"


def test_the_sites_editor_round_trips() -> None:
    sites = A.load_data(tiny_inputs()).sites
    frame = A.editor_frame(sites)
    assert frame["technologies"].iloc[0] == ["fibre", "ethernet", "4g"]
    assert frame["bandwidth_mbps"].dtype == "float64"
    assert frame["allow_4g_primary"].dtype == bool
    again, csv_bytes = A.sites_from_editor(frame)
    assert again == sites
    assert csv_bytes.splitlines()[0].endswith(b",notes")


def test_edited_sites_are_validated_in_the_clis_words() -> None:
    frame = A.editor_frame(A.load_data(tiny_inputs()).sites)
    frame.loc[1, "region"] = "Narnia"
    frame.loc[2, "bandwidth_mbps"] = -3.0
    frame.loc[3, "technologies"] = ["wifi"]
    frame.loc[3, "go_live_by"] = date(2027, 1, 31)
    with pytest.raises(InputError) as err:
        A.sites_from_editor(frame)
    lines = A.problem_lines(err.value.problems)
    assert lines[0].startswith("sites table:3: region: unknown region 'Narnia'")
    assert lines[1] == "sites table:4: bandwidth_mbps: must be greater than 0 (got -3)"
    assert lines[2].startswith("sites table:5: technologies: wifi is not a link technology")
    problems = A.problems_frame(err.value.problems)
    assert list(problems["line"]) == [3, 4, 5]


def test_edited_rows_added_and_blank() -> None:
    frame = A.editor_frame(A.load_data(tiny_inputs()).sites)
    extra = {c: None for c in frame.columns}
    extra.update(site_id="s5", organisation="org-c", region="midlands", bandwidth_mbps=20.0,
                 technologies=["fibre"], priority=5, go_live_by=date(2027, 3, 31))
    blank = {c: None for c in frame.columns}
    frame = pd.concat([frame, pd.DataFrame([extra, blank])], ignore_index=True)
    sites, _ = A.sites_from_editor(frame)
    assert [s.site_id for s in sites][-1] == "s5"
    assert sites[-1].go_live_by == date(2027, 3, 31)
    assert sites[-1].priority == 5


def test_controls_to_scenario_and_back() -> None:
    values = {**A.DEFAULT_CONTROLS, "route": "central", "budget": 5e5,
              "start_date": date(2027, 4, 1), "exclude_suppliers": ["b", "a", "a"],
              "max_supplier_share": 0.5}
    scenario = A.controls_to_scenario(values)
    assert scenario.route is Route.CENTRAL
    assert scenario.exclude_suppliers == ("a", "b")
    assert A.controls_from_scenario(scenario)["budget"] == 5e5
    assert A.normalise_controls(values)["start_date"] == "2027-04-01"
    with pytest.raises(InputError) as err:
        A.controls_to_scenario({**values, "min_suppliers": 3, "max_suppliers": 2})
    assert "min_suppliers (3) is above max_suppliers (2)" in str(err.value)
    with pytest.raises(InputError) as err:
        A.controls_to_scenario({**values, "max_supplier_share": 1.5})
    assert "max_supplier_share" in str(err.value)


def test_cache_keys_are_canonical() -> None:
    a = A.controls_to_scenario({**TINY_CONTROLS, "exclude_suppliers": ["x", "y"]})
    b = A.controls_to_scenario({**TINY_CONTROLS, "exclude_suppliers": ["y", "x"]})
    assert A.cache_key("plan", tiny_inputs(), a) == A.cache_key("plan", tiny_inputs(), b)
    c = a.model_copy(update={"term_months": 24})
    assert A.cache_key("plan", tiny_inputs(), a) != A.cache_key("plan", tiny_inputs(), c)
    assert A.cache_key({"b": 1, "a": b"x"}) == A.cache_key({"a": b"x", "b": 1})


def test_plan_metrics_and_headline() -> None:
    plan, _, _ = tiny_plan()
    m = A.plan_metrics(plan)
    assert m.total_cost == pytest.approx(plan.total_cost)
    assert m.per_site_per_month == pytest.approx(plan.total_cost / (4 * 36))
    assert m.suppliers_used == 2
    assert m.saving == pytest.approx(plan.baseline.saving)
    assert m.baseline_sites == 3
    assert A.plan_headline(plan)[0] == "success"
    bad, _, _ = tiny_plan(budget=100)
    kind, words = A.plan_headline(bad)
    assert kind == "error" and "No plan fits" in words
    assert A.diagnostics_by_level(bad)[0][0] == "error"


def test_site_table_shows_links_and_runner_up() -> None:
    from procurement.runner_up import with_runner_ups

    plan, data, scenario = tiny_plan()
    plan = with_runner_ups(plan, data.catalog, data.sites, scenario, data.organisations_given)
    table = A.site_table(plan)
    assert list(table["site_id"]) == ["s1", "s2", "s3", "s4"]
    assert table.loc[0, "wifi"] == "Managed Wi-Fi (alpha-net) × 2"
    assert table["runner_up_margin"].notna().any()


def test_plan_record_is_json() -> None:
    plan, _, _ = tiny_plan()
    record = A.plan_record(plan)
    again = json.loads(json.dumps(record))
    assert again["total_cost"] == pytest.approx(plan.total_cost)
    assert again["plan"]["status"] == "optimal"
    none, _, _ = tiny_plan(budget=100)
    assert A.plan_record(none)["total_cost"] is None  # no plan is not a plan costing £0


def test_plan_downloads_open() -> None:
    plan, _, _ = tiny_plan()
    book = openpyxl.load_workbook(io.BytesIO(exports.plan_to_xlsx(plan)))
    assert "Sites" in book.sheetnames
    assert json.loads(exports.plan_to_json(plan))["total_cost"] == pytest.approx(plan.total_cost)


def test_supplier_and_offering_frames_and_filters() -> None:
    data = A.load_data(tiny_inputs())
    scenario = A.controls_to_scenario({**TINY_CONTROLS, "exclude_suppliers": ["beta-link"]})
    suppliers = A.supplier_frame(data.catalog, scenario).set_index("supplier_id")
    assert suppliers.loc["gamma-old", "excluded_because"] == "not HSCN compliant"
    assert suppliers.loc["beta-link", "excluded_because"] == "excluded by the scenario"
    assert bool(suppliers.loc["alpha-net", "usable"])
    expired = scenario.model_copy(update={"start_date": date(2030, 1, 1)})
    assert A.excluded_suppliers(data.catalog, expired)[0][0] == "beta-link"
    offerings = A.offering_frame(data.catalog, scenario)
    assert len(offerings) == 6
    assert len(A.filter_offerings(offerings, technologies=["fibre"])) == 3
    assert set(A.filter_offerings(offerings, regions=["south-east"])["supplier_id"]) == {
        "alpha-net"
    }
    assert "gamma-old" not in set(A.filter_offerings(offerings, route="central")["supplier_id"])
    assert set(A.filter_offerings(offerings, usable_only=True)["supplier_id"]) == {"alpha-net"}


def test_route_and_allocation_frames() -> None:
    fake = _FakeComparison("shapley")
    routes = A.routes_frame(fake).set_index("route")
    assert routes.loc["collaborative", "saving_vs_solo"] == 31.0
    assert routes.loc["central", "saving_pct"] == pytest.approx(16 / 116)
    allocation = A.allocation_frame(fake)
    assert list(allocation["saving_pct"]) == pytest.approx([15.5 / 80, 15.5 / 36])
    assert A.core_words(fake)[0] == "success"
    frames = A.comparison_frames(fake)
    assert set(frames) == {"Summary", "Routes", "Allocation", "Blocking coalitions"}
    book = openpyxl.load_workbook(io.BytesIO(exports.frames_to_xlsx(frames)))
    assert book.sheetnames[:3] == ["Summary", "Routes", "Allocation"]


def test_real_comparison_frames_and_reallocation() -> None:
    routes = pytest.importorskip("procurement.routes")
    data = A.load_data(tiny_inputs())
    comparison = routes.compare(
        data.catalog, data.sites, A.controls_to_scenario(TINY_CONTROLS), data.organisations_given
    )
    table = A.routes_frame(comparison).set_index("route")
    assert table.loc["solo", "total_cost"] == pytest.approx(comparison.totals[Route.SOLO])
    assert table.loc["collaborative", "saving_vs_solo"] == pytest.approx(
        comparison.totals[Route.SOLO] - comparison.totals[Route.COLLABORATIVE]
    )
    assert A.core_words(comparison)[0] == "success"
    proportional = A.with_allocation(comparison, "proportional")
    assert str(proportional.allocation.method) == "proportional"
    assert A.with_allocation(proportional, "proportional") is proportional
    shares = A.allocation_frame(proportional)
    first = shares["saving_pct"].iloc[0]  # everyone saves the same percentage
    assert list(shares["saving_pct"]) == pytest.approx([first] * len(shares))
    assert set(A.what_if_frame(comparison)["organisation"]) == {"org-a", "org-b"}
    frames = A.comparison_frames(comparison)
    assert {"Summary", "Routes", "Allocation"} <= set(frames)
    book = openpyxl.load_workbook(io.BytesIO(exports.frames_to_xlsx(frames)))
    assert "Routes" in book.sheetnames


def test_blocking_coalitions_are_named() -> None:
    class Blocked(_FakeComparison):
        def to_dict(self) -> dict:
            out = super().to_dict()
            out["allocation"]["core"]["blocking_coalitions"] = [["org-a", "org-b"]]
            return out

    assert A.blocking_coalitions(Blocked("proportional")) == [["org-a", "org-b"]]
    kind, words = A.core_words(Blocked("proportional"))
    assert kind == "warning" and "org-a + org-b" in words


def test_shortlist_frames_and_downloads() -> None:
    shortlist_mod = pytest.importorskip("procurement.shortlist")
    data = A.load_data(tiny_inputs())
    scenario = A.controls_to_scenario(TINY_CONTROLS)
    result = shortlist_mod.shortlist(
        data.catalog, data.sites, scenario, data.organisations_given, k=3
    )
    frame = A.shortlist_frame(result)
    assert list(frame["rank"]) == list(range(1, len(result.plans) + 1))
    assert frame["delta_vs_best"].iloc[0] == 0
    book = openpyxl.load_workbook(io.BytesIO(exports.frames_to_xlsx(A.shortlist_frames(result))))
    assert "Shortlist" in book.sheetnames
    assert exports.frames_to_csv(frame).startswith(b"\xef\xbb\xbfrank,")


def test_budget_sweep_rises_and_reports_progress() -> None:
    data = A.load_data(tiny_inputs())
    scenario = A.controls_to_scenario(TINY_CONTROLS)
    seen = []
    result = A.budget_sweep(
        lambda s: solve(data.catalog, data.sites, s, data.organisations_given),
        scenario,
        points=4,
        progress=lambda done, total, words: seen.append((done, total)),
    )
    frame = result.frame
    assert len(frame) == 4
    assert frame["budget"].is_monotonic_increasing
    assert frame["quality"].is_monotonic_increasing
    assert (frame["total_cost"] <= frame["budget"] + 0.01).all()
    assert frame["budget"].iloc[0] == pytest.approx(result.cheapest.total_cost, abs=0.01)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)


def test_budget_sweep_with_no_plan_says_so() -> None:
    data = A.load_data(tiny_inputs())
    scenario = A.controls_to_scenario({**TINY_CONTROLS, "exclude_suppliers": ["alpha-net"]})
    result = A.budget_sweep(
        lambda s: solve(data.catalog, data.sites, s, data.organisations_given), scenario
    )
    assert result.frame.empty and "nothing to sweep" in result.message


def test_budget_sweep_says_when_the_solver_ran_out_of_time() -> None:
    plan, _, scenario = tiny_plan()
    empty, _, _ = tiny_plan(budget=100)  # an infeasible plan, as a timed-out solve returns

    def flaky(s):
        return plan if s.objective.value == "cost" else empty

    result = A.budget_sweep(flaky, scenario, points=3)
    assert "raise the time limit" in result.message
    assert result.frame["quality"].isna().all()
    assert result.frame["budget"].iloc[-1] == pytest.approx(2 * plan.total_cost, abs=0.01)


def test_sweep_budgets() -> None:
    assert A.sweep_budgets(100, 200, 3) == [100, 150, 200]
    assert A.sweep_budgets(100, 100, 5) == [100]


def test_saved_comparison_frames() -> None:
    store = ScenarioStore()
    plan, _, _ = tiny_plan()
    store.save("one", A.scenario_inputs_record(tiny_inputs(), TINY_CONTROLS), A.plan_record(plan))
    store.save("two", A.scenario_inputs_record(tiny_inputs(), {**TINY_CONTROLS, "budget": 9e4}),
               {"status": "infeasible", "total_cost": None})
    frame = A.saved_comparison_frame(store.load_many(["one", "two"]))
    assert list(frame["scenario"]) == ["one", "two"]
    assert frame.loc[0, "total_cost"] == pytest.approx(plan.total_cost)
    side = A.saved_side_by_side(frame)
    assert side.loc["Total over the term", "one"] == A.gbp(plan.total_cost)
    assert side.loc["Total over the term", "two"] == "—"
    assert side.loc["Budget", "two"] == "£90,000"
    data, controls = A.scenario_from_record(store.load("two").inputs)
    assert data == tiny_inputs() and controls["budget"] == 9e4
