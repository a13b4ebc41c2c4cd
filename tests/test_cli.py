"""The command line as a buyer meets it: exit codes, stdout, stderr, files.

Commands run in-process through ``main([...])`` with ``capsys``; asserts carry
the captured output so a failure shows what the user would have seen. The
inputs are tiny files written per test, so the tests do not depend on the
sample data; solve tests skip until :mod:`procurement.optimiser` is present.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from procurement.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]

CATALOG = """\
schema_version: 1
currency: GBP
suppliers:
  - id: acme-net
    name: Acme Networks
    hscn_compliant: true
    compliance_expires: 2099-12-31
    regions: [london]
    certifications: [iso27001]
    fees: {onboarding: 1000, annual_management: 400}
    volume_discounts:
      - {min_sites: 2, discount: 0.05}
    central_framework: {discount: 0.07}
    offerings:
      - id: acme-fttp-100
        name: FTTP 100/20
        technology: fibre
        download_mbps: 100
        upload_mbps: 20
        availability_pct: 99.5
        install_cost: 200
        monthly_cost: 50
      - id: acme-4g
        name: 4G backup
        technology: 4g
        download_mbps: 30
        upload_mbps: 10
        availability_pct: 98
        install_cost: 50
        monthly_cost: 20
  - id: beta-link
    name: Beta Link
    hscn_compliant: true
    compliance_expires: 2025-02-15
    regions: [london]
    offerings:
      - id: beta-ethernet-100
        name: Ethernet 100
        technology: ethernet
        download_mbps: 100
        upload_mbps: 100
        availability_pct: 99.9
        install_cost: 1000
        monthly_cost: 150
  - id: gamma-cheap
    name: Gamma (not accredited)
    hscn_compliant: false
    regions: [london]
    offerings:
      - id: gamma-fttp
        name: FTTP
        technology: fibre
        download_mbps: 500
        upload_mbps: 50
        availability_pct: 99
        install_cost: 0
        monthly_cost: 1
"""

SITES = """\
site_id,organisation,name,region,bandwidth_mbps,resilience,current_monthly_cost
s1,org-a,"=HYPERLINK(""http://x"",""y"")",london,50,single,100
s2,org-a,Clinic,london,50,backup,
s3,org-b,Surgery,london,80,single,90
"""

ORGANISATIONS = """\
organisation,name,type,budget
org-a,Org A Trust,trust,20000
org-b,Org B Federation,gp-federation,
"""

BAD_CATALOG = """\
schema_version: 1
currency: GBP
suppliers:
  - id: acme-net
    name: Acme
    hscn_compliant: true
    regions: [london, atlantis]
    colour: blue
    offerings:
      - id: acme-fttp
        name: FTTP
        technology: fibre
        download_mbps: 100
        upload_mbps: 20
        availability_pct: 99.5
        install_cost: -5
        monthly_cost: 50
"""

BAD_SITES = """\
site_id,organisation,region,bandwidth_mbps
s1,org-a,atlantis,50
s2,org-a,london,-3
s2,org-b,london,10
"""

SPEC_PLAN_KEYS = {
    "status", "route", "objective", "term_months", "total_cost", "breakdown", "quality",
    "gap", "solve_seconds", "baseline", "sites", "suppliers", "organisations", "diagnostics",
}

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "catalog": tmp_path / "catalog.yaml",
        "sites": tmp_path / "sites.csv",
        "organisations": tmp_path / "organisations.csv",
        "bad_catalog": tmp_path / "bad-catalog.yaml",
        "bad_sites": tmp_path / "bad-sites.csv",
    }
    paths["catalog"].write_text(CATALOG, encoding="utf-8")
    paths["sites"].write_text(SITES, encoding="utf-8")
    paths["organisations"].write_text(ORGANISATIONS, encoding="utf-8")
    paths["bad_catalog"].write_text(BAD_CATALOG, encoding="utf-8")
    paths["bad_sites"].write_text(BAD_SITES, encoding="utf-8")
    return paths


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ``main(argv)`` and return (exit code, stdout, stderr)."""

    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def solve_args(files: dict[str, Path], *extra: str | Path) -> list[str | Path]:
    return [
        "solve", "--catalog", files["catalog"], "--sites", files["sites"],
        "--organisations", files["organisations"], "--start-date", "2025-01-01", *extra,
    ]


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err


# --------------------------------------------------------------------------- parser


def test_module_help_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "procurement", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("validate", "solve", "generate"):
        assert command in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["solve"],
        ["solve", "--catalog", "c", "--sites", "s", "--route", "barter"],
        ["solve", "--catalog", "c", "--sites", "s", "--budget", "lots"],
        ["solve", "--catalog", "c", "--sites", "s", "--term-months", "0"],
        ["generate", "--sites", "-4", "--out", "x"],
    ],
)
def test_usage_errors_exit_2(cli: RunCli, argv: list[str]) -> None:
    code, out, err = cli(*argv)
    assert code == 2, (out, err)
    assert "usage:" in err
    assert out == ""
    _no_traceback(err)


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"hscn-procure {command}" in readme, command


