"""What every page shares: session state, cached loads and solves, and small widgets.

Logic lives in :mod:`procurement.app_state` and the library; this module only
connects it to Streamlit. Solves are cached with ``st.cache_data`` on a
canonical key (a hash of every input file's bytes and the scenario's JSON),
so moving between pages never solves again what has not changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from procurement import app_state as A
from procurement.errors import InputError, Problem
from procurement.models import Scenario
from procurement.plan import Plan

# --------------------------------------------------------------------------- session state

#: Session keys set up by app.py (page-specific keys are prefixed by their page).
DATA = "data_inputs"
CONTROLS = "scenario_controls"
PLAN = "plan_result"
AUTOSOLVE = "plan_autosolve"
FLASH = "flash"

PLAN_PAGE = "app_pages/plan.py"
DATA_PAGE = "app_pages/data.py"
ROUTES_PAGE = "app_pages/routes.py"
SHORTLIST_PAGE = "app_pages/shortlist.py"
CATALOGUE_PAGE = "app_pages/catalogue.py"
TRADEOFF_PAGE = "app_pages/tradeoff.py"
SCENARIOS_PAGE = "app_pages/scenarios.py"
HOME_PAGE = "app_pages/home.py"


@dataclass(frozen=True)
class SolvedPlan:
    """The last plan solved in this session, with exactly what it was solved from."""

    key: str
    plan: Plan
    data: A.DataInputs
    controls: dict[str, Any]
    scenario: Scenario


def init_state() -> None:
    """Open on the sample: sample files and the sample scenario's settings."""
    if DATA not in st.session_state:
        st.session_state[DATA] = A.sample_inputs()
    if CONTROLS not in st.session_state:
        st.session_state[CONTROLS] = A.sample_controls()
    st.session_state.setdefault(PLAN, None)
    st.session_state.setdefault(AUTOSOLVE, False)
    st.session_state.setdefault(FLASH, None)


def data_inputs() -> A.DataInputs:
    return st.session_state[DATA]


def controls() -> dict[str, Any]:
    return dict(st.session_state[CONTROLS])


def set_data(data: A.DataInputs) -> None:
    """Replace the data being planned."""
    st.session_state[DATA] = data


def set_controls(values: Mapping[str, Any]) -> None:
    """Replace the scenario settings and make the Plan page's widgets show them."""
    st.session_state[CONTROLS] = A.normalise_controls(values)
    for key in [k for k in st.session_state if str(k).startswith("plan_w_")]:
        del st.session_state[key]


def flash(kind: str, message: str) -> None:
    """A message to show once, at the top of the next page drawn."""
    st.session_state[FLASH] = (kind, message)


def say(kind: str, message: str) -> None:
    """An error, warning, info or success box whose text is shown as typed (no markdown)."""
    box = {"error": st.error, "warning": st.warning, "success": st.success}.get(kind, st.info)
    box(A.md_escape(message))


def show_flash() -> None:
    item = st.session_state.get(FLASH)
    if item:
        st.session_state[FLASH] = None
        kind, message = item
        getattr(st, kind if kind in ("success", "info", "warning", "error") else "info")(message)


# --------------------------------------------------------------------------- cached work


@dataclass(frozen=True)
class LoadOutcome:
    data: A.LoadedData | None
    problems: tuple[Problem, ...] = ()


@st.cache_data(max_entries=16, show_spinner=False)
def _load(key: str, _data: A.DataInputs) -> LoadOutcome:
    try:
        return LoadOutcome(A.load_data(_data))
    except InputError as exc:
        return LoadOutcome(None, exc.problems)


def load(data: A.DataInputs | None = None) -> LoadOutcome:
    """The validated models for these files (cached on their bytes)."""
    data = data or data_inputs()
    return _load(data.digest(), data)


def loaded_or_stop() -> A.LoadedData:
    """The current data, or an error naming every problem and a link to fix it."""
    outcome = load()
    if outcome.data is None:
        st.error("The data has problems, so nothing can be planned until they are fixed:")
        show_problems(outcome.problems)
        st.page_link(DATA_PAGE, label="Fix the data", icon=":material/upload_file:")
        st.stop()
    return outcome.data


