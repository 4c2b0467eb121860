"""C-FIND matching over the store's SQLite index (PS3.4 C.2.2.2).

A query identifier (a pydicom Dataset) becomes one SQL statement over the
``files`` table, restricted to the store folder and grouped by the unique key
of the query level: single value, wildcard (``*`` ``?``), UID list and range
matching on the columns the index keeps run in SQLite; keys the index does not
keep (Patient's Sex, sequences, ...) are matched in Python against one file of
each candidate entity, and returned from it. Universal matching (an empty
value) only asks for the key to be returned.

The same engine gives C-MOVE and C-GET their instances: the retrieve
identifier is matched at the IMAGE level.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmtui.services.errors import DcmtuiError

LOGGER = logging.getLogger(__name__)

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
MODELS = ("patient", "study")
_WILDCARD_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}
_RANGE_VRS = {"DA", "TM", "DT"}
_NUMERIC_VRS = {"IS", "DS", "US", "SS", "UL", "SL", "FL", "FD"}


class QueryError(DcmtuiError):
    """A query identifier we cannot answer; ``status`` is the DIMSE status."""

    def __init__(self, message: str, status: int = 0xA900) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Key:
    """An attribute the index keeps (or computes)."""

    keyword: str
    level: str
    vr: str
    sql: str
    """Column or aggregate expression."""
    aggregate: bool = False
    """True for counts and lists computed over the entity's files."""


_KEYS: dict[str, Key] = {
    k.keyword: k
    for k in (
        Key("PatientName", "PATIENT", "PN", "patient_name"),
        Key("PatientID", "PATIENT", "LO", "patient_id"),
        Key("PatientBirthDate", "PATIENT", "DA", "patient_birth_date"),
        Key(
            "NumberOfPatientRelatedStudies",
            "PATIENT",
            "IS",
            "count(DISTINCT study_uid)",
            True,
        ),
        Key(
            "NumberOfPatientRelatedSeries",
            "PATIENT",
            "IS",
            "count(DISTINCT series_uid)",
            True,
        ),
        Key("NumberOfPatientRelatedInstances", "PATIENT", "IS", "count(*)", True),
        Key("StudyInstanceUID", "STUDY", "UI", "study_uid"),
        Key("StudyDate", "STUDY", "DA", "study_date"),
        Key("StudyTime", "STUDY", "TM", "study_time"),
        Key("StudyDescription", "STUDY", "LO", "study_description"),
        Key("AccessionNumber", "STUDY", "SH", "accession_number"),
        Key(
            "ModalitiesInStudy",
            "STUDY",
            "CS",
            "group_concat(DISTINCT nullif(modality, ''))",
            True,
        ),
        Key(
            "SOPClassesInStudy",
            "STUDY",
            "UI",
            "group_concat(DISTINCT nullif(sop_class_uid, ''))",
            True,
        ),
        Key(
            "NumberOfStudyRelatedSeries",
            "STUDY",
            "IS",
            "count(DISTINCT series_uid)",
            True,
        ),
        Key("NumberOfStudyRelatedInstances", "STUDY", "IS", "count(*)", True),
        Key("SeriesInstanceUID", "SERIES", "UI", "series_uid"),
        Key("Modality", "SERIES", "CS", "modality"),
        Key("SeriesNumber", "SERIES", "IS", "series_number"),
        Key("SeriesDescription", "SERIES", "LO", "series_description"),
        Key("NumberOfSeriesRelatedInstances", "SERIES", "IS", "count(*)", True),
        Key("SOPInstanceUID", "IMAGE", "UI", "sop_instance_uid"),
        Key("SOPClassUID", "IMAGE", "UI", "sop_class_uid"),
        Key("InstanceNumber", "IMAGE", "IS", "instance_number"),
    )
}
_UNIQUE = {
    "PATIENT": "patient_id",
    "STUDY": "study_uid",
    "SERIES": "series_uid",
    "IMAGE": "sop_instance_uid",
}
_NOT_RETURNED = {"QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle"}
_LISTS = {"ModalitiesInStudy", "SOPClassesInStudy"}


