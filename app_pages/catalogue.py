"""Catalogue: the suppliers and their offerings, filtered, priced, and who is excluded why."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import charts

st.title("Catalogue")
_shared.show_flash()

data = _shared.data_inputs()
loaded = _shared.loaded_or_stop()
catalog = loaded.catalog
scenario = _shared.scenario_or_stop()
st.caption(
    f"{A.md_escape(data.catalog_label)}: {len(catalog.suppliers)} suppliers (CN-SPs), "
    f"{sum(len(s.offerings) for s in catalog.suppliers)} offerings."
    + (" Supplier names and prices in the sample catalogue are illustrative." if data.is_sample
       else "")
)

excluded = A.excluded_suppliers(catalog, scenario)
st.subheader("Suppliers that cannot be used")
st.caption(
    f"Under the Plan page's settings: start date {scenario.start_date.isoformat()}, route "
    f"{scenario.route.value}, exclusions and required certifications."
)
if excluded:
    _shared.table(
        pd.DataFrame(excluded, columns=["supplier_id", "name", "reason"]),
        {"supplier_id": "Supplier", "name": "Name", "reason": "Why it cannot be used"},
    )
else:
    st.success("Every supplier in the catalogue can be used under these settings.")

st.subheader("Offerings")
f1, f2, f3, f4 = st.columns([2, 3, 2, 2])
with f1:
    techs = st.multiselect(
        "Technology", options=["fibre", "ethernet", "4g", "wifi"], key="catalogue_tech",
        placeholder="all",
    )
with f2:
    regions = st.multiselect(
        "Region", options=list(A.REGION_CODES), key="catalogue_region", placeholder="all",
    )
with f3:
    route = st.selectbox(
        "Route", options=["any", *A.ROUTES], key="catalogue_route",
        help="On the central route only suppliers on the central framework are listed.",
    )
with f4:
    usable_only = st.checkbox("Only usable suppliers", key="catalogue_usable")

offerings = A.filter_offerings(
    A.offering_frame(catalog, scenario),
    technologies=techs,
    regions=regions,
    route=None if route == "any" else route,
    usable_only=usable_only,
)
st.caption(f"{len(offerings)} offerings match.")
st.altair_chart(charts.price_bandwidth_chart(offerings), width="stretch")
st.caption("Hollow points: the supplier cannot be used under the current settings. Wi-Fi is "
           "priced per access point and has no speed, so it is not on the chart.")
_shared.table(
    offerings,
    {
        "supplier_id": None,
        "supplier": "Supplier",
        "offering_id": "Offering id",
        "name": "Offering",
        "technology": "Technology",
        "download_mbps": st.column_config.NumberColumn("Download (Mbps)", format="%,.0f"),
        "upload_mbps": st.column_config.NumberColumn("Upload (Mbps)", format="%,.0f"),
        "availability_pct": st.column_config.NumberColumn("Availability (%)", format="%.2f"),
        "install_cost": _shared.money_column("Install", pence=True),
        "monthly_cost": _shared.money_column("Monthly", pence=True),
        "unit": "Priced per",
        "min_term_months": st.column_config.NumberColumn("Minimum term (months)", format="%d"),
        "lead_time_days": st.column_config.NumberColumn("Lead time (days)", format="%d"),
        "regions": "Regions",
        "quality_score": st.column_config.NumberColumn("Quality score", format="%.0f"),
        "contention_ratio": st.column_config.NumberColumn("Contention", format="%g:1"),
        "central_framework": st.column_config.CheckboxColumn("On central framework"),
        "usable": st.column_config.CheckboxColumn("Supplier usable"),
    },
)

st.subheader("Suppliers")
_shared.table(
    A.supplier_frame(catalog, scenario),
    {
        "supplier_id": "Supplier id",
        "name": "Name",
        "hscn_compliant": st.column_config.CheckboxColumn("HSCN compliant"),
        "compliance_expires": st.column_config.DateColumn("Compliance expires"),
        "regions": "Regions",
        "certifications": "Certifications",
        "offerings": st.column_config.NumberColumn("Offerings", format="%d"),
        "onboarding": _shared.money_column("Onboarding fee"),
        "annual_management": _shared.money_column("Annual management fee"),
        "volume_discounts": "Volume discounts",
        "central_framework": "Central framework",
        "usable": st.column_config.CheckboxColumn("Usable"),
        "excluded_because": "Why not",
    },
)
