"""The folders dcmtui uses, as plain strings, importing nothing heavy.

``dcmtui.config`` gives them as ``Path`` objects on Settings; a quick command
(``dcmtui echo AET@host:port``, ``dcmtui dump FILE``) asks here whether there
is a ``config.toml`` or a ``nodes.toml`` before deciding to load the settings,
without paying for ``dataclasses`` and ``pathlib``. platformdirs is imported
only when the ``DCMTUI_*_DIR`` variable is not set.
"""

from __future__ import annotations

import os
import sys

APP_NAME = "dcmtui"
CONFIG_FILE = "config.toml"
NODES_FILE = "nodes.toml"


def folder(env: str, kind: str) -> str:
    """The folder of one ``kind`` (``config``, ``data``, ``log``).

    Args:
        env: The variable that overrides it (``DCMTUI_CONFIG_DIR``...).
        kind: platformdirs' name for it (``user_{kind}_dir``).

    Returns:
        The folder, ``~`` expanded when it came from the variable.
    """
    if value := os.environ.get(env):
        return os.path.expanduser(value)
    if (found := _xdg_folder(kind)) is not None:
        return found
    import platformdirs  # about 30 ms of imports (typing, tempfile, random...)

    getter = getattr(platformdirs, f"user_{kind}_dir")
    return str(getter(APP_NAME, appauthor=False))


_XDG = {
    "config": ("XDG_CONFIG_HOME", ".config", ""),
    "data": ("XDG_DATA_HOME", ".local/share", ""),
    "log": ("XDG_STATE_HOME", ".local/state", "log"),
    "cache": ("XDG_CACHE_HOME", ".cache", ""),
}


def _xdg_folder(kind: str) -> str | None:
    """What platformdirs answers on Linux, in its plain case (the XDG
    variable unset, empty or absolute; ``$HOME`` absolute), without
    importing it; None in any other case, for platformdirs to decide.
    tests/test_paths.py holds the two answers side by side."""
    if not sys.platform.startswith("linux") or kind not in _XDG:
        return None
    if os.environ.get("ANDROID_DATA") == "/data":
        return None  # platformdirs looks further on Android
    variable, default, tail = _XDG[kind]
    home = os.environ.get("HOME", "")
    base = os.environ.get(variable, "")
    if not base:
        if not home.startswith("/"):
            return None
        base = os.path.join(home, default)
    elif not base.startswith("/"):
        return None
    found = os.path.join(base, APP_NAME)
    return os.path.join(found, tail) if tail else found


def cache_folder() -> str:
    """The cache folder (``$DCMTUI_CACHE_DIR`` when set): what can be made
    again, such as the unpacked single-file bundle."""
    return folder("DCMTUI_CACHE_DIR", "cache")


def config_folder() -> str:
    """The config folder (``$DCMTUI_CONFIG_DIR`` when set)."""
    return folder("DCMTUI_CONFIG_DIR", "config")
