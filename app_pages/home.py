"""Start here: what the tool does, the consortium being planned, and what to do next."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared
from procurement import app_state as A

st.title("HSCN connectivity planner")
_shared.show_flash()

st.markdown(
    "Plan the purchase of **HSCN connectivity** for NHS and social-care sites: check the "
    "accredited suppliers (CN-SPs) and their offerings, find the cheapest plan that meets "
    "every site's needs (or the best quality within a budget), compare buying **solo**, "
    "**collaboratively** as a consortium, or through a **central** framework, see how a "
    "consortium's savings are shared fairly, and download a supplier shortlist."
)

data = _shared.data_inputs()
outcome = _shared.load()

if data.is_sample:
    st.info(
        "You are looking at the **sample**: a fictional consortium of six NHS and "
        "social-care organisations in the North West, and a sample catalogue of 17 "
        "suppliers. Supplier names and prices in the sample catalogue are illustrative, "
        "not real offers. Replace them with your own on the Data page.",
        icon=":material/info:",
    )
else:
    st.caption(_shared.data_caption(data))

if outcome.data is None:
    st.error("Your data has problems; fix them on the Data page:")
    _shared.show_problems(outcome.problems)
    st.page_link(_shared.DATA_PAGE, label="Fix the data", icon=":material/upload_file:")
    st.stop()

loaded = outcome.data
summary = A.consortium_summary(loaded)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Sites", f"{summary['sites']:,}")
c2.metric("Organisations", summary["organisations"])
c3.metric("Suppliers in the catalogue", summary["suppliers"])
c4.metric(
    "Paid today, per month",
    A.gbp(summary["current_monthly_cost"]),
    help=f"Current monthly cost of the {summary['sites_with_baseline']} sites that report one: "
    "the baseline for savings.",
)

st.subheader("The organisations")
_shared.table(
    A.organisations_frame(loaded),
    {
        "organisation": "Organisation id",
        "name": "Name",
        "type": "Type",
        "sites": st.column_config.NumberColumn("Sites", format="%d"),
        "budget": _shared.money_column("Budget for the term"),
    },
)

st.subheader("What to do next")
if st.button("Solve this consortium now", type="primary", icon=":material/play_arrow:"):
    st.session_state[_shared.AUTOSOLVE] = True
    st.switch_page(_shared.PLAN_PAGE)

st.markdown("Or go step by step:")
st.page_link(_shared.DATA_PAGE, label="1. Data: upload your own sites, organisations and "
             "catalogue, or edit the sites in a table", icon=":material/upload_file:")
st.page_link(_shared.PLAN_PAGE, label="2. Plan: choose the route, term, budget and rules, "
             "then solve", icon=":material/route:")
st.page_link(_shared.ROUTES_PAGE, label="3. Routes: compare solo, collaborative and central "
             "buying, and how savings are shared", icon=":material/compare_arrows:")
st.page_link(_shared.SHORTLIST_PAGE, label="4. Shortlist: the best alternative groups of "
             "suppliers, to download for further competition", icon=":material/list_alt:")
st.page_link(_shared.SCENARIOS_PAGE, label="5. Scenarios: keep what you tried and compare "
             "side by side", icon=":material/bookmarks:")
