"""Loaders: every bad input is reported with file, line, field and plain words.

Each test writes a tiny file into ``tmp_path`` so the line numbers it asserts
are visible right next to the assertion.
"""

from __future__ import annotations

import io
import textwrap
from datetime import date
from pathlib import Path

import pytest

from procurement.errors import InputError, Problem
from procurement.inputs import (
    SITE_COLUMNS,
    SITES_TEMPLATE_CSV,
    load_catalog,
    load_organisations,
    load_scenario,
    load_sites,
    resolve_organisations,
    scenario_from_mapping,
    sites_frame,
    sites_to_csv_bytes,
)
from procurement.models import (
    Organisation,
    Region,
    Resilience,
    Route,
    Site,
    Technology,
    Unit,
)

ROOT = Path(__file__).resolve().parent.parent
REGION_LIST = (
    "north-east-and-yorkshire, north-west, midlands, east-of-england, london, south-east, "
    "south-west"
)

# A valid catalogue file; tests replace one line to make one mistake, so the line
# numbers of this text are the ones asserted below.
GOOD = """\
schema_version: 1
currency: GBP
suppliers:
  - id: example-net
    name: Example Networks Ltd
    hscn_compliant: true
    compliance_expires: 2027-06-30
    regions: [london, south-east]
    fees: {onboarding: 4000, annual_management: 1500}
    volume_discounts:
      - {min_sites: 25, discount: 0.05}
      - {min_sites: 100, discount: 0.10}
    offerings:
      - id: example-fttp-500
        name: FTTP 500/75
        technology: fibre
        download_mbps: 500
        upload_mbps: 75
        availability_pct: 99.5
        install_cost: 250
        monthly_cost: 85
        regions: [london]
      - id: example-wifi
        name: Managed Wi-Fi
        technology: wifi
        unit: access_point
        install_cost: 120
        monthly_cost: 9
"""
OFFERING = "suppliers[example-net].offerings[example-fttp-500]"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edit(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def problems_of(load: object, *args: object, **kw: object) -> tuple[Problem, ...]:
    with pytest.raises(InputError) as caught:
        load(*args, **kw)  # type: ignore[operator]
    return caught.value.problems


def only(problems: tuple[Problem, ...]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def catalog_problem(tmp_path: Path, text: str) -> Problem:
    return only(problems_of(load_catalog, write(tmp_path, "cat.yaml", text)))


# =========================================================================== catalogue


def test_good_catalogue_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, "cat.yaml", GOOD))
    (supplier,) = catalog.suppliers
    assert supplier.compliance_expires == date(2027, 6, 30)
    assert [o.id for o in supplier.offerings] == ["example-fttp-500", "example-wifi"]
    assert supplier.offerings[1].unit is Unit.ACCESS_POINT
    assert supplier.offerings[0].regions == (Region.LONDON,)


def test_quoted_date_string_is_a_date(tmp_path: Path) -> None:
    text = edit("compliance_expires: 2027-06-30", "compliance_expires: '2027-06-30'")
    catalog = load_catalog(write(tmp_path, "cat.yaml", text))
    assert catalog.suppliers[0].compliance_expires == date(2027, 6, 30)


def test_message_format_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "pennine.yaml", edit("monthly_cost: 85", "monthly_cost: -5"))
    problem = only(problems_of(load_catalog, path))
    assert str(problem) == f"{path}:21: {OFFERING}.monthly_cost: must be at least 0 (got -5)"


def test_unknown_field_suggests_the_closest_name(tmp_path: Path) -> None:
    text = edit("        monthly_cost: 85\n", "        monthly_cost: 85\n        monthy_cost: 85\n")
    problem = catalog_problem(tmp_path, text)
    assert problem.file is not None and problem.file.endswith("cat.yaml")
    assert problem.line == 22
    assert problem.field == f"{OFFERING}.monthy_cost"
    assert problem.message == "unknown field 'monthy_cost' (did you mean 'monthly_cost'?)"


def test_unknown_field_without_close_match_lists_known_fields(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("currency: GBP", "currency: GBP\ncolour: blue"))
    assert problem.line == 3
    assert problem.message == (
        "unknown field 'colour' (known fields: schema_version, currency, suppliers)"
    )


