"""Two DICOM files compared element by element, into sequences.

Each difference is a :class:`DiffRow`: the element's path (dcmodify style,
``(0008,1140)[0].(0008,1155)``), keyword, VR, and the value on each side,
with a status: ``changed``, ``only-a``, ``only-b`` (or ``same`` when asked
for every row). Binary values compare by their bytes and show their length
and a short digest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dcmtui.services.errors import FileReadError

SAME, CHANGED, ONLY_A, ONLY_B = "same", "changed", "only-a", "only-b"
_BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_MAX_TEXT = 120


@dataclass(frozen=True)
class DiffRow:
    """One element, on both sides."""

    path: str
    keyword: str
    vr: str
    status: str
    a: str
    """The value in A ("" when absent)."""
    b: str
    depth: int = 0


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _value(elem: Any) -> str:
    vr = str(elem.VR)
    value = elem.value
    if vr == "SQ":
        return f"{len(value or [])} item(s)"
    if vr in _BINARY or isinstance(value, bytes):
        data = bytes(value or b"")
        digest = hashlib.sha1(data).hexdigest()[:12]
        return f"{len(data)} bytes (sha1 {digest})"
    text = "" if value is None else str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _equal(a: Any, b: Any) -> bool:
    if str(a.VR) != str(b.VR):
        return False
    if str(a.VR) in _BINARY or isinstance(a.value, bytes):
        return bytes(a.value or b"") == bytes(b.value or b"")
    return bool(a.value == b.value) or str(a.value) == str(b.value)


def _walk(
    a: Dataset | None, b: Dataset | None, prefix: str, depth: int, same: bool
) -> Iterator[DiffRow]:
    tags = sorted(
        set(a.keys() if a is not None else []) | set(b.keys() if b is not None else [])
    )
    for tag in tags:
        ea = a.get(tag) if a is not None else None
        eb = b.get(tag) if b is not None else None
        path = f"{prefix}.{_tag(int(tag))}" if prefix else _tag(int(tag))
        keyword = keyword_for_tag(tag) or ("private" if tag.is_private else "")
        vr = str((ea if ea is not None else eb).VR)  # type: ignore[union-attr]
        if ea is None:
            yield DiffRow(path, keyword, vr, ONLY_B, "", _value(eb), depth)
            continue
        if eb is None:
            yield DiffRow(path, keyword, vr, ONLY_A, _value(ea), "", depth)
            continue
        if vr == "SQ" and str(eb.VR) == "SQ":
            items_a, items_b = list(ea.value or []), list(eb.value or [])
            nested = list(_items(items_a, items_b, path, depth + 1, same))
            status = (
                SAME
                if len(items_a) == len(items_b)
                and not any(r.status != SAME for r in nested)
                else CHANGED
            )
            if status != SAME or same:
                yield DiffRow(path, keyword, vr, status, _value(ea), _value(eb), depth)
            yield from nested
            continue
        if _equal(ea, eb):
            if same:
                yield DiffRow(path, keyword, vr, SAME, _value(ea), _value(eb), depth)
        else:
            yield DiffRow(path, keyword, vr, CHANGED, _value(ea), _value(eb), depth)


def _items(
    items_a: list[Dataset], items_b: list[Dataset], path: str, depth: int, same: bool
) -> Iterator[DiffRow]:
    for index in range(max(len(items_a), len(items_b))):
        ia = items_a[index] if index < len(items_a) else None
        ib = items_b[index] if index < len(items_b) else None
        here = f"{path}[{index}]"
        if ia is None or ib is None:
            status = ONLY_B if ia is None else ONLY_A
            yield DiffRow(
                here,
                "item",
                "",
                status,
                "" if ia is None else "item",
                "" if ib is None else "item",
                depth,
            )
            continue
        yield from _walk(ia, ib, here, depth, same)


def diff_datasets(
    a: Dataset, b: Dataset, *, meta: bool = True, same: bool = False
) -> list[DiffRow]:
    """Compare two data sets.

    Args:
        a: The first data set.
        b: The second.
        meta: Compare the file meta groups too.
        same: Include the elements that are equal.

    Returns:
        The rows, meta group first, in tag order.
    """
    rows: list[DiffRow] = []
    if meta:
        meta_a = getattr(a, "file_meta", None) or Dataset()
        meta_b = getattr(b, "file_meta", None) or Dataset()
        rows += _walk(meta_a, meta_b, "", 0, same)
    rows += _walk(a, b, "", 0, same)
    return rows


def _read(path: Path) -> Dataset:
    try:
        return dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise FileReadError(path, str(exc).splitlines()[0] or "unreadable") from exc


def diff_files(
    a: Path, b: Path, *, meta: bool = True, same: bool = False
) -> list[DiffRow]:
    """Compare two files (blocking); see :func:`diff_datasets`."""
    return diff_datasets(_read(a), _read(b), meta=meta, same=same)


def diff_file_and_bytes(
    a: Path, data: bytes, *, meta: bool = True, same: bool = False
) -> list[DiffRow]:
    """Compare a file on disk (A) with the same file as edited in memory (B),
    given as the bytes that saving would write (blocking)."""
    from io import BytesIO

    try:
        edited = dcmread(BytesIO(bytes(data)))
    except (InvalidDicomError, ValueError, EOFError) as exc:
        raise FileReadError(a, f"the edited data cannot be read ({exc})") from exc
    return diff_datasets(_read(a), edited, meta=meta, same=same)


async def diff_files_async(
    a: Path, b: Path, *, meta: bool = True, same: bool = False
) -> list[DiffRow]:
    """:func:`diff_files` in a thread."""
    return await asyncio.to_thread(diff_files, a, b, meta=meta, same=same)
