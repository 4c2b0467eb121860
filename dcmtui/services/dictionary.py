"""pydicom's data dictionaries without ``import pydicom`` (which costs ~250 ms).

The public, repeater, private and UID dictionaries are plain dict literals in
pydicom's ``_dicom_dict.py``, ``_private_dict.py`` and ``_uid_dict.py``. When
pydicom is already imported they are taken from it; otherwise those three files
are loaded on their own, so that ``dcmtui dump`` and the first screen of the
Dataset screen do not pay for pydicom's package import.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any


@cache
def _pydicom_dir() -> Path:
    spec = importlib.util.find_spec("pydicom")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


def _load(name: str) -> ModuleType:
    if (loaded := sys.modules.get(f"pydicom.{name}")) is not None:
        return loaded
    path = _pydicom_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_dcmtui_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def public() -> dict[int, tuple[str, str, str, str, str]]:
    """Tag → (VR, VM, name, retired, keyword)."""
    return _load("_dicom_dict").DicomDictionary


@cache
def _repeaters() -> list[tuple[int, int, tuple[str, str, str, str, str]]]:
    out = []
    for mask, entry in _load("_dicom_dict").RepeatersDictionary.items():
        mask1 = int(mask.replace("x", "0"), 16)
        mask2 = int("".join("F0"[c == "x"] for c in mask), 16)
        out.append((mask1, mask2, entry))
    return out


@cache
def private() -> dict[str, dict[str, tuple[str, str, str, str]]]:
    """Creator → {``ggggxxee`` → (VR, VM, name, retired)}."""
    return _load("_private_dict").private_dictionaries


@cache
def uids() -> dict[str, Any]:
    """UID → (name, type, info, retired, keyword)."""
    return _load("_uid_dict").UID_dictionary


@cache
def _keywords() -> dict[str, int]:
    return {entry[4]: tag for tag, entry in public().items() if entry[4]}


@lru_cache(maxsize=16384)
def entry(tag: int) -> tuple[str, str, str, str, str] | None:
    """The dictionary entry of a public tag (repeating groups too), or None."""
    found = public().get(tag)
    if found is not None:
        return found
    if tag & 0x10000:
        return None
    for mask1, mask2, repeater in _repeaters():
        if (tag ^ mask1) & mask2 == 0:
            return repeater
    return None


@lru_cache(maxsize=8192)
def private_entry(tag: int, creator: str) -> tuple[str, str, str, str] | None:
    """The private dictionary entry of ``tag`` under ``creator``, or None."""
    table = private().get(creator)
    if table is None:
        return None
    group, elem = f"{tag >> 16:04X}", f"{tag & 0xFFFF:04X}"
    for key in (group + elem, f"{group}xx{elem[-2:]}", f"{group[:2]}xxxx{elem[-2:]}"):
        if key in table:
            return table[key]
    return None


def tag_for_keyword(keyword: str) -> int | None:
    """The tag of a keyword such as ``PatientName``, or None."""
    return _keywords().get(keyword)


def uid_keyword(uid: str) -> str:
    """The keyword of a well-known UID ("" when not known)."""
    found = uids().get(uid)
    return str(found[4]) if found else ""


def uid_name(uid: str) -> str:
    """The name of a well-known UID (the UID itself when not known)."""
    found = uids().get(uid)
    return str(found[0]) if found else uid