@dataclass(frozen=True, slots=True)
class Instance:
    """One file to send for a C-MOVE or C-GET."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str


# --- value matching (Python side, also registered in SQLite) -----------------


@functools.lru_cache(maxsize=256)
def _wild_regex(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = [
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
    ]
    return re.compile("".join(parts), re.S | (re.I if fold else 0))


def _glob(pattern: str) -> str:
    """A DICOM wildcard pattern as an SQLite GLOB pattern."""
    return pattern.replace("[", "[[]")


def _time_seconds(value: str) -> float | None:
    value = value.strip().replace(":", "")
    if not value:
        return None
    head, _, frac = value.partition(".")
    if not head.isdigit() or len(head) % 2 or len(head) > 6:
        return None
    hh, mm, ss = int(head[:2]), int(head[2:4] or 0), int(head[4:6] or 0)
    fraction = float("0." + frac) if frac.isdigit() else 0.0
    return hh * 3600 + mm * 60 + ss + fraction


def _time_bound(value: str, upper: bool) -> float | None:
    """A time range bound: an upper ``1030`` includes all of 10:30."""
    seconds = _time_seconds(value)
    if seconds is None or not upper:
        return seconds
    digits = len(value.strip().replace(":", "").partition(".")[0])
    if "." in value:
        return seconds
    return seconds + {2: 3599.999999, 4: 59.999999}.get(digits, 0.999999)


def _date(value: str) -> str:
    return value.strip().replace(".", "")


def _in_range(vr: str, pattern: str, value: str) -> bool:
    low, _, high = pattern.partition("-")
    low, high = low.strip(), high.strip()
    if not value.strip():
        return False
    if vr == "TM":
        seconds = _time_seconds(value)
        if seconds is None:
            return False
        lo = _time_bound(low, False) if low else None
        hi = _time_bound(high, True) if high else None
        return (lo is None or seconds >= lo) and (hi is None or seconds <= hi)
    v = _date(value)
    if vr == "DT":  # compare on the common prefix length, padded
        lo_ok = not low or v >= _date(low)
        hi_ok = not high or v[: len(_date(high))] <= _date(high)
        return lo_ok and hi_ok
    return (not low or v >= _date(low)) and (not high or v <= _date(high))


def value_matches(vr: str, pattern: str, value: str) -> bool:
    """True when ``value`` (one attribute of one entity, as text, values
    separated by ``\\``) matches the C-FIND key ``pattern`` (PS3.4 C.2.2.2).

    Args:
        vr: The attribute's VR.
        pattern: The key's value in the query identifier.
        value: The entity's value.
    """
    pattern = pattern.strip()
    if pattern in ("", "*"):
        return True  # universal matching
    values = [v.strip() for v in value.split("\\")] if value else [""]
    if vr == "UI":
        wanted = {p.strip() for p in pattern.split("\\")}
        return any(v in wanted for v in values)
    if vr in _RANGE_VRS:
        if "-" in pattern:
            return any(_in_range(vr, pattern, v) for v in values)
        if vr == "TM":
            target = _time_seconds(pattern)
            return any(_time_seconds(v) == target for v in values if v)
        return any(_date(v) == _date(pattern) for v in values if v)
    if vr in _NUMERIC_VRS:
        try:
            target = float(pattern)
            return any(v and float(v) == target for v in values)
        except ValueError:
            return False
    fold = vr == "PN"
    alternatives = pattern.split("\\") if vr == "CS" else [pattern]
    for alt in alternatives:
        if vr == "PN":
            alt = alt.rstrip("^ ")
        if "*" in alt or "?" in alt:
            regex = _wild_regex(alt, fold)
            if any(regex.fullmatch(v.rstrip("^ ") if fold else v) for v in values):
                return True
        else:
            for v in values:
                got = v.rstrip("^ ") if fold else v
                if (got.upper() == alt.upper()) if fold else (got == alt):
                    return True
    return False


DATETIME_PAIRS = (
    ("StudyDate", "StudyTime"),
    ("SeriesDate", "SeriesTime"),
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
    ("InstanceCreationDate", "InstanceCreationTime"),
    ("PatientBirthDate", "PatientBirthTime"),
)
"""Date and time attributes matched as one date-time range when combined
date-time matching was negotiated (PS3.4 C.2.2.2.5)."""


@dataclass(frozen=True, slots=True)
class DateTimeRange:
    """A DA range and a TM range on a pair of attributes, as one range."""

    date_keyword: str
    time_keyword: str
    dates: str
    """The date range, ``20240101-20240131`` (either side may be empty)."""
    times: str
    """The time range, ``1200-1800`` (either side may be empty)."""

    def matches(self, date: str, time: str) -> bool:
        """True when the moment ``date`` ``time`` is in the range. A date
        without a time matches when any moment of that day does."""
        day = _date(date)
        if not day:
            return False
        seconds = _time_seconds(time) if time.strip() else None
        first = (day, seconds if seconds is not None else 0.0)
        last = (day, seconds if seconds is not None else 86400.0)
        low_date, _, high_date = (part.strip() for part in self.dates.partition("-"))
        low_time, _, high_time = (part.strip() for part in self.times.partition("-"))
        if low_date:
            low = (_date(low_date), (_time_bound(low_time, False) or 0.0))
            if last < low:
                return False
        if high_date:
            bound = _time_bound(high_time, True) if high_time else None
            high = (_date(high_date), 86400.0 if bound is None else bound)
            if first > high:
                return False
        return True


def combined_ranges(identifier: Any) -> tuple[Any, list[DateTimeRange]]:
    """The date-time ranges of ``identifier`` (pairs whose date and time are
    both ranges), and the identifier with those keys made universal (still
    returned, matched by the ranges instead)."""
    ranges: list[DateTimeRange] = []
    for date_keyword, time_keyword in DATETIME_PAIRS:
        if date_keyword not in identifier or time_keyword not in identifier:
            continue
        dates = _text(identifier.get(date_keyword)).strip()
        times = _text(identifier.get(time_keyword)).strip()
        if "-" in dates and "-" in times:
            ranges.append(DateTimeRange(date_keyword, time_keyword, dates, times))
    if not ranges:
        return identifier, []
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

    blank = {name for r in ranges for name in (r.date_keyword, r.time_keyword)}
    out = Dataset()
    for elem in identifier:
        if elem.keyword in blank:
            out.add(DataElement(elem.tag, elem.VR, ""))
        else:
            out.add(elem)
    return out, ranges


# --- identifiers --------------------------------------------------------------


def _text(value: Any) -> str:
    """An element value as DICOM text (multiple values joined by ``\\``)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(_text(v) for v in value)
    return str(value)


