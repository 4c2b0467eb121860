"""Names of UIDs (SOP classes, transfer syntaxes) from pydicom's dictionary."""

from __future__ import annotations

from functools import cache


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
    from pydicom._uid_dict import UID_dictionary

    entry = UID_dictionary.get(uid)
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
