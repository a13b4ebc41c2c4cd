"""Routes: solo, collaborative and central side by side, and the consortium's savings shared."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import charts, exports
from procurement.errors import InputError
from procurement.routes import compare

st.title("Routes")
_shared.show_flash()

data = _shared.data_inputs()
st.caption(_shared.data_caption(data))
loaded = _shared.loaded_or_stop()
scenario = _shared.scenario_or_stop()

st.markdown(
    "The same sites are planned on all three routes, at the lowest cost, with the scenario's "
    "supplier rules kept and budgets not binding. The collaborative total is then shared "
    "among the organisations, and each share is set against what it would pay buying alone."
)

METHODS = {
    "shapley": "Shapley value: each organisation pays its average extra cost to the "
    "consortium (the classic fair split)",
    "nucleolus": "Nucleolus: makes the least happy group as happy as possible (stable "
    "whenever a stable split exists)",
    "proportional": "Proportional: in proportion to each one's solo cost (everyone saves "
    "the same percentage)",
}
method = st.radio(
    "How to share the consortium's cost",
    options=list(METHODS),
    format_func=lambda m: METHODS[m],
    key="routes_method",
)


# RouteComparison holds read-only mappings that cannot be pickled, so it is kept with
# st.cache_resource: one frozen, read-only result per canonical key, shared by sessions.
@st.cache_resource(max_entries=4, show_spinner=False)
def _compare(key: str, _loaded: A.LoadedData, _scenario, _progress=None):
    return compare(
        _loaded.catalog,
        _loaded.sites,
        _scenario,
        _loaded.organisations_given,
        progress=_progress,
    )


key = A.cache_key("compare", data, scenario)
remembered = st.session_state.get("routes_result")
run = st.button(
    "Compare the three routes", type="primary", icon=":material/compare_arrows:", key="routes_run"
)
if remembered is not None and remembered[0] == key:
    base = remembered[1]
elif run:
    with st.status(
        f"Planning {len(loaded.sites)} sites on three routes, and every group of the "
        f"{len(loaded.organisations)} organisations, to share the savings…",
        expanded=False,
    ) as status:
        bar = st.progress(0.0, text="Costing the groups of organisations…")

        def tell(solved: int, total: int) -> None:
            bar.progress(
                solved / total if total else 1.0,
                text=f"Costed {solved:,} of {total:,} groups of organisations",
            )

        try:
            base = _compare(key, loaded, scenario, tell)
        except InputError as exc:
            status.update(label="The settings need a change", state="error")
            _shared.show_problems(exc.problems)
            st.stop()
        status.update(label="Routes compared", state="complete")
    st.session_state["routes_result"] = (key, base)
else:
    if remembered is not None:
        st.warning(
            "The data or settings changed since the last comparison. Press the "
            "button to compare again.",
            icon=":material/update:",
        )
    else:
        st.info(
            "Press the button to compare the routes (this solves the plan for every "
            "group of organisations, so it takes a while).",
            icon=":material/info:",
        )
    st.stop()

try:
    comparison = A.with_allocation(base, method)
except (ValueError, InputError) as exc:
    _shared.say("error", f"The {method} split cannot be used here: {exc}")
    comparison = base

routes = A.routes_frame(comparison)
cols = st.columns(len(routes) or 1)
for col, row in zip(cols, routes.itertuples(index=False), strict=False):
    if row.total_cost is None or row.total_cost != row.total_cost:
        col.metric(row.route.capitalize(), "no plan", help=row.description)
    elif row.route == "solo":
        col.metric("Solo", A.gbp(row.total_cost), help=row.description)
    else:
        col.metric(
            row.route.capitalize(),
            A.gbp(row.total_cost),
            delta=f"{A.gbp(row.saving_vs_solo)} ({A.percent(row.saving_pct)}) against solo",
            help=row.description,
        )

left, right = st.columns([2, 3])
with left:
    st.altair_chart(charts.route_totals_chart(routes), width="stretch")
with right:
    _shared.table(
        routes.drop(columns=["description"]),
        {
            "route": "Route",
            "status": "Status",
            "total_cost": _shared.money_column("Total over the term"),
            "saving_vs_solo": _shared.money_column("Saving against solo"),
            "saving_pct": _shared.percent_column("Saving (%)"),
        },
    )

st.subheader("How the consortium's savings are shared")
allocation = A.allocation_frame(comparison)
kind, sentence = A.core_words(comparison)
_shared.say(kind, sentence)
if not allocation.empty:
    st.altair_chart(charts.allocation_chart(allocation), width="stretch")
if allocation["std_error"].isna().all():
    allocation = allocation.drop(columns=["std_error"])
_shared.table(
    allocation,
    {
        "organisation": "Organisation",
        "solo_cost": _shared.money_column("Buying alone (solo)"),
        "allocated_cost": _shared.money_column("Share of the consortium"),
        "saving": _shared.money_column("Saving"),
        "saving_pct": _shared.percent_column("Saving (%)"),
        "std_error": _shared.money_column(
            "Standard error",
            help="Shown when the Shapley value is estimated by sampling "
            "(more than 12 organisations).",
        ),
    },
)
blocking = A.blocking_coalitions(comparison)
if blocking:
    st.markdown("**Groups that would do better on their own**")
    for group in blocking:
        st.markdown(f"- {A.md_escape(', '.join(group))}")

what_if = A.what_if_frame(comparison)
if not what_if.empty:
    with st.expander("What each organisation's membership is worth"):
        _shared.table(
            what_if,
            {
                "organisation": "Organisation",
                "marginal_cost": _shared.money_column(
                    "Adds to the bill", help="The consortium's total with it, less without it."
                ),
                "joining_saving": _shared.money_column(
                    "Saving its joining brings",
                    help="It alone plus the others together, less all together.",
                ),
                "best_without": "Best group the others could form without it",
                "best_without_saving": _shared.money_column("That group's saving"),
            },
        )

notes = comparison.to_dict().get("diagnostics", [])
if notes:
    with st.expander(f"Notes ({len(notes)})"):
        for note in notes:
            _shared.say(str(note.get("level")), str(note.get("message", "")))

st.subheader("Download the comparison")
frames = A.comparison_frames(comparison)
d1, d2 = st.columns(2)
d1.download_button(
    "Excel workbook",
    data=exports.frames_to_xlsx(frames),
    file_name="hscn-routes.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/table_view:",
    key="routes_download_xlsx",
)
d2.download_button(
    "JSON",
    data=exports.comparison_to_json(comparison),
    file_name="hscn-routes.json",
    mime="application/json",
    icon=":material/data_object:",
    key="routes_download_json",
)
