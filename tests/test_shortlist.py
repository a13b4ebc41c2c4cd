"""Shortlists: distinct supplier sets, ranked, each a feasible plan; and the CLI.

Every shortlisted plan is re-checked from its chosen offerings alone: it is
re-priced with :func:`procurement.costing.price` and checked site by site and
constraint by constraint with the independent brute-force reference. On small
instances the totals are compared with the brute-force best plan per supplier
set.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import bruteforce as bf
import pytest
from conftest import catalog, instances, offering, org, scenario, site, supplier
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from procurement.costing import price
from procurement.inputs import resolve_organisations
from procurement.models import Catalog, Scenario, Site
from procurement.options import eligible_suppliers
from procurement.plan import PlanStatus
from procurement.runner_up import plan_choice
from procurement.shortlist import Shortlist, ShortlistEntry, shortlist

ROOT = Path(__file__).resolve().parent.parent


def close(a: float, b: float) -> bool:
    return abs(a - b) <= bf.money_tol(max(abs(a), abs(b)))


def options_of(entry: ShortlistEntry, cat: Catalog) -> dict[str, bf.Option | None]:
    """The entry's plan as brute-force options (primary, secondary, wifi)."""
    out: dict[str, bf.Option | None] = {}
    for sp in entry.plan.sites:
        out[sp.site_id] = None if not sp.served else tuple(
            None if link is None else cat.offering_by_id[link.offering_id]
            for link in (sp.primary, sp.secondary, sp.wifi)
        )
    return out


def check_shortlist(sl: Shortlist, cat: Catalog, sites, sc: Scenario, orgs) -> None:
    """The properties every shortlist must have."""
    entries = sl.plans
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) <= sl.k
    assert sl.exhausted == (len(entries) < sl.k)
    assert (sl.message is not None) == sl.exhausted
    # pairwise different supplier sets
    sets = [frozenset(e.suppliers) for e in entries]
    assert len(set(sets)) == len(sets)
    # best first: with the cost objective, totals never decrease
    totals = [e.total_cost for e in entries]
    if sc.objective == "cost" and not sc.allow_partial:
        assert all(a <= b + bf.money_tol(b) for a, b in itertools.pairwise(totals))
    for e in entries:
        assert e.delta_vs_best == pytest.approx(e.total_cost - entries[0].total_cost)
        assert e.suppliers == e.plan.supplier_ids and e.status is e.plan.status
        assert e.status is not PlanStatus.INFEASIBLE
        # re-check as a feasible plan from the chosen offerings alone
        choice = plan_choice(e.plan, cat, sites, sc)
        priced = price(choice, sites, resolve_organisations(sites, orgs or ()), sc,
                       eligible_suppliers(cat, sc))
        assert close(priced.total_cost, e.total_cost)
        used = {link.supplier_id for sp in priced.sites for link in sp.links}
        assert used == set(e.suppliers)
        options = options_of(e, cat)
        for s in sites:
            opt = options[s.site_id]
            if opt is None:
                assert sc.allow_partial
                continue
            valid = {bf.option_ids(o) for o in bf.site_options(s, cat, sc)}
            assert bf.option_ids(opt) in valid, (s.site_id, bf.option_ids(opt))
        assert bf.violations(options, sites, cat, sc, orgs) == []
        assert close(bf.price(options, sites, cat, sc, orgs)["total"], e.total_cost)


# --------------------------------------------------------------------------- hand-worked


def two_sets_only():
    """One fibre-only site and two suppliers with one fibre each: sets {a} and {b}."""
    cat = catalog(
        supplier("sup-a", [offering("a-fibre", monthly_cost=100)]),
        supplier("sup-b", [offering("b-fibre", monthly_cost=120)]),
        supplier("sup-c", [offering("c-4g", "4g", monthly_cost=10)]),  # fibre-only site: unusable
    )
    sites = [site("s1", technologies=["fibre"])]
    return cat, sites, scenario(term_months=12)


