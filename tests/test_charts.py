"""Charts are pure functions from tables to Altair specs: checked through ``to_dict()``."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import pytest
from conftest import catalog, offering, org, scenario, site, supplier

from procurement import app_state as A
from procurement import charts
from procurement.charts import plan as plan_charts
from procurement.charts import routes as route_charts
from procurement.models import Fees, VolumeTier
from procurement.optimiser import solve


@pytest.fixture(scope="module")
def plan():
    cat = catalog(
        supplier(
            "alpha",
            [
                offering("alpha-fibre", "fibre", install_cost=100, monthly_cost=60),
                offering("alpha-4g", "4g", download_mbps=30, monthly_cost=25),
                offering("alpha-wifi", "wifi", install_cost=50, monthly_cost=8),
            ],
            fees=Fees(onboarding=500, annual_management=240),
            volume_discounts=(VolumeTier(min_sites=2, discount=0.1),),
        ),
        supplier("beta", [offering("beta-fibre", "fibre", download_mbps=300, monthly_cost=70)]),
    )
    sites = [
        site("s1", "org-a", wifi_aps=2, current_monthly_cost=120),
        site("s2", "org-a", resilience="backup", current_monthly_cost=150),
        site("s3", "org-b", bandwidth_mbps=200, current_monthly_cost=300),
    ]
    return solve(cat, sites, scenario(), [org("org-a", 1e6), org("org-b", 100)])


def datasets(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(spec.get("datasets", {}).values())


def only_dataset(spec: dict[str, Any]) -> list[dict[str, Any]]:
    (values,) = [v for v in datasets(spec) if v]
    return values


def money_axis_of(encoding: dict[str, Any]) -> str:
    return encoding["axis"]["labelExpr"]


# --------------------------------------------------------------------------- plan


def test_supplier_cost_frame_adds_up_to_the_total(plan) -> None:
    frame = plan_charts.supplier_cost_frame(plan)
    assert frame["cost"].sum() == pytest.approx(plan.total_cost)
    assert set(frame["technology"]) >= {"fibre", plan_charts.FEES}
    assert frame.loc[frame["technology"] == plan_charts.FEES, "supplier_id"].tolist() == ["alpha"]


def test_cost_by_supplier_chart(plan) -> None:
    frame = plan_charts.supplier_cost_frame(plan)
    chart = charts.cost_by_supplier_chart(frame)
    assert isinstance(chart, alt.Chart)
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "bar"
    enc = spec["encoding"]
    assert enc["x"]["field"] == "cost" and enc["x"]["aggregate"] == "sum"
    assert "£" in money_axis_of(enc["x"])
    assert enc["color"]["field"] == "technology"
    totals = frame.groupby("supplier_id")["cost"].sum().sort_values(ascending=False)
    assert enc["y"]["sort"] == list(totals.index)
    assert len(only_dataset(spec)) == len(frame)


def test_organisation_budget_chart_marks_overspend(plan) -> None:
    frame = plan_charts.organisation_cost_frame(plan)
    assert list(frame["organisation"]) == ["org-a", "org-b"]
    assert list(frame["over_budget"]) == [False, True]
    spec = charts.organisation_budget_chart(frame).to_dict()
    bars, ticks = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["color"]["field"] == "against_budget"
    assert list(frame["against_budget"]) == ["within budget", "over budget"]
    assert ticks["mark"]["type"] == "tick"
    assert ticks["transform"] == [{"filter": "isValid(datum.budget)"}]


def test_spend_over_term(plan) -> None:
    frame = plan_charts.spend_over_term_frame(plan)
    assert frame["month"].min() == 0 and frame["month"].max() == plan.term_months
    last = frame[frame["month"] == plan.term_months].set_index("component")["cumulative"]
    spent = last.drop(plan_charts.BASELINE).sum()
    assert spent == pytest.approx(plan.total_cost)
    assert last[plan_charts.BASELINE] == pytest.approx(plan.baseline.cost)
    first = frame[frame["month"] == 0].set_index("component")["cumulative"]
    assert first[plan_charts.ONE_OFF] == pytest.approx(plan.breakdown.one_off)
    assert first[plan_charts.RECURRING] == 0
    spec = charts.spend_over_term_chart(frame).to_dict()
    area, line = spec["layer"]
    assert area["mark"]["type"] == "area" and line["mark"]["type"] == "line"
    assert area["encoding"]["y"]["stack"] == "zero"


def test_spend_over_term_without_a_baseline(plan) -> None:
    frame = plan_charts.spend_over_term_frame(plan)
    frame = frame[frame["component"] != plan_charts.BASELINE]
    spec = charts.spend_over_term_chart(frame).to_dict()
    assert len(spec["layer"]) == 2  # the line layer is simply empty


# --------------------------------------------------------------------------- routes


def routes_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "route": ["solo", "collaborative", "central"],
            "total_cost": [116.0, 85.0, None],
            "saving_vs_solo": [0.0, 31.0, None],
        }
    )


def test_route_totals_chart() -> None:
    spec = charts.route_totals_chart(routes_frame()).to_dict()
    bars, labels = spec["layer"]
    assert bars["encoding"]["x"]["sort"] == ["solo", "collaborative", "central"]
    assert "£" in money_axis_of(bars["encoding"]["y"])
    assert labels["mark"]["type"] == "text"
    values = only_dataset(spec)
    assert [v["route"] for v in values] == ["solo", "collaborative"]  # no plan, no bar


def test_allocation_chart() -> None:
    frame = pd.DataFrame(
        {
            "organisation": ["a", "b"],
            "solo_cost": [80.0, 36.0],
            "allocated_cost": [64.5, 20.5],
            "saving": [15.5, 15.5],
        }
    )
    long = route_charts.allocation_long_frame(frame)
    assert len(long) == 4
    assert long.groupby("measure")["cost"].sum().to_dict() == {
        "buying alone (solo)": 116.0,
        "share of the consortium": 85.0,
    }
    spec = charts.allocation_chart(frame).to_dict()
    assert spec["encoding"]["yOffset"]["field"] == "measure"
    assert spec["encoding"]["x"]["field"] == "cost"


# --------------------------------------------------------------------------- catalogue


def test_price_bandwidth_chart_leaves_out_wifi(plan) -> None:
    cat = catalog(
        supplier("alpha", [offering("a-fibre", "fibre"), offering("a-wifi", "wifi")]),
        supplier("old", [offering("o-eth", "ethernet", download_mbps=1000, monthly_cost=0)],
                 hscn_compliant=False),
    )
    frame = A.offering_frame(cat, scenario())
    spec = charts.price_bandwidth_chart(frame).to_dict()
    enc = spec["encoding"]
    assert enc["x"]["scale"]["type"] == "log" and enc["y"]["scale"]["type"] == "log"
    assert enc["color"]["field"] == "technology"
    values = only_dataset(spec)
    assert sorted(v["offering_id"] for v in values) == ["a-fibre", "o-eth"]
    # a free offering still has a point on a log axis
    assert min(v["monthly_cost_plot"] for v in values) == 1
    assert {v["usable"] for v in values} == {True, False}


# --------------------------------------------------------------------------- trade-off


def test_tradeoff_chart() -> None:
    frame = pd.DataFrame(
        {
            "budget": [100.0, 150.0, 200.0],
            "quality": [10.0, 12.0, None],
            "quality_per_site": [5.0, 6.0, None],
            "total_cost": [100.0, 140.0, None],
            "served": [2, 2, 0],
            "status": ["optimal", "optimal", "infeasible"],
            "suppliers": ["a", "a, b", ""],
        }
    )
    spec = charts.tradeoff_chart(frame).to_dict()
    line, points = spec["layer"]
    assert line["mark"]["interpolate"] == "step-after"
    assert points["encoding"]["tooltip"][0]["title"] == "Budget (£)"
    assert line["encoding"]["y"]["field"] == "quality"
    assert "£" in money_axis_of(line["encoding"]["x"])
    assert len(only_dataset(spec)) == 2
    per_site = charts.tradeoff_chart(frame, per_site=True).to_dict()
    assert per_site["layer"][0]["encoding"]["y"]["field"] == "quality_per_site"


# --------------------------------------------------------------------------- scenarios


def test_scenario_comparison_chart() -> None:
    frame = pd.DataFrame(
        {
            "scenario": ["one", "two", "three"],
            "route": ["solo", "collaborative", "central"],
            "status": ["optimal", "optimal", "infeasible"],
            "total_cost": [10.0, 8.0, None],
            "per_site_per_month": [1.0, 0.8, None],
            "saving": [None, 2.0, None],
            "suppliers_used": [1, 2, None],
        }
    )
    spec = charts.scenario_comparison_chart(frame).to_dict()
    assert spec["encoding"]["y"]["sort"] == ["one", "two"]
    assert spec["encoding"]["color"]["field"] == "route"
    assert [v["scenario"] for v in only_dataset(spec)] == ["one", "two"]


def test_empty_tables_still_make_valid_charts() -> None:
    empty_costs = pd.DataFrame(columns=["supplier_id", "technology", "cost"])
    charts.cost_by_supplier_chart(empty_costs).to_dict()
    empty_orgs = pd.DataFrame(
        columns=["organisation", "name", "cost", "budget", "over_budget", "against_budget"]
    )
    charts.organisation_budget_chart(empty_orgs).to_dict()
    charts.route_totals_chart(pd.DataFrame(columns=["route", "total_cost", "saving_vs_solo"]))
    empty_offers = pd.DataFrame(columns=list(A.OFFERING_COLUMNS))
    charts.price_bandwidth_chart(empty_offers).to_dict()
