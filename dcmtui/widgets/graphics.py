"""Terminal graphics (Kitty's graphics protocol, Sixel) for the preview,
through the optional ``textual-image`` package (``pip install
'dcmtui[graphics]'``).

textual-image asks the terminal what it can do when it is imported, which is
only possible before Textual takes the terminal over: :func:`prepare` is
called by the command line before the app starts, and only when the
environment says the terminal may have a graphics protocol, so that other
terminals pay nothing. :func:`graphics_widget` then returns a widget class
when the terminal answered that it draws Kitty or Sixel images, else None
(the preview draws half blocks).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_KITTY_LIKE = ("kitty", "wezterm", "ghostty", "konsole")
_SIXEL_LIKE = ("foot", "mlterm", "contour", "mintty", "yaft")


def terminal_may_draw_images(env: dict[str, str] | None = None) -> bool:
    """True when the environment names a terminal with Kitty or Sixel graphics.

    Args:
        env: The environment (default: ``os.environ``).
    """
    env = dict(os.environ) if env is None else env
    if env.get("DCMTUI_GRAPHICS", "").lower() in ("0", "no", "off", "false"):
        return False
    if env.get("DCMTUI_GRAPHICS", "").lower() in ("1", "yes", "on", "true"):
        return True
    names = " ".join(
        env.get(key, "") for key in ("TERM", "TERM_PROGRAM", "LC_TERMINAL")
    ).lower()
    return bool(
        env.get("KITTY_WINDOW_ID")
        or env.get("WEZTERM_EXECUTABLE")
        or any(name in names for name in _KITTY_LIKE + _SIXEL_LIKE)
    )


def prepare() -> None:
    """Import textual-image while the terminal can still be asked (before the
    app starts), where it is installed and the terminal may draw images."""
    if not sys.stdout.isatty() or not terminal_may_draw_images():
        return
    try:
        import textual_image.widget  # noqa: F401
    except Exception:  # not installed, or the terminal did not answer
        return


def graphics_widget() -> Any | None:
    """The textual-image widget class for this terminal's graphics protocol,
    or None (not prepared, not installed, or no protocol)."""
    module = sys.modules.get("textual_image.widget")
    if module is None:
        return None
    renderable = getattr(module, "AutoRenderable", None)
    name = getattr(renderable, "__module__", "")
    if name.endswith((".tgp", ".sixel")):
        return getattr(module, "Image", None)
    return None