def test_stops_early_with_a_message_when_fewer_than_k_sets_exist() -> None:
    cat, sites, sc = two_sets_only()
    sl = shortlist(cat, sites, sc, k=5)
    assert [e.suppliers for e in sl.plans] == [("sup-a",), ("sup-b",)]
    assert [e.total_cost for e in sl.plans] == pytest.approx([1200.0, 1440.0])
    assert [e.delta_vs_best for e in sl.plans] == pytest.approx([0.0, 240.0])
    assert sl.exhausted and sl.message is not None
    assert "only 2 distinct supplier sets" in sl.message and "5" in sl.message
    check_shortlist(sl, cat, sites, sc, None)


def test_k_plans_found_is_not_exhausted() -> None:
    cat, sites, sc = two_sets_only()
    sl = shortlist(cat, sites, sc, k=2)
    assert len(sl.plans) == 2 and not sl.exhausted and sl.message is None
    one = shortlist(cat, sites, sc, k=1)
    assert len(one.plans) == 1 and one.plans[0].suppliers == ("sup-a",)


def test_json_shape_follows_the_spec() -> None:
    cat, sites, sc = two_sets_only()
    data = json.loads(json.dumps(shortlist(cat, sites, sc, k=3).to_dict()))
    assert set(data) >= {"plans"}
    assert data["exhausted"] is True and isinstance(data["message"], str)
    first = data["plans"][0]
    assert set(first) == {"rank", "suppliers", "total_cost", "delta_vs_best", "status"}
    assert first == {"rank": 1, "suppliers": ["sup-a"], "total_cost": pytest.approx(1200.0),
                     "delta_vs_best": 0.0, "status": "optimal"}


def test_frames_have_one_row_per_plan() -> None:
    cat, sites, sc = two_sets_only()
    frames = shortlist(cat, sites, sc, k=3).to_frames()
    table = frames["shortlist"]
    assert list(table["rank"]) == [1, 2]
    assert list(table["suppliers"]) == ["sup-a", "sup-b"]
    assert list(table["adds_vs_best"]) == ["", "sup-b"]
    assert list(table["drops_vs_best"]) == ["", "sup-a"]
    assert table["delta_pct"].tolist() == pytest.approx([0.0, 0.2])
    summary = dict(zip(frames["summary"]["item"], frames["summary"]["value"], strict=True))
    assert summary["plans_found"] == 2 and summary["exhausted"] is True


def test_no_plan_at_all_gives_an_empty_shortlist_that_says_why() -> None:
    cat = catalog(supplier("sup-a", [offering("a-fibre")]))
    sites = [site("s1", bandwidth_mbps=5000)]
    sl = shortlist(cat, sites, scenario(), k=3)
    assert sl.plans == () and not sl.has_plan and sl.exhausted
    assert sl.message and sl.diagnostics
    data = sl.to_dict()
    assert data["plans"] == [] and any(d["site_id"] == "s1" for d in data["diagnostics"])


def test_k_must_be_positive() -> None:
    cat, sites, sc = two_sets_only()
    with pytest.raises(ValueError):
        shortlist(cat, sites, sc, k=0)


def test_supplier_sets_count_over_all_parties_on_solo() -> None:
    """On solo, {a for org-1, b for org-2} and the swap are the same set: listed once."""
    cat = catalog(
        supplier("sup-a", [offering("a-fibre", monthly_cost=100)]),
        supplier("sup-b", [offering("b-fibre", monthly_cost=100)]),
    )
    sites = [site("s1", "org-1", technologies=["fibre"]),
             site("s2", "org-2", technologies=["fibre"])]
    sc = scenario(route="solo", term_months=12)
    sl = shortlist(cat, sites, sc, [org("org-1"), org("org-2")], k=5)
    sets = [frozenset(e.suppliers) for e in sl.plans]
    assert sorted(map(sorted, sets)) == [["sup-a"], ["sup-a", "sup-b"], ["sup-b"]]
    check_shortlist(sl, cat, sites, sc, [org("org-1"), org("org-2")])