@dataclass
class _Plan:
    """A query as SQL: the level, the WHERE terms and their parameters."""

    level: str
    where: list[str]
    params: list[Any]
    having: list[str]
    having_params: list[Any]
    selected: list[str]
    """Index keywords to return."""
    file_keys: list[Any]
    """Elements of the identifier that need a file (to match or return)."""


def query_level(identifier: Any, model: str) -> str:
    """The checked Query/Retrieve Level of ``identifier`` for ``model``.

    Raises:
        QueryError: No level, an unknown one, or PATIENT in the study root.
    """
    level = str(getattr(identifier, "QueryRetrieveLevel", "") or "").strip().upper()
    if level not in LEVELS:
        raise QueryError(f"unknown Query/Retrieve Level {level!r}", 0xC000)
    if model == "study" and level == "PATIENT":
        raise QueryError("the study root has no PATIENT level", 0xC000)
    return level


def _plan(identifier: Any, level: str) -> _Plan:
    plan = _Plan(level, [], [], [], [], [], [])
    depth = LEVELS.index(level)
    for elem in identifier:
        keyword = elem.keyword
        if elem.tag.group in (0x0000, 0x0002) or keyword in _NOT_RETURNED:
            continue
        key = _KEYS.get(keyword)
        if key is None or LEVELS.index(key.level) > depth:
            if key is None:
                plan.file_keys.append(elem)
            continue
        if key.aggregate and LEVELS.index(key.level) != depth:
            continue
        plan.selected.append(keyword)
        pattern = _text(elem.value).strip()
        if pattern in ("", "*"):
            continue
        if key.aggregate:
            if keyword == "ModalitiesInStudy":
                wanted = [p for p in pattern.split("\\") if p]
                marks = ", ".join("?" * len(wanted))
                plan.having.append(f"sum(modality IN ({marks})) > 0")
                plan.having_params.extend(wanted)
            else:
                plan.having.append(f"dcm_match(?, ?, {key.sql})")
                plan.having_params.extend([key.vr, pattern])
            continue
        column = key.sql
        if key.vr == "UI":
            uids = [u.strip() for u in pattern.split("\\") if u.strip()]
            plan.where.append(f"{column} IN ({', '.join('?' * len(uids))})")
            plan.params.extend(uids)
        elif key.vr in _WILDCARD_VRS and "\\" not in pattern:
            if key.vr == "PN":
                pattern = pattern.rstrip("^ ")
                column = f"upper(rtrim({column}, '^ '))"
                pattern = pattern.upper()
            if "*" in pattern or "?" in pattern:
                plan.where.append(f"{column} GLOB ?")
                plan.params.append(_glob(pattern))
            else:
                plan.where.append(f"{column} = ?")
                plan.params.append(pattern)
        elif key.vr == "DA" and "-" not in pattern:
            plan.where.append(f"{column} = ?")
            plan.params.append(_date(pattern))
        else:
            plan.where.append(f"dcm_match(?, ?, coalesce({column}, ''))")
            plan.params.extend([key.vr, pattern])
    return plan


