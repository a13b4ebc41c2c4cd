"""HSCN connectivity planner: the Streamlit app's entry point (``make run``).

This file is only a router: it sets up the session (opening on the sample
catalogue and consortium) and hands over to the page chosen in the
navigation. Pages live in ``app_pages/`` and hold UI only; the work is done by
the ``procurement`` library.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages import _shared
from procurement.blas import use_one_blas_thread

HERE = Path(__file__).resolve().parent

st.set_page_config(
    page_title="HSCN connectivity planner",
    page_icon=":material/lan:",
    layout="wide",
)
use_one_blas_thread()
_shared.init_state()

home = st.Page("app_pages/home.py", title="Start here", icon=":material/home:", default=True)
data = st.Page("app_pages/data.py", title="Data", icon=":material/upload_file:")
plan = st.Page("app_pages/plan.py", title="Plan", icon=":material/route:")
routes = st.Page("app_pages/routes.py", title="Routes", icon=":material/compare_arrows:")
shortlist = st.Page("app_pages/shortlist.py", title="Shortlist", icon=":material/list_alt:")
catalogue = st.Page("app_pages/catalogue.py", title="Catalogue", icon=":material/storefront:")
tradeoff = st.Page("app_pages/tradeoff.py", title="Trade-off", icon=":material/trending_up:")
scenarios = st.Page("app_pages/scenarios.py", title="Scenarios", icon=":material/bookmarks:")

explore = [catalogue, tradeoff]
if (HERE / "app_pages" / "transition.py").exists():
    explore.append(
        st.Page("app_pages/transition.py", title="Transition", icon=":material/calendar_month:")
    )

page = st.navigation(
    {
        "": [home],
        "Plan the purchase": [data, plan, routes, shortlist],
        "Explore": explore,
        "Keep": [scenarios],
    }
)

with st.sidebar:
    st.caption(_shared.data_caption(_shared.data_inputs()))

page.run()