def test_quality_objective_ranks_by_quality_first() -> None:
    cat = catalog(
        supplier("sup-a", [offering("a-fibre", monthly_cost=100, quality_score=90)]),
        supplier("sup-b", [offering("b-fibre", monthly_cost=50, quality_score=40)]),
    )
    sites = [site("s1", technologies=["fibre"])]
    sc = scenario(term_months=12, objective="quality", budget=10_000)
    sl = shortlist(cat, sites, sc, k=3)
    assert [e.suppliers for e in sl.plans] == [("sup-a",), ("sup-b",)]
    assert sl.plans[1].delta_vs_best == pytest.approx(-600.0)
    check_shortlist(sl, cat, sites, sc, None)


# --------------------------------------------------------------------------- properties


def reference(cat, sites, sc: Scenario, orgs, k: int) -> list[tuple[float, ...]]:
    """Brute force: the best plan key per supplier set, best k, as (key...) tuples."""
    enum = bf.enumerate_plans(cat, sites, sc, limit=30_000)
    budget = bf.effective_budget(sites, sc, orgs)
    by_org = (
        {o: b for o, b in bf.org_budgets(sites, orgs).items() if b is not None}
        if sc.route != "collaborative" else {}
    )
    supplier_of = bf.suppliers_by_offering(cat)
    best: dict[frozenset[str], tuple[float, ...]] = {}
    for r in enum.records:
        if budget is not None and not bf.within_budget(r.total, budget):
            continue
        if any(not bf.within_budget(r.party_costs.get(o, 0.0), b) for o, b in by_org.items()):
            continue
        assignment = enum.assignment(r.choice)
        used = frozenset(
            supplier_of[o.id].id for opt in assignment.values() if opt for o in opt if o
        )
        key: tuple[float, ...] = (-r.priority, r.total) if sc.allow_partial else (r.total,)
        if used not in best or key < best[used]:
            best[used] = key
    return sorted(best.values())[:k]


@st.composite
def shortlist_cases(draw: st.DrawFn):
    inst = draw(instances())
    fields = {
        "route": draw(st.sampled_from(("solo", "collaborative", "central"))),
        "term_months": draw(st.sampled_from((12, 24, 36))),
        "allow_partial": draw(st.sampled_from((False, False, False, True))),
        "max_suppliers": draw(st.sampled_from((None, None, 1, 2))),
        "min_suppliers": draw(st.sampled_from((None, None, None, 2))),
        "max_supplier_share": draw(st.sampled_from((None, None, None, 0.75))),
        "max_supplier_changes": draw(st.sampled_from((None, None, None, 1))),
        "required_certifications": draw(st.sampled_from(((), (), ("iso27001",)))),
    }
    if fields["min_suppliers"] and fields["max_suppliers"] == 1:
        fields["min_suppliers"] = None
    sc = scenario(**fields)
    k = draw(st.sampled_from((1, 2, 3, 4, 5, 5)))
    return inst, sc, k


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(shortlist_cases())
def test_shortlist_plans_are_distinct_ranked_feasible_and_match_brute_force(case) -> None:
    inst, sc, k = case
    cat, sites, orgs = inst.catalog, inst.sites, inst.organisations
    assume(bf.count_assignments(cat, sites, sc) <= 30_000)
    sl = shortlist(cat, sites, sc, orgs, k=k)
    check_shortlist(sl, cat, sites, sc, orgs)
    want = reference(cat, sites, sc, orgs, k)
    event(f"plans found: {len(sl.plans)} of {k}")
    assert len(sl.plans) == len(want)
    for e, key in zip(sl.plans, want, strict=True):
        assert close(e.total_cost, key[-1]), (e.suppliers, e.total_cost, key)
        if sc.allow_partial:
            assert -sum(s.priority for s in e.plan.served_sites) == key[0]


