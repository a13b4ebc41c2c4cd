"""Turn user files into validated models, with every problem located.

This is the one place where catalogue YAML, site and organisation CSV and
scenario YAML become :mod:`procurement.models` objects. A procurement officer
should be able to fix a file in one pass, so every problem names the file, the
line, the field and what is wrong in plain words, and all the problems of an
input are raised together as one :class:`~procurement.errors.InputError`.

Field paths in catalogue messages use ids where the items have one and
0-based positions otherwise, e.g.
``suppliers[example-net].offerings[example-fttp-500].monthly_cost`` or
``suppliers[example-net].volume_discounts[1].min_sites``. CSV problems name
the column instead, and the file line of the row (the header is line 1).
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias, TypeVar, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from procurement.errors import InputError, Problem
from procurement.gcpause import without_gc
from procurement.lazy import LazyModule
from procurement.models import (
    SLUG,
    Catalog,
    Organisation,
    Region,
    Resilience,
    Scenario,
    Site,
    Technology,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")

__all__ = [
    "ORGANISATION_COLUMNS",
    "SITES_TEMPLATE_CSV",
    "SITE_COLUMNS",
    "Source",
    "load_catalog",
    "load_organisations",
    "load_scenario",
    "load_sites",
    "resolve_organisations",
    "scenario_from_mapping",
    "sites_frame",
    "sites_to_csv_bytes",
]

#: A file path (``str`` is always a path), raw bytes, or an open file (text or binary).
Source: TypeAlias = str | os.PathLike[str] | bytes | bytearray | IO[bytes] | IO[str]
Loc: TypeAlias = tuple[str | int, ...]

#: The sites CSV columns of the SPEC, in SPEC order.
SITE_COLUMNS: tuple[str, ...] = (
    "site_id",
    "organisation",
    "name",
    "region",
    "bandwidth_mbps",
    "resilience",
    "backup_mbps",
    "min_availability_pct",
    "wifi_aps",
    "technologies",
    "allow_4g_primary",
    "go_live_by",
    "priority",
    "uncontended",
    "current_supplier",
    "current_monthly_cost",
)
_SITE_REQUIRED: tuple[str, ...] = ("site_id", "organisation", "region", "bandwidth_mbps")

#: The organisations CSV columns of the SPEC.
ORGANISATION_COLUMNS: tuple[str, ...] = ("organisation", "name", "type", "budget")

_REGION_CODES: tuple[str, ...] = tuple(r.value for r in Region)
_LINK_ORDER: tuple[Technology, ...] = (Technology.FIBRE, Technology.ETHERNET, Technology.G4)


# =========================================================================== messages
# One vocabulary for every input, so the same mistake reads the same way in a
# catalogue, a sites file, an organisations file or a scenario.


def _fmt_number(value: float) -> str:
    """``5.0`` as ``5``, other numbers as Python's shortest round-trip form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _got(value: Any) -> str:
    """How an offending value is quoted back to the user."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _fmt_number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return repr(value)


def _expected(what: str, value: Any) -> str:
    return f"expected {what}, got {_got(value)}"


def _one_of(allowed: Sequence[str], value: Any) -> str:
    if set(allowed) == set(_REGION_CODES):
        return _unknown_region(value)
    return f"expected one of {', '.join(allowed)} (got {_got(value)})"


def _unknown_region(value: Any) -> str:
    return f"unknown region {_got(value)} (valid codes: {', '.join(_REGION_CODES)})"


def _unknown_field(name: str, known: Sequence[str]) -> str:
    message = f"unknown field {name!r}"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    if known:
        return f"{message} (known fields: {', '.join(known)})"
    return message


_MISSING = "required field is missing"
_DATE_WORDS = "a date like 2027-06-30"
_BOOL_WORDS = "true or false"
_LIST_ERRORS = frozenset(
    {"tuple_type", "list_type", "set_type", "frozen_set_type", "iterable_type"}
)
_MAPPING_ERRORS = frozenset({"model_type", "model_attributes_type", "dict_type", "mapping_type"})
_NUMBER_ERRORS = frozenset({"float_type", "float_parsing", "decimal_type", "decimal_parsing"})
_INT_ERRORS = frozenset({"int_type", "int_parsing", "int_from_float", "int_parsing_size"})
_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _strip_type(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = get_origin(tp)
        if origin is not None and hasattr(tp, "__metadata__"):
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _field_at(model: type[BaseModel], loc: Loc) -> tuple[Any, FieldInfo | None]:
    """The type (and the field, if ``loc`` ends at one) that ``loc`` points into."""
    tp: Any = model
    info: FieldInfo | None = None
    for seg in loc:
        tp = _strip_type(tp)
        if isinstance(seg, int):
            if get_origin(tp) in (tuple, list, set, frozenset) and get_args(tp):
                tp, info = get_args(tp)[0], None
                continue
            return None, None
        if isinstance(tp, type) and issubclass(tp, BaseModel) and seg in tp.model_fields:
            info = tp.model_fields[seg]
            tp = info.annotation
            continue
        return None, None
    return _strip_type(tp), info


def _known_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    tp, _ = _field_at(model, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _bound_words(info: FieldInfo | None, kind: str, ctx: Mapping[str, Any]) -> str:
    """'must be at least 0 and less than 1': both ends of the range when the field has them."""
    lower: tuple[str, Any] | None = None
    upper: tuple[str, Any] | None = None
    for meta in info.metadata if info is not None else ():
        if isinstance(meta, annotated_types.Gt):
            lower = ("greater than", meta.gt)
        elif isinstance(meta, annotated_types.Ge):
            lower = ("at least", meta.ge)
        elif isinstance(meta, annotated_types.Lt):
            upper = ("less than", meta.lt)
        elif isinstance(meta, annotated_types.Le):
            upper = ("at most", meta.le)
    if lower is None and upper is None:
        words = {
            "greater_than": ("greater than", "gt"),
            "greater_than_equal": ("at least", "ge"),
            "less_than": ("less than", "lt"),
            "less_than_equal": ("at most", "le"),
        }[kind]
        return f"must be {words[0]} {_fmt_number(ctx.get(words[1], '?'))}"
    if lower is not None and upper is not None:
        if lower[0] == "at least" and upper[0] == "at most":
            return f"must be from {_fmt_number(lower[1])} to {_fmt_number(upper[1])}"
        return f"must be {lower[0]} {_fmt_number(lower[1])} and {upper[0]} {_fmt_number(upper[1])}"
    words, bound = lower if lower is not None else upper  # type: ignore[misc]
    return f"must be {words} {_fmt_number(bound)}"


def _quoted_values(expected: str) -> list[str]:
    """pydantic's "'a', 'b' or 'c'" as ['a', 'b', 'c']."""
    return re.findall(r"'([^']*)'", expected) or [expected]


