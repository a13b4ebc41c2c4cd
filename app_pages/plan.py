"""Plan: choose the scenario, solve, and read the plan: metrics, charts, sites, downloads."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import charts, exports
from procurement.charts import plan as plan_charts

st.title("Plan")
_shared.show_flash()

data = _shared.data_inputs()
st.caption(_shared.data_caption(data))
loaded = _shared.loaded_or_stop()
catalog = loaded.catalog
values = _shared.controls()


def bind(field: str, to_widget=lambda v: v) -> str:
    """The widget key for a setting, filled from the saved settings when first shown."""
    key = f"plan_w_{field}"
    if key not in st.session_state:
        st.session_state[key] = to_widget(values.get(field))
    return key


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(value) if value else date.today()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- settings

st.subheader("Scenario")
c1, c2, c3 = st.columns(3)
with c1:
    route = st.selectbox(
        "Buying route",
        options=list(A.ROUTES),
        format_func=lambda r: A.ROUTE_WORDS[r],
        key=bind("route"),
        help="Who signs with each supplier: each organisation (solo, central) or the whole "
        "consortium (collaborative).",
    )
    objective = st.radio(
        "Objective",
        options=["cost", "quality"],
        format_func=lambda o: A.OBJECTIVE_WORDS[o],
        key=bind("objective"),
        horizontal=True,
        help="Quality maximises the sum of each site's primary offering quality score "
        "(MEAT evaluation) within the budget; it needs a budget.",
    )
with c2:
    term = st.number_input(
        "Term (months)", min_value=1, max_value=240, step=1, key=bind("term_months", int)
    )
    start = st.date_input(
        "Contracts start", key=bind("start_date", _date), format="YYYY-MM-DD",
        help="Suppliers whose HSCN compliance has expired by this date cannot be used.",
    )
with c3:
    budget = st.number_input(
        "Budget for the whole term (£)",
        min_value=0.0,
        step=10_000.0,
        format="%.0f",
        value=None,
        key=bind("budget", _float_or_none),
        placeholder="no budget",
        help="Leave empty for none. On the collaborative route with no budget here, the sum "
        "of the organisations' budgets applies when every organisation has one.",
    )
    allow_partial = st.checkbox(
        "Allow a partial plan",
        key=bind("allow_partial", bool),
        help="When the budget cannot cover every site, serve the highest-priority sites.",
    )

supplier_ids = [s.id for s in catalog.suppliers]
names = {s.id: s.name for s in catalog.suppliers}
certs = A.catalog_certifications(catalog)
dropped = [x for x in values.get("exclude_suppliers", []) if x not in supplier_ids]
dropped += [x for x in values.get("required_certifications", []) if x not in certs]

with st.expander("Supplier rules", expanded=False):
    r1, r2, r3 = st.columns(3)
    with r1:
        max_suppliers = st.number_input(
            "Most suppliers per contracting party", min_value=1, step=1, value=None,
            key=bind("max_suppliers", _int_or_none), placeholder="no limit",
        )
        min_suppliers = st.number_input(
            "Fewest suppliers per contracting party", min_value=1, step=1, value=None,
            key=bind("min_suppliers", _int_or_none), placeholder="no limit",
            help="Binds only a party that buys anything.",
        )
    with r2:
        share = st.number_input(
            "Largest share of a party's sites for one supplier (%)",
            min_value=1.0, max_value=100.0, step=5.0, value=None, format="%.0f",
            key=bind("max_supplier_share", lambda v: None if v is None else float(v) * 100),
            placeholder="no cap",
        )
        changes = st.number_input(
            "Most sites changing supplier, per party", min_value=0, step=1, value=None,
            key=bind("max_supplier_changes", _int_or_none), placeholder="no limit",
            help="Sites whose primary supplier differs from their current_supplier.",
        )
    with r3:
        exclude = st.multiselect(
            "Never use these suppliers",
            options=supplier_ids,
            format_func=lambda s: f"{names.get(s, s)} ({s})",
            key=bind("exclude_suppliers", lambda v: [x for x in v or [] if x in supplier_ids]),
        )
        required = st.multiselect(
            "Suppliers must hold these certifications",
            options=certs,
            key=bind("required_certifications", lambda v: [x for x in v or [] if x in certs]),
        )
if dropped:
    st.warning(
        "Some saved settings name suppliers or certifications that are not in this "
        f"catalogue and were left out: {A.md_escape(', '.join(sorted(set(dropped))))}."
    )

with st.expander("Solver", expanded=False):
    s1, s2 = st.columns(2)
    with s1:
        time_limit = st.number_input(
            "Time limit (seconds)", min_value=1.0, max_value=3600.0, step=10.0,
            key=bind("time_limit_s", float),
            help="The best plan found by then is shown, with how close to the best it is proven.",
        )
    with s2:
        gap = st.number_input(
            "Accept a plan within this % of the best", min_value=0.0, max_value=50.0, step=0.5,
            key=bind("mip_gap", lambda v: float(v or 0) * 100),
        )

new_values = {
    "route": route,
    "objective": objective,
    "term_months": int(term),
    "start_date": start.isoformat() if isinstance(start, date) else None,
    "budget": budget,
    "allow_partial": bool(allow_partial),
    "max_suppliers": max_suppliers,
    "min_suppliers": min_suppliers,
    "max_supplier_share": None if share is None else share / 100,
    "max_supplier_changes": changes,
    "exclude_suppliers": list(exclude),
    "required_certifications": list(required),
    "time_limit_s": float(time_limit),
    "mip_gap": float(gap) / 100,
}
st.session_state[_shared.CONTROLS] = A.normalise_controls(new_values)
scenario, problems = _shared.current_scenario()
if scenario is None:
    _shared.show_problems(problems)

solve_clicked = st.button(
    "Solve", type="primary", icon=":material/play_arrow:", disabled=scenario is None,
    key="plan_solve",
)
autosolve = st.session_state.get(_shared.AUTOSOLVE)
st.session_state[_shared.AUTOSOLVE] = False
result: _shared.SolvedPlan | None = st.session_state.get(_shared.PLAN)
if scenario is not None and (solve_clicked or autosolve):
    result = _shared.solve_with_status(data, loaded, scenario, new_values) or result

if result is None:
    st.info("Press **Solve** to find the best plan for these settings.", icon=":material/info:")
    st.stop()

if scenario is None or result.key != _shared.plan_key(data, scenario):
    st.warning(
        "The settings or the data have changed since this plan was solved. "
        "Press **Solve** to update it.",
        icon=":material/update:",
    )

# --------------------------------------------------------------------------- results

plan = result.plan
kind, sentence = A.plan_headline(plan)
getattr(st, kind)(sentence)

diagnostics = A.diagnostics_by_level(plan)
if not plan.has_plan:
    st.subheader("Why no plan fits")
    for level, message in diagnostics:
        _shared.say(level, message)
    st.stop()

m = A.plan_metrics(plan)
k1, k2, k3, k4 = st.columns(4)
k1.metric(
    "Total cost over the term",
    A.gbp(m.total_cost),
    help=f"Everything over {plan.term_months} months: installation, recurring charges after "
    "volume discounts, and supplier fees.",
)
k2.metric(
    "Per site per month",
    A.gbp(m.per_site_per_month, pence=True),
    help=f"Total over the term ÷ {m.served} served sites ÷ {plan.term_months} months.",
)
k3.metric("Suppliers used", m.suppliers_used, help=A.md_escape(", ".join(plan.supplier_ids)))
if m.saving is None:
    k4.metric("Saving against today", "—", help="No served site gives a current monthly cost.")
else:
    k4.metric(
        "Saving against today",
        A.gbp(m.saving),
        delta=A.percent(m.saving_pct),
        help=f"Against current monthly costs × term on the {m.baseline_sites} served sites "
        "that report one.",
    )
st.caption(
    f"{m.served} of {m.sites} sites served · quality {plan.quality:,.0f} · solved in "
    f"{plan.solve_seconds:.1f} s"
)

tab_costs, tab_sites, tab_parties, tab_notes = st.tabs(
    ["Costs", "Sites", "Suppliers and organisations", f"Notes ({len(diagnostics)})"]
)
with tab_costs:
    st.altair_chart(
        charts.cost_by_supplier_chart(plan_charts.supplier_cost_frame(plan)), width="stretch"
    )
    left, right = st.columns(2)
    with left:
        st.altair_chart(
            charts.organisation_budget_chart(plan_charts.organisation_cost_frame(plan)),
            width="stretch",
        )
        if str(plan.route) == "collaborative":
            st.caption(
                "On the collaborative route an organisation's cost is its attributed share: "
                "its own links plus supplier fees shared by its number of sites."
            )
    with right:
        st.altair_chart(
            charts.spend_over_term_chart(plan_charts.spend_over_term_frame(plan)),
            width="stretch",
        )
        st.caption("One-off charges fall at the start; recurring charges and fees are spread "
                   "evenly over the term.")

with tab_sites:
    _shared.table(
        A.site_table(plan),
        {
            "site_id": st.column_config.TextColumn("Site", pinned=True),
            "name": "Name",
            "organisation": "Organisation",
            "served": st.column_config.CheckboxColumn("Served"),
            "primary": "Primary link",
            "secondary": "Second link",
            "wifi": "Wi-Fi",
            "suppliers": "Suppliers",
            "availability_pct": st.column_config.NumberColumn("Availability (%)", format="%.3f"),
            "cost": _shared.money_column("Cost over the term", help="Links only, no fees"),
            "monthly_cost": _shared.money_column("Per month", pence=True),
            "runner_up_margin": _shared.money_column(
                "Runner-up margin",
                help="How much more the whole plan would cost with this site's next-best "
                "choice (negative: the cheaper option breaks a rule named in Runner-up).",
            ),
            "runner_up": "Runner-up",
        },
    )

with tab_parties:
    frames = plan.to_frames()
    st.markdown("**What each contracting party pays each supplier**")
    _shared.table(
        frames["suppliers"],
        {
            "party": "Contracting party",
            "supplier_id": "Supplier",
            "sites": st.column_config.NumberColumn("Sites", format="%d"),
            "one_off": _shared.money_column("One-off"),
            "recurring_list": _shared.money_column("Recurring at list price"),
            "discount_rate": _shared.percent_column("Discount rate"),
            "discount": _shared.money_column("Discount"),
            "fees": _shared.money_column("Fees"),
            "cost": _shared.money_column("Cost"),
        },
    )
    st.markdown("**Organisations**")
    _shared.table(
        frames["organisations"],
        {
            "organisation": "Organisation",
            "name": "Name",
            "sites": st.column_config.NumberColumn("Sites", format="%d"),
            "cost": _shared.money_column("Cost"),
            "budget": _shared.money_column("Budget"),
            "headroom": _shared.money_column("Headroom"),
        },
    )

with tab_notes:
    if not diagnostics:
        st.write("Nothing to note.")
    for level, message in diagnostics:
        _shared.say(level, message)


@st.cache_data(max_entries=16, show_spinner=False)
def _downloads(key: str, _plan, catalog_label: str) -> dict[str, bytes]:
    info = exports.CatalogInfo(name=catalog_label)
    return {
        "csv": exports.plan_to_csv(_plan),
        "xlsx": exports.plan_to_xlsx(_plan, info),
        "json": exports.plan_to_json(_plan),
    }


files = _downloads(result.key, plan, result.data.catalog_label)
st.subheader("Download this plan")
d1, d2, d3 = st.columns(3)
d1.download_button(
    "Excel workbook", data=files["xlsx"], file_name="hscn-plan.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/table_view:", key="plan_download_xlsx",
)
d2.download_button(
    "CSV (one row per link)", data=files["csv"], file_name="hscn-plan.csv", mime="text/csv",
    icon=":material/download:", key="plan_download_csv",
)
d3.download_button(
    "JSON", data=files["json"], file_name="hscn-plan.json", mime="application/json",
    icon=":material/data_object:", key="plan_download_json",
)
