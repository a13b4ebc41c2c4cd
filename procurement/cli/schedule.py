"""``schedule``: when each site of the plan moves, within supplier install capacity.

Solves the plan exactly as ``solve`` does, then gives every served site an
install month within ``--horizon-months`` (default 12) so that lead times,
``go_live_by`` dates and each supplier's ``install_capacity_per_month`` hold
(SPEC "Transition schedule"). ``--capacity-aware`` re-plans, when the
cheapest plan cannot be installed in time, with capacity inside the supplier
choice, and says what that costs. ``--format json`` is the SPEC's schedule
JSON; ``csv`` is one row per site; ``xlsx`` is the plan's workbook with the
Transition sheets. Exit 0 for a schedule that fits, 3 when none does (the
output still says why, and the smallest horizon that would work), 2 for bad
input.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from procurement.cli import common

if TYPE_CHECKING:
    import pandas as pd

    from procurement.plan import Plan
    from procurement.schedule import Schedule

FORMATS = ("table", "json", "csv", "xlsx")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="schedule every site's move within the migration, against install capacity",
        description=(
            "Plan the sites as `solve` does, then give each served site an install month "
            "within the horizon so that lead times, go-live dates and each supplier's "
            "install capacity per month hold; higher-priority sites and those whose current "
            "contracts cost most go first. Exit 0 with a schedule, 3 when none fits (the "
            "output names the binding suppliers, months and sites, and the smallest horizon "
            "that works)."
        ),
    )
    common.add_input_options(parser)
    common.add_scenario_options(parser)
    group = parser.add_argument_group("schedule")
    group.add_argument(
        "--horizon-months",
        type=common.positive_int,
        default=12,
        metavar="N",
        help="months in which every served site must be installed (default 12)",
    )
    group.add_argument(
        "--capacity-aware",
        action="store_true",
        help=(
            "if the cheapest plan cannot be installed within the horizon, choose suppliers "
            "with install capacity in the model and report the extra cost"
        ),
    )
    common.add_output_options(parser, FORMATS)
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    common.require_out_for_binary(args)
    inputs = common.load_inputs(args)
    from procurement import exports
    from procurement.optimiser import solve
    from procurement.schedule import schedule, schedule_to_xlsx, solve_with_capacity

    plan = solve(
        inputs.catalog,
        inputs.sites,
        inputs.scenario,
        inputs.organisations,
        solver=args.solver,
        verbose=args.verbose,
    )
    if args.capacity_aware:
        joint = solve_with_capacity(
            inputs.catalog,
            inputs.sites,
            inputs.scenario,
            inputs.organisations,
            args.horizon_months,
            solver=args.solver,
            verbose=args.verbose,
            base_plan=plan,
        )
        plan, result = joint.plan, joint.schedule
    else:
        result = schedule(
            plan,
            inputs.catalog,
            inputs.sites,
            inputs.scenario,
            args.horizon_months,
            solver=args.solver,
            verbose=args.verbose,
        )
    if args.format == "json":
        data: bytes | str = exports.schedule_to_json(result)
    elif args.format == "csv":
        data = exports.frames_to_csv(result.to_frames()["sites"])
    elif args.format == "xlsx":
        data = schedule_to_xlsx(
            result, plan, catalog_info=exports.CatalogInfo.from_path(inputs.catalog_path)
        )
    else:
        data = schedule_report(result, plan)
    common.emit(args, data)
    return common.EXIT_OK if result.feasible else common.EXIT_INFEASIBLE


# --------------------------------------------------------------------------- table report


def _gbp(value: float | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.0f}"


def _indent(df: pd.DataFrame, **kwargs: Any) -> list[str]:
    text = df.to_string(index=False, na_rep="-", **kwargs)
    return ["  " + line for line in text.splitlines()]


def schedule_report(result: Schedule, plan: Plan | None = None) -> str:
    """A readable report: status, installs per supplier per month, cash profile, why."""
    import pandas as pd

    frames = result.to_frames()
    start = result.start_date.isoformat() if result.start_date else "?"
    lines = [
        f"Transition schedule: {result.status}    horizon: {result.horizon_months} months    "
        f"start: {start}",
        f"Plan total cost over the term: {_gbp(result.plan_total_cost)}"
        + (f"    plan status: {plan.status}" if plan is not None else ""),
    ]
    scheduled = [s for s in result.sites if s.install_month is not None]
    lines.append(
        f"Sites scheduled: {len(scheduled)} of {len(result.sites)} served; "
        f"last install in month {result.months_used}"
    )
    if result.smallest_horizon is not None:
        lines.append(f"Smallest horizon that works: {result.smallest_horizon} months")

    capacity = frames["capacity"]
    if not capacity.empty:
        cells = capacity.assign(
            cell=[
                "." if n == 0 else (str(n) if pd.isna(c) else f"{n}/{c}")
                for n, c in zip(capacity["installs"], capacity["capacity"], strict=True)
            ]
        )
        grid = cells.pivot(index="supplier_id", columns="month", values="cell").reset_index()
        grid.columns = ["supplier", *[f"m{m}" for m in grid.columns[1:]]]
        lines += ["", "Installs per supplier and month (installs/capacity; . none):"]
        lines += _indent(grid)

    spend = frames["monthly_spend"]
    if not spend.empty:
        money = {c: _gbp for c in ("one_off", "recurring", "baseline", "total", "cumulative")}
        lines += [
            "",
            "Monthly spend (one-off at install, recurring from the month after, "
            "today's contracts until each site moves):",
        ]
        lines += _indent(spend.drop(columns=["month_end"]), formatters=money)

    late = result.late_sites
    if late:
        lines += ["", f"Sites late or beyond the horizon ({len(late)}):"]
        table = frames["sites"]
        table = table[table["site_id"].isin({s.site_id for s in late})]
        lines += _indent(
            table[["site_id", "suppliers", "earliest_month", "latest_month", "install_month"]]
        )
    if result.diagnostics:
        lines += ["", "Diagnostics:"]
        for d in result.diagnostics:
            where = f" {d.site_id}:" if d.site_id else ""
            lines.append(f"  [{d.level}]{where} {d.message}")
    lines += ["", f"Scheduled in {result.solve_seconds:.2f} s"]
    return "\n".join(lines) + "\n"