# --------------------------------------------------------------------------- validate


def test_validate_good_inputs(
    cli: RunCli, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from procurement.cli import validate

    monkeypatch.setattr(validate, "today", lambda: date(2025, 1, 1))
    code, out, err = cli(
        "validate", files["catalog"], "--sites", files["sites"],
        "--organisations", files["organisations"],
    )
    assert code == 0, err
    assert err == ""
    assert "3 suppliers, 4 offerings" in out
    assert "2 HSCN compliant, 1 not compliant" in out
    assert "beta-link (2025-02-15)" in out  # expiring within 90 days
    assert "central framework suppliers (1): acme-net" in out
    assert "fibre 2, ethernet 1, 4g 1" in out
    assert "3 sites, 2 organisations" in out
    assert "Org A Trust" in out
    assert "single 2, backup 1" in out
    assert "london" in out


def test_validate_catalogue_alone(cli: RunCli, files: dict[str, Path]) -> None:
    code, out, err = cli("validate", files["catalog"])
    assert code == 0, err
    assert "Catalogue" in out and "Sites" not in out


def test_validate_bad_inputs_one_line_per_problem(cli: RunCli, files: dict[str, Path]) -> None:
    code, out, err = cli("validate", files["bad_catalog"], "--sites", files["bad_sites"])
    assert code == 2, (out, err)
    assert out == ""
    _no_traceback(err)
    lines = err.strip().splitlines()
    catalog_lines = [x for x in lines if x.startswith(str(files["bad_catalog"]))]
    site_lines = [x for x in lines if x.startswith(str(files["bad_sites"]))]
    assert len(catalog_lines) >= 3, err  # unknown field, unknown region, negative price
    assert len(site_lines) >= 3, err  # bad region, bandwidth <= 0, duplicate id
    assert len(catalog_lines) + len(site_lines) == len(lines), err
    assert any("colour" in x for x in catalog_lines), err
    assert any("atlantis" in x for x in catalog_lines), err
    assert any(":3:" in x for x in site_lines), err  # the row's file line


def test_validate_missing_file(cli: RunCli, tmp_path: Path) -> None:
    code, out, err = cli("validate", tmp_path / "nowhere.yaml")
    assert code == 2, out
    assert "nowhere.yaml" in err
    _no_traceback(err)


@pytest.mark.skipif(not (ROOT / "catalog").is_dir(), reason="sample catalogue not present")
def test_validate_sample_catalogue(cli: RunCli) -> None:
    code, out, err = cli("validate", ROOT / "catalog")
    assert code == 0, err
    assert "suppliers" in out


# --------------------------------------------------------------------------- generate


def test_generate_writes_files(cli: RunCli, tmp_path: Path) -> None:
    pytest.importorskip("procurement.generate")
    out_dir = tmp_path / "portfolio"
    code, out, err = cli(
        "generate", "--sites", "12", "--organisations", "3", "--seed", "7", "--out", out_dir
    )
    assert code == 0, err
    printed = [Path(line) for line in out.strip().splitlines()]
    names = {p.name for p in printed}
    assert {"sites.csv", "organisations.csv", "scenario.yaml"} <= names, out
    for path in printed:
        assert path.is_file(), path
    if (ROOT / "catalog").is_dir():
        code, out, err = cli(
            "validate", ROOT / "catalog", "--sites", out_dir / "sites.csv",
            "--organisations", out_dir / "organisations.csv",
        )
        assert code == 0, err
        assert "12 sites, 3 organisations" in out


def test_generate_more_organisations_than_sites_is_usage_error(
    cli: RunCli, tmp_path: Path
) -> None:
    pytest.importorskip("procurement.generate")
    code, out, err = cli("generate", "--sites", "2", "--organisations", "5", "--out", tmp_path)
    assert code == 2, (out, err)
    assert "hscn-procure generate: error:" in err
    _no_traceback(err)


# --------------------------------------------------------------------------- solve


@pytest.fixture
def optimiser() -> object:
    return pytest.importorskip("procurement.optimiser")


def test_solve_json_has_the_spec_keys(cli: RunCli, files: dict[str, Path], optimiser) -> None:
    code, out, err = cli(*solve_args(files, "--format", "json"))
    assert code == 0, err
    _no_traceback(err)
    plan = json.loads(out)
    assert set(plan) >= SPEC_PLAN_KEYS
    assert plan["status"] == "optimal"
    assert plan["route"] == "collaborative"
    assert {s["site_id"] for s in plan["sites"]} == {"s1", "s2", "s3"}
    assert all(s["served"] for s in plan["sites"])
    assert "gamma-cheap" not in {x["supplier_id"] for x in plan["suppliers"]}
    b = plan["breakdown"]
    assert plan["total_cost"] == pytest.approx(
        b["one_off"] + b["recurring_list"] - b["discount"] + b["fees"]
    )


def test_solve_table_report(cli: RunCli, files: dict[str, Path], optimiser) -> None:
    code, out, err = cli(*solve_args(files, "--route", "solo"))
    assert code == 0, err
    assert "Plan: optimal" in out
    assert "Total cost" in out
    assert "Suppliers for org-a" in out
    assert "headroom" in out
    assert "Solved in" in out


def test_solve_scenario_file_with_flags_winning(
    cli: RunCli, files: dict[str, Path], tmp_path: Path, optimiser
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("route: solo\nterm_months: 24\nstart_date: 2025-01-01\n")
    code, out, err = cli(
        *solve_args(files, "--scenario", scenario, "--route", "central", "--format", "json")
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["route"] == "central"
    assert plan["term_months"] == 24


def test_solve_bad_scenario_value_is_input_error(
    cli: RunCli, files: dict[str, Path], optimiser
) -> None:
    code, out, err = cli(*solve_args(files, "--max-supplier-share", "2"))
    assert code == 2, (out, err)
    assert "max_supplier_share" in err
    assert out == ""
    _no_traceback(err)


def test_solve_infeasible_exits_3_with_json(
    cli: RunCli, files: dict[str, Path], tmp_path: Path, optimiser
) -> None:
    sites = tmp_path / "huge.csv"
    sites.write_text(SITES + "s4,org-b,Data centre,london,100000,single,\n")
    code, out, err = cli(
        "solve", "--catalog", files["catalog"], "--sites", sites, "--format", "json",
        "--start-date", "2025-01-01",
    )
    assert code == 3, err
    plan = json.loads(out)
    assert plan["status"] == "infeasible"
    assert any(d["site_id"] == "s4" for d in plan["diagnostics"]), plan["diagnostics"]
    _no_traceback(err)


def test_solve_out_json_is_written(
    cli: RunCli, files: dict[str, Path], tmp_path: Path, optimiser
) -> None:
    target = tmp_path / "plan.json"
    code, out, err = cli(*solve_args(files, "--format", "json", "--out", target))
    assert code == 0, err
    assert out == ""
    assert json.loads(target.read_text())["status"] == "optimal"


def test_solve_out_failure_leaves_no_file(
    cli: RunCli, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    optimiser,
) -> None:
    from procurement import exports

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "plan.json"

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exports.os, "fsync", full_disk)
    code, out, err = cli(*solve_args(files, "--format", "json", "--out", target))
    assert code == 1, (out, err)
    assert list(out_dir.iterdir()) == [], "no partial or temporary file may remain"
    assert err.strip().splitlines()[-1].startswith("hscn-procure: unexpected error:")
    _no_traceback(err)


def test_solve_out_to_missing_folder_is_exit_2(
    cli: RunCli, files: dict[str, Path], tmp_path: Path, optimiser
) -> None:
    code, out, err = cli(*solve_args(files, "--format", "json", "--out", tmp_path / "no" / "p"))
    assert code == 2, (out, err)
    _no_traceback(err)


def test_solve_xlsx_needs_out(cli: RunCli, files: dict[str, Path]) -> None:
    code, out, err = cli(*solve_args(files, "--format", "xlsx"))
    assert code == 2, (out, err)
    assert "--out" in err
    assert out == ""


def test_solve_xlsx_and_csv(cli: RunCli, files: dict[str, Path], tmp_path: Path, optimiser):
    import openpyxl

    target = tmp_path / "plan.xlsx"
    code, _, err = cli(*solve_args(files, "--format", "xlsx", "--out", target))
    assert code == 0, err
    wb = openpyxl.load_workbook(target)
    assert {"Summary", "Sites", "Suppliers", "Organisations", "Diagnostics"} <= set(wb.sheetnames)

    code, out, err = cli(*solve_args(files, "--format", "csv"))
    assert code == 0, err
    assert out.splitlines()[0].startswith("site_id,")
    assert "'=HYPERLINK" in out


def test_unexpected_error_is_one_line(
    cli: RunCli, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, optimiser
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(optimiser, "solve", boom)
    code, out, err = cli(*solve_args(files, "--format", "json"))
    assert code == 1
    assert out == ""
    assert err.splitlines() == ["hscn-procure: unexpected error: RuntimeError: boom second line"]

    code, out, err = cli(*solve_args(files, "--format", "json", "--verbose"))
    assert code == 1
    assert "Traceback" in err


def test_solve_stdout_is_only_json_in_a_subprocess(files: dict[str, Path], optimiser) -> None:
    """Solver logs must not reach stdout, even from C code below Python."""
    argv = [str(a) for a in solve_args(files, "--format", "json", "--verbose")]
    result = subprocess.run(
        [sys.executable, "-m", "procurement", *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "optimal"


class _Exited(Exception):
    pass


def test_the_command_exits_at_once_while_a_cancelled_solve_finishes(monkeypatch) -> None:
    """A solve left running at its time limit must not abort the process at exit.

    ``run`` then leaves through ``os._exit`` with the command's status, once
    its output is flushed; otherwise it exits normally.
    """
    import procurement.cli as cli
    from procurement import optimiser

    def fake_exit(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr(optimiser, "solves_left_running", lambda: 1)
    with pytest.raises(_Exited) as left:
        cli.run()
    assert left.value.args == (3,)

    monkeypatch.setattr(optimiser, "solves_left_running", lambda: 0)
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 3