def test_wrong_type(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("install_cost: 250", "install_cost: ninety"))
    assert (problem.line, problem.field) == (20, f"{OFFERING}.install_cost")
    assert problem.message == "expected a number, got 'ninety'"


def test_wrong_type_for_a_list_hints_the_syntax(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("regions: [london, south-east]", "regions: london"))
    assert (problem.line, problem.field) == (8, "suppliers[example-net].regions")
    assert problem.message == "expected a list, got 'london' (write [london])"


def test_missing_required_field_points_at_its_item(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("        install_cost: 250\n", ""))
    assert (problem.line, problem.field) == (14, f"{OFFERING}.install_cost")
    assert problem.message == "required field is missing"


def test_duplicate_supplier_id_in_one_file_names_both_lines(tmp_path: Path) -> None:
    text = GOOD + "  - {id: example-net, name: Again, hscn_compliant: true, regions: [london]}\n"
    problem = catalog_problem(tmp_path, text)
    assert (problem.line, problem.field) == (29, "suppliers[example-net].id")
    assert problem.message == "duplicate supplier id 'example-net' (first at line 4)"


def test_duplicate_offering_id(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("id: example-wifi", "id: example-fttp-500"))
    assert problem.line == 23
    assert problem.message == "duplicate offering id 'example-fttp-500' (first at line 14)"


def test_negative_price(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("install_cost: 120", "install_cost: -1"))
    assert (problem.line, problem.field) == (
        27,
        "suppliers[example-net].offerings[example-wifi].install_cost",
    )
    assert problem.message == "must be at least 0 (got -1)"


@pytest.mark.parametrize("discount", ["1.2", "-0.1", "1"])
def test_discount_outside_zero_to_one(tmp_path: Path, discount: str) -> None:
    text = edit("discount: 0.10}", f"discount: {discount}}}")
    problem = catalog_problem(tmp_path, text)
    assert (problem.line, problem.field) == (
        12,
        "suppliers[example-net].volume_discounts[1].discount",
    )
    assert problem.message == f"must be at least 0 and less than 1 (got {discount})"


def test_unknown_region_lists_the_valid_codes(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("[london, south-east]", "[london, narnia]"))
    assert (problem.line, problem.field) == (8, "suppliers[example-net].regions[1]")
    assert problem.message == f"unknown region 'narnia' (valid codes: {REGION_LIST})"


def test_offering_region_outside_its_suppliers_regions(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("regions: [london]", "regions: [london, midlands]"))
    assert (problem.line, problem.field) == (22, f"{OFFERING}.regions[1]")
    assert problem.message == (
        "region 'midlands' is outside supplier example-net's regions (london, south-east)"
    )


def test_wifi_without_access_point_unit(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("        unit: access_point\n", ""))
    assert (problem.line, problem.field) == (
        23,
        "suppliers[example-net].offerings[example-wifi].unit",
    )
    assert problem.message == (
        "a wifi offering must have unit: access_point (the default unit is site)"
    )
    problem = catalog_problem(tmp_path, edit("unit: access_point", "unit: site"))
    assert problem.line == 26
    assert problem.message == "a wifi offering must have unit: access_point (got 'site')"


def test_link_offering_needs_speeds(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("        upload_mbps: 75\n", ""))
    assert (problem.line, problem.field) == (14, f"{OFFERING}.upload_mbps")
    assert problem.message == "required for a fibre offering, but missing"


def test_thresholds_not_increasing(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("min_sites: 100", "min_sites: 25"))
    assert (problem.line, problem.field) == (
        12,
        "suppliers[example-net].volume_discounts[1].min_sites",
    )
    assert problem.message == "min_sites thresholds must increase (25 then 25)"


def test_bad_enum_value(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("technology: fibre", "technology: copper"))
    assert (problem.line, problem.field) == (16, f"{OFFERING}.technology")
    assert problem.message == "expected one of fibre, ethernet, 4g, wifi (got 'copper')"


def test_slug_ids(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("id: example-wifi", "id: Example WiFi"))
    assert problem.field == "suppliers[example-net].offerings[Example WiFi].id"
    assert problem.message == (
        "must be lower-case letters, digits and hyphens only (got 'Example WiFi')"
    )