def _register(con: sqlite3.Connection) -> None:
    def dcm_match(vr: str, pattern: str, value: object) -> bool:
        return value_matches(vr, pattern, "" if value is None else str(value))

    con.create_function("dcm_match", 3, dcm_match, deterministic=True)


ROOTS_TABLE = "CREATE TABLE IF NOT EXISTS qr_roots (path TEXT PRIMARY KEY)"


def referenced_roots(con: sqlite3.Connection) -> list[str]:
    """Folders imported in place (from the index database)."""
    exists = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'qr_roots'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in con.execute("SELECT path FROM qr_roots ORDER BY path")]


def under_any(roots: list[str]) -> tuple[str, list[str]]:
    """SQL condition (and parameters) for paths below any of ``roots``."""
    parts, params = [], []
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        parts.append("(path >= ? AND path < ?)")
        params += [prefix, prefix[:-1] + chr(ord(os.sep) + 1)]
    return "(" + " OR ".join(parts or ["0"]) + ")", params


# --- files --------------------------------------------------------------------


def read_file(path: str) -> Any:
    from pydicom import dcmread

    try:
        return dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # a file gone or damaged since it was indexed
        LOGGER.warning("query: cannot read %s: %s", path, exc)
        return None


def _file_value(dataset: Any, keyword: str) -> str:
    return _text(dataset.get(keyword)) if dataset is not None else ""


def _sequence_matches(key_elem: Any, file_elem: Any) -> bool:
    """Sequence matching: some item of the file's sequence matches every key
    of the query's (single) item."""
    items = list(key_elem.value or [])
    if not items or not len(items[0]):
        return True
    query_item = items[0]
    for item in file_elem.value or []:
        if all(element_matches(q, item) for q in query_item):
            return True
    return False