# --------------------------------------------------------------------------- the CLI


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the shortlist subcommand through its own parser (registration-independent)."""
    from procurement.cli import common
    from procurement.cli import shortlist as command

    parser = argparse.ArgumentParser(prog="hscn-procure")
    sub = parser.add_subparsers(dest="command", required=True)
    command.register(sub)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            args = parser.parse_args(["shortlist", *argv])
        except SystemExit as exc:
            return int(exc.code or 0), out.getvalue(), err.getvalue()
        code = common.run_command(args)
    return code, out.getvalue(), err.getvalue()


def write_inputs(tmp_path: Path, cat: Catalog, sites: list[Site]) -> list[str]:
    import yaml

    cat_file = tmp_path / "catalog.yaml"
    cat_file.write_text(yaml.safe_dump(cat.model_dump(mode="json", exclude_none=True)))
    rows = ["site_id,organisation,region,bandwidth_mbps,technologies"]
    rows += [
        f"{s.site_id},{s.organisation},{s.region.value},{s.bandwidth_mbps:g},"
        + ";".join(sorted(t.value for t in s.technologies))
        for s in sites
    ]
    sites_file = tmp_path / "sites.csv"
    sites_file.write_text("\n".join(rows) + "\n")
    return ["--catalog", str(cat_file), "--sites", str(sites_file),
            "--start-date", "2025-01-01", "--term-months", "12"]


def test_cli_json_and_exit_codes(tmp_path: Path) -> None:
    cat, sites, _ = two_sets_only()
    base = write_inputs(tmp_path, cat, sites)
    code, out, err = run_cli([*base, "-k", "3", "--format", "json"])
    assert code == 0, err
    data = json.loads(out)
    assert [p["suppliers"] for p in data["plans"]] == [["sup-a"], ["sup-b"]]
    assert [p["rank"] for p in data["plans"]] == [1, 2]
    assert data["exhausted"] is True and "only 2" in data["message"]
    assert math.isclose(data["plans"][1]["delta_vs_best"], 240.0)


def test_cli_table_is_the_default(tmp_path: Path) -> None:
    cat, sites, _ = two_sets_only()
    code, out, err = run_cli(write_inputs(tmp_path, cat, sites))
    assert code == 0, err
    assert "sup-a" in out and "sup-b" in out and "only 2" in out


def test_cli_infeasible_exits_3_with_json_that_says_why(tmp_path: Path) -> None:
    cat = catalog(supplier("sup-a", [offering("a-fibre")]))
    sites = [site("s1", bandwidth_mbps=5000)]
    code, out, _ = run_cli([*write_inputs(tmp_path, cat, sites), "--format", "json"])
    assert code == 3
    data = json.loads(out)
    assert data["plans"] == [] and data["diagnostics"]


def test_cli_bad_k_is_a_usage_error(tmp_path: Path) -> None:
    cat, sites, _ = two_sets_only()
    code, _, err = run_cli([*write_inputs(tmp_path, cat, sites), "-k", "0"])
    assert code == 2 and "-k" in err


def test_cli_files_csv_and_xlsx(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    from procurement import exports

    if not hasattr(exports, "shortlist_to_xlsx"):
        pytest.skip("shortlist exports not present")
    cat, sites, _ = two_sets_only()
    base = write_inputs(tmp_path, cat, sites)
    csv_out = tmp_path / "shortlist.csv"
    code, out, err = run_cli([*base, "--format", "csv", "--out", str(csv_out)])
    assert code == 0, err
    assert out == "" and csv_out.read_bytes().decode("utf-8-sig").startswith("rank,")
    xlsx_out = tmp_path / "shortlist.xlsx"
    code, _, err = run_cli([*base, "--format", "xlsx", "--out", str(xlsx_out)])
    assert code == 0, err
    from openpyxl import load_workbook

    assert "Shortlist" in load_workbook(xlsx_out).sheetnames
    code, _, err = run_cli([*base, "--format", "xlsx"])
    assert code == 2 and "--out" in err