def _explain(err: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error in the planner's plain words."""
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    loc: Loc = tuple(err["loc"])
    if kind == "missing":
        return _MISSING
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), _known_fields(model, loc[:-1]))
    if kind in _NUMBER_ERRORS:
        return _expected("a number", value)
    if kind in _INT_ERRORS:
        return _expected("a whole number", value)
    if kind in ("bool_type", "bool_parsing"):
        return _expected(_BOOL_WORDS, value)
    if kind == "date_from_datetime_inexact":
        return _expected("a date without a time of day", value)
    if kind.startswith("date"):
        return _expected(_DATE_WORDS, value)
    if kind in ("string_type", "string_unicode"):
        return _expected("text", value)
    if kind in _LIST_ERRORS:
        hint = f" (write [{value}])" if isinstance(value, str) and "," not in value else ""
        return _expected("a list", value) + hint
    if kind in _MAPPING_ERRORS:
        return _expected("a mapping of fields", value)
    if kind == "enum":
        return _one_of(_quoted_values(str(ctx.get("expected", ""))), value)
    if kind == "literal_error":
        return (
            f"must be {', '.join(_quoted_values(str(ctx.get('expected', ''))))} (got {_got(value)})"
        )
    if kind in _BOUND_ERRORS:
        return f"{_bound_words(_field_at(model, loc)[1], kind, ctx)} (got {_got(value)})"
    if kind == "finite_number":
        return f"must be a finite number (got {_got(value)})"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == SLUG.pattern:
            return f"must be lower-case letters, digits and hyphens only (got {_got(value)})"
        return f"must match {ctx.get('pattern')} (got {_got(value)})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"needs at least {n} {'item' if n == 1 else 'items'}"
    if kind in ("value_error", "assertion_error") and ctx.get("error") is not None:
        return str(ctx["error"])
    return f"{err['msg']} (got {_got(value)})"


def _validation_problems(
    exc: ValidationError,
    model: type[BaseModel],
    file: str | None,
    locate: Callable[[Loc], tuple[int | None, str | None]],
    skip: Callable[[ErrorDetails], bool] | None = None,
) -> list[Problem]:
    """Each pydantic error as a Problem; ``locate`` maps an error's path to (line, field)."""
    problems = []
    for err in exc.errors(include_url=False):
        if skip is not None and skip(err):
            continue
        line, label = locate(tuple(err["loc"]))
        problems.append(Problem(_explain(err, model), file, line, label))
    return problems


# =========================================================================== reading sources


def _read_source(source: Source, name: str | None, default: str) -> tuple[str, bytes | str]:
    """The display name and the raw content of a path, bytes or open file."""
    if isinstance(source, bytes | bytearray | memoryview):
        return name or default, bytes(source)
    if isinstance(source, str | os.PathLike):
        display = name or os.fspath(source)
        path = Path(source)
        try:
            return display, path.read_bytes()
        except FileNotFoundError:
            raise InputError([Problem("file not found", display)]) from None
        except IsADirectoryError:
            raise InputError([Problem("is a folder, not a file", display)]) from None
        except OSError as exc:
            raise InputError([Problem(f"cannot read the file ({exc.strerror})", display)]) from None
    if hasattr(source, "read"):
        display = name or str(getattr(source, "name", "") or default)
        return display, source.read()
    raise TypeError(f"cannot read input from {type(source).__name__}")


