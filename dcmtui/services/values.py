"""Check a value typed by a user against its VR and VM, and encode it.

:func:`parse_value` is the one gate every edit goes through (the Dataset screen
as the user types, ``dcmtui modify``, batch modify): it either returns the
bytes to write or raises :class:`ValueRefused` with the reason, in words.
Text is encoded with the data set's character set and refused, never turned
into ``?``, where the character set cannot hold it.
"""

from __future__ import annotations

import datetime as _dt
import re
import struct
import warnings

from dcmtui.services.errors import DcmtuiError


class ValueRefused(DcmtuiError, ValueError):
    """A value does not fit its VR, its VM or the character set."""


MAX_CHARS = {
    "AE": 16,
    "AS": 4,
    "CS": 16,
    "DA": 8,
    "DS": 16,
    "DT": 26,
    "IS": 12,
    "LO": 64,
    "LT": 10240,
    "SH": 16,
    "ST": 1024,
    "TM": 14,
    "UI": 64,
}
"""Most characters of one value (PN: 64 per component group)."""
SINGLE = frozenset({"LT", "ST", "UT", "UR"})
"""VRs whose value is never split on backslash."""
CHARSET = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
"""VRs encoded with the Specific Character Set; others must be ASCII."""
NUMBERS = {
    "US": ("H", 0, 0xFFFF),
    "SS": ("h", -0x8000, 0x7FFF),
    "UL": ("I", 0, 0xFFFFFFFF),
    "SL": ("i", -0x80000000, 0x7FFFFFFF),
    "UV": ("Q", 0, 2**64 - 1),
    "SV": ("q", -(2**63), 2**63 - 1),
}
FLOATS = {"FL": "f", "FD": "d"}
BINARY = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})

_DS = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IS = re.compile(r"[+-]?\d+")
_CS = re.compile(r"[A-Z0-9 _]*")
_AS = re.compile(r"\d{3}[DWMY]")
_UI = re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))*")
_TM = re.compile(r"(\d{2})((\d{2})((\d{2})(\.\d{1,6})?)?)?")
_DT = re.compile(
    r"(\d{4})((\d{2})((\d{2})((\d{2})((\d{2})((\d{2})(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?"
)
_AT = re.compile(r"\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?")


def check_vm(spec: str, count: int) -> str:
    """Why ``count`` values do not fit the dictionary VM ``spec`` ("" if they do).

    Args:
        spec: A dictionary VM such as ``1``, ``1-n``, ``2-2n``, ``3``, ``1-3``.
        count: How many values were given.
    """
    if not spec or count == 0:
        return ""
    spec = spec.strip()
    m = re.fullmatch(r"(\d+)(?:-(\d+)?(n)?)?", spec)
    if not m:
        return ""
    low = int(m[1])
    if m[3]:  # 1-n, 2-2n, 3-3n
        step = int(m[2]) if m[2] else 1
        if count < low or (step > 1 and count % step):
            return f"VM is {spec}: {count} value{'s' * (count != 1)} given"
        return ""
    high = int(m[2]) if m[2] else low
    if not low <= count <= high:
        return f"VM is {spec}: {count} value{'s' * (count != 1)} given"
    return ""


def _date(text: str) -> str:
    if not re.fullmatch(r"\d{8}", text):
        return "a date is YYYYMMDD (8 digits)"
    try:
        _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        return f"not a date: {exc}"
    return ""


def _time(text: str) -> str:
    m = _TM.fullmatch(text)
    if not m:
        return "a time is HH, HHMM, HHMMSS or HHMMSS.FFFFFF"
    if int(m[1]) > 23 or (m[3] and int(m[3]) > 59) or (m[5] and int(m[5]) > 60):
        return "hours are 00-23, minutes 00-59, seconds 00-60"
    return ""


def _check_one(vr: str, v: str) -> str:
    """Why one value (of a multi-valued element) is not valid ("" if it is)."""
    limit = MAX_CHARS.get(vr)
    if limit is not None and len(v) > limit:
        return f"{vr} holds at most {limit} characters ({len(v)} given)"
    if vr not in SINGLE and any(c in v for c in "\r\n\f"):
        return f"{vr} cannot hold line breaks"
    if (
        vr != "UT"
        and vr != "LT"
        and vr != "ST"
        and any(ord(c) < 0x20 and c != "\x1b" for c in v)
    ):
        return f"{vr} cannot hold control characters"
    if vr == "AE" and not v.strip():
        return "an AE title cannot be only spaces"
    if vr == "AS" and not _AS.fullmatch(v):
        return "an age is nnnD, nnnW, nnnM or nnnY (e.g. 042Y)"
    if vr == "CS" and not _CS.fullmatch(v):
        return "CS holds only upper-case letters, digits, space and underscore"
    if vr == "DA":
        return _date(v)
    if vr == "TM":
        return _time(v)
    if vr == "DT":
        m = _DT.fullmatch(v)
        if not m:
            return "a date-time is YYYYMMDDHHMMSS.FFFFFF&ZZXX (leading parts)"
        if m[3] and not 1 <= int(m[3]) <= 12:
            return "month is 01-12"
        return ""
    if vr == "DS":
        if not _DS.fullmatch(v.strip(" ")):
            return f"{v!r} is not a decimal number"
        return ""
    if vr == "IS":
        if not _IS.fullmatch(v.strip(" ")):
            return f"{v!r} is not an integer"
        if not -(2**31) <= int(v) <= 2**31 - 1:
            return "IS is between -2147483648 and 2147483647"
        return ""
    if vr == "UI":
        if not _UI.fullmatch(v):
            return "a UID is numbers separated by dots, without leading zeros"
        return ""
    if vr == "PN":
        groups = v.split("=")
        if len(groups) > 3:
            return "PN has at most 3 component groups (alphabetic=ideographic=phonetic)"
        for g in groups:
            if len(g.split("^")) > 5:
                return "PN has at most 5 components (family^given^middle^prefix^suffix)"
            if len(g) > 64:
                return "each PN component group holds at most 64 characters"
        return ""
    if vr == "UR" and " " in v.strip(" "):
        return "a URI cannot hold spaces"
    return ""


