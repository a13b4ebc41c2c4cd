"""What every subcommand shares: input options, the scenario, output and exit codes.

Commands stay thin: they declare options with the ``add_*`` helpers, call
:func:`load_inputs` to get validated models, and hand their bytes to
:func:`emit`. Errors are turned into exit codes in one place,
:func:`run_command`, so every command reports them the same way (SPEC
"Command line": 0 a plan, 3 infeasible, 2 bad input or usage, 1 unexpected).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from procurement.blas import use_one_blas_thread
from procurement.errors import InputError, Problem
from procurement.exports import write_atomic
from procurement.models import Objective, Route

if TYPE_CHECKING:
    from procurement.models import Catalog, Organisation, Scenario, Site
    from procurement.plan import Plan

PROG = "hscn-procure"

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3

SOLVERS = ("highs", "cbc")

#: OSErrors that mean the user named a path that cannot be used (exit 2, not 1).
_PATH_ERRORS = (
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    FileExistsError,
)


class UsageError(Exception):
    """A command line that cannot work as given (exit 2), found after parsing."""


# --------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (range checks are the Scenario model's job)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def money(text: str) -> float:
    """argparse type: an amount in GBP; a leading ``£`` and thousands commas are allowed."""
    return finite_float(text.strip().removeprefix("£").replace(",", ""))


# --------------------------------------------------------------------------- options


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: every command accepts it (tracebacks, solver log on stderr)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the solver log and, on an unexpected error, the traceback (stderr)",
    )


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--catalog``, ``--sites``, ``--organisations``, ``--scenario``."""
    group = parser.add_argument_group("inputs")
    group.add_argument(
        "--catalog", required=True, metavar="C", help="catalogue YAML file, or a folder of them"
    )
    group.add_argument("--sites", required=True, metavar="F", help="sites CSV file")
    group.add_argument(
        "--organisations", metavar="F", help="organisations CSV file (names, types, budgets)"
    )
    group.add_argument(
        "--scenario", metavar="F", help="scenario YAML file; flags below override its fields"
    )


@dataclass(frozen=True)
class ScenarioFlag:
    """One command-line flag that sets one Scenario field."""

    flag: str
    field: str
    help: str
    kwargs: dict[str, Any]


def _flag(flag: str, field: str, help: str, **kwargs: Any) -> ScenarioFlag:
    return ScenarioFlag(flag, field, help, kwargs)


#: Every scenario flag of the SPEC, in the order ``--help`` shows them.
SCENARIO_FLAGS: tuple[ScenarioFlag, ...] = (
    _flag("--route", "route", "buying route (default collaborative)",
          choices=[r.value for r in Route]),
    _flag("--term-months", "term_months", "contract term in months (default 36)",
          type=positive_int, metavar="N"),
    _flag("--start-date", "start_date", "contract start, YYYY-MM-DD (default today)",
          metavar="D"),
    _flag("--budget", "budget", "budget in GBP for the whole plan and term",
          type=money, metavar="GBP"),
    _flag("--objective", "objective",
          "cost: cheapest plan; quality: best quality within the budget (default cost)",
          choices=[o.value for o in Objective]),
    _flag("--max-suppliers", "max_suppliers", "most suppliers per contracting party",
          type=positive_int, metavar="N"),
    _flag("--min-suppliers", "min_suppliers",
          "fewest suppliers per contracting party that buys anything",
          type=positive_int, metavar="N"),
    _flag("--max-supplier-share", "max_supplier_share",
          "0 < X <= 1: largest share of a party's served sites that one supplier may serve",
          type=finite_float, metavar="X"),
    _flag("--max-supplier-changes", "max_supplier_changes",
          "most sites per party whose primary supplier changes from today's",
          type=non_negative_int, metavar="N"),
    _flag("--exclude-supplier", "exclude_suppliers",
          "never use this supplier (repeatable; replaces the scenario file's list)",
          action="append", metavar="ID"),
    _flag("--require-cert", "required_certifications",
          "used suppliers must hold this certification (repeatable; replaces the "
          "scenario file's list)",
          action="append", metavar="C"),
    _flag("--allow-partial", "allow_partial",
          "if not every site fits, serve the highest-priority subset",
          action="store_true", default=None),
    _flag("--time-limit", "time_limit_s", "solver time limit in seconds (default 60)",
          type=finite_float, metavar="S"),
    _flag("--mip-gap", "mip_gap", "relative optimality gap accepted (default 0)",
          type=finite_float, metavar="G"),
)


