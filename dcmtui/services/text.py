"""Make text from files and peers safe to show: every character visible.

A value that holds terminal escapes, NUL, newlines or bidi overrides is shown
with those characters as visible symbols, so it cannot move the cursor, change
colours or reorder the screen. Markup such as ``[bold]`` is left as it is: the
UI never parses data as markup.
"""

from __future__ import annotations

_PICTURES = {c: chr(0x2400 + c) for c in range(0x20)} | {0x7F: "\u2421"}  # ␀ .. ␡


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if code in _PICTURES:
        return _PICTURES[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: str) -> str:
    """Return ``value`` with control, format and bidi characters made visible.

    C0 controls become their Unicode pictures (ESC is ``␛``, newline ``␊``);
    every other character Python does not call printable (C1 controls,
    bidi overrides, zero-width and non-breaking spaces) becomes ``\\xNN`` or
    ``\\uNNNN``.

    Args:
        value: Any text, possibly hostile.

    Returns:
        Text of one line that draws exactly as many cells as its characters.
    """
    if value.isprintable():
        return value
    return "".join(map(_escape, value))
