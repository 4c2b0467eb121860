"""Looking after the store: import a folder (copied in, or referenced in
place), delete a patient, study or series (files and index together), a size
quota, and a consistency check that reconciles the index with the files.

The store is the receiver's folder; folders imported in place are listed in
the ``qr_roots`` table of the index database (the query/retrieve server
answers from the store and from them). Files of a folder referenced in place
are never deleted: deleting their patient, study or series removes them from
the index only, and says so.
"""

from __future__ import annotations

import contextlib
import filecmp
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dcmtui.config import Settings
from dcmtui.models import FileKind, FileRecord
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.fastread import read_record
from dcmtui.services.files import Index
from dcmtui.services.qr_match import ROOTS_TABLE, referenced_roots, under_any
from dcmtui.services.store import INCOMING, relative_path

LOGGER = logging.getLogger(__name__)


class StoreError(DcmtuiError):
    """A store operation that cannot be done (quota full, nothing to delete...)."""


def store_root(settings: Settings) -> Path:
    """The receiver's store folder (absolute)."""
    folder = settings.receiver.store_dir
    root = Path(folder).expanduser() if folder else settings.data_dir / "store"
    return root.absolute()


@dataclass
class ImportResult:
    """What an import did."""

    added: int = 0
    duplicates: int = 0
    """Identical objects already in the store (not copied again)."""
    kept: int = 0
    """Different objects with a known SOP Instance UID, stored beside it."""
    skipped: int = 0
    """Files that are not DICOM or are damaged."""
    refused: int = 0
    """Files refused because the store quota is full."""
    nbytes: int = 0
    in_place: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class DeleteResult:
    """What a delete did."""

    deleted: int = 0
    """Files removed from the store (and the index)."""
    forgotten: int = 0
    """Files of folders referenced in place: removed from the index only."""
    nbytes: int = 0


@dataclass
class CheckResult:
    """What the consistency check found and fixed."""

    files: int = 0
    added: int = 0
    """Files in the store the index did not know (or knew in an older state)."""
    removed: int = 0
    """Index rows whose file is gone."""
    damaged: int = 0
    duplicates: int = 0
    """SOP Instance UIDs held by more than one file."""
    warnings: list[str] = field(default_factory=list)


