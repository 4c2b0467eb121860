"""Save an edited file atomically, and only when nothing else would change.

:func:`save_document` refuses to write a damaged file back (it would be written
as if whole), checks that the file on disk is still the one that was opened,
optionally keeps a ``.bak`` copy, then writes a temporary file in the same
folder, fsyncs it, gives it the original's mode and renames it over the
target with ``os.replace``. Any failure (read-only folder, full disk, the
process killed) leaves the original byte for byte; the temporary file is
removed, and one left by a killed process is removed by the next save.
After the rename the file is read back and compared byte for byte with what was
verified in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import shutil
import stat
from pathlib import Path

from dcmtui.services.dataset import parse
from dcmtui.services.edit import Document
from dcmtui.services.errors import DcmtuiError

_CHUNK = 1 << 20
TMP_MARK = ".dcmtui-"
"""Temporary files are named ``.NAME.dcmtui-PID.tmp`` beside the target."""


class SaveError(DcmtuiError):
    """A save was refused or failed; the original file is unchanged."""


class FileChangedOnDisk(SaveError):
    """The file was changed by something else since it was opened."""


def _tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}.tmp")


def sweep_stale(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by processes that are gone."""
    removed: list[Path] = []
    prefix = f".{target.name}{TMP_MARK}"
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid_text = name[len(prefix) : -4]
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if pid != os.getpid() and _alive(pid):
                continue
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(
    target: Path, data: bytes | mmap.mmap, mode: int | None = None
) -> None:
    """Write ``data`` to ``target`` through a temporary file and ``os.replace``.

    Args:
        target: The file to create or replace.
        data: Its new content.
        mode: Permission bits to give it (default: the existing file's, or 0o644).

    Raises:
        SaveError: Nothing was changed; the message says why.
    """
    sweep_stale(target)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
    tmp = _tmp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SaveError(f"cannot write in {target.parent}: {exc.strerror}") from exc
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view[:_CHUNK])
                view = view[written:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise SaveError(f"cannot save {target}: {exc.strerror or exc}") from exc
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _reads_back(path: Path, data: bytes | mmap.mmap) -> bool:
    """True when ``path`` holds exactly ``data`` (compared a chunk at a time)."""
    view = memoryview(data)
    try:
        with path.open("rb") as f:
            pos = 0
            while chunk := f.read(_CHUNK):
                if view[pos : pos + len(chunk)] != chunk:
                    return False
                pos += len(chunk)
            return pos == len(view)
    except OSError as exc:
        raise SaveError(f"cannot read back {path}: {exc.strerror}") from exc


def check_unchanged(doc: Document) -> None:
    """Raise FileChangedOnDisk when the opened file changed since it was read."""
    p = doc.original
    try:
        st = p.path.stat()
    except FileNotFoundError as exc:
        raise FileChangedOnDisk(f"{p.path} was removed since it was opened") from exc
    except OSError as exc:
        raise SaveError(f"cannot check {p.path}: {exc.strerror}") from exc
    if (st.st_size, st.st_mtime_ns) != (p.size, p.mtime_ns):
        raise FileChangedOnDisk(
            f"{p.path} was changed on disk since it was opened; save anyway to "
            "overwrite it, or reopen it"
        )


def save_document(
    doc: Document,
    target: Path | None = None,
    *,
    backup: bool = False,
    force: bool = False,
) -> Path:
    """Write ``doc`` to ``target`` (default: where it was read from).

    Args:
        doc: The document; its edits were each verified when made.
        target: Save-as path; None to overwrite the file.
        backup: Keep the file as it was in ``NAME.bak`` first.
        force: Overwrite even when the file changed on disk since it was opened.

    Returns:
        The path written.

    Raises:
        SaveError: The save was refused or failed; nothing was changed.
    """
    original = doc.original
    if original.damaged:
        raise SaveError(
            f"{original.path} is damaged ({original.damaged}); saving would write "
            "it back as if whole, so it is read-only"
        )
    if doc.dirty and (why := doc.readonly_reason):
        raise SaveError(why)
    dest = target or original.path
    if dest == original.path and not force:
        check_unchanged(doc)
    data = doc.data()
    if backup and dest.exists():
        bak = dest.with_name(dest.name + ".bak")
        try:
            shutil.copy2(dest, bak)
        except OSError as exc:
            raise SaveError(f"cannot keep a backup {bak}: {exc.strerror}") from exc
    mode = None
    if dest != original.path:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(original.path.stat().st_mode)
    atomic_write(dest, data, mode)
    # Read back: what is on disk must be what was verified.
    if not _reads_back(dest, data):
        raise SaveError(f"{dest} does not read back as written; check the disk")
    reparsed = parse(dest)
    if reparsed.damaged:
        raise SaveError(f"{dest} reads back damaged: {reparsed.damaged}")
    if dest == original.path:
        doc.mark_saved(reparsed)
    return dest


async def save(
    doc: Document,
    target: Path | None = None,
    *,
    backup: bool = False,
    force: bool = False,
) -> Path:
    """:func:`save_document` in a thread."""
    return await asyncio.to_thread(
        save_document, doc, target, backup=backup, force=force
    )
