"""Scenarios: keep what you tried under a name, reload it, delete it, compare side by side."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import charts
from procurement.store import ScenarioStore, StoreError

st.title("Scenarios")
_shared.show_flash()

try:
    store = ScenarioStore()
    saved = store.list()
except StoreError as exc:
    _shared.say("error", str(exc))
    st.stop()
st.caption(
    f"Saved in {A.md_escape(store.path)} (set HSCN_PROCURE_DATA to keep them somewhere else)."
)

# --------------------------------------------------------------------------- save

st.subheader("Save the current plan")
result: _shared.SolvedPlan | None = st.session_state.get(_shared.PLAN)
if result is None:
    st.info("Solve a plan first; then save it here with its data and settings.",
            icon=":material/info:")
    st.page_link(_shared.PLAN_PAGE, label="Go to the Plan page", icon=":material/route:")
else:
    plan = result.plan
    c = result.controls
    default_name = (
        f"{c['route']} {c['term_months']} months"
        + (f", budget {A.gbp(c['budget'])}" if c.get("budget") is not None else "")
    )
    outcome = (
        f"total {A.gbp(plan.total_cost)}" if plan.has_plan else "no plan fits these settings"
    )
    st.caption(
        f"The last plan solved: {plan.status.value}, {outcome}, on the {plan.route.value} "
        "route. Saving keeps its data files, its settings and its results."
    )
    name = st.text_input("Name", value=default_name, key="scenarios_name", max_chars=120)
    if st.button("Save", type="primary", icon=":material/save:", key="scenarios_save"):
        replacing = name.strip() in store
        try:
            record = store.save(
                name,
                A.scenario_inputs_record(result.data, result.controls),
                A.plan_record(plan),
            )
        except StoreError as exc:
            _shared.say("error", str(exc))
        else:
            verb = "Replaced" if replacing else "Saved"
            _shared.flash("success", f"{verb} scenario '{A.md_escape(record.name)}'.")
            st.rerun()

if not saved:
    st.info("No scenarios saved yet.")
    st.stop()

# --------------------------------------------------------------------------- list

st.subheader(f"Saved scenarios ({len(saved)})")
names = [s.name for s in saved]
try:
    everything = store.load_many(names)
except StoreError as exc:
    _shared.say("error", str(exc))
    st.stop()
frame = A.saved_comparison_frame(everything)
MONEY_CONFIG = {
    "scenario": "Scenario",
    "saved": "Saved (UTC)",
    "route": "Route",
    "objective": "Objective",
    "term_months": st.column_config.NumberColumn("Term (months)", format="%d"),
    "budget": _shared.money_column("Budget"),
    "status": "Status",
    "total_cost": _shared.money_column("Total over the term"),
    "per_site_per_month": _shared.money_column("Per site per month", pence=True),
    "saving": _shared.money_column("Saving against today"),
    "suppliers_used": st.column_config.NumberColumn("Suppliers", format="%d"),
    "served": st.column_config.NumberColumn("Sites served", format="%d"),
    "sites": st.column_config.NumberColumn("Sites", format="%d"),
    "sites_file": "Sites file",
}
_shared.table(frame, MONEY_CONFIG)

chosen = st.selectbox("Scenario", options=names, key="scenarios_chosen")
b1, b2, _ = st.columns([1, 1, 3])
with b1:
    load = st.button("Load it", icon=":material/upload:", key="scenarios_load",
                     help="Make its data and settings the current ones.")
with b2:
    delete = st.button("Delete it", icon=":material/delete:", key="scenarios_delete")
if load and chosen:
    try:
        item = store.load(chosen)
        data, values = A.scenario_from_record(item.inputs)
    except (StoreError, KeyError, TypeError, ValueError) as exc:
        _shared.say("error", f"Scenario '{chosen}' cannot be loaded: {exc}")
    else:
        _shared.set_data(data)
        _shared.set_controls(values)
        _shared.forget_plan()
        st.session_state[_shared.AUTOSOLVE] = True
        _shared.flash(
            "success",
            f"Loaded scenario '{A.md_escape(item.name)}': its data and settings are now the "
            "current ones. "
            "The Plan page shows it (solving again if needed).",
        )
        st.rerun()
if delete and chosen:
    try:
        gone = store.delete(chosen)
    except StoreError as exc:
        _shared.say("error", str(exc))
    else:
        _shared.flash("success" if gone else "info",
                      f"Deleted scenario '{A.md_escape(chosen)}'." if gone
                      else f"'{A.md_escape(chosen)}' was not there.")
        st.rerun()

if st.session_state.get(_shared.AUTOSOLVE):
    st.page_link(_shared.PLAN_PAGE, label="See the loaded scenario's plan",
                 icon=":material/route:")

# --------------------------------------------------------------------------- compare

st.subheader("Compare side by side")
picked = st.multiselect(
    "Scenarios to compare", options=names, default=names[: min(4, len(names))],
    key=f"scenarios_compare_{A.cache_key(names)[:12]}",  # a fresh choice when the list changes
)
if picked:
    part = frame[frame["scenario"].isin(picked)].reset_index(drop=True)
    st.altair_chart(charts.scenario_comparison_chart(part), width="stretch")
    st.dataframe(A.saved_side_by_side(part), width="stretch")
