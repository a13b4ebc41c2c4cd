"""``shortlist`` (same inputs as solve) ``[-k N] [--format table|json|csv|xlsx] [--out F]``.

The ``k`` best plans, each using a different set of suppliers, best first,
with each total and its difference from the best: the suppliers to take into
a further competition. Fewer than ``k`` are listed, with a note, when no
further set of suppliers can serve the sites. Exit 0 with at least one plan,
3 when there is none (the JSON still says why).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from procurement.cli import common

if TYPE_CHECKING:
    from procurement.shortlist import Shortlist

FORMATS = ("table", "json", "csv", "xlsx")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shortlist",
        help="the k best plans, each with a different set of suppliers",
        description=(
            "Solve, forbid the plan's set of suppliers and solve again, k times: the best "
            "plans with pairwise different supplier sets, best first, each with its total "
            "and its difference from the best. Stops early, and says so, when fewer than "
            "k sets can serve the sites."
        ),
    )
    common.add_input_options(parser)
    common.add_scenario_options(parser)
    parser.add_argument(
        "-k", dest="k", type=common.positive_int, default=5, metavar="N",
        help="number of plans (default 5); each is a full solve under the time limit",
    )
    common.add_output_options(parser, FORMATS)
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    common.require_out_for_binary(args)
    inputs = common.load_inputs(args)

    from procurement import exports
    from procurement.shortlist import shortlist

    result = shortlist(
        inputs.catalog,
        inputs.sites,
        inputs.scenario,
        inputs.organisations,
        k=args.k,
        solver=args.solver,
        verbose=args.verbose,
    )
    if args.format == "json":
        data: bytes | str = exports.shortlist_to_json(result)
    elif args.format == "csv":
        data = exports.shortlist_to_csv(result)
    elif args.format == "xlsx":
        data = exports.shortlist_to_xlsx(
            result, exports.CatalogInfo.from_path(inputs.catalog_path)
        )
    else:
        data = render_table(result)
    common.emit(args, data)
    return common.EXIT_OK if result.has_plan else common.EXIT_INFEASIBLE


def _money(value: float, signed: bool = False) -> str:
    text = f"£{abs(value):,.2f}"
    if not signed:
        return text if value >= 0 else "-" + text
    if abs(value) < 0.005:
        return "-"
    return ("+" if value > 0 else "-") + text


def render_table(result: Shortlist) -> str:
    """A plain-text table for the terminal."""
    lines: list[str] = []
    best = result.best
    if best is None:
        lines.append("No plan meets the scenario, so there is nothing to shortlist.")
        lines += [f"  {d.level}: {d.message}" for d in result.diagnostics]
        return "\n".join(lines) + "\n"
    plan = best.plan
    count = len(result.plans)
    lines.append(
        f"Shortlist: {count} plan{'s' if count != 1 else ''} with different supplier sets "
        f"(route {plan.route}, objective {plan.objective}, {plan.term_months} months)"
    )
    rows = [("rank", "total cost", "vs best", "status", "suppliers")]
    for e in result.plans:
        rows.append(
            (
                str(e.rank),
                _money(e.total_cost),
                _money(e.delta_vs_best, signed=True) if e.rank > 1 else "best",
                str(e.status),
                ", ".join(e.suppliers) or "(none)",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    right = (True, True, True, False)
    for r in rows:
        cells = [
            c.rjust(w) if align else c.ljust(w)
            for c, w, align in zip(r[:4], widths, right, strict=True)
        ]
        lines.append("  ".join([*cells, r[4]]))
    if result.message:
        lines.append(f"note: {result.message}")
    return "\n".join(lines) + "\n"
