"""The index's walk, and a snapshot of it that re-opens an unchanged folder
without SQLite.

:func:`walk` is the one walk of a folder (the index's scan uses it too). When
``dcmtui index ROOT`` finishes a full scan that warned only about what the walk
itself found, it saves a snapshot beside the SQLite index: what the walk saw
(every file's path, size and mtime, in order, and the warnings), the settings
that shape the walk, the exact bytes of ``config.toml`` they came from, the
identity of the index's files (so that any write to the index, or its removal,
makes the snapshot stale) and the summary it printed. :func:`reopen` walks
again and, when everything is the same, gives that summary back: the index
holds a row for every file with the same size and mtime, so a full scan would
have read nothing and printed the same. On any difference or doubt it returns
None and the full scan runs (and saves a new snapshot).

This module imports only ``os``, ``stat``, ``operator``, ``marshal`` and
``time``: re-opening is worth its speed only without sqlite3, the
settings, logging and dataclasses.
"""

from __future__ import annotations

import marshal
import os
import stat
from operator import attrgetter

from dcmtui import __version__

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    Warn = Callable[[str, str], None]
    """Reports one warning: (path, reason)."""

FORMAT = 2
"""Version of the snapshot's layout; another one is not read."""
_FILES_MARSHAL = 2
"""marshal version of the files' list: 2 writes no back-references, whose
use depends on reference counts, so the same list gives the same bytes in
the scan that saves it and in the re-open that compares with it."""
FOLDER = "index-snapshots"
"""The snapshots' folder, in the data folder beside the index."""
DB_FILE = "index.sqlite"
"""The index, in the data folder (``Settings.index_path``)."""
CONFIG_FILE = "config.toml"
_BY_FD = os.scandir in os.supports_fd  # not on Windows
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


def reason(exc: OSError) -> str:
    """The words of a warning for ``exc``.

    Args:
        exc: What stat, scandir or a read raised.

    Returns:
        A short reason, for the user.
    """
    if isinstance(exc, FileNotFoundError):
        return "vanished during the scan"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


_NAME = attrgetter("name")


