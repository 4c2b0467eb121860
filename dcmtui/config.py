"""Settings and the folders dcmtui uses.

The user writes ``config.toml``; dcmtui only reads it. Folders come from
platformdirs, overridable with ``DCMTUI_CONFIG_DIR``, ``DCMTUI_DATA_DIR`` and
``DCMTUI_LOG_DIR``. Nothing is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from dcmtui.paths import APP_NAME, folder
from dcmtui.services.errors import ConfigError

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from typing import Any

__all__ = ["APP_NAME", "Settings", "config_dir", "data_dir", "load_settings", "log_dir"]


def _dir(env: str, kind: str) -> Path:
    return Path(folder(env, kind))


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
class ReceiverSettings:
    """The built-in Storage SCP: the ``[receiver]`` table of config.toml."""

    ae_title: str = "DCMTUI"
    """Our AE title (the called AE title peers use)."""
    port: int = 11112
    """TCP port to listen on (0: any free port)."""
    bind: str = "0.0.0.0"
    """Address to listen on."""
    store_dir: str = ""
    """Where received objects go (default: the data folder's ``store``)."""
    layout: str = "hierarchy"
    """``hierarchy`` (Patient/Study/Series/SOP.dcm), ``study`` (Study/SOP.dcm)
    or ``flat`` (SOP.dcm)."""
    duplicates: str = "keep"
    """A different object with a known SOP Instance UID: ``keep`` both (the new
    one gets a ``.1``, ``.2``... suffix) or ``overwrite`` the old one."""
    sop_classes: list[str] = field(default_factory=list)
    """Accepted SOP class UIDs (empty: every storage SOP class, and private ones)."""
    transfer_syntaxes: list[str] = field(default_factory=list)
    """Accepted transfer syntax UIDs (empty: whatever the peer proposes first)."""
    allow_known_calling_aes: bool = False
    """Accept only calling AE titles of the address book or ``allowed_calling_aes``."""
    allowed_calling_aes: list[str] = field(default_factory=list)
    """Extra calling AE titles accepted when the allow-list is on."""
    check_called_ae: bool = False
    """Reject associations whose called AE title is not ours."""
    max_associations: int = 16
    """Associations at once, in total."""
    max_associations_per_peer: int = 8
    """Associations at once from one peer address."""
    association_deadline: float = 3600.0
    """Seconds an association may last before we abort it."""
    idle_timeout: float = 60.0
    """Seconds of silence from a peer before we abort (ARTIM, DIMSE, network)."""
    max_pdu: int = 262144
    """Largest PDU we accept (and announce); anything larger aborts."""
    max_object_bytes: int = 8 * 1024**3
    """Largest data set we store; larger ones get 0xA700 and are discarded."""
    min_free_bytes: int = 512 * 1024**2
    """Free disk space to keep in the store; below it C-STORE gets 0xA700."""
    post_store_command: list[str] = field(default_factory=list)
    """Program and arguments run after each object (or study), never via a
    shell; ``{path}``, ``{sop_instance_uid}``, ``{study_uid}``, ``{calling_ae}``
    ... are replaced, and the same values are in ``DCMTUI_*`` variables."""
    post_store_on: str = "object"
    """``object`` (after each stored object) or ``study`` (once per study and
    association, when the association ends)."""
    tls_cert: str = ""
    """PEM server certificate: DICOM TLS on when set (with ``tls_key``)."""
    tls_key: str = ""
    """PEM private key of ``tls_cert``."""
    tls_ca: str = ""
    """PEM CA bundle: when set, peers must present a certificate it signed."""
    log_max_bytes: int = 10 * 1024**2
    """Size at which ``associations.jsonl`` rotates."""
    log_backups: int = 5
    """Rotated ``associations.jsonl`` files kept."""


_RECEIVER_CHOICES = {
    "layout": ("hierarchy", "study", "flat"),
    "duplicates": ("keep", "overwrite"),
    "post_store_on": ("object", "study"),
}


def _receiver_settings(raw: dict[str, Any], path: Path) -> ReceiverSettings:
    """Check the ``[receiver]`` table and build ReceiverSettings from it."""
    known = {f.name: f for f in fields(ReceiverSettings)}
    defaults = ReceiverSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            names = ", ".join(sorted(known))
            raise ConfigError(
                f"{path}: unknown key 'receiver.{key}' (known keys: {names})"
            )
        default = getattr(defaults, key)
        kind = type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, kind) and not (
            isinstance(value, bool) and kind is not bool
        )
        if ok and kind is list:
            ok = all(isinstance(item, str) for item in value)
        if not ok:
            raise ConfigError(
                f"{path}: 'receiver.{key}' must be a {kind.__name__}, not {value!r}"
            )
        if key in _RECEIVER_CHOICES and value not in _RECEIVER_CHOICES[key]:
            raise ConfigError(
                f"{path}: 'receiver.{key}' must be one of {_RECEIVER_CHOICES[key]}"
            )
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (value < 0 or (key == "port" and value > 65535))
        ):
            raise ConfigError(f"{path}: 'receiver.{key}' is out of range")
        values[key] = value
    return ReceiverSettings(**values)


