"""Shortlist: the best plans that each use a different group of suppliers, to download."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import exports
from procurement.errors import InputError
from procurement.shortlist import shortlist

st.title("Shortlist")
_shared.show_flash()

data = _shared.data_inputs()
st.caption(_shared.data_caption(data))
loaded = _shared.loaded_or_stop()
scenario = _shared.scenario_or_stop()

st.markdown(
    "A further competition needs more than one answer. The shortlist is the best plan, "
    "then the best plan that uses a *different group of suppliers*, and so on, each under "
    f"the Plan page's settings (route: **{scenario.route.value}**, objective: "
    f"**{scenario.objective.value}**), with how much more each costs than the best."
)
k = st.slider("How many plans", min_value=2, max_value=10, value=5, key="shortlist_k")


@st.cache_data(max_entries=8, show_spinner=False)
def _shortlist(key: str, _loaded: A.LoadedData, _scenario, k: int):
    return shortlist(_loaded.catalog, _loaded.sites, _scenario, _loaded.organisations_given, k=k)


key = A.cache_key("shortlist", data, scenario, k)
remembered = st.session_state.get("shortlist_result")
run = st.button(
    "Find the shortlist", type="primary", icon=":material/list_alt:", key="shortlist_run"
)
if remembered is not None and remembered[0] == key:
    result = remembered[1]
elif run:
    with st.status(
        f"Finding up to {k} plans with different suppliers (each solve may take up to "
        f"{scenario.time_limit_s:g} s)…",
        expanded=False,
    ) as status:
        try:
            result = _shortlist(key, loaded, scenario, k)
        except InputError as exc:
            status.update(label="The settings need a change", state="error")
            _shared.show_problems(exc.problems)
            st.stop()
        status.update(label=f"Found {len(result.plans)} plan(s)", state="complete")
    st.session_state["shortlist_result"] = (key, result)
else:
    if remembered is not None:
        st.warning(
            "The data, settings or number of plans changed since the last shortlist. "
            "Press the button to find it again.",
            icon=":material/update:",
        )
    else:
        st.info(
            "Press the button to find the shortlist (this solves the plan once per entry).",
            icon=":material/info:",
        )
    st.stop()

if result.message:
    _shared.say("warning" if not result.plans else "info", result.message)
for d in getattr(result, "diagnostics", ()):
    _shared.say(str(d.level), d.message)
if not result.plans:
    st.stop()

best = result.plans[0]
c1, c2, c3 = st.columns(3)
c1.metric("Best plan", A.gbp(best.total_cost), help=A.md_escape(", ".join(best.suppliers)))
c2.metric("Plans found", len(result.plans))
c3.metric(
    "Gap to the last one",
    A.gbp(result.plans[-1].delta_vs_best),
    help="How much more the last plan on the list costs than the best.",
)

frame = A.shortlist_frame(result)
_shared.table(
    frame,
    {
        "rank": st.column_config.NumberColumn("Rank", format="%d"),
        "suppliers": "Suppliers",
        "n_suppliers": st.column_config.NumberColumn("How many", format="%d"),
        "total_cost": _shared.money_column("Total over the term"),
        "delta_vs_best": _shared.money_column("More than the best"),
        "delta_pct": _shared.percent_column("More than the best (%)"),
        "status": "Status",
        "adds_vs_best": "Adds (vs best)",
        "drops_vs_best": "Drops (vs best)",
        "sites_served": st.column_config.NumberColumn("Sites served", format="%d"),
        "quality": st.column_config.NumberColumn("Quality", format="%.0f"),
    },
)

st.subheader("Download the shortlist")
info = exports.CatalogInfo(name=data.catalog_label)
d1, d2, d3 = st.columns(3)
d1.download_button(
    "Excel workbook",
    data=partial(exports.shortlist_to_xlsx, result, info),
    file_name="hscn-shortlist.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/table_view:",
    key="shortlist_download_xlsx",
    type="primary",
)
d2.download_button(
    "CSV",
    data=exports.shortlist_to_csv(result),
    file_name="hscn-shortlist.csv",
    mime="text/csv",
    icon=":material/download:",
    key="shortlist_download_csv",
)
d3.download_button(
    "JSON",
    data=exports.shortlist_to_json(result),
    file_name="hscn-shortlist.json",
    mime="application/json",
    icon=":material/data_object:",
    key="shortlist_download_json",
)

st.subheader("Each plan on the list")
for entry in result.plans:
    with st.expander(
        f"{entry.rank}. {A.md_escape(', '.join(entry.suppliers))}: {A.gbp(entry.total_cost)}"
        + (f" (+{A.gbp(entry.delta_vs_best)})" if entry.rank > 1 else " (best)")
    ):
        m = A.plan_metrics(entry.plan)
        st.write(
            f"{m.served} of {m.sites} sites served · {A.gbp(m.per_site_per_month, pence=True)} "
            f"per site per month · {m.suppliers_used} suppliers"
        )
        st.download_button(
            "This plan as Excel",
            data=partial(exports.plan_to_xlsx, entry.plan),
            file_name=f"hscn-shortlist-plan-{entry.rank}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"shortlist_plan_{entry.rank}",
            icon=":material/table_view:",
        )