def walk(
    root: str,
    warn: Warn,
    follow: bool,
    hidden: bool,
    flat: list[object] | None = None,
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (path, stat) of every regular file below ``root``, depth first,
    in name order.

    Each folder is listed through a descriptor and its entries stat'ed
    relative to it: the kernel does not walk the whole path again for each of
    the files (a fifth of a re-open's time).

    Args:
        root: The folder.
        warn: Called with (path, reason) for each folder that cannot be read,
            link loop, broken link, or entry that cannot be stat'ed.
        follow: Follow symbolic links (to folders and files).
        hidden: Include names that start with a dot.
        flat: When given, each file's path, size and mtime_ns go there
            instead of being yielded (no generator switch per file: the
            re-open's own loop).

    Yields:
        (path, stat result) of each regular file.
    """
    visited: set[tuple[int, int]] = set()
    stack = [root]
    is_regular = stat.S_ISREG
    append = None if flat is None else flat.append
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            warn(folder, reason(exc))
            continue
        key = (st.st_dev, st.st_ino)
        if key in visited:
            warn(folder, "symbolic link loop (already indexed)")
            continue
        visited.add(key)
        try:
            fd = os.open(folder, _DIRECTORY) if _BY_FD else -1
        except OSError as exc:
            warn(folder, reason(exc))
            continue
        try:
            try:
                with os.scandir(folder if fd < 0 else fd) as it:
                    entries = sorted(it, key=_NAME)
            except OSError as exc:
                warn(folder, reason(exc))
                continue
            prefix = folder if folder.endswith(os.sep) else folder + os.sep
            subfolders: list[str] = []
            for entry in entries:
                name = entry.name
                if name[0] == "." and not hidden:
                    continue
                try:
                    if not follow and entry.is_symlink():
                        continue
                    if entry.is_dir():
                        subfolders.append(prefix + name)
                        continue
                    st = entry.stat()  # fstatat(fd, name), following links
                except FileNotFoundError as exc:
                    path = prefix + name
                    warn(
                        path,
                        "broken symbolic link" if os.path.islink(path) else reason(exc),
                    )
                    continue
                except OSError as exc:
                    warn(prefix + name, reason(exc))
                    continue
                if not is_regular(st.st_mode):
                    continue
                if append is None:
                    yield prefix + name, st
                else:  # three appends: no tuple made per file
                    append(prefix + name)
                    append(st.st_size)
                    append(st.st_mtime_ns)
        finally:
            if fd >= 0:
                os.close(fd)
        stack.extend(reversed(subfolders))


def files_of(
    root: str,
    top: os.stat_result,
    warn: Warn,
    follow: bool,
    hidden: bool,
    flat: list[object] | None = None,
) -> Iterable[tuple[str, os.stat_result]]:
    """What a scan of ``root`` looks at: the walk of a folder, or the file itself.

    Args:
        root: The root, as the index keys it.
        top: ``os.stat(root)``.
        warn: See :func:`walk`.
        follow: See :func:`walk`.
        hidden: See :func:`walk`.
        flat: See :func:`walk`.

    Returns:
        (path, stat result) of each file (none when ``flat`` is given).
    """
    if stat.S_ISDIR(top.st_mode):
        return walk(root, warn, follow, hidden, flat)
    if flat is None:
        return [(root, top)]
    flat += (root, top.st_size, top.st_mtime_ns)
    return []


class WalkLog:
    """What one walk saw: ``files`` holds path, size, mtime_ns, path, ... flat
    (a list of tuples costs more to build and to save); ``warnings`` holds
    (path, reason) of the walk's own warnings, in order."""

    __slots__ = ("files", "warnings")

    def __init__(self) -> None:
        self.files: list[object] = []
        self.warnings: list[tuple[str, str]] = []

    def add(self, path: str, st: os.stat_result) -> None:
        """Note one file the scan looked at."""
        self.files += (path, st.st_size, st.st_mtime_ns)

    def warn(self, path: str, why: str) -> None:
        """Note one warning of the walk."""
        self.warnings.append((path, why))


def _key(root: str) -> str:
    """A file name for ``root``'s snapshot: 64-bit FNV-1a of its bytes (no
    hashlib to import; the snapshot holds the root, so a collision only
    makes one of the two roots miss)."""
    value = 0xCBF29CE484222325
    for byte in os.fsencode(root):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}.marshal"


def snapshot_path(data_dir: str, root: str) -> str:
    """Where ``root``'s snapshot lives.

    Args:
        data_dir: The data folder (holds ``index.sqlite``).
        root: The root, as the index keys it.

    Returns:
        The snapshot's path.
    """
    return os.path.join(data_dir, FOLDER, _key(root))


def db_identity(data_dir: str) -> list[int] | None:
    """Device, inode, size, mtime and ctime of the index and its write-ahead
    log: any write to the index (or replacing or deleting it) changes them.

    Args:
        data_dir: The data folder.

    Returns:
        The figures, or None when there is no index.
    """
    out: list[int] = []
    for name in (DB_FILE, DB_FILE + "-wal"):
        try:
            st = os.stat(os.path.join(data_dir, name))
        except FileNotFoundError:
            if name == DB_FILE:
                return None
            out.append(-1)
            continue
        out += (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def read_config(config_dir: str) -> bytes | None:
    """The bytes of ``config.toml`` (None when there is none).

    Args:
        config_dir: The config folder.

    Returns:
        The file's bytes, or None.

    Raises:
        OSError: It exists but cannot be read.
    """
    try:
        with open(os.path.join(config_dir, CONFIG_FILE), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def forget(data_dir: str, root: str) -> None:
    """Remove ``root``'s snapshot, if any (a full scan is about to change things).

    Args:
        data_dir: The data folder.
        root: The root.
    """
    from contextlib import suppress

    with suppress(OSError):
        os.unlink(snapshot_path(data_dir, root))


def save(
    data_dir: str,
    root: str,
    *,
    follow: bool,
    hidden: bool,
    config: bytes | None,
    log: WalkLog,
    json_head: str,
    text_head: str,
) -> bool:
    """Save ``root``'s snapshot after a full scan (write a temporary file, then
    rename it over the old one). Call it once the scan's connections to the
    index are closed: the snapshot holds the index's identity as it is now.

    Args:
        data_dir: The data folder.
        root: The root, as the index keys it.
        follow: ``follow_symlinks`` of the scan.
        hidden: ``show_hidden`` of the scan.
        config: The bytes of config.toml these settings came from.
        log: What the scan's walk saw.
        json_head: ``--json``'s output with ``read`` 0, up to the seconds.
        text_head: The text output with ``read`` 0, up to the seconds.

    Returns:
        Whether it was saved (not when there is no index, or on an OSError).
    """
    identity = db_identity(data_dir)
    if identity is None:
        return False
    data = marshal.dumps(
        (
            FORMAT,
            __version__,
            root,
            follow,
            hidden,
            config,
            identity,
            marshal.dumps(log.files, _FILES_MARSHAL),
            log.warnings,
            json_head,
            text_head,
        )
    )
    path = snapshot_path(data_dir, root)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except OSError:
        from contextlib import suppress

        with suppress(OSError):
            os.unlink(temp)
        return False
    return True


class Hit:
    """A re-open that found nothing changed: what to print.

    Attributes:
        json_head: ``--json``'s output up to the seconds.
        text_head: The text output up to the seconds.
        warnings: (path, reason) of each warning.
        seconds: How long the re-open took.
    """

    __slots__ = ("json_head", "seconds", "text_head", "warnings")

    def __init__(
        self,
        json_head: str,
        text_head: str,
        warnings: list[tuple[str, str]],
        seconds: float,
    ) -> None:
        self.json_head = json_head
        self.text_head = text_head
        self.warnings = warnings
        self.seconds = seconds


def reopen(root: str, data_dir: str, config_dir: str) -> Hit | None:
    """Re-open ``root`` from its snapshot when nothing has changed.

    Args:
        root: The root, as the index keys it (absolute, symlink-free).
        data_dir: The data folder.
        config_dir: The config folder.

    Returns:
        The summary when the snapshot holds for the walk now, the settings,
        config.toml and the index; None on any difference (or any doubt: a
        missing, unreadable or foreign snapshot).
    """
    import time

    started = time.monotonic()
    try:
        with open(snapshot_path(data_dir, root), "rb") as f:
            snap = marshal.loads(f.read())
        (
            fmt,
            version,
            snap_root,
            follow,
            hidden,
            config,
            identity,
            files,
            warnings,
            json_head,
            text_head,
        ) = snap
        if (fmt, version, snap_root) != (FORMAT, __version__, root):
            return None
        if read_config(config_dir) != config or db_identity(data_dir) != identity:
            return None
        top = os.stat(root)
        log = WalkLog()
        for _ in files_of(root, top, log.warn, follow, hidden, log.files):
            pass
    except (OSError, ValueError, EOFError, TypeError):
        return None
    # one blob compared, not 30,000 objects loaded and compared one by one
    if log.warnings != warnings or marshal.dumps(log.files, _FILES_MARSHAL) != files:
        return None
    # the index may have changed while we walked: then the full scan decides
    if db_identity(data_dir) != identity:
        return None
    return Hit(json_head, text_head, warnings, time.monotonic() - started)
