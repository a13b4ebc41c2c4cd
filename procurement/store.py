"""Saved scenarios: an embedded SQLite database of named inputs and their results.

A buyer saves a scenario under a name (its inputs and what the plan came to),
lists them, reloads one, deletes one, or compares several. The database is one
file, ``scenarios.sqlite3``, in a data folder: ``HSCN_PROCURE_DATA`` if set,
else ``./data``. Every write runs in one transaction (``with conn:``) with
SQLite's full synchronous mode, so a crash loses nothing that was reported as
saved and never leaves half a scenario behind.

The schema carries a version in its own table. A database written by a newer
version of this tool is refused with a clear message instead of being misread.

This module is plain library code: it knows nothing of Streamlit.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     store = ScenarioStore(folder)
...     _ = store.save("first", {"route": "solo"}, {"total_cost": 12.5})
...     [s.name for s in store.list()], store.load("first").results["total_cost"]
(['first'], 12.5)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

#: Environment variable naming the folder that holds the database.
DATA_ENV = "HSCN_PROCURE_DATA"
#: The folder used when the environment variable is not set (relative to the working folder).
DEFAULT_DATA_DIR = "data"
#: The database's file name inside the data folder.
DB_FILENAME = "scenarios.sqlite3"
#: The schema this code writes and reads.
SCHEMA_VERSION = 1
#: Longest scenario name accepted.
MAX_NAME_LENGTH = 120

_SCHEMA_V1 = (
    """
    CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS scenarios (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        inputs TEXT NOT NULL CHECK (json_valid(inputs)),
        results TEXT NOT NULL CHECK (json_valid(results))
    )
    """,
)


class StoreError(Exception):
    """The scenario store cannot do what was asked; the message is for the user."""


@dataclass(frozen=True)
class SavedSummary:
    """One line of the list of saved scenarios."""

    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SavedScenario:
    """A saved scenario: its name, when it was saved, its inputs and its results."""

    name: str
    created_at: datetime
    updated_at: datetime
    inputs: dict[str, Any]
    results: dict[str, Any]


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data folder: ``$HSCN_PROCURE_DATA`` if set and not blank, else ``./data``."""
    env = os.environ if environ is None else environ
    value = (env.get(DATA_ENV) or "").strip()
    return Path(value) if value else Path(DEFAULT_DATA_DIR)


