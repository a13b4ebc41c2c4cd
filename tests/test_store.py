"""The scenario store: save, list, load, delete, versioned schema, transactions."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from procurement.store import (
    DATA_ENV,
    DB_FILENAME,
    SCHEMA_VERSION,
    ScenarioStore,
    StoreError,
    clean_name,
    data_dir,
)


@pytest.fixture
def store(tmp_path: Path) -> ScenarioStore:
    return ScenarioStore(tmp_path)


def test_save_list_load_delete_round_trip(store: ScenarioStore) -> None:
    inputs = {"scenario": {"route": "solo", "start_date": date(2026, 4, 1)}, "sites_csv": "a,b\n"}
    results = {"total_cost": 1234.5, "status": "optimal", "suppliers": ["a", "b"]}
    saved = store.save("Option A", inputs, results)
    assert saved.name == "Option A"
    assert store.names() == ["Option A"]
    assert "Option A" in store
    assert len(store) == 1
    loaded = store.load("Option A")
    assert loaded.inputs["scenario"]["start_date"] == "2026-04-01"
    assert loaded.inputs["sites_csv"] == "a,b\n"
    assert loaded.results == results
    assert store.delete("Option A") is True
    assert store.delete("Option A") is False
    assert store.names() == []
    with pytest.raises(StoreError, match="no saved scenario is called 'Option A'"):
        store.load("Option A")


def test_saving_again_replaces_and_keeps_created_time(store: ScenarioStore) -> None:
    first = store.save("plan", {"v": 1}, {"total_cost": 1.0})
    second = store.save("plan", {"v": 2}, {"total_cost": 2.0})
    assert len(store) == 1
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert store.load("plan").inputs == {"v": 2}
    with pytest.raises(StoreError, match="already exists"):
        store.save("plan", {"v": 3}, {}, overwrite=False)
    assert store.load("plan").inputs == {"v": 2}


def test_list_is_most_recent_first(store: ScenarioStore) -> None:
    for name in ("a", "b", "c"):
        store.save(name, {}, {})
    store.save("a", {"again": True}, {})
    assert store.names() == ["a", "c", "b"]


def test_names_are_cleaned_and_blank_refused(store: ScenarioStore) -> None:
    assert clean_name("  two   words ") == "two words"
    store.save("  two   words ", {}, {})
    assert store.load("two words").name == "two words"
    assert "two  words" in store
    for bad in ("", "   ", "x" * 500):
        with pytest.raises(StoreError):
            store.save(bad, {}, {})


def test_names_are_stored_as_data_not_sql(store: ScenarioStore) -> None:
    name = "x'); DROP TABLE scenarios; --"
    store.save(name, {"note": "=HYPERLINK()"}, {})
    assert store.names() == [name]
    assert store.load(name).inputs == {"note": "=HYPERLINK()"}


def test_non_finite_numbers_are_saved_as_null(store: ScenarioStore) -> None:
    store.save("nan", {"budget": math.nan}, {"gap": math.inf, "rows": [1.0, math.nan]})
    loaded = store.load("nan")
    assert loaded.inputs == {"budget": None}
    assert loaded.results == {"gap": None, "rows": [1.0, None]}


def test_unserialisable_values_are_a_clear_error(store: ScenarioStore) -> None:
    with pytest.raises(StoreError, match="cannot be saved"):
        store.save("bad", {"thing": object()}, {})
    assert store.names() == []


def test_schema_version_is_recorded(store: ScenarioStore, tmp_path: Path) -> None:
    store.save("a", {}, {})
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        rows = conn.execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(SCHEMA_VERSION,)]
    # opening again does not add a second version row
    ScenarioStore(tmp_path).names()
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    ScenarioStore(tmp_path).save("a", {}, {})
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StoreError, match="newer version"):
        ScenarioStore(tmp_path).names()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / DB_FILENAME).write_text("not a database at all " * 100)
    with pytest.raises(StoreError, match="cannot be used"):
        ScenarioStore(tmp_path).names()


def test_data_dir_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    assert data_dir({}) == Path("data")
    assert data_dir({DATA_ENV: "  "}) == Path("data")
    assert data_dir({DATA_ENV: str(tmp_path)}) == tmp_path
    target = tmp_path / "nested" / "folder"
    monkeypatch.setenv(DATA_ENV, str(target))
    store = ScenarioStore()
    store.save("a", {}, {})
    assert (target / DB_FILENAME).is_file()


def test_a_file_path_may_be_given(tmp_path: Path) -> None:
    store = ScenarioStore(tmp_path / "mine.sqlite3")
    store.save("a", {}, {})
    assert (tmp_path / "mine.sqlite3").is_file()


def test_failed_write_leaves_the_store_as_it_was(store: ScenarioStore, tmp_path: Path) -> None:
    store.save("kept", {"v": 1}, {})
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    with conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON scenarios "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    conn.close()
    with pytest.raises(StoreError, match="disk on fire"):
        store.save("kept", {"v": 2}, {})
    assert store.load("kept").inputs == {"v": 1}


def test_a_saved_scenario_survives_a_crash(tmp_path: Path) -> None:
    """A process killed right after save() returns must not lose the scenario."""
    script = textwrap.dedent(
        f"""
        import os
        from procurement.store import ScenarioStore
        ScenarioStore({str(tmp_path)!r}).save("survivor", {{"x": 1}}, {{"total_cost": 9.0}})
        os._exit(9)  # no clean shutdown, no close
        """
    )
    root = Path(__file__).parents[1]
    proc = subprocess.run([sys.executable, "-c", script], check=False, cwd=root)
    assert proc.returncode == 9
    assert ScenarioStore(tmp_path).load("survivor").results == {"total_cost": 9.0}
