"""The folders dcmtui uses, as plain strings, importing nothing heavy.

``dcmtui.config`` gives them as ``Path`` objects on Settings; a quick command
(``dcmtui echo AET@host:port``, ``dcmtui dump FILE``) asks here whether there
is a ``config.toml`` or a ``nodes.toml`` before deciding to load the settings,
without paying for ``dataclasses`` and ``pathlib``. platformdirs is imported
only when the ``DCMTUI_*_DIR`` variable is not set.
"""

from __future__ import annotations

import os

APP_NAME = "dcmtui"
CONFIG_FILE = "config.toml"
NODES_FILE = "nodes.toml"


def folder(env: str, kind: str) -> str:
    """The folder of one ``kind`` (``config``, ``data``, ``log``).

    Args:
        env: The variable that overrides it (``DCMTUI_CONFIG_DIR``...).
        kind: platformdirs' name for it.

    Returns:
        The folder, ``~`` expanded when it came from the variable.
    """
    if value := os.environ.get(env):
        return os.path.expanduser(value)
    import platformdirs

    getter = getattr(platformdirs, f"user_{kind}_dir")
    return str(getter(APP_NAME, appauthor=False))


def config_folder() -> str:
    """The config folder (``$DCMTUI_CONFIG_DIR`` when set)."""
    return folder("DCMTUI_CONFIG_DIR", "config")