def element_matches(key_elem: Any, dataset: Any) -> bool:
    if key_elem.VR == "SQ":
        if not key_elem.value or not len(key_elem.value[0]):
            return True
        found = dataset.get(key_elem.tag) if dataset is not None else None
        return found is not None and _sequence_matches(key_elem, found)
    pattern = _text(key_elem.value)
    if pattern.strip() in ("", "*"):
        return True
    found = dataset.get(key_elem.tag) if dataset is not None else None
    value = _text(found.value) if found is not None else ""
    return value_matches(str(key_elem.VR), pattern, value)


def returned_element(key_elem: Any, dataset: Any) -> Any:
    """The element to return for ``key_elem``, from ``dataset`` (a file)."""
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    found = dataset.get(key_elem.tag) if dataset is not None else None
    if found is None:
        return DataElement(key_elem.tag, key_elem.VR, None)
    if key_elem.VR != "SQ" or found.VR != "SQ":
        return DataElement(key_elem.tag, found.VR, found.value)
    wanted = list(key_elem.value[0]) if key_elem.value else []
    items = []
    for item in found.value or []:
        if not wanted:
            items.append(item)
            continue
        out = Dataset()
        for sub in wanted:
            out.add(returned_element(sub, item))
        items.append(out)
    return DataElement(key_elem.tag, "SQ", Sequence(items))


# --- encoding answers without pydicom -------------------------------------------

_LONG_LENGTH_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"}


class _Encoder:
    """Little endian data elements with a text value (the index's values)."""

    def __init__(self, implicit: bool) -> None:
        self.implicit = implicit

    def element(self, tag: int, vr: str, text: str) -> bytes:
        value = text.encode("utf-8")
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
        group_elem = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        if self.implicit:
            return group_elem + struct.pack("<I", len(value)) + value
        if vr in _LONG_LENGTH_VRS:
            return (
                group_elem
                + vr.encode()
                + b"\0\0"
                + struct.pack("<I", len(value))
                + value
            )
        return group_elem + vr.encode() + struct.pack("<H", len(value)) + value


# --- the engine ---------------------------------------------------------------