def test_all_errors_of_a_file_together(tmp_path: Path) -> None:
    text = edit("install_cost: 250", "install_cost: ninety")
    text = edit("monthly_cost: 9", "monthly_cost: -9", text)
    text = edit("min_sites: 100", "min_sites: 10", text)
    found = problems_of(load_catalog, write(tmp_path, "cat.yaml", text))
    assert [(p.line, p.message) for p in found] == [
        (12, "min_sites thresholds must increase (25 then 10)"),
        (20, "expected a number, got 'ninety'"),
        (28, "must be at least 0 (got -9)"),
    ]


def test_cross_checks_reported_alongside_field_errors(tmp_path: Path) -> None:
    # pydantic runs a model's own checks only once its fields are valid: ours run anyway.
    text = edit("install_cost: 120", "install_cost: lots")
    text = edit("        unit: access_point\n", "", text)
    text = edit("regions: [london]", "regions: [midlands]", text)
    messages = [p.message for p in problems_of(load_catalog, write(tmp_path, "c.yaml", text))]
    assert len(messages) == 3
    assert messages[0].startswith("region 'midlands' is outside supplier example-net's")
    assert messages[1].startswith("a wifi offering must have unit: access_point")
    assert messages[2] == "expected a number, got 'lots'"


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    problem = catalog_problem(
        tmp_path, edit("monthly_cost: 85", "monthly_cost: 85\n        monthly_cost: 58")
    )
    assert (problem.line, problem.field) == (22, f"{OFFERING}.monthly_cost")
    assert problem.message == (
        "duplicate key 'monthly_cost' (first at line 21); "
        "YAML would silently keep only the last one"
    )


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, edit("regions: [london]", "regions: [london"))
    assert problem.line == 23
    assert problem.message.startswith("YAML syntax error: ")


