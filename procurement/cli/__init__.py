"""``hscn-procure``: the command line, a thin layer over the library.

Adding a command
----------------
Each subcommand is one module in this package that exposes::

    def register(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("name", help="...", description="...")
        common.add_input_options(parser)      # --catalog --sites --organisations --scenario
        common.add_scenario_options(parser)   # every scenario flag of the SPEC, --solver
        common.add_output_options(parser, ("table", "json"))   # --format, --out
        common.add_common_options(parser)     # --verbose
        parser.set_defaults(run=run)

    def run(args: argparse.Namespace) -> int:
        inputs = common.load_inputs(args)     # raises InputError: exit 2, one line per problem
        ...
        common.emit(args, data)               # stdout, or --out written atomically
        return common.EXIT_OK                 # or common.plan_exit_code(plan)

then its module name goes into :data:`COMMANDS` below, in the order ``--help``
lists them. ``run`` raises rather than printing errors: :func:`common.run_command`
turns :class:`~procurement.errors.InputError` and
:class:`common.UsageError` into exit 2 and anything unexpected into exit 1.
Import heavy modules (the optimiser, pandas-based reports) inside ``run`` so
``--help`` stays fast and one broken command cannot break the others.
Nothing but the requested output may go to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import procurement
from procurement.cli import common

#: Subcommand modules of this package, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "validate",
    "solve",
    "compare",
    "shortlist",
    "schedule",
    "generate",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per module in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=common.PROG,
        description=(
            "Plan the purchase of HSCN connectivity: check a catalogue and sites, "
            "find the cheapest (or best-quality) plan on a buying route, compare routes."
        ),
        epilog="Exit status: 0 a plan; 3 infeasible; 2 bad input or usage; 1 unexpected error.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {procurement.__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) and usage errors (2)
        code = exc.code
        if isinstance(code, int):
            return code
        return common.EXIT_OK if code is None else common.EXIT_INPUT
    return common.run_command(args)


def run() -> NoReturn:
    """The ``hscn-procure`` command: :func:`main`, then exit with its status.

    When a solve was cancelled at its time limit but HiGHS is still finishing
    a step in its thread, a normal exit would abort the process (its C++
    threads destroyed while running) and lose the exit status; the output is
    already written, so the process leaves at once with ``os._exit``.
    """
    code = main()
    optimiser = sys.modules.get("procurement.optimiser")  # not imported: nothing solved
    if optimiser is not None and optimiser.solves_left_running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