@st.cache_data(max_entries=32, show_spinner=False)
def _solve(key: str, _loaded: A.LoadedData, _scenario: Scenario) -> Plan:
    from procurement.optimiser import solve

    plan = solve(_loaded.catalog, _loaded.sites, _scenario, _loaded.organisations_given)
    if plan.has_plan:
        try:
            from procurement.runner_up import with_runner_ups
        except ImportError:  # pragma: no cover - runner-ups are optional extras
            return plan
        plan = with_runner_ups(
            plan, _loaded.catalog, _loaded.sites, _scenario, _loaded.organisations_given
        )
    return plan


def plan_key(data: A.DataInputs, scenario: Scenario) -> str:
    return A.cache_key("plan", data, scenario)


def solve_cached(data: A.DataInputs, loaded: A.LoadedData, scenario: Scenario) -> Plan:
    """A plan for these inputs: from the cache when they were solved before."""
    return _solve(plan_key(data, scenario), loaded, scenario)


def solve_with_status(
    data: A.DataInputs, loaded: A.LoadedData, scenario: Scenario, values: Mapping[str, Any]
) -> SolvedPlan | None:
    """Solve (showing a status while it runs), remember the result, and return it."""
    key = plan_key(data, scenario)
    label = (
        f"Solving {len(loaded.sites)} sites on the {scenario.route.value} route "
        f"(time limit {scenario.time_limit_s:g} s)…"
    )
    with st.status(label, expanded=False) as status:
        try:
            plan = _solve(key, loaded, scenario)
        except InputError as exc:
            status.update(label="The settings need a change", state="error")
            show_problems(exc.problems)
            return None
        status.update(
            label=f"Solved: {plan.status.value} in {plan.solve_seconds:.1f} s",
            state="complete" if plan.has_plan else "error",
        )
    result = SolvedPlan(key, plan, data, A.normalise_controls(values), scenario)
    st.session_state[PLAN] = result
    # plain models for pages written against them (the Transition page reads these)
    st.session_state["plan"] = plan
    st.session_state["catalog"] = loaded.catalog
    st.session_state["sites"] = loaded.sites
    st.session_state["organisations"] = loaded.organisations_given
    st.session_state["scenario"] = scenario
    return result


def forget_plan() -> None:
    """Drop the remembered plan (the data it was solved from has been replaced)."""
    st.session_state[PLAN] = None
    for key in ("plan", "catalog", "sites", "organisations", "scenario"):
        st.session_state.pop(key, None)


def current_scenario() -> tuple[Scenario | None, tuple[Problem, ...]]:
    """The scenario from the current settings, or the problems with them."""
    try:
        return A.controls_to_scenario(controls()), ()
    except InputError as exc:
        return None, exc.problems


def scenario_or_stop() -> Scenario:
    scenario, problems = current_scenario()
    if scenario is None:
        st.error("The scenario settings have problems:")
        show_problems(problems)
        st.page_link(PLAN_PAGE, label="Change the settings", icon=":material/tune:")
        st.stop()
    return scenario


# --------------------------------------------------------------------------- widgets


def show_problems(problems: Iterable[Problem]) -> None:
    """Every problem in the CLI's words, one line each, as an error next to the data."""
    lines = A.problem_lines(problems)
    if lines:
        st.error("\n".join(f"- {A.md_escape(line)}" for line in lines))


MONEY = "£%,.0f"
MONEY_PENCE = "£%,.2f"


def money_column(label: str, *, pence: bool = False, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format=MONEY_PENCE if pence else MONEY, help=help)


def percent_column(label: str, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="percent", help=help)


def table(frame: pd.DataFrame, config: Mapping[str, Any] | None = None, **kw: Any) -> None:
    """A read-only table with money and labels configured."""
    st.dataframe(frame, hide_index=True, column_config=dict(config or {}), **kw)


def data_caption(data: A.DataInputs) -> str:
    """Where the data came from, in one line."""
    files = len(data.catalog_files)
    cat = f"{A.md_escape(data.catalog_label)} ({files} file{'s' if files != 1 else ''})"
    orgs = (
        A.md_escape(data.organisations_name)
        if data.organisations_name
        else "none (organisations come from the sites)"
    )
    sites = A.md_escape(data.sites_name)
    source = "the sample" if data.is_sample else "your data"
    return f"Planning {source}. Catalogue: {cat} · Sites: {sites} · Organisations: {orgs}"

