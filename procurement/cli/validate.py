"""``validate CATALOG [--sites F] [--organisations F]``: check inputs before planning.

A buyer runs this first: it either lists every problem (exit 2) or shows what
was understood (suppliers, compliance running out, offerings, sites per
organisation and region), so a wrong column or a lapsed accreditation is
caught before anyone trusts a plan built on it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from procurement.cli import common
from procurement.errors import InputError, Problem
from procurement.lazy import LazyModule
from procurement.models import Catalog, Organisation, Site, Technology

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")

#: Compliance ending within this many days of today is flagged.
EXPIRY_WARNING_DAYS = 90


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a catalogue (and sites, organisations) and summarise them",
        description=(
            "Load a catalogue and optionally sites and organisations; print a summary, "
            "or every problem found (exit 2)."
        ),
    )
    parser.add_argument("catalog", metavar="CATALOG", help="catalogue YAML file or folder")
    parser.add_argument("--sites", metavar="F", help="sites CSV file")
    parser.add_argument("--organisations", metavar="F", help="organisations CSV file")
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def today() -> date:
    """Today's date (a function so tests can fix it)."""
    return date.today()


def run(args: argparse.Namespace) -> int:
    from procurement import inputs

    problems: list[Problem] = []
    catalog: Catalog | None = None
    sites: tuple[Site, ...] | None = None
    organisations: tuple[Organisation, ...] | None = None
    try:
        catalog = inputs.load_catalog(args.catalog)
    except InputError as exc:
        problems.extend(exc.problems)
    if args.sites:
        try:
            sites = tuple(inputs.load_sites(args.sites))
        except InputError as exc:
            problems.extend(exc.problems)
    if args.organisations:
        try:
            organisations = tuple(inputs.load_organisations(args.organisations))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None
    lines = catalog_summary(catalog, args.catalog, today())
    if sites is not None:
        resolved = inputs.resolve_organisations(sites, organisations or ())
        lines += ["", *sites_summary(sites, args.sites, resolved)]
    elif organisations is not None:
        lines += ["", *organisations_summary(organisations, args.organisations)]
    lines += ["", "OK: no problems found."]
    common.emit(args, "\n".join(lines))
    return common.EXIT_OK


# --------------------------------------------------------------------------- summaries


def _counts(values: Iterable[str], order: Sequence[str] = ()) -> str:
    """``a 3, b 1`` in the given order first, then by name."""
    counts = Counter(values)
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    return ", ".join(f"{k} {counts[k]}" for k in keys) or "none"


def catalog_summary(catalog: Catalog, source: str, on: date) -> list[str]:
    """Suppliers by compliance, expiries soon, offerings by technology, framework members."""
    suppliers = catalog.suppliers
    horizon = on + timedelta(days=EXPIRY_WARNING_DAYS)
    not_compliant = [s for s in suppliers if not s.hscn_compliant]
    expired = [
        s
        for s in suppliers
        if s.hscn_compliant and s.compliance_expires is not None and s.compliance_expires < on
    ]
    compliant = len(suppliers) - len(not_compliant) - len(expired)
    expiring = sorted(
        (s for s in suppliers
         if s.hscn_compliant and s.compliance_expires is not None
         and on <= s.compliance_expires <= horizon),
        key=lambda s: (s.compliance_expires, s.id),
    )
    offerings = [o for s in suppliers for o in s.offerings]
    central = [s.id for s in suppliers if s.central_framework is not None]
    lines = [
        f"Catalogue {source}: {len(suppliers)} suppliers, {len(offerings)} offerings",
        f"  suppliers: {compliant} HSCN compliant, {len(not_compliant)} not compliant, "
        f"{len(expired)} with compliance expired (as of {on.isoformat()})",
    ]
    if not_compliant:
        lines.append("    not compliant: " + ", ".join(s.id for s in not_compliant))
    if expired:
        lines.append(
            "    expired: "
            + ", ".join(f"{s.id} ({s.compliance_expires})" for s in expired)
        )
    lines.append(
        f"  compliance expiring within {EXPIRY_WARNING_DAYS} days (by {horizon.isoformat()}): "
        + (", ".join(f"{s.id} ({s.compliance_expires})" for s in expiring) or "none")
    )
    lines.append(
        "  offerings by technology: "
        + _counts((o.technology.value for o in offerings), [t.value for t in Technology])
    )
    lines.append(
        f"  central framework suppliers ({len(central)}): " + (", ".join(central) or "none")
    )
    return lines


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    frame = pd.DataFrame(rows, columns=columns)
    return ["    " + line for line in frame.to_string(index=False).splitlines()]


def sites_summary(
    sites: Sequence[Site], source: str, organisations: Sequence[Organisation]
) -> list[str]:
    """Sites per organisation (with budgets), per region, and the resilience mix."""
    per_org = Counter(s.organisation for s in sites)
    lines = [f"Sites {source}: {len(sites)} sites, {len(per_org)} organisations"]
    lines.append("  by organisation:")
    lines += _table(
        [
            {
                "organisation": o.organisation,
                "name": o.name,
                "sites": per_org.get(o.organisation, 0),
                "budget": "none" if o.budget is None else f"£{o.budget:,.2f}",
            }
            for o in organisations
        ],
        ["organisation", "name", "sites", "budget"],
    )
    unused = [o.organisation for o in organisations if per_org.get(o.organisation, 0) == 0]
    if unused:
        lines.append("  organisations without sites: " + ", ".join(unused))
    per_region = Counter(s.region.value for s in sites)
    lines.append("  by region:")
    lines += _table(
        [{"region": r, "sites": n} for r, n in sorted(per_region.items())], ["region", "sites"]
    )
    lines.append(
        "  resilience: "
        + _counts((s.resilience.value for s in sites), ["single", "backup", "diverse"])
    )
    with_wifi = sum(1 for s in sites if s.wifi_aps > 0)
    with_baseline = sum(1 for s in sites if s.current_monthly_cost is not None)
    lines.append(f"  managed Wi-Fi at {with_wifi} sites; a current monthly cost at {with_baseline}")
    return lines


def organisations_summary(organisations: Sequence[Organisation], source: str) -> list[str]:
    """Organisations read without sites: ids, names, budgets."""
    lines = [f"Organisations {source}: {len(organisations)}"]
    lines += _table(
        [
            {
                "organisation": o.organisation,
                "name": o.name,
                "type": o.type,
                "budget": "none" if o.budget is None else f"£{o.budget:,.2f}",
            }
            for o in organisations
        ],
        ["organisation", "name", "type", "budget"],
    )
    return lines
