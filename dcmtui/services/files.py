"""The file index: walk a folder, read the few tags the Files screen needs, keep
them in SQLite so that opening the folder again reads only what changed.

The walk runs in a thread and reports ScanProgress snapshots; nothing here
raises for a single bad file or folder: they become counted warnings.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import fields
from operator import attrgetter
from pathlib import Path

from dcmtui.models import FileKind, FileRecord, IndexSummary, ScanProgress, ScanWarning
from dcmtui.services.errors import ScanError
from dcmtui.services.index_snapshot import files_of, reason

# asyncio, threading and the file reader are imported where they are used:
# re-opening an unchanged folder (``dcmtui index`` as a process) needs none of
# them, and they cost more than the SQLite work itself.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

    from dcmtui.services.index_snapshot import WalkLog

Reader = Callable[[str, int, int], FileRecord]
"""Reads one file: (path, size, mtime_ns) -> FileRecord; raises OSError on I/O."""

_COLUMNS = [f.name for f in fields(FileRecord)]
_ROW = attrgetter(*_COLUMNS)  # FileRecord -> tuple, without astuple's deep copies
_SCHEMA_VERSION = 1
_INTEGER = {"size", "mtime_ns", "series_number", "instance_number"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    {", ".join(f"{n} {'INTEGER' if n in _INTEGER else 'TEXT'}" for n in _COLUMNS[1:])}
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_study ON files(study_uid);
"""
_INSERT = (
    f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_COLUMNS))})"
)
_PROGRESS_EVERY = 0.1  # seconds between progress snapshots
_BATCH = 500  # rows per SQLite transaction


def _record(row: tuple[object, ...]) -> FileRecord:
    values = list(row)
    values[3] = FileKind(str(values[3]))
    return FileRecord(*values)  # type: ignore[arg-type]


def _under(root: str) -> tuple[str, tuple[str, ...]]:
    """SQL condition and parameters for every path at or below ``root``."""
    prefix = root.rstrip(os.sep) + os.sep
    # Paths below root sort between "root/" and "root0" ("0" follows "/").
    return "(path = ? OR (path >= ? AND path < ?))", (
        root,
        prefix,
        prefix[:-1] + chr(ord(os.sep) + 1),
    )