class StoreAdmin:
    """Import, delete, quota and check over the store and its index."""

    def __init__(self, settings: Settings, root: Path | None = None) -> None:
        self.settings = settings
        self.root = (root or store_root(settings)).absolute()
        self.index = Index(settings.index_path)
        self.layout = settings.receiver.layout
        self.quota = settings.qr.quota_bytes

    # --- sizes ----------------------------------------------------------------

    def roots(self) -> list[str]:
        """The store folder and the folders referenced in place."""
        con = self.index.connect()
        try:
            return [str(self.root), *referenced_roots(con)]
        finally:
            con.close()

    def used_bytes(self) -> int:
        """Bytes of the files in the store folder, as indexed."""
        where, params = under_any([str(self.root)])
        con = self.index.connect()
        try:
            (total,) = con.execute(
                f"SELECT coalesce(sum(size), 0) FROM files WHERE {where}", params
            ).fetchone()
        finally:
            con.close()
        return int(total)

    def quota_problem(self, used: int, nbytes: int) -> str:
        """Why ``nbytes`` more would not fit ('' when they fit)."""
        if self.quota and used + nbytes > self.quota:
            return (
                f"the store is full: {human_bytes(used)} used of a quota of "
                f"{human_bytes(self.quota)} (qr.quota_bytes); delete studies "
                "or raise the quota"
            )
        return ""

    # --- import ---------------------------------------------------------------

    def import_folder(
        self,
        folder: Path,
        *,
        in_place: bool = False,
        progress: Callable[[ImportResult], None] | None = None,
    ) -> ImportResult:
        """Import every DICOM file below ``folder``.

        Args:
            folder: The folder (or file) to import.
            in_place: Reference the files where they are instead of copying.
            progress: Called now and then with the counts so far.

        Raises:
            StoreError: The folder does not exist, or is inside the store.
        """
        folder = folder.expanduser().absolute()
        if not folder.exists():
            raise StoreError(f"{folder}: no such folder")
        if folder == self.root or self.root in folder.parents:
            raise StoreError(f"{folder} is already inside the store")
        if in_place:
            return self._reference(folder)
        result = ImportResult()
        used = self.used_bytes()
        batch: list[FileRecord] = []
        paths = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in paths:
            if not path.is_file() or any(p.startswith(".") for p in path.parts):
                continue
            st = path.stat()
            record = read_record(str(path), st.st_size, st.st_mtime_ns)
            if record.kind is not FileKind.DICOM or not record.sop_instance_uid:
                result.skipped += 1
                continue
            problem = self.quota_problem(used, st.st_size)
            if problem:
                result.refused += 1
                if not result.problems:
                    result.problems.append(problem)
                continue
            placed, outcome = self._copy(path, record)
            if outcome == "duplicate":
                result.duplicates += 1
                continue
            result.kept += outcome == "kept"
            result.added += 1
            result.nbytes += st.st_size
            used += st.st_size
            final = placed.stat()
            batch.append(
                _with_path(record, str(placed), final.st_size, final.st_mtime_ns)
            )
            if len(batch) >= 500:
                self.index.upsert(batch)
                batch = []
                if progress:
                    progress(result)
        self.index.upsert(batch)
        if progress:
            progress(result)
        return result

    def _copy(self, source: Path, record: FileRecord) -> tuple[Path, str]:
        rel = relative_path(self.layout, record, record.sop_instance_uid)
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        outcome = "stored"
        candidate, n = dest, 0
        while candidate.exists():
            if filecmp.cmp(candidate, source, shallow=False):
                return candidate, "duplicate"
            n += 1
            candidate = dest.with_name(f"{dest.stem}.{n}{dest.suffix}")
            outcome = "kept"
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".import-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.link(tmp, candidate)  # never replaces a file that appeared meanwhile
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return candidate, outcome

    def _reference(self, folder: Path) -> ImportResult:
        from collections import deque

        last = deque(
            self.index.scan(
                folder,
                follow_symlinks=self.settings.follow_symlinks,
                show_hidden=self.settings.show_hidden,
            ),
            maxlen=1,
        )[0]
        con = self.index.connect()
        try:
            with con:
                con.execute(ROOTS_TABLE)
                con.execute(
                    "INSERT OR IGNORE INTO qr_roots (path) VALUES (?)", (str(folder),)
                )
        finally:
            con.close()
        return ImportResult(
            added=last.dicom,
            skipped=last.damaged + last.other,
            in_place=True,
            problems=[w.reason for w in last.warnings[:5]],
        )

    # --- delete ---------------------------------------------------------------

    def delete(
        self,
        *,
        patient_id: str = "",
        study_uid: str = "",
        series_uid: str = "",
    ) -> DeleteResult:
        """Delete a patient, study or series: its files in the store and its
        index rows (files referenced in place stay, out of the index).

        Raises:
            StoreError: No key given, or nothing matches.
        """
        column, value = next(
            (
                (c, v)
                for c, v in (
                    ("series_uid", series_uid),
                    ("study_uid", study_uid),
                    ("patient_id", patient_id),
                )
                if v
            ),
            ("", ""),
        )
        if not column:
            raise StoreError("say what to delete: a patient ID, study or series UID")
        con = self.index.connect()
        try:
            where, params = under_any([str(self.root), *referenced_roots(con)])
            rows = con.execute(
                f"SELECT path, size FROM files WHERE {where} AND {column} = ?",
                [*params, value],
            ).fetchall()
            if not rows:
                what = column.replace("_uid", "").replace("_", " ")
                raise StoreError(f"no {what} {value!r} in the store")
            result = DeleteResult()
            root = str(self.root) + os.sep
            folders: set[Path] = set()
            for path, size in rows:
                if path.startswith(root):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    result.deleted += 1
                    result.nbytes += size or 0
                    folders.add(Path(path).parent)
                else:
                    result.forgotten += 1
            with con:
                con.executemany(
                    "DELETE FROM files WHERE path = ?", [(p,) for p, _ in rows]
                )
        finally:
            con.close()
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            while folder != self.root and self.root in folder.parents:
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break
                folder = folder.parent
        return result

    # --- check ----------------------------------------------------------------

    def check(self) -> CheckResult:
        """Reconcile the index with the files: index what is new or changed,
        drop rows whose file is gone, count damaged files and duplicates."""
        from collections import deque

        result = CheckResult()
        for root in self.roots():
            if not Path(root).exists():
                if root == str(self.root):
                    continue
                result.warnings.append(f"{root}: referenced folder is gone")
                con = self.index.connect()
                try:
                    where, params = under_any([root])
                    with con:
                        gone = con.execute(
                            f"DELETE FROM files WHERE {where}", params
                        ).rowcount
                        con.execute("DELETE FROM qr_roots WHERE path = ?", (root,))
                finally:
                    con.close()
                result.removed += gone
                continue
            last = deque(
                self.index.scan(Path(root), follow_symlinks=True, show_hidden=False),
                maxlen=1,
            )[0]
            result.files += last.seen
            result.added += last.read
            result.removed += last.removed
            result.damaged += last.damaged
            result.warnings += [f"{w.path}: {w.reason}" for w in last.warnings]
        con = self.index.connect()
        try:
            where, params = under_any(self.roots())
            (dupes,) = con.execute(
                "SELECT count(*) FROM (SELECT sop_instance_uid FROM files "
                f"WHERE {where} AND kind = 'dicom' AND sop_instance_uid != '' "
                "GROUP BY sop_instance_uid HAVING count(*) > 1)",
                params,
            ).fetchone()
        finally:
            con.close()
        result.duplicates = int(dupes)
        incoming = self.root / INCOMING
        if incoming.is_dir():
            for leftover in incoming.iterdir():
                result.warnings.append(f"{leftover}: unfinished transfer left over")
        return result


def human_bytes(n: int) -> str:
    """``n`` bytes in words: ``512 bytes``, ``3.4 MB``."""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _with_path(record: FileRecord, path: str, size: int, mtime_ns: int) -> FileRecord:
    from dataclasses import replace

    return replace(record, path=path, size=size, mtime_ns=mtime_ns)