def _dest(flag: ScenarioFlag) -> str:
    return "scenario_" + flag.field


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """Every scenario flag, plus ``--solver``; unset flags leave the file's value."""
    group = parser.add_argument_group("scenario (flags override --scenario)")
    for flag in SCENARIO_FLAGS:
        group.add_argument(flag.flag, dest=_dest(flag), help=flag.help, **flag.kwargs)
    group.add_argument(
        "--solver", choices=SOLVERS, default="highs", help="MILP solver (default highs)"
    )


def add_output_options(
    parser: argparse.ArgumentParser, formats: Sequence[str], default: str | None = None
) -> None:
    """``--format`` (first of ``formats`` by default) and ``--out``."""
    parser.add_argument(
        "--format",
        choices=list(formats),
        default=default or formats[0],
        help=f"output format (default {default or formats[0]})",
    )
    parser.add_argument(
        "--out", metavar="F", help="write to this file (atomically) instead of stdout"
    )


def require_out_for_binary(
    args: argparse.Namespace, binary_formats: Sequence[str] = ("xlsx",)
) -> None:
    """Refuse a binary format on stdout before any work is done."""
    if args.format in binary_formats and not args.out:
        raise UsageError(f"--format {args.format} needs --out FILE")


# --------------------------------------------------------------------------- inputs


def scenario_flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The Scenario fields given as flags (only those actually given)."""
    values: dict[str, Any] = {}
    for flag in SCENARIO_FLAGS:
        value = getattr(args, _dest(flag), None)
        if value is not None:
            values[flag.field] = value
    return values


def build_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario file (if any) with the flags laid over it: a flag given wins."""
    from procurement import inputs

    flags = scenario_flag_values(args)
    mapping: dict[str, Any] = {}
    if args.scenario:
        from_file = inputs.load_scenario(args.scenario)
        if not flags:
            return from_file
        mapping.update(from_file.model_dump(mode="json", exclude_unset=True))
        source = f"{args.scenario} with command-line flags"
    else:
        source = "command line"
    mapping.update(flags)
    return inputs.scenario_from_mapping(mapping, source=source)


@dataclass(frozen=True)
class Inputs:
    """Everything a planning command needs, validated."""

    catalog: Catalog
    catalog_path: Path
    sites: tuple[Site, ...]
    organisations: tuple[Organisation, ...] | None
    scenario: Scenario


def load_inputs(args: argparse.Namespace) -> Inputs:
    """Load catalogue, sites, organisations and scenario, reporting every problem at once.

    Each loader is tried even when an earlier one failed, so a buyer sees the
    catalogue's and the spreadsheet's mistakes in a single run.
    """
    from procurement import inputs

    problems: list[Problem] = []
    results: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("catalog", lambda: inputs.load_catalog(args.catalog)),
        ("sites", lambda: inputs.load_sites(args.sites)),
        ("scenario", lambda: build_scenario(args)),
    ]
    if args.organisations:
        steps.append(("organisations", lambda: inputs.load_organisations(args.organisations)))
    for key, load in steps:
        try:
            results[key] = load()
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return Inputs(
        catalog=results["catalog"],
        catalog_path=Path(args.catalog),
        sites=results["sites"],
        organisations=results.get("organisations"),
        scenario=results["scenario"],
    )


# --------------------------------------------------------------------------- output


def emit(args: argparse.Namespace, data: bytes | str) -> None:
    """Write the command's result to ``--out`` (atomically) or to stdout.

    Bytes for stdout are decoded as UTF-8 (a BOM is dropped: it helps Excel
    open a file, not a pipe).
    """
    out = getattr(args, "out", None)
    if out:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        write_atomic(out, payload)
        print(f"{PROG}: wrote {out}", file=sys.stderr)
        return
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def plan_exit_code(plan: Plan) -> int:
    """0 for any plan (optimal, feasible, partial), 3 when infeasible."""
    return EXIT_OK if plan.has_plan else EXIT_INFEASIBLE


# --------------------------------------------------------------------------- errors


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run_command(args: argparse.Namespace) -> int:
    """Run the chosen command's handler and map whatever happens to an exit code.

    Input problems are printed one per line with no traceback; unexpected
    errors get one line (and the traceback only with ``--verbose``).
    """
    verbose = bool(getattr(args, "verbose", False))
    use_one_blas_thread()  # see procurement.blas (here, not for --help: it loads numpy)
    try:
        return int(args.run(args))
    except InputError as exc:
        for problem in exc.problems:
            print(_one_line(str(problem)), file=sys.stderr)
        return EXIT_INPUT
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except _PATH_ERRORS as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (e.g. `| head`): nothing more to say
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_UNEXPECTED
    except Exception as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        message = _one_line(str(exc)) or type(exc).__name__
        print(f"{PROG}: unexpected error: {type(exc).__name__}: {message}", file=sys.stderr)
        return EXIT_UNEXPECTED