class Index:
    """The SQLite index of files, shared by every folder dcmtui opens.

    Each thread opens its own connection; methods that touch the database
    are blocking and meant to run in a worker thread (``asyncio.to_thread``).
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def connect(self) -> sqlite3.Connection:
        """Open (and create or migrate) the database; one per thread."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.db_path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        (version,) = con.execute("PRAGMA user_version").fetchone()
        if version != _SCHEMA_VERSION:
            con.execute("DROP TABLE IF EXISTS files")
            con.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        con.executescript(_SCHEMA)
        return con

    def upsert(self, records: Iterable[FileRecord]) -> None:
        """Insert or replace ``records`` (objects the receiver just stored)."""
        rows = [_ROW(r) for r in records]
        if rows:
            con = self.connect()
            try:
                with con:
                    con.executemany(_INSERT, rows)
            finally:
                con.close()

    def records(self, root: str) -> list[FileRecord]:
        """Every known record at or below ``root`` (an absolute path)."""
        where, params = _under(root)
        con = self.connect()
        try:
            rows = con.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM files WHERE {where} "
                "AND kind != 'other' ORDER BY path",
                params,
            ).fetchall()
        finally:
            con.close()  # not left to the collector: its cache holds it in a cycle
        return [_record(row) for row in rows]

    def counts(self, root: str) -> dict[str, int]:
        """Counts of files, kinds, patients, studies and series below ``root``."""
        where, params = _under(root)
        con = self.connect()
        try:
            files, dicom, damaged, other, patients, studies, series = con.execute(
                "SELECT count(*), "
                "sum(kind = 'dicom' OR kind = 'dicomdir'), sum(kind = 'damaged'), "
                "sum(kind = 'other'), "
                "count(DISTINCT CASE WHEN kind != 'other' "
                "THEN patient_id || char(0) || patient_name END), "
                "count(DISTINCT nullif(study_uid, '')), "
                "count(DISTINCT nullif(series_uid, '')) "
                f"FROM files WHERE {where}",
                params,
            ).fetchone()
        finally:
            con.close()
        return {
            "files": files,
            "dicom": dicom or 0,
            "damaged": damaged or 0,
            "other": other or 0,
            "patients": patients,
            "studies": studies,
            "series": series,
        }

    def scan(
        self,
        root: Path,
        *,
        stop: threading.Event | None = None,
        reader: Reader | None = None,
        follow_symlinks: bool = True,
        show_hidden: bool = False,
        log: WalkLog | None = None,
    ) -> Iterator[ScanProgress]:
        """Walk ``root`` and bring the index up to date, blocking.

        Files whose size and mtime are unchanged since the last scan are not
        opened. Records of files that are gone are removed (unless cancelled).

        Args:
            root: A folder or a single file.
            stop: Set it to cancel; the walk stops at the next file.
            reader: Reads one file; the fast header reader by default.
            follow_symlinks: Follow links to folders (loops become warnings).
            show_hidden: Include names that start with a dot.
            log: Notes every file the walk saw and the walk's own warnings
                (for a snapshot of the scan: see index_snapshot).

        Yields:
            Progress snapshots; each carries the records read since the last
            one in ``batch`` and, for the last, ``done=True``.

        Raises:
            ScanError: ``root`` does not exist or cannot be read at all.
        """
        if stop is None:
            import threading

            stop = threading.Event()
        started = time.monotonic()
        try:
            top = os.stat(root)
        except OSError as exc:
            raise ScanError(f"{root}: {exc.strerror or exc}") from exc
        root_s = str(root)
        con = self.connect()
        try:
            where, params = _under(root_s)
            known: dict[str, tuple[int, int, str]] = {
                path: (size, mtime, kind)
                for path, size, mtime, kind in con.execute(
                    f"SELECT path, size, mtime_ns, kind FROM files WHERE {where}",
                    params,
                )
            }
            progress = ScanProgress()
            pending: list[FileRecord] = []
            last = time.monotonic()

            def flush(done: bool = False) -> ScanProgress:
                nonlocal progress, pending, last
                if pending:
                    con.executemany(_INSERT, [_ROW(r) for r in pending])
                    con.commit()
                progress.batch = pending
                progress.elapsed = time.monotonic() - started
                progress.done = done
                snapshot, pending = progress, []
                progress = ScanProgress(
                    seen=snapshot.seen,
                    dicom=snapshot.dicom,
                    damaged=snapshot.damaged,
                    other=snapshot.other,
                    read=snapshot.read,
                    removed=snapshot.removed,
                    warnings=list(snapshot.warnings),
                )
                last = time.monotonic()
                return snapshot

            def warn(path: str, why: str) -> None:
                # progress, not a list bound once: flush() replaces progress
                progress.warnings.append(ScanWarning(path, why))
                if log is not None:
                    log.warn(path, why)

            files = files_of(root_s, top, warn, follow_symlinks, show_hidden)

            def count(kind: str) -> None:
                if kind == FileKind.OTHER:
                    progress.other += 1
                elif kind == FileKind.DAMAGED:
                    progress.damaged += 1
                else:
                    progress.dicom += 1

            for path, st in files:
                if stop.is_set():
                    progress.cancelled = True
                    break
                progress.seen += 1
                if log is not None:
                    log.add(path, st)
                old = known.pop(path, None)  # what is left in known is gone
                if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                    count(old[2])
                else:
                    from dcmtui.services.fastread import read_safely

                    result = read_safely(path, st.st_size, st.st_mtime_ns, reader)
                    if isinstance(result, OSError):
                        progress.warnings.append(_warning(path, result))
                        continue
                    progress.read += 1
                    count(result.kind)
                    pending.append(result)
                if len(pending) >= _BATCH or time.monotonic() - last > _PROGRESS_EVERY:
                    yield flush()
            if not progress.cancelled:
                gone = list(known)
                for start in range(0, len(gone), _BATCH):
                    con.executemany(
                        "DELETE FROM files WHERE path = ?",
                        [(p,) for p in gone[start : start + _BATCH]],
                    )
                con.commit()
                progress.removed = len(gone)
            yield flush(done=True)
        finally:
            con.close()

    def summary(self, root: Path, progress: ScanProgress) -> IndexSummary:
        """Summarize a finished scan for ``dcmtui index``."""
        return self.summary_and_rows(root, progress)[0]

    def summary_and_rows(
        self, root: Path, progress: ScanProgress
    ) -> tuple[IndexSummary, int]:
        """The summary, and how many rows the index holds below ``root`` now
        (one per file seen, unless another writer was at work meanwhile)."""
        counts = self.counts(str(root))
        summary = IndexSummary(
            root=str(root),
            files=progress.seen,
            dicom=progress.dicom,
            damaged=progress.damaged,
            other=progress.other,
            read=progress.read,
            patients=counts["patients"],
            studies=counts["studies"],
            series=counts["series"],
            warnings=len(progress.warnings),
            seconds=round(progress.elapsed, 3),
        )
        return summary, counts["files"]


def _warning(path: str, exc: OSError) -> ScanWarning:
    return ScanWarning(path, reason(exc))


class Indexer:
    """Async face of the index for screens and commands."""

    def __init__(
        self,
        db_path: Path,
        *,
        follow_symlinks: bool = True,
        show_hidden: bool = False,
        reader: Reader | None = None,
    ) -> None:
        self.index = Index(db_path)
        self.follow_symlinks = follow_symlinks
        self.show_hidden = show_hidden
        self.reader = reader

    async def known(self, root: Path) -> list[FileRecord]:
        """The records the index already holds below ``root``, shown at once."""
        import asyncio

        return await asyncio.to_thread(self.index.records, str(root))

    async def scan(self, root: Path) -> AsyncIterator[ScanProgress]:
        """Scan ``root`` in a thread, yielding progress; cancel to stop it.

        Raises:
            ScanError: ``root`` does not exist or cannot be read.
        """
        import threading

        from dcmtui.services._threading import iterate_in_thread

        stop = threading.Event()
        try:
            async for item in iterate_in_thread(
                lambda: self.index.scan(
                    root,
                    stop=stop,
                    reader=self.reader,
                    follow_symlinks=self.follow_symlinks,
                    show_hidden=self.show_hidden,
                )
            ):
                yield item
        finally:
            stop.set()

    async def summary(self, root: Path, progress: ScanProgress) -> IndexSummary:
        """Counts for a finished scan."""
        import asyncio

        return await asyncio.to_thread(self.index.summary, root, progress)


def resolve_root(path: Path) -> Path:
    """The absolute, symlink-free path the index is keyed by.

    Raises:
        ScanError: The path does not exist.
    """
    try:
        return path.expanduser().resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ScanError(f"{path}: no such file or folder") from exc
