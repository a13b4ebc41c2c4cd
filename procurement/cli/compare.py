"""``compare``: the three buying routes side by side, and the consortium's saving shared.

Plans the sites on ``solo``, ``collaborative`` and ``central`` (cost objective,
scenario constraints kept, budgets not binding), reports the savings against
``solo`` and shares the collaborative total among the organisations by
``--allocation`` (Shapley by default), with a core check: the groups of
organisations that would pay less buying on their own. ``--format table`` is
for a person, ``json`` for programs (SPEC "compare --format json"), ``csv``
(the allocation table) and ``xlsx`` for spreadsheets.

Exit 0 when the collaborative route has a plan, 3 when it has none (the
output still says why), 2 on bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from procurement.cli import common

if TYPE_CHECKING:
    from procurement.routes import RouteComparison

FORMATS = ("table", "json", "csv", "xlsx")
ALLOCATIONS = ("shapley", "nucleolus", "proportional")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare solo, collaborative and central buying, and share the saving fairly",
        description=(
            "Plan the sites on the solo, collaborative and central routes (cost objective, "
            "scenario constraints kept, budgets not binding), report each total and the "
            "savings against solo, and share the collaborative total among the "
            "organisations, with the groups that would pay less on their own. Exit 0 when "
            "the collaborative route has a plan, 3 when it has none."
        ),
    )
    common.add_input_options(parser)
    common.add_scenario_options(parser)
    group = parser.add_argument_group("sharing the collaborative total")
    group.add_argument(
        "--allocation",
        choices=ALLOCATIONS,
        default="shapley",
        help=(
            "shapley: average extra cost over every joining order (exact up to 12 "
            "organisations, sampled beyond); nucleolus: the most stable split (exact only); "
            "proportional: by solo cost (default shapley)"
        ),
    )
    group.add_argument(
        "--permutations",
        type=common.positive_int,
        default=1000,
        metavar="N",
        help="sampled Shapley (more than 12 organisations): joining orders drawn (default 1000)",
    )
    group.add_argument(
        "--seed",
        type=common.non_negative_int,
        default=0,
        metavar="S",
        help="sampled Shapley: random seed, for repeatable shares (default 0)",
    )
    group.add_argument(
        "--workers",
        type=common.positive_int,
        metavar="N",
        help="processes solving coalitions (default: one per CPU for larger games; 1 = serial)",
    )
    common.add_output_options(parser, FORMATS)
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    common.require_out_for_binary(args)
    if args.permutations < 2:
        raise common.UsageError("--permutations must be at least 2")
    inputs = common.load_inputs(args)
    from procurement import exports
    from procurement.routes import compare

    comparison = compare(
        inputs.catalog,
        inputs.sites,
        inputs.scenario,
        inputs.organisations,
        args.allocation,
        solver=args.solver,
        seed=args.seed,
        n_permutations=args.permutations,
        workers=args.workers,
        progress=progress_printer() if args.verbose or sys.stderr.isatty() else None,
    )
    if args.format == "json":
        data: bytes | str = exports.comparison_to_json(comparison)
    elif args.format == "csv":
        data = exports.comparison_to_csv(comparison)
    elif args.format == "xlsx":
        data = exports.comparison_to_xlsx(
            comparison, catalog_info=exports.CatalogInfo.from_path(inputs.catalog_path)
        )
    else:
        data = comparison_report(comparison)
    common.emit(args, data)
    return common.EXIT_OK if comparison.has_collaborative_plan else common.EXIT_INFEASIBLE


def progress_printer(
    every: float = 2.0, clock: Callable[[], float] = time.monotonic
) -> Callable[[int, int], None]:
    """A ``progress(solved, total)`` that tells stderr how the coalitions go.

    An exact split of ten organisations costs about a thousand groups and can
    take many minutes: a buyer at a terminal (or with ``--verbose``) sees a
    line at most every ``every`` seconds, and one when the last is costed.
    """
    began = clock()
    last = -math.inf

    def tell(solved: int, total: int) -> None:
        nonlocal last
        now = clock()
        if total <= 0 or (solved < total and now - last < every):
            return
        last = now
        minutes, seconds = divmod(int(now - began), 60)
        print(
            f"{common.PROG}: costed {solved:,} of {total:,} groups of organisations "
            f"({minutes} min {seconds:02d} s)",
            file=sys.stderr,
            flush=True,
        )

    return tell


# --------------------------------------------------------------------------- table report


def gbp(value: float | None) -> str:
    """Money for a text report: ``GBP 1,234.50`` (ASCII, so any terminal shows it)."""
    if value is None or value != value:  # None or NaN
        return "-"
    sign = "-" if value < -0.005 else ""
    return f"{sign}GBP {abs(value):,.2f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[j]) for r in rows)) if rows else len(h) for j, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(widths[j]) if j in right else c.ljust(widths[j]) for j, c in enumerate(cells)
        ]
        return "  " + "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def comparison_report(comparison: RouteComparison) -> str:
    """A readable report: route totals and savings, the split, stability, what-ifs."""
    from procurement.routes import ROUTES

    c = comparison
    solo = c.routes[ROUTES[0]]
    lines = [
        f"Routes compared: {len(solo.sites)} sites, {len(c.players)} organisations, "
        f"{c.scenario.term_months}-month term from {c.scenario.start_date.isoformat()} "
        "(cost objective; budgets not binding)",
        "",
    ]
    rows = []
    for route in ROUTES:
        plan = c.routes[route]
        saving = c.savings.get(route)
        rows.append(
            [
                str(route),
                str(plan.status),
                gbp(c.totals[route]),
                "-" if saving is None else gbp(saving.absolute),
                "-" if saving is None else pct(saving.percent),
                str(len(plan.supplier_ids)) if plan.has_plan else "-",
            ]
        )
    lines += _table(
        ["route", "status", "total cost", "saving vs solo", "saving %", "suppliers"],
        rows,
        right={2, 3, 4, 5},
    )

    allocation = c.allocation
    if allocation is not None:
        how = "exact" if allocation.exact else "sampled, with standard errors"
        solved = (
            f"{c.stats.coalitions} coalition costs"
            if allocation.exact
            else (f"{c.stats.coalitions} coalitions sampled")
        )
        lines += [
            "",
            f"Collaborative total shared by {allocation.method} ({how}; {solved}):",
        ]
        frame = c.to_frames()["allocation"]
        sampled = not allocation.exact
        rows = []
        for rec in frame.to_dict("records"):
            row = [
                str(rec["organisation"]),
                gbp(rec["solo_cost"]),
                gbp(rec["allocated_cost"]),
                gbp(rec["saving"]),
                pct(rec["saving_pct"]),
                gbp(rec["attributed_cost"]),
            ]
            if sampled:
                row.append(gbp(rec["std_error"]))
            rows.append(row)
        total_solo = sum(m.solo_cost for m in allocation.members)
        total_alloc = sum(m.allocated_cost for m in allocation.members)
        total_row = [
            "total",
            gbp(total_solo),
            gbp(total_alloc),
            gbp(total_solo - total_alloc),
            pct(100 * (total_solo - total_alloc) / total_solo if total_solo else None),
            gbp(c.totals[ROUTES[1]]),
        ]
        if sampled:
            total_row.append("")
        rows.append(total_row)
        headers = [
            "organisation",
            "solo cost",
            "allocated cost",
            "saving",
            "saving %",
            "plan's attributed cost",
        ]
        if sampled:
            headers.append("std error")
        lines += _table(headers, rows, right=set(range(1, len(headers))))
        lines += [
            "  (attributed cost: the collaborative plan's own links plus a share of fees, "
            "for comparison)",
            "",
            c.core_statement,
        ]
        blocking = c.blocking_rows()
        if blocking:
            lines.append("Blocking coalitions (charged more than they would pay on their own):")
            lines += _table(
                ["coalition", "charged", "on their own", "overcharged by"],
                [
                    [
                        " + ".join(b["coalition"]),
                        gbp(b["charged"]),
                        gbp(b["alone_cost"]),
                        gbp(b["excess"]),
                    ]
                    for b in blocking[:20]
                ],
                right={1, 2, 3},
            )
            if len(blocking) > 20:
                lines.append(f"  ... and {len(blocking) - 20} more (see --format json)")

    if c.what_if:
        lines += ["", "What each organisation's membership is worth:"]
        rows = []
        for w in c.what_if:
            best = "-"
            if w.best_without:
                others = len(c.players) - 1
                names = (
                    f"all {others} others"
                    if len(w.best_without) == others > 2
                    else " + ".join(w.best_without)
                )
                best = f"{names} (saves {gbp(w.best_without_saving)})"
            rows.append([w.organisation, gbp(w.marginal_cost), gbp(w.joining_saving), best])
        lines += _table(
            [
                "organisation",
                "adds to the bill",
                "saving its joining brings",
                "best group without it",
            ],
            rows,
            right={1, 2},
        )

    diagnostics = [d for d in c.diagnostics]
    for route in ROUTES:
        plan = c.routes[route]
        if not plan.has_plan:
            diagnostics += [d for d in plan.diagnostics if str(d.level) == "error"]
    if diagnostics:
        lines += ["", "Diagnostics:"]
        for d in diagnostics:
            where = f" {d.site_id}:" if d.site_id else ""
            lines.append(f"  [{d.level}]{where} {d.message}")
    s = c.stats
    lines += [
        "",
        f"Solved in {c.seconds:.1f} s: {s.solved} coalition MILPs besides the route plans "
        f"({s.warm_started} warm-started), {s.workers} worker process"
        f"{'es' if s.workers != 1 else ''}",
    ]
    return "\n".join(lines) + "\n"