@dataclass(frozen=True)
class QrSettings:
    """Query/retrieve and worklist on the receiver's port: the ``[qr]`` table."""

    find: bool = True
    """Answer C-FIND (patient and study root) from the store's index."""
    move: bool = True
    """Answer C-MOVE (to address-book nodes only)."""
    get: bool = True
    """Answer C-GET (objects sent back on the same association)."""
    worklist: bool = True
    """Answer modality worklist C-FIND from ``worklist_dir``."""
    worklist_dir: str = ""
    """Worklist items (.dcm or .json files); default: the data folder's ``worklist``."""
    known_peers_only: bool = True
    """C-FIND, C-MOVE and C-GET only from calling AE titles of the address book
    (or ``allowed_calling_aes``)."""
    allowed_calling_aes: list[str] = field(default_factory=list)
    """Extra calling AE titles allowed to query and retrieve."""
    check_host: bool = False
    """Also require the peer's IP address to be the address-book node's host."""
    quota_bytes: int = 0
    """Largest size of the store (0: no quota); imports beyond it are refused."""


def _qr_settings(raw: dict[str, Any], path: Path) -> QrSettings:
    """Check the ``[qr]`` table and build QrSettings from it."""
    known = {f.name for f in fields(QrSettings)}
    defaults = QrSettings()
    for key, value in raw.items():
        if key not in known:
            names = ", ".join(sorted(known))
            raise ConfigError(f"{path}: unknown key 'qr.{key}' (known keys: {names})")
        kind = type(getattr(defaults, key))
        ok = isinstance(value, kind) and (kind is bool) == isinstance(value, bool)
        if ok and kind is list:
            ok = all(isinstance(item, str) for item in value)
        if ok and kind is int and value < 0:
            ok = False
        if not ok:
            raise ConfigError(
                f"{path}: 'qr.{key}' must be a {kind.__name__}, not {value!r}"
            )
    return QrSettings(**raw)


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
    receiver: ReceiverSettings = field(default_factory=ReceiverSettings)
    """The built-in receiver, from the ``[receiver]`` table."""
    backup_on_save: bool = True
    """The Dataset screen keeps ``NAME.bak`` (the file as it was) when it saves."""
    qr: QrSettings = field(default_factory=QrSettings)
    """Query/retrieve and worklist server, from the ``[qr]`` table."""

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
    "receiver": dict,
    "backup_on_save": bool,
    "qr": dict,
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    raw: dict[str, Any] = {}
    if text:  # tomllib (a few ms to import) only when there is something to parse
        import tomllib

        try:
            raw = tomllib.loads(text)
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
    if "receiver" in values:
        values["receiver"] = _receiver_settings(values["receiver"], path)
    if "qr" in values:
        values["qr"] = _qr_settings(values["qr"], path)
    assert {f.name for f in fields(Settings)} >= set(_FILE_KEYS)
    return Settings(**values, config_dir=cfg_dir)
