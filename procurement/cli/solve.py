"""``solve``: the best plan for the sites under one scenario.

``--format table`` is a report for a person; ``json`` is the SPEC's Plan JSON
for programs; ``csv`` and ``xlsx`` are for spreadsheets (built by
:mod:`procurement.exports`, the one place that makes cells safe). An
infeasible plan still prints its output, with the reasons, and exits 3.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from procurement.cli import common
from procurement.lazy import LazyModule

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")

if TYPE_CHECKING:
    from procurement.plan import Plan

FORMATS = ("table", "json", "csv", "xlsx")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="find the best plan for the sites under a scenario",
        description=(
            "Choose offerings for every site at least cost (or best quality within the "
            "budget) on the chosen buying route. Exit 0 with a plan, 3 when infeasible "
            "(the output says why)."
        ),
    )
    common.add_input_options(parser)
    common.add_scenario_options(parser)
    common.add_output_options(parser, FORMATS)
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    common.require_out_for_binary(args)
    inputs = common.load_inputs(args)
    from procurement import exports
    from procurement.optimiser import solve

    plan = solve(
        inputs.catalog,
        inputs.sites,
        inputs.scenario,
        inputs.organisations,
        solver=args.solver,
        verbose=args.verbose,
    )
    if args.format == "json":
        data: bytes | str = exports.plan_to_json(plan)
    elif args.format == "csv":
        data = exports.plan_to_csv(plan)
    elif args.format == "xlsx":
        data = exports.plan_to_xlsx(
            plan, catalog_info=exports.CatalogInfo.from_path(inputs.catalog_path)
        )
    else:
        data = plan_report(plan)
    common.emit(args, data)
    return common.plan_exit_code(plan)


# --------------------------------------------------------------------------- table report


def gbp(value: float | None) -> str:
    """Money for a text report: ``£1,234.50``, ``-£20.00``, ``-`` when unknown."""
    if value is None or pd.isna(value):
        return "-"
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value):,.2f}"


def _frame_text(df: pd.DataFrame, money: tuple[str, ...] = ()) -> str:
    formatters: dict[str, Callable[[object], str]] = {c: gbp for c in money if c in df.columns}
    text = df.to_string(index=False, formatters=formatters, na_rep="-")
    return "\n".join("  " + line for line in text.splitlines())


def plan_report(plan: Plan) -> str:
    """A readable text report of a plan: what it costs, who supplies, who pays, why."""
    frames = plan.to_frames()
    served = len(plan.served_sites)
    b = plan.breakdown
    lines = [
        f"Plan: {plan.status}    route: {plan.route}    objective: {plan.objective}    "
        f"term: {plan.term_months} months",
        f"Sites served: {served} of {len(plan.sites)}",
    ]
    if plan.has_plan:
        lines += [
            "",
            f"Total cost over the term   {gbp(plan.total_cost):>20}",
            f"  one-off charges          {gbp(b.one_off):>20}",
            f"  recurring at list price  {gbp(b.recurring_list):>20}",
            f"  less volume discount     {gbp(-b.discount):>20}",
            f"  supplier fees            {gbp(b.fees):>20}",
            f"Quality (sum of primary quality scores): {plan.quality:,.1f}",
        ]
        base = plan.baseline
        if base.sites:
            pct = f" ({100 * base.saving / base.cost:.1f}%)" if base.cost else ""
            lines.append(
                f"Baseline: {base.sites} served sites cost {gbp(base.cost)} today over the term; "
                f"saving {gbp(base.saving)}{pct}"
            )
        else:
            lines.append("Baseline: no served site gives a current monthly cost; no saving claimed")
        unserved = [s.site_id for s in plan.sites if not s.served]
        if unserved:
            lines.append(f"Not served ({len(unserved)}): " + ", ".join(unserved))

        suppliers = frames["suppliers"]
        if not suppliers.empty:
            suppliers = suppliers.assign(discount_rate=suppliers["discount_rate"] * 100)
            suppliers = suppliers.rename(columns={"discount_rate": "discount_%"})
            for party, group in suppliers.groupby("party", sort=False):
                lines += ["", f"Suppliers for {party}:"]
                lines.append(
                    _frame_text(
                        group.drop(columns=["party"]).round({"discount_%": 1}),
                        money=("one_off", "recurring_list", "discount", "fees", "cost"),
                    )
                )
        organisations = frames["organisations"]
        if not organisations.empty:
            basis = "attributed cost" if str(plan.route) == "collaborative" else "own contracts"
            lines += ["", f"Organisations (cost = {basis}; headroom = budget - cost):"]
            lines.append(_frame_text(organisations, money=("cost", "budget", "headroom")))
    if plan.diagnostics:
        lines += ["", "Diagnostics:"]
        for d in plan.diagnostics:
            where = f" {d.site_id}:" if d.site_id else ""
            lines.append(f"  [{d.level}]{where} {d.message}")
    gap = f", gap {100 * plan.gap:.2f}%" if plan.has_plan else ""
    lines += ["", f"Solved in {plan.solve_seconds:.2f} s{gap}"]
    return "\n".join(lines) + "\n"
