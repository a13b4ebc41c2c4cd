"""Trade-off: sweep the budget and chart the best quality reachable at each, for a board."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import charts
from procurement.errors import InputError

st.title("Trade-off: what more money buys")
_shared.show_flash()

data = _shared.data_inputs()
st.caption(_shared.data_caption(data))
loaded = _shared.loaded_or_stop()
scenario = _shared.scenario_or_stop()

st.markdown(
    "Public buyers award on the most economically advantageous tender (MEAT): price and "
    "quality together. This page finds the cheapest plan, then the best quality (the sum "
    "of each site's primary offering quality score) that each larger budget can buy, up to "
    "the best quality on offer. The Plan page's other settings are kept "
    f"(route: **{scenario.route.value}**)."
)
c1, c2 = st.columns(2)
with c1:
    points = st.slider("Budgets to try", min_value=3, max_value=10, value=5, key="tradeoff_points")
with c2:
    limit = st.number_input(
        "Time limit per solve (seconds)", min_value=1.0, max_value=600.0,
        value=float(min(scenario.time_limit_s, 30.0)), step=5.0, key="tradeoff_limit",
    )
sweep_scenario = scenario.model_copy(update={"time_limit_s": float(limit)})

key = A.cache_key("tradeoff", data, sweep_scenario, points)
remembered = st.session_state.get("tradeoff_result")
run = st.button("Sweep the budget", type="primary", icon=":material/trending_up:",
                key="tradeoff_run")
if remembered is not None and remembered[0] == key:
    result = remembered[1]
elif run:
    bar = st.progress(0.0, text="Starting…")

    def tell(done: int, total: int, words: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"Solving: {words}")

    try:
        result = A.budget_sweep(
            lambda s: _shared.solve_cached(data, loaded, s),
            sweep_scenario,
            points=points,
            progress=tell,
        )
    except InputError as exc:
        _shared.show_problems(exc.problems)
        st.stop()
    bar.empty()
    st.session_state["tradeoff_result"] = (key, result)
else:
    if remembered is not None:
        st.warning("The data or settings changed since the last sweep. Press the button to "
                   "sweep again.", icon=":material/update:")
    else:
        st.info(f"Press the button to sweep {points} budgets (about {points + 2} solves).",
                icon=":material/info:")
    st.stop()

if result.message:
    st.warning(result.message[0].upper() + result.message[1:] + ".")
if result.frame.empty or result.frame["quality"].isna().all():
    st.stop()

per_site = st.toggle("Show the average quality per site", key="tradeoff_per_site")
st.altair_chart(charts.tradeoff_chart(result.frame, per_site=per_site), width="stretch")
frame = result.frame
first, last = frame.iloc[0], frame.iloc[-1]
if pd.notna(last["quality"]) and pd.notna(first["quality"]):
    st.caption(
        f"From {A.gbp(first['budget'])} to {A.gbp(last['budget'])}, quality rises from "
        f"{first['quality']:,.0f} to {last['quality']:,.0f}."
    )
_shared.table(
    frame,
    {
        "budget": _shared.money_column("Budget"),
        "quality": st.column_config.NumberColumn("Best quality", format="%,.0f"),
        "quality_per_site": st.column_config.NumberColumn("Per site", format="%.1f"),
        "total_cost": _shared.money_column("Plan cost"),
        "served": st.column_config.NumberColumn("Sites served", format="%d"),
        "status": "Status",
        "suppliers": "Suppliers",
    },
)