def clean_name(name: str) -> str:
    """A scenario name with surrounding and repeated spaces removed; refuses blank names."""
    if not isinstance(name, str):
        raise StoreError("a scenario name must be text")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise StoreError("give the scenario a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise StoreError(f"a scenario name may have at most {MAX_NAME_LENGTH} characters")
    return cleaned


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    raise TypeError(f"cannot save a {type(value).__name__} in a scenario")


def _finite(value: Any) -> Any:
    """NaN and infinities as None: SQLite's JSON (and JSON itself) has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _to_json(value: Mapping[str, Any], what: str) -> str:
    if not isinstance(value, Mapping):
        raise StoreError(f"{what} must be a mapping")
    try:
        return json.dumps(
            _finite(dict(value)), default=_json_default, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be saved: {exc}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ScenarioStore:
    """Named scenarios in one SQLite file.

    ``location`` is the data folder (the file ``scenarios.sqlite3`` goes in it)
    or a path ending in ``.sqlite3``/``.sqlite``/``.db`` for the file itself;
    by default the folder from :func:`data_dir`. The folder is created when
    needed. Each call opens its own short-lived connection, so one store may be
    used from several threads (Streamlit runs each session in its own).
    """

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        where = Path(location) if location is not None else data_dir()
        if where.suffix.lower() in (".sqlite3", ".sqlite", ".db"):
            self.path = where
        else:
            self.path = where / DB_FILENAME
        self._ready = False

    def __repr__(self) -> str:
        return f"ScenarioStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connection

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the scenario store {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            if not self._ready:
                self._migrate(conn)
                self._ready = True
            yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the scenario store {self.path} cannot be used: {exc}") from None
        finally:
            conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create the schema, or check the version of the one already there."""
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            has_version = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            version = None
            if has_version:
                row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                version = row[0] if row else None
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(
                    f"the scenario store {self.path} was written by a newer version of "
                    f"hscn-procure (schema {version}; this version reads up to "
                    f"{SCHEMA_VERSION}); upgrade, or set {DATA_ENV} to another folder"
                )
            for statement in _SCHEMA_V1:
                conn.execute(statement)
            if version is None:
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._connect() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ operations

    def save(
        self,
        name: str,
        inputs: Mapping[str, Any],
        results: Mapping[str, Any],
        *,
        overwrite: bool = True,
    ) -> SavedScenario:
        """Save ``inputs`` and ``results`` under ``name``, replacing any scenario of that name.

        With ``overwrite=False`` an existing name is an error instead. The write
        is one transaction: afterwards the scenario is there in full, or (on any
        failure) the store is as it was.
        """
        cleaned = clean_name(name)
        inputs_json = _to_json(inputs, "the scenario's inputs")
        results_json = _to_json(results, "the scenario's results")
        now = _now()
        with self._connect() as conn, conn:
            conn.execute("BEGIN IMMEDIATE")
            existing = conn.execute(
                "SELECT created_at FROM scenarios WHERE name = ?", (cleaned,)
            ).fetchone()
            if existing is not None and not overwrite:
                raise StoreError(f"a scenario called {cleaned!r} already exists")
            if existing is None:
                conn.execute(
                    "INSERT INTO scenarios (name, created_at, updated_at, inputs, results) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (cleaned, now, now, inputs_json, results_json),
                )
                created = now
            else:
                conn.execute(
                    "UPDATE scenarios SET updated_at = ?, inputs = ?, results = ? WHERE name = ?",
                    (now, inputs_json, results_json, cleaned),
                )
                created = existing[0]
        return SavedScenario(
            name=cleaned,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(now),
            inputs=json.loads(inputs_json),
            results=json.loads(results_json),
        )

    def list(self) -> list[SavedSummary]:
        """Every saved scenario, most recently saved first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name, created_at, updated_at FROM scenarios "
                "ORDER BY updated_at DESC, name"
            ).fetchall()
        return [
            SavedSummary(name, datetime.fromisoformat(c), datetime.fromisoformat(u))
            for name, c, u in rows
        ]

    def names(self) -> list[str]:
        """Names of the saved scenarios, most recently saved first."""
        return [s.name for s in self.list()]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM scenarios WHERE name = ?", (" ".join(name.split()),)
            ).fetchone()
        return row is not None

    def __len__(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM scenarios").fetchone()[0])

    def load(self, name: str) -> SavedScenario:
        """The scenario saved under ``name``; StoreError if there is none."""
        cleaned = clean_name(name)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, created_at, updated_at, inputs, results FROM scenarios "
                "WHERE name = ?",
                (cleaned,),
            ).fetchone()
        if row is None:
            raise StoreError(f"no saved scenario is called {cleaned!r}")
        return SavedScenario(
            name=row[0],
            created_at=datetime.fromisoformat(row[1]),
            updated_at=datetime.fromisoformat(row[2]),
            inputs=json.loads(row[3]),
            results=json.loads(row[4]),
        )

    def load_many(self, names: list[str]) -> list[SavedScenario]:
        """Several scenarios in the order asked; StoreError naming any that is missing."""
        return [self.load(n) for n in names]

    def delete(self, name: str) -> bool:
        """Delete the scenario called ``name``; True if there was one."""
        cleaned = clean_name(name)
        with self._connect() as conn, conn:
            cursor = conn.execute("DELETE FROM scenarios WHERE name = ?", (cleaned,))
            return cursor.rowcount > 0
