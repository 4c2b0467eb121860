"""The plain part of TOML, read without ``tomllib``.

``tomllib`` imports ``typing``, ``datetime`` and ``string`` first: a third of
``dcmtui echo NAME``'s start-up once the rest is lean. An address book is
plain: tables named by bare or simply quoted keys, holding bare keys set to
basic strings without escapes, whole numbers, or one-line arrays of such
strings, with comments on lines of their own. :func:`loads` reads exactly
that and returns None for anything else (escapes, dotted keys, inline
tables, floats, dates, a comment after a value, a key repeated...), for the
caller to read the file with ``tomllib`` or ``tomlkit`` instead. What it does
return is what ``tomllib.loads`` returns for the same text
(tests/test_quicktoml.py holds the two together).
"""

from __future__ import annotations

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _bare(key: str) -> bool:
    return bool(key) and set(key) <= _BARE


def _string(text: str) -> str | None:
    """The content of a basic string ``"..."`` without escapes, or None."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    body = text[1:-1]
    if '"' in body or "\\" in body or any(ord(c) < 0x20 or c == "\x7f" for c in body):
        return None
    return body


def _value(text: str) -> str | int | list[str] | None:
    if text.startswith('"'):
        return _string(text)
    if text.startswith("["):
        if not text.endswith("]"):
            return None
        inner = text[1:-1].strip()
        if not inner:
            return []
        parts = [p.strip() for p in inner.split(",")]
        if parts[-1] == "":  # a trailing comma
            parts.pop()
        items = [_string(p) for p in parts]
        if any(item is None for item in items):
            return None
        return [item for item in items if item is not None]
    if text == "0" or (text[:1] in "123456789" and text.isascii() and text.isdigit()):
        return int(text)
    return None


def loads(text: str) -> dict[str, dict[str, object]] | None:
    """Tables of plain keys and values, as ``tomllib.loads`` gives them; None
    when ``text`` is anything but plain (see the module's docstring)."""
    out: dict[str, dict[str, object]] = {}
    table: dict[str, object] | None = None
    for raw in text.split("\n"):
        line = raw.removesuffix("\r").strip(" \t")
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if line.startswith("[[") or not line.endswith("]"):
                return None
            inner = line[1:-1].strip(" \t")
            name = inner if _bare(inner) else _string(inner)
            if name is None or name in out:
                return None
            table = out[name] = {}
            continue
        key, equals, rest = line.partition("=")
        key, rest = key.strip(" \t"), rest.strip(" \t")
        if not equals or table is None or not _bare(key) or key in table:
            return None
        value = _value(rest)
        if value is None:
            return None
        table[key] = value
    return out
