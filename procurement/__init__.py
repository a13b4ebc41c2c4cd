"""HSCN procurement planner: plan, compare and share the cost of buying HSCN connectivity.

The names a notebook user needs are importable from here::

    from procurement import load_catalog, load_sites, load_organisations, solve
    plan = solve(load_catalog("catalog"), load_sites("examples/sites.csv"), Scenario())

They are imported lazily, so ``import procurement`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_catalog": "procurement.inputs",
    "load_sites": "procurement.inputs",
    "load_organisations": "procurement.inputs",
    "load_scenario": "procurement.inputs",
    "resolve_organisations": "procurement.inputs",
    "InputError": "procurement.errors",
    "Catalog": "procurement.models",
    "Site": "procurement.models",
    "Organisation": "procurement.models",
    "Scenario": "procurement.models",
    "Route": "procurement.models",
    "Objective": "procurement.models",
    "Plan": "procurement.plan",
    "PlanStatus": "procurement.plan",
    "solve": "procurement.optimiser",
    "compare": "procurement.routes",
    "RouteComparison": "procurement.routes",
    "shortlist": "procurement.shortlist",
    "schedule": "procurement.schedule",
    "generate_portfolio": "procurement.generate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'procurement' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
