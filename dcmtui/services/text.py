"""Make text from files and peers safe to show: every character visible.

A value that holds terminal escapes, NUL, newlines or bidi overrides is shown
with those characters as visible symbols, so it cannot move the cursor, change
colours or reorder the screen. Markup such as ``[bold]`` is left as it is: the
UI never parses data as markup.
"""

from __future__ import annotations

_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}  # ␀ .. ␟
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})  # C1 controls
_TABLE.update(
    {c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)
_TABLE.update({0x200E: "\\u200e", 0x200F: "\\u200f", 0xFEFF: "\\ufeff"})


def visible(value: str) -> str:
    """Return ``value`` with control and bidi characters made visible.

    Args:
        value: Any text, possibly hostile.

    Returns:
        Text of one line that draws exactly as many cells as its characters.
    """
    if value.isprintable() and value.isascii():
        return value
    return value.translate(_TABLE)