def test_safe_loader_refuses_python_tags(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'schema_version: 1\ncurrency: !!python/object/apply:os.system ["touch {marker}"]\n'
    problem = catalog_problem(tmp_path, text)
    assert not marker.exists()
    assert (problem.line, problem.field) == (2, "currency")
    assert problem.message.startswith(
        "YAML tag !!python/object/apply:os.system is not allowed: only plain data"
    )


def test_anchors_and_merge_keys_are_plain_data(tmp_path: Path) -> None:
    text = edit(
        "      - id: example-wifi\n        name: Managed Wi-Fi\n",
        "      - &wifi\n        id: example-wifi\n        name: Managed Wi-Fi\n",
    )
    text += "  - id: other-net\n    name: Other\n    hscn_compliant: false\n    regions: [london]\n"
    text += "    offerings:\n      - <<: *wifi\n        id: other-wifi\n"
    catalog = load_catalog(write(tmp_path, "cat.yaml", text))
    assert catalog.offering_by_id["other-wifi"].monthly_cost == 9


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    problem = catalog_problem(tmp_path, text)
    assert problem.line is None
    assert problem.message == "the file is empty (expected schema_version, currency and suppliers)"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    problem = catalog_problem(tmp_path, "- id: example-net\n")
    assert problem.line == 1
    assert problem.message == (
        "the top level must be a mapping of schema_version, currency and suppliers (got a list)"
    )


def test_schema_version_and_currency(tmp_path: Path) -> None:
    text = edit("schema_version: 1", "schema_version: 2", edit("currency: GBP", "currency: EUR"))
    found = problems_of(load_catalog, write(tmp_path, "cat.yaml", text))
    assert [(p.line, p.field, p.message) for p in found] == [
        (1, "schema_version", "must be 1 (got 2)"),
        (2, "currency", "must be GBP (got 'EUR')"),
    ]
    problem = catalog_problem(tmp_path, edit("schema_version: 1\n", ""))
    assert problem.field == "schema_version"
    assert problem.message == (
        "required field is missing (every catalogue file needs 'schema_version: 1')"
    )


def test_missing_file_and_folder_without_yaml(tmp_path: Path) -> None:
    problem = only(problems_of(load_catalog, tmp_path / "nope.yaml"))
    assert (problem.file, problem.message) == (
        str(tmp_path / "nope.yaml"),
        "file or folder not found",
    )
    (tmp_path / "readme.txt").write_text("not a catalogue")
    problem = only(problems_of(load_catalog, tmp_path))
    assert (problem.file, problem.message) == (
        str(tmp_path),
        "no *.yaml or *.yml files in this folder",
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_bytes(GOOD.replace("Ltd", "Ltd \xa3").encode("latin-1"))
    problem = only(problems_of(load_catalog, path))
    assert problem.line == 5
    assert problem.message.startswith("not UTF-8 text")


def test_folder_merges_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", GOOD)
    other = (
        "schema_version: 1\ncurrency: GBP\nsuppliers:\n"
        "  - {id: alpha-net, name: Alpha, hscn_compliant: true, regions: [midlands]}\n"
    )
    write(tmp_path, "a.yml", other)
    write(tmp_path, "notes.txt", "ignored")
    write(tmp_path, ".#b.yaml", "editor lock file: ignored")
    catalog = load_catalog(tmp_path)
    assert [s.id for s in catalog.suppliers] == ["alpha-net", "example-net"]


def test_duplicate_supplier_id_across_files_names_both_places(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(
        tmp_path,
        "b.yaml",
        edit("example-fttp-500", "other-fttp").replace("example-wifi", "other-wifi"),
    )
    problem = only(problems_of(load_catalog, tmp_path))
    assert (problem.file, problem.line, problem.field) == (
        str(second),
        4,
        "suppliers[example-net].id",
    )
    assert problem.message == f"duplicate supplier id 'example-net' (first at {first}:4)"


def test_errors_of_every_file_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", edit("install_cost: 250", "install_cost: -1"))
    write(tmp_path, "b.yaml", "schema_version: 1\ncurrency: GBP\nsuppliers: [oops\n")
    found = problems_of(load_catalog, tmp_path)
    assert [Path(p.file or "").name for p in found] == ["a.yaml", "b.yaml"]


def test_bytes_source_uses_the_given_name() -> None:
    found = problems_of(load_catalog, b"schema_version: 3\ncurrency: GBP\n", name="upload.yaml")
    assert str(only(found)) == "upload.yaml:1: schema_version: must be 1 (got 3)"


def test_catalogue_without_suppliers() -> None:
    problem = only(problems_of(load_catalog, b"schema_version: 1\ncurrency: GBP\n", name="x"))
    assert problem.message == "the catalogue has no suppliers"


def test_sample_catalogue_loads() -> None:
    folder = ROOT / "catalog"
    if not any(folder.glob("*.yaml")):
        pytest.skip("no sample catalogue yet")
    catalog = load_catalog(folder)
    assert len(catalog.suppliers) >= 1


# =========================================================================== sites

HEADER = "site_id,organisation,region,bandwidth_mbps"


def sites_problems(text: str) -> tuple[Problem, ...]:
    return problems_of(load_sites, text.encode("utf-8"), name="sites.csv")


def site_problem(text: str) -> Problem:
    return only(sites_problems(text))


def test_sites_defaults_bom_shuffled_columns_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    text = (
        "Notes,bandwidth_mbps,region,organisation,site_id,Cost Centre\n"
        "hi,100,London,trust-a,S1,CC7\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (site,) = load_sites(path)
    assert site == Site(
        site_id="S1",
        organisation="trust-a",
        name="S1",
        region=Region.LONDON,
        bandwidth_mbps=100,
        extra={"Notes": "hi", "Cost Centre": "CC7"},
    )
    assert site.resilience is Resilience.SINGLE
    assert site.backup_mbps == 10
    assert site.technologies == {Technology.FIBRE, Technology.ETHERNET, Technology.G4}
    assert (site.priority, site.wifi_aps, site.allow_4g_primary) == (3, 0, False)


def test_sites_every_column_parsed() -> None:
    text = (
        ",".join(SITE_COLUMNS) + "\n"
        ' S1 , trust-a , Main Site , North West ,1000,Diverse,100,99.9%,12," Fibre ; 4G ",Yes,'
        '2027-06-30,5,TRUE,old-net,"£1,200.50"\n'
    )
    (site,) = load_sites(text.encode())
    assert site.site_id == "S1" and site.name == "Main Site"
    assert site.region is Region.NORTH_WEST
    assert site.resilience is Resilience.DIVERSE
    assert site.min_availability_pct == 99.9
    assert site.technologies == {Technology.FIBRE, Technology.G4}
    assert site.allow_4g_primary and site.uncontended
    assert site.go_live_by == date(2027, 6, 30)
    assert (site.priority, site.wifi_aps) == (5, 12)
    assert site.current_supplier == "old-net"
    assert site.current_monthly_cost == 1200.5


def test_sites_header_names_are_forgiving() -> None:
    (site,) = load_sites(b"Site ID,Organisation,REGION,bandwidth mbps\nS1,t,london,10\n")
    assert site.site_id == "S1"


def test_sites_line_numbers_count_blank_lines_and_multiline_cells() -> None:
    text = f'{HEADER},notes\n\nS1,t,london,10,"two\nlines"\n\nS2,t,narnia,10,\n'
    problem = site_problem(text)
    assert (
        str(problem) == f"sites.csv:6: region: unknown region 'narnia' (valid codes: {REGION_LIST})"
    )


def test_sites_empty_file() -> None:
    problem = site_problem("")
    assert problem.message == (
        "the file is empty (expected a header row with at least "
        "site_id, organisation, region, bandwidth_mbps)"
    )


def test_sites_header_only() -> None:
    problem = site_problem(HEADER + "\n\n")
    assert problem.message == "no sites: the file has a header row but no site rows"


def test_sites_missing_columns_in_one_problem() -> None:
    problem = site_problem("site_id,organisation,name\nS1,t,x\n")
    assert (problem.line, problem.field) == (1, None)
    assert problem.message == "missing required columns: region, bandwidth_mbps"


def test_sites_column_twice() -> None:
    problem = site_problem(HEADER + ",Site ID\nS1,t,london,10,S1\n")
    assert problem.message == "column 'site_id' appears twice (columns 1 and 5)"


def test_sites_duplicate_id_names_both_lines() -> None:
    problem = site_problem(f"{HEADER}\nS1,t,london,10\nS2,t,london,10\nS1,t,london,10\n")
    assert (problem.line, problem.field) == (4, "site_id")
    assert problem.message == "duplicate site_id 'S1' (first at line 2)"


@pytest.mark.parametrize(
    ("column", "cell", "message"),
    [
        ("bandwidth_mbps", "ten", "expected a number, got 'ten'"),
        ("bandwidth_mbps", "-3", "must be greater than 0 (got -3)"),
        ("current_monthly_cost", "-1", "must be at least 0 (got -1)"),
        ("wifi_aps", "2.5", "expected a whole number, got '2.5'"),
        ("priority", "7", "must be from 1 to 5 (got 7)"),
        ("priority", "high", "expected a whole number, got 'high'"),
        ("min_availability_pct", "100", "must be greater than 0 and less than 100 (got 100)"),
        ("region", "Narnia", f"unknown region 'Narnia' (valid codes: {REGION_LIST})"),
        ("technologies", "fibre;copper", "expected one of fibre, ethernet, 4g (got 'copper')"),
        (
            "technologies",
            "fibre;wifi",
            "wifi is not a link technology (allowed: fibre, ethernet, 4g; "
            "give Wi-Fi access points in wifi_aps)",
        ),
        ("go_live_by", "30/06/2027", "expected a date like 2027-06-30, got '30/06/2027'"),
        ("go_live_by", "2027-02-30", "expected a date like 2027-06-30, got '2027-02-30'"),
        ("allow_4g_primary", "maybe", "expected true or false (or yes/no, 1/0), got 'maybe'"),
        ("resilience", "dual", "expected one of single, backup, diverse (got 'dual')"),
    ],
)
def test_sites_bad_cell(column: str, cell: str, message: str) -> None:
    header = HEADER if column in HEADER else f"{HEADER},{column}"
    row = {"site_id": "S1", "organisation": "t", "region": "london", "bandwidth_mbps": "10"}
    row[column] = cell
    cells = [row.get(c, "") for c in header.split(",")]
    problem = site_problem(f"{header}\nS0,t,london,10{',' * (len(cells) - 4)}\n{','.join(cells)}\n")
    assert (problem.file, problem.line, problem.field, problem.message) == (
        "sites.csv",
        3,
        column,
        message,
    )


def test_sites_required_cell_empty_and_row_too_long() -> None:
    found = sites_problems(f"{HEADER}\nS1,,london,10\nS2,t,london,10,,surplus\n")
    assert [str(p) for p in found] == [
        "sites.csv:2: organisation: required, but empty",
        "sites.csv:3: this row has 6 values but the header has 4 columns",
    ]


def test_sites_all_row_errors_collected_in_line_then_column_order() -> None:
    text = f"{HEADER},priority\nS1,t,narnia,ten,9\nS2,t,london,10,3\nS3,,london,0,\n"
    found = sites_problems(text)
    assert [(p.line, p.field) for p in found] == [
        (2, "region"),
        (2, "bandwidth_mbps"),
        (2, "priority"),
        (4, "organisation"),
        (4, "bandwidth_mbps"),
    ]


def test_sites_not_utf8() -> None:
    found = problems_of(load_sites, f"{HEADER},name\nS1,t,london,10,Caf\xe9\n".encode("cp1252"))
    assert only(found).line == 2
    assert only(found).message.startswith("not UTF-8 text (in Excel, save as 'CSV UTF-8'")


def test_sites_from_uploaded_file_objects() -> None:
    upload = io.BytesIO(f"{HEADER}\nS1,t,london,0\n".encode())
    upload.name = "upload.csv"
    assert str(only(problems_of(load_sites, upload))) == (
        "upload.csv:2: bandwidth_mbps: must be greater than 0 (got 0)"
    )
    assert load_sites(io.StringIO(f"{HEADER}\nS1,t,london,5\n"))[0].bandwidth_mbps == 5


def test_sites_missing_file(tmp_path: Path) -> None:
    problem = only(problems_of(load_sites, tmp_path / "none.csv"))
    assert problem.message == "file not found"


def test_sites_csv_round_trip_and_frame() -> None:
    text = (
        f"{HEADER},technologies,go_live_by,min_availability_pct,notes\n"
        "S1,t,london,10.5,4g;fibre,2027-01-31,99.5,first\n"
        "S2,u,midlands,100,,,,\n"
    )
    sites = load_sites(text.encode())
    assert load_sites(sites_to_csv_bytes(sites)) == sites
    frame = sites_frame(sites)
    assert list(frame.columns) == [*SITE_COLUMNS, "notes"]
    assert frame.loc[0, "technologies"] == "fibre;4g"
    assert frame.loc[1, "technologies"] == "fibre;ethernet;4g"
    assert frame.loc[0, "region"] == "london"
    assert list(sites_frame([]).columns) == list(SITE_COLUMNS)


def test_sites_template_loads() -> None:
    assert SITES_TEMPLATE_CSV.decode("utf-8-sig").splitlines()[0] == ",".join(SITE_COLUMNS)
    assert len(load_sites(SITES_TEMPLATE_CSV)) == 2


def test_site_columns_follow_the_spec() -> None:
    assert SITE_COLUMNS[:5] == ("site_id", "organisation", "name", "region", "bandwidth_mbps")
    assert SITE_COLUMNS[-1] == "current_monthly_cost"
    assert len(SITE_COLUMNS) == 16


def test_same_words_for_the_same_mistake_in_csv_and_yaml(tmp_path: Path) -> None:
    csv_problem = site_problem(f"{HEADER}\nS1,t,london,ninety\n")
    yaml_problem = catalog_problem(tmp_path, edit("monthly_cost: 85", "monthly_cost: ninety"))
    assert csv_problem.message == yaml_problem.message == "expected a number, got 'ninety'"


def test_sample_sites_load() -> None:
    path = ROOT / "examples" / "sites.csv"
    if not path.exists():
        pytest.skip("no example sites yet")
    assert load_sites(path)


# =========================================================================== organisations


def test_organisations_load() -> None:
    text = 'organisation,name,type,budget,ignored\ntrust-a,Trust A,acute,"£500,000",x\ngp,,,\n'
    first, second = load_organisations(text.encode())
    assert first == Organisation(
        organisation="trust-a", name="Trust A", type="acute", budget=500000
    )
    assert (second.name, second.budget) == ("gp", None)


def test_organisations_header_only_is_allowed() -> None:
    assert load_organisations(b"organisation,budget\n") == ()


def test_organisations_errors() -> None:
    text = "organisation,budget\na,-5\nb,lots\na,1\n,4\n"
    found = problems_of(load_organisations, text.encode(), name="orgs.csv")
    assert [str(p) for p in found] == [
        "orgs.csv:2: budget: must be at least 0 (got -5)",
        "orgs.csv:3: budget: expected a number, got 'lots'",
        "orgs.csv:4: organisation: duplicate organisation 'a' (first at line 2)",
        "orgs.csv:5: organisation: required, but empty",
    ]


def test_organisations_missing_column() -> None:
    problem = only(problems_of(load_organisations, b"name,budget\nx,1\n", name="orgs.csv"))
    assert str(problem) == "orgs.csv:1: missing required column: organisation"


def test_sample_organisations_load() -> None:
    path = ROOT / "examples" / "organisations.csv"
    if not path.exists():
        pytest.skip("no example organisations yet")
    assert load_organisations(path)


def test_resolve_organisations_adds_unknown_ones_in_first_seen_order() -> None:
    sites = load_sites(
        f"{HEADER}\nS1,zeta,london,1\nS2,trust-a,london,1\nS3,alpha,london,1\n"
        "S4,zeta,london,1\n".encode()
    )
    listed = (Organisation(organisation="trust-a", budget=10), Organisation(organisation="unused"))
    resolved = resolve_organisations(sites, listed)
    assert [o.organisation for o in resolved] == ["trust-a", "unused", "zeta", "alpha"]
    assert resolved[2] == Organisation(organisation="zeta", name="zeta", budget=None)
    assert [o.organisation for o in resolve_organisations(sites)] == ["zeta", "trust-a", "alpha"]


# =========================================================================== scenario


def test_scenario_yaml_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "scenario.yaml",
        """\
        start_date: 2026-04-01
        term_months: 60
        route: solo
        budget: 250000
        exclude_suppliers: [a-net, b-net]
        required_certifications: iso27001
        """,
    )
    scenario = load_scenario(path)
    assert scenario.start_date == date(2026, 4, 1)
    assert (scenario.term_months, scenario.route, scenario.budget) == (60, Route.SOLO, 250000)
    assert scenario.exclude_suppliers == ("a-net", "b-net")
    assert scenario.required_certifications == ("iso27001",)


def test_scenario_empty_file_means_defaults() -> None:
    assert load_scenario(b"# all defaults\n").term_months == 36


def test_scenario_yaml_errors_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "scenario.yaml",
        """\
        term_month: 36
        route: cheapest
        start_date: '2026-13-01'
        max_supplier_share: 1.5
        """,
    )
    found = problems_of(load_scenario, path)
    assert [(p.line, p.field, p.message) for p in found] == [
        (1, "term_month", "unknown field 'term_month' (did you mean 'term_months'?)"),
        (2, "route", "expected one of solo, collaborative, central (got 'cheapest')"),
        (3, "start_date", "expected a date like 2027-06-30, got '2026-13-01'"),
        (4, "max_supplier_share", "must be greater than 0 and at most 1 (got 1.5)"),
    ]


def test_scenario_cross_field_rule() -> None:
    problem = only(problems_of(load_scenario, b"min_suppliers: 3\nmax_suppliers: 2\n"))
    assert problem.message == "min_suppliers (3) is above max_suppliers (2)"


def test_scenario_top_level_and_tags() -> None:
    problem = only(problems_of(load_scenario, b"- route: solo\n", name="s.yaml"))
    assert (
        str(problem) == "s.yaml:1: the top level must be a mapping of scenario fields (got a list)"
    )
    problem = only(problems_of(load_scenario, b"budget: !!python/name:os.system\n"))
    assert problem.message.startswith("YAML tag !!python/name:os.system is not allowed")


def test_scenario_from_mapping_drops_none_and_names_fields() -> None:
    scenario = scenario_from_mapping(
        {"term_months": "24", "budget": None, "start_date": "2026-04-01"}
    )
    assert (scenario.term_months, scenario.budget, scenario.start_date) == (
        24,
        None,
        date(2026, 4, 1),
    )
    found = problems_of(
        scenario_from_mapping,
        {"term_months": "x", "exclude_suppliers": ["a", 3], "max_suppliers": 0},
        source="command line",
    )
    assert [str(p) for p in found] == [
        "command line: term_months: expected a whole number, got 'x'",
        "command line: max_suppliers: must be at least 1 (got 0)",
        "command line: exclude_suppliers[1]: expected text, got 3",
    ]


def test_sample_scenario_loads() -> None:
    path = ROOT / "examples" / "scenario.yaml"
    if not path.exists():
        pytest.skip("no example scenario yet")
    load_scenario(path)