def values_of(vr: str, text: str) -> list[str]:
    """Split ``text`` into the values of a multi-valued element."""
    if vr in SINGLE or text == "":
        return [text] if text else []
    return text.split("\\")


def validate(vr: str, text: str, vm: str = "") -> str:
    """Why ``text`` is not a valid value of VR ``vr`` and VM ``vm`` ("" if it is).

    For the editor's live check: cheap, no encoding.
    """
    if vr == "SQ":
        return "a sequence has items, not a value"
    if vr in BINARY:
        return f"{vr} values are binary and cannot be typed as text"
    values = values_of(vr, text)
    if why := check_vm(vm, len(values)):
        return why
    for v in values:
        if vr in NUMBERS:
            _, low, high = NUMBERS[vr]
            try:
                n = int(v.strip(), 0)
            except ValueError:
                return f"{v!r} is not an integer"
            if not low <= n <= high:
                return f"{vr} is between {low} and {high}"
        elif vr in FLOATS:
            try:
                float(v)
            except ValueError:
                return f"{v!r} is not a number"
        elif vr == "AT":
            if not _AT.fullmatch(v.strip()):
                return "an attribute tag is (gggg,eeee)"
        elif why := _check_one(vr, v):
            return why
    return ""


def encode_text(text: str, vr: str, encodings: list[str]) -> bytes:
    """Encode text with the data set's character set, refusing lossy results.

    Raises:
        ValueRefused: The character set cannot hold the text.
    """
    if vr not in CHARSET:
        try:
            return text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueRefused(f"{vr} holds only ASCII characters") from exc
    from pydicom.charset import decode_bytes, encode_string

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if vr == "PN":
                from pydicom.valuerep import PersonName

                raw = PersonName(text).encode(encodings)
            else:
                raw = encode_string(text, encodings)
        except (UnicodeError, LookupError) as exc:
            raise ValueRefused(_charset_reason(text, encodings)) from exc
    delims = {0x5C, 0x3D, 0x5E} if vr == "PN" else {0x5C}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = decode_bytes(raw, encodings, delims)
    if caught or back != text:
        raise ValueRefused(_charset_reason(text, encodings))
    return raw


def _charset_reason(text: str, encodings: list[str]) -> str:
    bad = next((c for c in text if not _fits(c, encodings)), "?")
    return (
        f"the file's character set ({', '.join(encodings)}) cannot hold {bad!r}; "
        "change Specific Character Set (0008,0005) first"
    )


def _fits(char: str, encodings: list[str]) -> bool:
    for enc in encodings:
        try:
            char.encode(enc)
            return True
        except (UnicodeError, LookupError):
            continue
    return False


def parse_value(
    vr: str,
    text: str,
    *,
    vm: str = "",
    encodings: list[str] | None = None,
    little: bool = True,
) -> bytes:
    """The bytes of a value typed as text, padded to an even length.

    Args:
        vr: The element's VR.
        text: The value as a user types it (values separated by backslash).
        vm: The dictionary VM to check against ("" to skip the check).
        encodings: Python encodings of the data set's character set.
        little: Little endian (binary numbers).

    Raises:
        ValueRefused: The value does not fit; the message says why.
    """
    if why := validate(vr, text, vm):
        raise ValueRefused(why)
    order = "<" if little else ">"
    values = values_of(vr, text)
    if vr in NUMBERS:
        fmt = NUMBERS[vr][0]
        return struct.pack(order + fmt * len(values), *(int(v, 0) for v in values))
    if vr in FLOATS:
        fmt = FLOATS[vr]
        return struct.pack(order + fmt * len(values), *(float(v) for v in values))
    if vr == "AT":
        out = b""
        for v in values:
            m = _AT.fullmatch(v.strip())
            assert m is not None
            out += struct.pack(order + "HH", int(m[1], 16), int(m[2], 16))
        return out
    raw = encode_text(text, vr, encodings or ["iso8859"])
    if len(raw) % 2:
        raw += b"\x00" if vr == "UI" else b" "
    return raw
