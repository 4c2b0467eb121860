"""A read-only listing of a file's elements (tag, VR, name, value)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from dcmtui.models import ElementRow
from dcmtui.services.errors import FileReadError

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

LOGGER = logging.getLogger(__name__)
MAX_VALUE = 200
"""Characters of a value shown before it is cut."""


def _value(elem: DataElement) -> str:
    if elem.VR == "SQ":
        count = len(elem.value)
        return f"{count} item{'s' * (count != 1)}"
    if elem.tag == 0x7FE00010:
        return f"pixel data, {len(elem.value or b''):,} bytes"
    value = elem.value
    if isinstance(value, bytes | bytearray):
        head = value[:16].hex(" ")
        return f"{len(value):,} bytes: {head}{' ...' if len(value) > 16 else ''}"
    text = "\\".join(str(v) for v in value) if elem.VM > 1 else str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + " ..."


def _rows(ds: Dataset, depth: int, out: list[ElementRow]) -> None:
    for elem in ds:
        tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.tag.is_private:
            name = elem.name if elem.name != "Private tag data" else "private"
        else:
            name = elem.keyword or elem.name
        try:
            value = _value(elem)
        except Exception as exc:  # a value pydicom cannot convert
            value = f"<cannot show: {exc}>"
        out.append(ElementRow(depth, tag, str(elem.VR), name, value))
        if elem.VR == "SQ":
            for number, item in enumerate(elem.value):
                out.append(
                    ElementRow(depth + 1, "(FFFE,E000)", "", f"Item {number}", "")
                )
                _rows(item, depth + 2, out)


def element_rows(path: Path) -> tuple[list[ElementRow], str]:
    """Read ``path`` and list its elements, file meta first.

    Args:
        path: A DICOM file.

    Returns:
        The rows and a warning ("" when the file read cleanly); a damaged
        file is read as far as it goes, with the warning saying why.

    Raises:
        FileReadError: The file cannot be read at all.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    warning = ""
    try:
        ds = dcmread(path, defer_size="4 KB")
        ds.keys()  # parse now
        list(ds)
    except (InvalidDicomError, OSError) as exc:
        raise FileReadError(path, str(exc)) from exc
    except Exception as exc:
        LOGGER.info("%s: strict read failed (%s), reading with force", path, exc)
        warning = f"damaged: {exc}; showing what could be read"
        try:
            ds = dcmread(path, force=True, defer_size="4 KB")
        except Exception as exc2:
            raise FileReadError(path, str(exc2)) from exc2
    rows: list[ElementRow] = []
    try:
        _rows(ds.file_meta, 0, rows)
        _rows(ds, 0, rows)
    except Exception as exc:
        warning = warning or f"damaged: {exc}; showing what could be read"
    return rows, warning


async def read_elements(path: Path) -> tuple[list[ElementRow], str]:
    """``element_rows`` in a thread."""
    return await asyncio.to_thread(element_rows, path)
