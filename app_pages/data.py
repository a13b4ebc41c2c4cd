"""Data: the catalogue, sites and organisations being planned; upload or edit your own."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_pages import _shared
from procurement import app_state as A
from procurement import inputs
from procurement.errors import InputError

st.title("Data")
_shared.show_flash()

data = _shared.data_inputs()
st.caption(_shared.data_caption(data))
if not data.is_sample and st.button("Go back to the sample", icon=":material/restart_alt:"):
    _shared.set_data(A.sample_inputs())
    _shared.set_controls(A.sample_controls())
    _shared.forget_plan()
    _shared.flash("success", "Back on the sample catalogue and consortium.")
    st.rerun()


def _accept(kind: str, files: list[Any], accept) -> None:
    """Validate newly uploaded files once; keep the data or remember the problems."""
    if not files:
        return
    ids = tuple(f.file_id for f in files)
    seen = f"data_seen_{kind}"
    if st.session_state.get(seen) == ids:
        return
    st.session_state[seen] = ids
    try:
        message = accept(files)
    except InputError as exc:
        st.session_state[f"data_problems_{kind}"] = exc.problems
        return
    st.session_state[f"data_problems_{kind}"] = ()
    _shared.forget_plan()
    _shared.flash("success", message)
    st.rerun()


def _problems_of(kind: str) -> None:
    problems = st.session_state.get(f"data_problems_{kind}") or ()
    if problems:
        st.caption("Nothing was changed: the file has these problems (fix them and upload again).")
        _shared.show_problems(problems)


def _accept_catalog(files: list[Any]) -> str:
    named = [A.NamedFile(A.safe_file_name(f.name), f.getvalue()) for f in files]
    label = named[0].name if len(named) == 1 else "uploaded"
    catalog = A.catalog_from_files(named, label)
    _shared.set_data(_shared.data_inputs().with_catalog(named, label))
    return (
        f"Catalogue loaded: {len(catalog.suppliers)} suppliers from {len(named)} file(s) "
        f"({A.md_escape(', '.join(f.name for f in named))})."
    )


def _accept_sites(files: list[Any]) -> str:
    f = files[0]
    name = A.safe_file_name(f.name, "sites.csv")
    sites = inputs.load_sites(f.getvalue(), name=name)
    new, note = _shared.data_inputs().with_own_sites(f.getvalue(), name)
    _shared.set_data(new)
    return f"Sites loaded: {len(sites)} sites from {A.md_escape(name)}." + (
        f" {note}" if note else ""
    )


def _accept_organisations(files: list[Any]) -> str:
    f = files[0]
    name = A.safe_file_name(f.name, "organisations.csv")
    orgs = inputs.load_organisations(f.getvalue(), name=name)
    _shared.set_data(_shared.data_inputs().with_organisations(f.getvalue(), name))
    return f"Organisations loaded: {len(orgs)} from {A.md_escape(name)}."


st.subheader("Upload your own")
col_sites, col_orgs, col_cat = st.columns(3)
with col_sites:
    up = st.file_uploader(
        "Sites (CSV)",
        type=["csv"],
        key="data_upload_sites",
        help="One row per building: site_id, organisation, region and bandwidth_mbps are "
        "required. Download the template to see every column.",
    )
    _accept("sites", [up] if up is not None else [], _accept_sites)
    _problems_of("sites")
    st.download_button(
        "Download a template CSV",
        data=inputs.SITES_TEMPLATE_CSV,
        file_name="sites-template.csv",
        mime="text/csv",
        icon=":material/download:",
        key="data_template",
    )
with col_orgs:
    up = st.file_uploader(
        "Organisations (CSV, optional)",
        type=["csv"],
        key="data_upload_orgs",
        help="Columns organisation, name, type, budget (GBP for the whole term). An "
        "organisation named by a site but missing here has no budget.",
    )
    _accept("orgs", [up] if up is not None else [], _accept_organisations)
    _problems_of("orgs")
    if data.organisations_csv is not None and st.button("Plan without an organisations file"):
        _shared.set_data(_shared.data_inputs().with_organisations(None, None))
        _shared.forget_plan()
        st.rerun()
with col_cat:
    ups = st.file_uploader(
        "Catalogue (one YAML file, or several)",
        type=["yaml", "yml"],
        accept_multiple_files=True,
        key="data_upload_catalog",
        help="Supplier YAML files as described in the docs; several files are merged, "
        "in name order.",
    )
    _accept("catalog", list(ups or []), _accept_catalog)
    _problems_of("catalog")

outcome = _shared.load()
if outcome.data is None:
    st.error("The data in use has problems:")
    _shared.show_problems(outcome.problems)
    st.stop()
loaded = outcome.data

st.subheader(f"Sites ({len(loaded.sites)})")
st.caption(
    "Edit cells, add rows at the bottom or delete rows, then press **Use these sites**. "
    "Problems are reported as for a CSV file: line 2 is the table's first row."
)
editor_key = f"data_sites_editor_{data.digest()[:16]}"
edited = st.data_editor(
    A.editor_frame(loaded.sites),
    key=editor_key,
    num_rows="dynamic",
    hide_index=True,
    column_config={
        "site_id": st.column_config.TextColumn("site_id", required=True, pinned=True),
        "organisation": st.column_config.TextColumn("organisation", required=True),
        "name": st.column_config.TextColumn("name"),
        "region": st.column_config.SelectboxColumn(
            "region", options=list(A.REGION_CODES), required=True
        ),
        "bandwidth_mbps": st.column_config.NumberColumn(
            "bandwidth_mbps", min_value=0, required=True, help="Primary link's minimum download"
        ),
        "resilience": st.column_config.SelectboxColumn(
            "resilience", options=list(A.RESILIENCE_LEVELS), default="single",
            help="single, backup (a second link of another technology) or diverse "
            "(a second wired link from another supplier)",
        ),
        "backup_mbps": st.column_config.NumberColumn("backup_mbps", min_value=0),
        "min_availability_pct": st.column_config.NumberColumn(
            "min_availability_pct", min_value=0, max_value=100
        ),
        "wifi_aps": st.column_config.NumberColumn("wifi_aps", min_value=0, step=1, format="%d"),
        "technologies": st.column_config.MultiselectColumn(
            "technologies", options=list(A.LINK_TECHNOLOGY_NAMES),
            help="What the site can have; none chosen means all three",
        ),
        "allow_4g_primary": st.column_config.CheckboxColumn("allow_4g_primary"),
        "go_live_by": st.column_config.DateColumn("go_live_by", format="YYYY-MM-DD"),
        "priority": st.column_config.NumberColumn(
            "priority", min_value=1, max_value=5, step=1, format="%d"
        ),
        "uncontended": st.column_config.CheckboxColumn("uncontended"),
        "current_supplier": st.column_config.TextColumn("current_supplier"),
        "current_monthly_cost": st.column_config.NumberColumn(
            "current_monthly_cost", min_value=0, format="£%.2f"
        ),
    },
)
col_apply, col_download = st.columns([1, 3])
with col_apply:
    apply = st.button("Use these sites", type="primary", key="data_apply_sites")
with col_download:
    st.download_button(
        "Download these sites as CSV",
        data=data.sites_csv,
        file_name=data.sites_name.rsplit("/", 1)[-1] if data.sites_name.endswith(".csv")
        else "sites.csv",
        mime="text/csv",
        icon=":material/download:",
        key="data_download_sites",
    )
if apply:
    try:
        sites, csv_bytes = A.sites_from_editor(edited)
    except InputError as exc:
        st.session_state["data_problems_editor"] = exc.problems
    else:
        st.session_state["data_problems_editor"] = ()
        _shared.set_data(_shared.data_inputs().with_sites(csv_bytes, A.EDITED_SITES_NAME))
        _shared.forget_plan()
        _shared.flash("success", f"Using the edited table: {len(sites)} sites. Download it "
                      "as CSV below to keep it.")
        st.rerun()
editor_problems = st.session_state.get("data_problems_editor") or ()
if editor_problems:
    st.caption("The table was not used: fix these rows and press the button again.")
    _shared.show_problems(editor_problems)
    _shared.table(A.problems_frame(editor_problems))

st.subheader(f"Organisations ({len(loaded.organisations)})")
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
st.caption(
    f"Catalogue: {len(loaded.catalog.suppliers)} suppliers, "
    f"{sum(len(s.offerings) for s in loaded.catalog.suppliers)} offerings. "
    "See the Catalogue page for the details."
)