def _decode(raw: bytes | str, file: str) -> str:
    """UTF-8 text, with or without a byte-order mark (Excel writes one)."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            [
                Problem(
                    "not UTF-8 text (in Excel, save as 'CSV UTF-8'; in an editor, as UTF-8)",
                    file,
                    line,
                )
            ]
        ) from None


# =========================================================================== YAML

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG = _YAML + "map"
_SEQ_TAG = _YAML + "seq"
_MERGE_TAG = _YAML + "merge"
_MAX_NODES = 1_000_000


class _TooBig(Exception):
    """Aliases expand to more values than any real input has."""


@dataclass
class _YamlDoc:
    """Plain data from one YAML document plus where each value came from."""

    file: str
    data: Any
    lines: dict[Loc, int]
    issues: list[tuple[Loc, int, str]]  # problems found while building the data
    bad: set[Loc]  # paths whose value could not be built (pydantic would only add noise)

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of its nearest enclosing value."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return None

    def label(self, loc: Loc) -> str | None:
        return _label(loc, self.data)

    def locate(self, loc: Loc) -> tuple[int | None, str | None]:
        return self.line(loc), self.label(loc)

    def problems(self) -> list[Problem]:
        return [Problem(msg, self.file, line, self.label(loc)) for loc, line, msg in self.issues]


def _label(loc: Loc, data: Any) -> str | None:
    """``('suppliers', 0, 'offerings', 2, 'monthly_cost')`` with ids where items have them."""
    parts: list[str] = []
    node = data
    for seg in loc:
        if isinstance(seg, int):
            item = node[seg] if isinstance(node, list | tuple) and 0 <= seg < len(node) else None
            ident = item.get("id") if isinstance(item, Mapping) else None
            parts.append(f"[{ident}]" if isinstance(ident, str) and ident else f"[{seg}]")
            node = item
        else:
            parts.append(f".{seg}" if parts else str(seg))
            node = node.get(seg) if isinstance(node, Mapping) else None
    return "".join(parts) or None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


# libyaml's CSafeLoader is SafeLoader with a C parser (same SafeConstructor and
# Resolver): about 8x faster on the sample catalogue, with the same node marks.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader that keeps each value's line and refuses what PyYAML would hide.

    Once PyYAML has constructed Python data the positions are gone, and it keeps
    the last of two equal keys without a word. So we compose the node tree with
    this (safe) loader and build the data ourselves, recording a map from field
    path to line that pydantic's error paths can be looked up in. Only plain
    data tags are built; anything else (``!!python/object`` ...) is a problem.
    """

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self._file = file
        self._issues: list[tuple[Loc, int, str]] = []
        self._bad: set[Loc] = set()
        self._open: set[int] = set()
        self._count = 0

    def document(self) -> _YamlDoc | None:
        """The single document, or None for an empty (or comments-only) file."""
        node = self.get_single_node()
        if node is None:
            return None
        lines: dict[Loc, int] = {}
        data = self._build(node, (), lines)
        return _YamlDoc(self._file, data, lines, self._issues, self._bad)

    def _issue(self, loc: Loc, line: int, message: str, *, bad: bool = True) -> None:
        self._issues.append((loc, line, message))
        if bad:
            self._bad.add(loc)

    def _build(self, node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooBig
        # A mapping has already set its keys' lines; an alias is reported where it is used.
        line = lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in self._open:
            self._issue(loc, line, "an alias refers to the value that contains it")
            return None
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            self._open.add(id(node))
            try:
                return self._mapping(node, loc, lines)
            finally:
                self._open.discard(id(node))
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            self._open.add(id(node))
            try:
                return [self._build(item, (*loc, i), lines) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            try:
                return self.construct_object(node)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                what = _DATE_WORDS if node.tag == _YAML + "timestamp" else "a value"
                reason = getattr(exc, "problem", None) or str(exc)
                self._issue(loc, line, f"{_expected(what, node.value)} ({reason})")
                return None
        self._issue(
            loc,
            line,
            f"YAML tag {_short_tag(node.tag)} is not allowed: only plain data "
            "(mappings, lists, text, numbers, true/false, dates)",
        )
        return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc, lines: dict[Loc, int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # Merge keys (<<: *defaults) first: explicit keys then override them quietly.
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not (isinstance(source, yaml.MappingNode) and source.tag == _MAP_TAG):
                    self._issue(loc, key_node.start_mark.line + 1, "'<<' must merge mappings")
                    continue
                merged_lines: dict[Loc, int] = {}
                merged = self._build(source, loc, merged_lines)
                for key, value in (merged or {}).items():
                    if key in result:
                        continue
                    result[key] = value
                    prefix = (*loc, key)
                    for sub, sub_line in merged_lines.items():
                        if sub[: len(prefix)] == prefix:
                            lines.setdefault(sub, sub_line)
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key_line = key_node.start_mark.line + 1
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag in _SCALAR_TAGS):
                self._issue(loc, key_line, "a key must be a plain name", bad=False)
                continue
            key = key_node.value
            child = (*loc, key)
            if key in first:
                self._issue(
                    child,
                    key_line,
                    f"duplicate key {key!r} (first at line {first[key]}); "
                    "YAML would silently keep only the last one",
                    bad=False,
                )
            else:
                first[key] = key_line
            if key in result:  # forget lines of the value being replaced
                for stale in [s for s in lines if s[: len(child)] == child]:
                    del lines[stale]
            lines[child] = key_line
            result[key] = self._build(value_node, child, lines)
        return result


def _parse_yaml(file: str, text: str) -> _YamlDoc | None:
    """The document of ``text`` (None if empty); InputError if it is not readable YAML."""
    loader = _LineLoader(text, file)
    try:
        return loader.document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        problem = Problem(message, file, mark.line + 1 if mark else None)
    except yaml.YAMLError as exc:
        problem = Problem(f"not valid YAML: {exc}", file)
    except _TooBig:
        problem = Problem(f"too many values (over {_MAX_NODES:,}); do aliases nest?", file)
    finally:
        loader.dispose()
    raise InputError([problem])


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else _got(value)


# =========================================================================== catalogue

# Model-level checks that load_catalog runs itself, on the raw data, so that they
# are reported with a precise line even when other fields of the same supplier are
# wrong (pydantic skips a model's own validators until all its fields are valid).
_OWN_CHECKS = re.compile(
    r"^(duplicate (supplier|offering) id|min_sites thresholds must increase"
    r"|a wifi offering must have|unit: access_point is for|a \S+ offering needs"
    r"|offering \S+: regions)"
)


def _is_own_check(err: ErrorDetails) -> bool:
    return err["type"] == "value_error" and bool(
        _OWN_CHECKS.match(str((err.get("ctx") or {}).get("error", "")))
    )


def _catalog_texts(source: Source, name: str | None) -> list[tuple[str, str]]:
    """(display name, text) of the catalogue file, or of each YAML file of a folder."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        display = name or os.fspath(source)
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if _is_yaml_file(p)), key=lambda p: p.name)
            if not files:
                raise InputError([Problem("no *.yaml or *.yml files in this folder", display)])
            sources: list[tuple[Source, str]] = [(p, os.path.join(display, p.name)) for p in files]
        elif not path.exists():
            raise InputError([Problem("file or folder not found", display)])
        else:
            sources = [(path, display)]
    else:
        sources = [(source, name or str(getattr(source, "name", "") or "<catalogue>"))]
    texts: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for item, display in sources:
        try:
            file, raw = _read_source(item, display, display)
            texts.append((file, _decode(raw, file)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return texts


def _is_yaml_file(path: Path) -> bool:
    """A catalogue part: *.yaml or *.yml, not hidden (editors leave .#name.yaml files)."""
    return (
        path.suffix.lower() in (".yaml", ".yml")
        and not path.name.startswith(".")
        and path.is_file()
    )


def load_catalog(source: Source, *, name: str | None = None) -> Catalog:
    """The catalogue in a YAML file, or merged from a folder's YAML files in name order.

    Raises InputError listing every problem of every file: a buyer fixing a
    supplier's file should see all its mistakes at once, with lines.
    """
    texts = _catalog_texts(source, name)
    problems: list[Problem] = []
    docs: list[tuple[_YamlDoc, Catalog | None]] = []
    for file, text in texts:
        try:
            doc = _parse_yaml(file, text)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if doc is None:
            problems.append(
                Problem("the file is empty (expected schema_version, currency and suppliers)", file)
            )
            continue
        problems.extend(doc.problems())
        if not isinstance(doc.data, dict):
            problems.append(
                Problem(
                    "the top level must be a mapping of schema_version, currency and suppliers "
                    f"(got {_describe(doc.data)})",
                    file,
                    doc.line(()),
                )
            )
            continue
        problems.extend(_catalog_file_checks(doc))
        catalog: Catalog | None = None
        try:
            catalog = Catalog.model_validate(doc.data)
        except ValidationError as exc:

            def skip(err: ErrorDetails, bad: set[Loc] = doc.bad) -> bool:
                loc = tuple(err["loc"])
                return _is_own_check(err) or any(loc[: len(b)] == b for b in bad)

            problems.extend(_validation_problems(exc, Catalog, file, doc.locate, skip))
        docs.append((doc, catalog))
    problems.extend(_duplicate_ids([doc for doc, _ in docs]))
    if problems:
        order = {file: i for i, (file, _) in enumerate(texts)}
        problems.sort(key=lambda p: (order.get(p.file or "", 0), p.line or 0))
        raise InputError(problems)
    suppliers = tuple(s for _, cat in docs if cat is not None for s in cat.suppliers)
    if not suppliers:
        raise InputError([Problem("the catalogue has no suppliers", texts[0][0])])
    return Catalog(suppliers=suppliers)


def _items(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """(position, mapping) of the list ``data[key]``, skipping what is not a mapping."""
    seq = data.get(key) if isinstance(data, dict) else None
    if not isinstance(seq, list):
        return []
    return [(i, item) for i, item in enumerate(seq) if isinstance(item, dict)]


def _catalog_file_checks(doc: _YamlDoc) -> list[Problem]:
    """Checks that span fields, run on the raw data so every one of them is reported."""
    problems: list[Problem] = []

    def add(loc: Loc, message: str, line_loc: Loc | None = None) -> None:
        problems.append(Problem(message, doc.file, doc.line(line_loc or loc), doc.label(loc)))

    for key, value in (("schema_version", 1), ("currency", "GBP")):
        if key not in doc.data:
            add((key,), f"{_MISSING} (every catalogue file needs '{key}: {value}')", ())
    for s, supplier in _items(doc.data, "suppliers"):
        at: Loc = ("suppliers", s)
        regions = supplier.get("regions")
        own: set[str] | None = None
        if isinstance(regions, list) and all(r in _REGION_CODES for r in regions):
            own = set(regions)
        previous: int | None = None
        for t, tier in _items(supplier, "volume_discounts"):
            threshold = tier.get("min_sites")
            if not isinstance(threshold, int) or isinstance(threshold, bool):
                continue
            if previous is not None and threshold <= previous:
                add(
                    (*at, "volume_discounts", t, "min_sites"),
                    f"min_sites thresholds must increase ({previous} then {threshold})",
                )
            previous = threshold
        for o, offering in _items(supplier, "offerings"):
            where: Loc = (*at, "offerings", o)
            technology = offering.get("technology")
            unit = offering.get("unit", "site")
            if technology == Technology.WIFI.value and unit != "access_point":
                if "unit" in offering:
                    add(
                        (*where, "unit"),
                        f"a wifi offering must have unit: access_point (got {_got(unit)})",
                    )
                else:
                    add(
                        (*where, "unit"),
                        "a wifi offering must have unit: access_point (the default unit is site)",
                        where,
                    )
            elif technology in ("fibre", "ethernet", "4g"):
                if unit == "access_point":
                    add((*where, "unit"), "unit: access_point is for wifi offerings only")
                for needed in ("download_mbps", "upload_mbps", "availability_pct"):
                    if offering.get(needed) is None:
                        add(
                            (*where, needed),
                            f"required for a {technology} offering, but missing",
                            (*where, needed) if needed in offering else where,
                        )
            offered = offering.get("regions")
            if own is not None and isinstance(offered, list):
                for r, region in enumerate(offered):
                    if region in _REGION_CODES and region not in own:
                        add(
                            (*where, "regions", r),
                            f"region {region!r} is outside supplier {supplier.get('id')}'s "
                            f"regions ({', '.join(regions)})",
                        )
    return problems


def _duplicate_ids(docs: Sequence[_YamlDoc]) -> list[Problem]:
    """Supplier ids and offering ids unique across the whole catalogue, all files."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], tuple[str, int | None]] = {}

    def check(doc: _YamlDoc, kind: str, loc: Loc, ident: Any) -> None:
        if not isinstance(ident, str):
            return
        line = doc.line(loc)
        seen = first.setdefault((kind, ident), (doc.file, line))
        if seen != (doc.file, line):
            place = f"line {seen[1]}" if seen[0] == doc.file else f"{seen[0]}:{seen[1]}"
            problems.append(
                Problem(
                    f"duplicate {kind} id {ident!r} (first at {place})",
                    doc.file,
                    line,
                    doc.label(loc),
                )
            )

    for doc in docs:
        for s, supplier in _items(doc.data, "suppliers"):
            check(doc, "supplier", ("suppliers", s, "id"), supplier.get("id"))
            for o, offering in _items(supplier, "offerings"):
                check(doc, "offering", ("suppliers", s, "offerings", o, "id"), offering.get("id"))
    return problems


# =========================================================================== scenario

_SCENARIO_LISTS = ("exclude_suppliers", "required_certifications")


def _scenario(
    data: Mapping[str, Any],
    file: str | None,
    locate: Callable[[Loc], tuple[int | None, str | None]],
    problems: list[Problem],
    skip: Callable[[ErrorDetails], bool] | None = None,
) -> Scenario:
    values = dict(data)
    for key in _SCENARIO_LISTS:  # 'exclude_suppliers: acme' means a list of one
        if isinstance(values.get(key), str):
            values[key] = [values[key]]
    try:
        scenario = Scenario.model_validate(values)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, Scenario, file, locate, skip))
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line or 0))
    return scenario


def load_scenario(source: Source, *, name: str | None = None) -> Scenario:
    """A scenario from YAML with the SPEC's field names; an empty file means all defaults."""
    file, raw = _read_source(source, name, "<scenario>")
    text = _decode(raw, file)
    doc = _parse_yaml(file, text)
    if doc is None:
        return Scenario()
    problems = doc.problems()
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(
                f"the top level must be a mapping of scenario fields (got {_describe(doc.data)})",
                file,
                doc.line(()),
            )
        )
        raise InputError(problems)

    def skip(err: ErrorDetails) -> bool:
        loc = tuple(err["loc"])
        return any(loc[: len(b)] == b for b in doc.bad)

    return _scenario(doc.data, file, doc.locate, problems, skip)


def scenario_from_mapping(data: Mapping[str, Any], *, source: str | None = None) -> Scenario:
    """A scenario from merged YAML values and command-line flags.

    Keys whose value is None are left out (a flag not given), so the SPEC's
    default applies; ``source`` names the input in messages, e.g. "command line".
    """
    values = {k: v for k, v in data.items() if v is not None}
    return _scenario(values, source, lambda loc: (None, _label(loc, values)), [])


# =========================================================================== CSV


_RowModel = TypeVar("_RowModel", bound=BaseModel)


class _CellError(ValueError):
    """A cell that cannot be read as its column's type; the message is for the user."""


def _norm_header(header: str) -> str:
    return re.sub(r"[\s-]+", "_", header.strip().lower())


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def _parse_number(raw: str) -> float:
    text = raw
    if text.startswith("£"):
        text = text[1:].strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        raise _CellError(_expected("a number", raw)) from None


def _parse_percent(raw: str) -> float:
    return _parse_number(raw[:-1].strip() if raw.endswith("%") else raw)


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        number = float(raw)
    except ValueError:
        raise _CellError(_expected("a whole number", raw)) from None
    if not number.is_integer():
        raise _CellError(_expected("a whole number", raw))
    return int(number)


_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _CellError(_expected("true or false (or yes/no, 1/0)", raw))


def _parse_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    try:  # spreadsheets like to add midnight
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _CellError(_expected(_DATE_WORDS, raw)) from None
    if moment.time() != datetime.min.time() or moment.tzinfo is not None:
        raise _CellError(_expected("a date without a time of day", raw))
    return moment.date()


def _parse_region(raw: str) -> Region:
    code = re.sub(r"[\s_]+", "-", raw.lower())
    if code not in _REGION_CODES:
        raise _CellError(_unknown_region(raw))
    return Region(code)


def _parse_resilience(raw: str) -> Resilience:
    lowered = raw.lower()
    try:
        return Resilience(lowered)
    except ValueError:
        raise _CellError(_one_of([r.value for r in Resilience], raw)) from None


_LINKS = tuple(t.value for t in _LINK_ORDER)


def _parse_technologies(raw: str) -> frozenset[Technology] | None:
    """';'-separated link technologies; None (the default, all three) when empty."""
    names = [t.strip().lower() for t in re.split(r"[;,]", raw)]
    found: set[Technology] = set()
    for tech in filter(None, names):
        if tech == Technology.WIFI.value:
            raise _CellError(
                f"wifi is not a link technology (allowed: {', '.join(_LINKS)}; "
                "give Wi-Fi access points in wifi_aps)"
            )
        if tech not in _LINKS:
            raise _CellError(_one_of(_LINKS, tech))
        found.add(Technology(tech))
    return frozenset(found) if found else None


_SITE_PARSERS: dict[str, Callable[[str], Any] | None] = {  # None: text as is
    "site_id": None,
    "organisation": None,
    "name": None,
    "region": _parse_region,
    "bandwidth_mbps": _parse_number,
    "resilience": _parse_resilience,
    "backup_mbps": _parse_number,
    "min_availability_pct": _parse_percent,
    "wifi_aps": _parse_int,
    "technologies": _parse_technologies,
    "allow_4g_primary": _parse_bool,
    "go_live_by": _parse_date,
    "priority": _parse_int,
    "uncontended": _parse_bool,
    "current_supplier": None,
    "current_monthly_cost": _parse_number,
}
_ORGANISATION_REQUIRED: tuple[str, ...] = ("organisation",)
_ORGANISATION_PARSERS: dict[str, Callable[[str], Any] | None] = {  # None: text as is
    "organisation": None,
    "name": None,
    "type": None,
    "budget": _parse_number,
}


@dataclass
class _Table:
    """A CSV file's recognised columns, other columns and non-blank rows."""

    file: str
    width: int
    columns: dict[str, int]
    extras: list[tuple[str, int]]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def _read_table(
    file: str,
    text: str,
    known: Sequence[str],
    required: Sequence[str],
    problems: list[Problem],
) -> _Table | None:
    """Header and rows of a CSV file with the file line each row starts on.

    csv.reader's line_num is the line a record *ends* on; the record starts on
    the line after the previous one ended, which stays right for quoted cells
    that span lines. Blank rows are skipped and every cell is trimmed.
    """
    if not text.strip():
        problems.append(
            Problem(
                f"the file is empty (expected a header row with at least {', '.join(required)})",
                file,
            )
        )
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[int, list[str]]] = []
    ended = 0
    try:
        for raw in reader:
            line = ended + 1
            ended = reader.line_num
            cells = [c.strip() for c in raw]
            if not any(cells):
                continue
            if header is None:
                header, header_line = cells, line
            else:
                rows.append((line, cells))
    except csv.Error as exc:
        problems.append(Problem(f"not a readable CSV file ({exc})", file, reader.line_num))
        return None
    assert header is not None
    columns: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for index, title in enumerate(header):
        if not title:
            continue  # an unnamed column, e.g. a spreadsheet's trailing comma
        key = _norm_header(title)
        column = key if key in known else title
        if column in seen:
            problems.append(
                Problem(
                    f"column {column!r} appears twice (columns {seen[column] + 1} and {index + 1})",
                    file,
                    header_line,
                )
            )
            continue
        seen[column] = index
        if key in known:
            columns[key] = index
        else:
            extras.append((title, index))
    missing = [c for c in required if c not in columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        problems.append(
            Problem(f"missing required column{plural}: {', '.join(missing)}", file, header_line)
        )
    if problems:
        return None
    return _Table(file, len(header), columns, extras, rows)


_NOT_SEEN = object()
_CACHE_LIMIT = 10_000


def _load_rows(
    table: _Table,
    model: type[_RowModel],
    parsers: Mapping[str, Callable[[str], Any] | None],
    required: Sequence[str],
    problems: list[Problem],
    *,
    keep_extra: bool,
) -> list[_RowModel]:
    """One model per row; every problem of every row is added to ``problems``.

    Cells are read by our own parsers first (so that messages quote the cell as
    written), then pydantic checks ranges; a row's problems come in column order.
    Parsed cells are memoised per column because regions, technologies, flags and
    dates repeat across thousands of rows: this keeps 25,000 sites well under 1 s.
    """
    file = table.file
    id_column = required[0]
    specs: list[tuple[str, int, Callable[[str], Any] | None, bool, dict[str, Any]]] = [
        (column, index, parsers[column], column in required, {})
        for column, index in sorted(table.columns.items(), key=lambda item: item[1])
    ]
    order = dict(table.columns)
    width = table.width
    extras = table.extras if keep_extra else []
    objects: list[_RowModel] = []
    first_line: dict[str, int] = {}
    for line, cells in table.rows:
        found: list[Problem] = []
        failed: set[str] = set()
        values: dict[str, Any] = {}
        count = len(cells)
        if count > width and any(cells[width:]):
            used = max(i for i, c in enumerate(cells) if c) + 1
            found.append(
                Problem(
                    f"this row has {used} values but the header has {width} columns", file, line
                )
            )
        for column, index, parse, needed, cache in specs:
            raw = cells[index] if index < count else ""
            if not raw:
                if needed:
                    found.append(Problem("required, but empty", file, line, column))
                    failed.add(column)
                continue
            if parse is None:
                values[column] = raw
                continue
            value = cache.get(raw, _NOT_SEEN)
            if value is _NOT_SEEN:
                try:
                    value = parse(raw)
                except _CellError as exc:
                    found.append(Problem(str(exc), file, line, column))
                    failed.add(column)
                    continue
                if len(cache) < _CACHE_LIMIT:
                    cache[raw] = value
            if value is not None:
                values[column] = value
        ident = values.get(id_column)
        if ident is not None:
            if ident in first_line:
                found.append(
                    Problem(
                        f"duplicate {id_column} {ident!r} (first at line {first_line[ident]})",
                        file,
                        line,
                        id_column,
                    )
                )
            else:
                first_line[ident] = line
        if extras:
            values["extra"] = {
                title: cells[index] if index < count else "" for title, index in extras
            }
        try:
            objects.append(model.model_validate(values))
        except ValidationError as exc:

            def locate(loc: Loc, line: int = line) -> tuple[int | None, str | None]:
                return line, str(loc[0]) if loc else None

            def skip(err: ErrorDetails, failed: set[str] = failed) -> bool:
                return bool(err["loc"]) and err["loc"][0] in failed

            found.extend(_validation_problems(exc, model, file, locate, skip))
        if found:
            found.sort(key=lambda p: order.get(p.field or "", -1))
            problems.extend(found)
    return objects


@without_gc
def load_sites(source: Source, *, name: str | None = None) -> tuple[Site, ...]:
    """Sites from CSV: any column order, extra columns kept, SPEC defaults for blanks.

    Raises InputError with every problem of every row (file line and column), so
    a spreadsheet can be fixed in one pass; nothing is returned from a bad file.
    ``name`` is used in messages (the app passes the uploaded file's name).
    """
    file, raw = _read_source(source, name, "<sites>")
    text = _decode(raw, file)
    problems: list[Problem] = []
    table = _read_table(file, text, SITE_COLUMNS, _SITE_REQUIRED, problems)
    if table is None:
        raise InputError(problems)
    sites = _load_rows(table, Site, _SITE_PARSERS, _SITE_REQUIRED, problems, keep_extra=True)
    if not problems and not sites:
        problems.append(Problem("no sites: the file has a header row but no site rows", file))
    if problems:
        raise InputError(problems)
    return tuple(sites)


def load_organisations(source: Source, *, name: str | None = None) -> tuple[Organisation, ...]:
    """Organisations from CSV (organisation, name, type, budget); other columns ignored.

    A header with no rows is allowed: the file is optional and every organisation
    a site names is added by :func:`resolve_organisations` anyway.
    """
    file, raw = _read_source(source, name, "<organisations>")
    text = _decode(raw, file)
    problems: list[Problem] = []
    table = _read_table(file, text, ORGANISATION_COLUMNS, _ORGANISATION_REQUIRED, problems)
    if table is None:
        raise InputError(problems)
    organisations = _load_rows(
        table,
        Organisation,
        _ORGANISATION_PARSERS,
        _ORGANISATION_REQUIRED,
        problems,
        keep_extra=False,
    )
    if problems:
        raise InputError(problems)
    return tuple(organisations)


def resolve_organisations(
    sites: Iterable[Site], organisations: Iterable[Organisation] = ()
) -> tuple[Organisation, ...]:
    """The file's organisations, then one (id = name, no budget) per other id a site names.

    Order: file order, then the order in which sites first name the others.
    """
    resolved = list(organisations)
    known = {o.organisation for o in resolved}
    for site in sites:
        if site.organisation not in known:
            known.add(site.organisation)
            resolved.append(Organisation(organisation=site.organisation))
    return tuple(resolved)


# =========================================================================== writing sites


def _site_columns(sites: Iterable[Site]) -> dict[str, list[Any]]:
    """Sites column by column: SPEC columns in order, then extras in first-seen order.

    Enums become their codes and technologies a ';'-joined list; an extra column
    a site lacks is None. Column-wise, because the app tabulates 25,000 sites.
    """
    rows = list(sites)
    table: dict[str, list[Any]] = {}
    joined: dict[frozenset[Technology], str] = {}
    for column in SITE_COLUMNS:
        values = [getattr(site, column) for site in rows]
        if column == "technologies":
            values = [
                joined.get(v)
                or joined.setdefault(v, ";".join(t.value for t in _LINK_ORDER if t in v))
                for v in values
            ]
        elif column in ("region", "resilience"):
            values = [v.value for v in values]
        table[column] = values
    extra_names: dict[str, None] = {}
    for site in rows:
        if site.extra:
            extra_names.update(dict.fromkeys(site.extra))
    for key in extra_names:
        if key not in table:
            table[key] = [site.extra.get(key) for site in rows]
    return table


def sites_frame(sites: Iterable[Site]) -> pd.DataFrame:
    """Sites as a table for the app and exports, in the same columns as the CSV."""
    return pd.DataFrame(_site_columns(sites))


def _cell(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float | int):
        return _fmt_number(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cells(values: list[Any]) -> list[str | None]:
    """One column's values as CSV text that load_sites reads back to the same values.

    Text and None pass through (csv writes None as an empty cell); other values
    are memoised, as a column of 25,000 sites holds few distinct numbers or dates.
    A column has one type, so True and 1 never share a memo.
    """
    memo: dict[Any, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None or type(value) is str:
            out.append(value)
            continue
        text = memo.get(value)
        if text is None:
            text = memo[value] = _cell(value)
        out.append(text)
    return out


def sites_to_csv_bytes(sites: Iterable[Site]) -> bytes:
    """Sites as a CSV that :func:`load_sites` reads back to equal sites.

    UTF-8 with a byte-order mark, so that Excel shows names with accents or
    curly apostrophes correctly when a buyer opens the download.
    """
    table = _site_columns(sites)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table)
    writer.writerows(zip(*(_cells(values) for values in table.values()), strict=True))
    return buffer.getvalue().encode("utf-8-sig")


_TEMPLATE_SITES = (
    Site(
        site_id="site-001",
        organisation="example-trust",
        name="Example General Hospital",
        region=Region.LONDON,
        bandwidth_mbps=1000,
        resilience=Resilience.DIVERSE,
        backup_mbps=100,
        min_availability_pct=99.9,
        wifi_aps=40,
        technologies=frozenset({Technology.FIBRE, Technology.ETHERNET}),
        go_live_by=date(2027, 3, 31),
        priority=5,
        uncontended=True,
        current_supplier="incumbent-net",
        current_monthly_cost=2400,
    ),
    Site(
        site_id="site-002",
        organisation="example-gp-federation",
        name="Example Street Surgery",
        region=Region.SOUTH_EAST,
        bandwidth_mbps=100,
        resilience=Resilience.BACKUP,
        backup_mbps=20,
        wifi_aps=4,
        technologies=frozenset({Technology.FIBRE, Technology.G4}),
        allow_4g_primary=True,
        current_monthly_cost=350,
    ),
)

#: A downloadable sites template: the SPEC header and two example rows.
SITES_TEMPLATE_CSV: bytes = sites_to_csv_bytes(_TEMPLATE_SITES)
