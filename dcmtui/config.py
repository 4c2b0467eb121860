"""Settings and the folders dcmtui uses.

The user writes ``config.toml``; dcmtui only reads it. Folders come from
platformdirs, overridable with ``DCMTUI_CONFIG_DIR``, ``DCMTUI_DATA_DIR`` and
``DCMTUI_LOG_DIR``. Nothing is created at import time.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dcmtui.services.errors import ConfigError

APP_NAME = "dcmtui"


def _dir(env: str, kind: str) -> Path:
    if value := os.environ.get(env):
        return Path(value).expanduser()
    import platformdirs

    getter = getattr(platformdirs, f"user_{kind}_path")
    return Path(getter(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Return the config folder (``$DCMTUI_CONFIG_DIR`` when set)."""
    return _dir("DCMTUI_CONFIG_DIR", "config")


def data_dir() -> Path:
    """Return the data folder (``$DCMTUI_DATA_DIR`` when set)."""
    return _dir("DCMTUI_DATA_DIR", "data")


def log_dir() -> Path:
    """Return the log folder (``$DCMTUI_LOG_DIR`` when set)."""
    return _dir("DCMTUI_LOG_DIR", "log")


@dataclass(frozen=True)
class Settings:
    """Everything ``config.toml`` can set; every field has a default."""

    theme: str = "textual-dark"
    """Textual theme name."""
    follow_symlinks: bool = True
    """Follow symbolic links while indexing (loops are detected and counted)."""
    show_hidden: bool = False
    """Index files and folders whose name starts with a dot."""
    log_level: str = "INFO"
    """Level of ``dcmtui.log``: DEBUG, INFO, WARNING or ERROR."""
    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id to keys, e.g. ``{"files.filter" = "ctrl+f"}``, from ``[keymap]``."""
    data_dir: Path = field(default_factory=data_dir)
    """Where the index and the demo workspace live."""
    config_dir: Path = field(default_factory=config_dir)
    """Where config.toml and nodes.toml live."""
    log_dir: Path = field(default_factory=log_dir)
    """Where dcmtui.log lives."""

    @property
    def index_path(self) -> Path:
        """The SQLite index of every folder dcmtui has opened."""
        return self.data_dir / "index.sqlite"

    @property
    def config_path(self) -> Path:
        """The user's config.toml."""
        return self.config_dir / "config.toml"


_FILE_KEYS = {
    "theme": str,
    "follow_symlinks": bool,
    "show_hidden": bool,
    "log_level": str,
    "keymap": dict,
}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


def load_settings(path: Path | None = None) -> Settings:
    """Read ``config.toml`` (missing is fine) into Settings.

    Args:
        path: The file to read; the default is ``config.toml`` in the config folder.

    Returns:
        The settings, defaults filled in.

    Raises:
        ConfigError: The file is not valid TOML, or has an unknown key or a value
            of the wrong type; the message names the file and the key.
    """
    cfg_dir = config_dir()
    path = path or cfg_dir / "config.toml"
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raw = {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in raw.items():
        expected = _FILE_KEYS.get(key)
        if expected is None:
            known = ", ".join(sorted(_FILE_KEYS))
            raise ConfigError(f"{path}: unknown key {key!r} (known keys: {known})")
        if not isinstance(value, expected):
            raise ConfigError(
                f"{path}: {key!r} must be a {expected.__name__}, not {value!r}"
            )
        values[key] = value
    if "log_level" in values:
        values["log_level"] = values["log_level"].upper()
        if values["log_level"] not in _LOG_LEVELS:
            raise ConfigError(
                f"{path}: 'log_level' must be one of {sorted(_LOG_LEVELS)}"
            )
    for binding_id, keys in values.get("keymap", {}).items():
        if not isinstance(keys, str):
            raise ConfigError(f"{path}: keymap.{binding_id} must be a string of keys")
    assert {f.name for f in fields(Settings)} >= set(_FILE_KEYS)
    return Settings(**values, config_dir=cfg_dir)
