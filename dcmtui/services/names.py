"""Names of UIDs (SOP classes, transfer syntaxes) from pydicom's dictionary."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def _uid_dictionary() -> dict[str, tuple[str, ...]]:
    """pydicom's table of UIDs, without importing pydicom.

    ``import pydicom`` costs about 0.2 s, which the Files screen would pay
    before its first row just to name SOP classes; the table itself is a
    plain module of literals, loaded here on its own.
    """
    spec = importlib.util.find_spec("pydicom")
    if spec is None or spec.origin is None:
        return {}
    table = Path(spec.origin).parent / "_uid_dict.py"
    mod_spec = importlib.util.spec_from_file_location("_dcmtui_uid_dict", table)
    if mod_spec is None or mod_spec.loader is None:
        return {}
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except OSError:
        from pydicom._uid_dict import UID_dictionary  # e.g. a zipped install

        return UID_dictionary  # type: ignore[return-value]
    return dict(module.UID_dictionary)


@cache
def uid_name(uid: str) -> str:
    """Return the dictionary name of a UID, or the UID itself when unknown.

    Args:
        uid: A UID such as ``1.2.840.10008.5.1.4.1.1.2``.

    Returns:
        ``"CT Image Storage"``, or ``uid`` when pydicom does not know it.
    """
    if not uid:
        return ""
    entry = _uid_dictionary().get(uid)
    return entry[0] if entry else uid


def human_size(size: int) -> str:
    """Return a byte count the way people read it: ``512 B``, ``1.5 MB``.

    Args:
        size: Bytes.

    Returns:
        The size with a unit (powers of 1000, like ``ls --si``).
    """
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