class StoreQuery:
    """Answers C-FIND, and lists C-MOVE/C-GET instances, from the index."""

    def __init__(self, index_path: Path, store_root: Path, ae_title: str = "") -> None:
        self.index_path = index_path
        self.store_root = store_root
        self.ae_title = ae_title
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[object, list[tuple[dict[str, Any], str]]]] = {}
        """PATIENT/STUDY level: every entity with all its index keys, kept
        while the index database files are unchanged."""
        self._watch: sqlite3.Connection | None = None
        self._generation = 0

    def _stamp(self) -> object:
        """What changes when anything is committed to the index: SQLite's
        ``data_version`` as seen by a connection kept open for the purpose
        (it changes when any other connection, in any process, commits).
        Called with ``_lock`` held."""
        try:
            if self._watch is None:
                if not self.index_path.exists():
                    self._connect().close()  # creates it
                self._watch = sqlite3.connect(
                    self.index_path, timeout=30, check_same_thread=False
                )
                self._generation += 1
            (version,) = self._watch.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            if self._watch is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._watch.close()
            self._watch = None
            return object()  # never equal: no cache
        return (self._generation, version, str(self.store_root))

    def close(self) -> None:
        """Close the connection that watches the index for changes."""
        with self._lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None

    def _entities(self, level: str) -> list[tuple[dict[str, Any], str]]:
        """Every PATIENT or STUDY entity of the store, with all its keys."""
        with self._lock:
            stamp = self._stamp()
            hit = self._cache.get(level)
            if hit is not None and hit[0] == stamp:
                return hit[1]
            depth = LEVELS.index(level)
            keys = [
                k
                for k in _KEYS.values()
                if (not k.aggregate and LEVELS.index(k.level) <= depth)
                or (k.aggregate and k.level == level)
            ]
            unique = _UNIQUE[level]
            columns = ", ".join([*(k.sql for k in keys), "min(path)"])
            names = [k.keyword for k in keys]
            con = self._connect()
            try:
                where_root, params = under_any(
                    [str(self.store_root), *referenced_roots(con)]
                )
                rows = [
                    (dict(zip(names, row[:-1], strict=True)), row[-1])
                    for row in con.execute(
                        f"SELECT {columns} FROM files WHERE {where_root} AND "
                        f"kind = 'dicom' GROUP BY {unique} ORDER BY min({unique})",
                        params,
                    )
                ]
            finally:
                con.close()
            self._cache[level] = (stamp, rows)
            return rows

    def _cached_select(
        self, identifier: Any, level: str
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """The matches of a PATIENT or STUDY level query, from the cache."""
        depth = LEVELS.index(level)
        tests: list[tuple[str, str, str]] = []
        for elem in identifier:
            key = _KEYS.get(elem.keyword)
            if key is None or LEVELS.index(key.level) > depth:
                continue
            if key.aggregate and key.level != level:
                continue
            pattern = _text(elem.value).strip()
            if pattern not in ("", "*"):
                tests.append((key.keyword, key.vr, pattern))
        for values, path in self._entities(level):
            ok = True
            for keyword, vr, pattern in tests:
                raw = values.get(keyword)
                value = "" if raw is None else str(raw)
                if keyword in _LISTS:
                    value = value.replace(",", "\\")
                if not value_matches(vr, pattern, value):
                    ok = False
                    break
            if ok:
                yield values, path

    def _connect(self) -> sqlite3.Connection:
        from dcmtui.services.files import Index

        con: sqlite3.Connection | None = None
        if self.index_path.exists():  # the usual case: no schema work to do
            con = sqlite3.connect(self.index_path, timeout=30)
            try:
                con.execute("SELECT path FROM files LIMIT 0")
            except sqlite3.Error:
                con.close()
                con = None
        if con is None:
            con = Index(self.index_path).connect()
        _register(con)
        return con

    def _select(
        self, con: sqlite3.Connection, plan: _Plan
    ) -> Iterator[tuple[dict[str, Any], str]]:
        where_root, params = under_any([str(self.store_root), *referenced_roots(con)])
        where = [where_root, "kind = 'dicom'", *plan.where]
        params += plan.params
        unique = _UNIQUE[plan.level]
        exprs = [_KEYS[k].sql for k in plan.selected]
        columns = ", ".join([*exprs, "min(path)"])
        sql = (
            f"SELECT {columns} FROM files WHERE {' AND '.join(where)} GROUP BY {unique}"
        )
        if plan.having:
            sql += f" HAVING {' AND '.join(plan.having)}"
            params += plan.having_params
        sql += f" ORDER BY min({unique})"
        for row in con.execute(sql, params):
            yield dict(zip(plan.selected, row[:-1], strict=True)), row[-1]

    def _layout(
        self, identifier: Any, model: str
    ) -> tuple[str, _Plan, list[tuple[str, Any, str]]]:
        """The level, the SQL plan, and what to return for each key.

        Raises:
            QueryError: The identifier cannot be answered (bad level).
        """
        level = query_level(identifier, model)
        plan = _plan(identifier, level)
        layout: list[tuple[str, Any, str]] = []
        for elem in identifier:
            keyword = elem.keyword
            if elem.tag.group in (0x0000, 0x0002) or keyword in (
                "QueryRetrieveLevel",
                "SpecificCharacterSet",
            ):
                continue
            if keyword == "RetrieveAETitle":
                layout.append(("ae", elem, "AE"))
            elif keyword in plan.selected:
                layout.append(("index", elem, _KEYS[keyword].vr))
            elif keyword in _KEYS:
                layout.append(("empty", elem, str(elem.VR)))
            else:
                layout.append(("file", elem, str(elem.VR)))
        return level, plan, layout

    def _matches(
        self,
        identifier: Any,
        level: str,
        plan: _Plan,
        ranges: list[DateTimeRange] | None = None,
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """(index values, a file) of each entity the index matches (and the
        date-time ``ranges`` on keys the index keeps)."""
        if level in ("PATIENT", "STUDY"):
            rows = self._cached_select(identifier, level)
        else:
            rows = self._select_all(plan)
        tests = [
            r
            for r in ranges or ()
            if r.date_keyword in plan.selected and r.time_keyword in plan.selected
        ]
        for values, path in rows:
            if all(
                r.matches(
                    _text(values.get(r.date_keyword)), _text(values.get(r.time_keyword))
                )
                for r in tests
            ):
                yield values, path

    def _select_all(self, plan: _Plan) -> Iterator[tuple[dict[str, Any], str]]:
        con = self._connect()
        try:
            yield from self._select(con, plan)
        finally:
            con.close()

    def find(
        self,
        identifier: Any,
        model: str,
        cancelled: Callable[[], bool] = lambda: False,
        combined_datetime: bool = False,
    ) -> Iterator[Any]:
        """Yield one response identifier (a pydicom Dataset) per match.

        Args:
            identifier: The C-FIND request identifier.
            model: ``patient`` or ``study`` (the information model's root).
            cancelled: Checked between matches (C-CANCEL).
            combined_datetime: Match a DA range and a TM range on a pair of
                attributes as one date-time range (negotiated by the peer).

        Raises:
            QueryError: The identifier cannot be answered (bad level).
        """
        from pydicom import config
        from pydicom.dataelem import DataElement
        from pydicom.dataset import Dataset
        from pydicom.valuerep import PersonName

        def fast(tag: Any, vr: str, value: Any) -> Any:
            """An element of ours: already in its final form, not re-checked."""
            return DataElement(
                tag, vr, value, already_converted=True, validation_mode=config.IGNORE
            )

        ranges: list[DateTimeRange] = []
        if combined_datetime:
            identifier, ranges = combined_ranges(identifier)
        level, plan, layout = self._layout(identifier, model)
        on_files = [
            r
            for r in ranges
            if not (r.date_keyword in plan.selected and r.time_keyword in plan.selected)
        ]
        for values, path in self._matches(identifier, level, plan, ranges):
            if cancelled():
                return
            source = read_file(path) if plan.file_keys else None
            if plan.file_keys and not all(
                element_matches(e, source) for e in plan.file_keys
            ):
                continue
            if on_files and not all(
                r.matches(
                    _text(
                        values.get(r.date_keyword)
                        or _file_value(source, r.date_keyword)
                    ),
                    _text(
                        values.get(r.time_keyword)
                        or _file_value(source, r.time_keyword)
                    ),
                )
                for r in on_files
            ):
                continue
            out = Dataset()
            text = []
            for kind, elem, vr in layout:
                if kind == "ae":
                    out.add(fast(elem.tag, "AE", self.ae_title))
                elif kind == "index":
                    raw = values[elem.keyword]
                    value = "" if raw is None else str(raw)
                    if elem.keyword in _LISTS:
                        items = sorted(filter(None, value.split(",")))
                        value = "\\".join(items)
                        if len(items) > 1:
                            out.add(fast(elem.tag, vr, items))
                            text.append(value)
                            continue
                    if value and vr == "PN":
                        out.add(fast(elem.tag, vr, PersonName(value)))
                    else:
                        out.add(fast(elem.tag, vr, value or None))
                    text.append(value)
                elif kind == "empty":
                    out.add(fast(elem.tag, vr, None))
                else:
                    if source is None:
                        source = read_file(path)
                    found = returned_element(elem, source)
                    out.add(found)
                    text.append(_text(found.value) if found.VR != "SQ" else "")
            out.add(fast(0x00080052, "CS", level))
            if any(not t.isascii() for t in text) or (
                source is not None and "SpecificCharacterSet" in identifier
            ):
                out.SpecificCharacterSet = "ISO_IR 192"
            yield out

    def find_encoded(
        self,
        identifier: Any,
        model: str,
        implicit: bool,
        cancelled: Callable[[], bool] = lambda: False,
        combined_datetime: bool = False,
    ) -> Iterator[bytes] | None:
        """The response identifiers of ``find``, already encoded in little
        endian (implicit or explicit VR), without building pydicom Datasets;
        None when the query needs the files (keys the index does not keep):
        use ``find`` then.

        Raises:
            QueryError: The identifier cannot be answered (bad level).
        """
        ranges: list[DateTimeRange] = []
        if combined_datetime:
            identifier, ranges = combined_ranges(identifier)
        level, plan, layout = self._layout(identifier, model)
        if plan.file_keys:
            return None
        head = _Encoder(implicit)
        fixed: list[tuple[int, bytes]] = [
            (0x00080052, head.element(0x00080052, "CS", level))
        ]
        indexed: list[tuple[int, str, str]] = []
        for kind, elem, vr in layout:
            tag = int(elem.tag)
            if kind == "ae":
                fixed.append((tag, head.element(tag, "AE", self.ae_title)))
            elif kind == "index":
                indexed.append((tag, vr, elem.keyword))
            else:  # "empty": a key of a deeper level
                fixed.append((tag, head.element(tag, vr, "")))
        utf8 = (0x00080005, head.element(0x00080005, "CS", "ISO_IR 192"))

        def encode() -> Iterator[bytes]:
            for values, _path in self._matches(identifier, level, plan, ranges):
                if cancelled():
                    return
                elements = list(fixed)
                wide = False
                for tag, vr, keyword in indexed:
                    raw = values[keyword]
                    text = "" if raw is None else str(raw)
                    if keyword in _LISTS:
                        text = "\\".join(sorted(filter(None, text.split(","))))
                    if not text.isascii():
                        wide = True
                    elements.append((tag, head.element(tag, vr, text)))
                if wide:
                    elements.append(utf8)
                elements.sort()
                yield b"".join(data for _, data in elements)

        return encode()

    def instances(self, identifier: Any, model: str) -> list[Instance]:
        """Every stored instance a C-MOVE/C-GET identifier designates.

        Raises:
            QueryError: The identifier has a bad level, or no unique key.
        """
        level = query_level(identifier, model)
        plan = _plan(identifier, "IMAGE")
        # The level's unique key, or (relational retrieve) one above it; a
        # retrieve naming no entity at all would send the whole store.
        unique_keywords = (
            "PatientID",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
        )[: LEVELS.index(level) + 1]
        if not any(
            _text(getattr(identifier, keyword, "")).strip()
            for keyword in unique_keywords
        ):
            raise QueryError(
                f"a {level} level retrieve needs one of {', '.join(unique_keywords)}",
                0xC000,
            )
        con = self._connect()
        try:
            where_root, params = under_any(
                [str(self.store_root), *referenced_roots(con)]
            )
            where = [where_root, "kind = 'dicom'", *plan.where]
            params += plan.params
            rows = con.execute(
                "SELECT path, sop_class_uid, sop_instance_uid, transfer_syntax_uid "
                f"FROM files WHERE {' AND '.join(where)} ORDER BY path",
                params,
            ).fetchall()
        finally:
            con.close()
        found: list[Instance] = []
        seen: set[str] = set()
        for path, sop_class, sop_uid, ts in rows:
            if sop_uid in seen:  # kept duplicates: send one object per UID
                continue
            if plan.file_keys and not all(
                element_matches(e, read_file(path)) for e in plan.file_keys
            ):
                continue
            seen.add(sop_uid)
            found.append(Instance(path, sop_class, sop_uid, ts))
        return found
