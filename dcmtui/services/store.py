"""The receiver's store folder: safe names, spool files, atomic placement.

Objects arrive into a spool file under ``<store>/.incoming`` (same file system
as their final place), exactly as received: pynetdicom writes a file meta
header and then appends the data set bytes of each P-DATA fragment. When the
object is complete, :meth:`Store.commit` links it to its final name
(``Patient/Study/Series/<SOPInstanceUID>.dcm`` by default) without ever
replacing a different object, and removes the spool name. Names never come raw
from the peer: UIDs are checked, everything else is hashed.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import filecmp
import hashlib
import itertools
import logging
import os
import re
import shutil
import struct
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dcmtui.models import FileRecord

LOGGER = logging.getLogger(__name__)

LAYOUTS = ("hierarchy", "study", "flat")
_SPOOL_NUMBERS = itertools.count(1)
INCOMING = ".incoming"
_UID_RE = re.compile(r"[0-9]+(\.[0-9]+)*")


def is_uid(value: str) -> bool:
    """True for a syntactically valid UID (digits and dots, at most 64 chars)."""
    return 0 < len(value) <= 64 and _UID_RE.fullmatch(value) is not None


def hashed(kind: str, value: str) -> str:
    """A file name for text that came from a peer: ``kind`` + a digest of it."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{kind}{digest[:20]}"


def uid_name(kind: str, value: str) -> str:
    """The UID itself when it is a valid UID, else a hash of it."""
    value = value.strip().rstrip("\0").strip()
    return value if is_uid(value) else hashed(kind, value)


def relative_path(layout: str, record: FileRecord, sop_uid: str) -> Path:
    """Where an object goes inside the store, from its indexed fields.

    Args:
        layout: ``hierarchy``, ``study`` or ``flat``.
        record: The fields read from the received object.
        sop_uid: The SOP Instance UID from the C-STORE request.

    Returns:
        A relative path whose every part is a checked UID or a hash.
    """
    name = uid_name("x", sop_uid) + ".dcm"
    if layout == "flat":
        return Path(name)
    study = uid_name("s", record.study_uid)
    if layout == "study":
        return Path(study, name)
    patient = hashed("P", record.patient_id + "\0" + record.patient_name)
    if record.patient_id and not record.patient_name:
        patient = hashed("P", record.patient_id)
    return Path(patient, study, uid_name("e", record.series_uid), name)


class Spool:
    """A file being received, handed to pynetdicom instead of a NamedTemporaryFile.

    It counts what is written, stops writing (and frees the space) as soon as
    the object is too large or the disk fails, and remembers why, so that the
    C-STORE handler can answer 0xA700 instead of storing a partial object.
    """

    def __init__(
        self, path: Path, max_bytes: int, problem: str = "", fd: int | None = None
    ) -> None:
        self.path = path
        self.name = str(path)
        self.file = self  # pynetdicom calls ``.file.flush()`` after each write
        self.nbytes = 0
        self.problem = problem
        """Why this object cannot be stored; empty while all is well."""
        self._max = max_bytes
        self._f = (
            None
            if problem
            else open(path if fd is None else fd, "wb", buffering=1 << 20)  # noqa: SIM115
        )

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; never raises (a failure is kept in ``problem``)."""
        size = len(data)
        if self.problem:
            return size
        self.nbytes += size
        if self._max and self.nbytes > self._max:
            self._fail(f"object larger than the limit of {self._max} bytes")
            return size
        try:
            assert self._f is not None
            self._f.write(data)
        except OSError as exc:
            self._fail(f"cannot write the object: {exc.strerror or exc}")
        return size

    def _fail(self, reason: str) -> None:
        self.problem = reason
        self._discard()

    def _discard(self) -> None:
        if self._f is not None:
            with contextlib.suppress(OSError):
                self._f.close()
            self._f = None
        with contextlib.suppress(OSError):
            self.path.unlink()

    def flush(self) -> None:
        """Nothing: the data is flushed once, when the object is complete."""

    def close(self) -> None:
        """Flush and close; a failure becomes ``problem``. Idempotent."""
        if self._f is None:
            return
        try:
            self._f.close()
        except OSError as exc:
            self._f = None
            self._fail(f"cannot write the object: {exc.strerror or exc}")
        self._f = None

    def discard(self) -> None:
        """Close and delete the spool file (an aborted or refused transfer)."""
        self._discard()


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a received object ended up."""

    path: Path
    outcome: str
    """``stored``, ``duplicate`` (identical object already there, new copy
    dropped), ``kept`` (a different object had that name: both kept) or
    ``overwritten``."""


class Store:
    """The store folder of the receiver."""

    def __init__(
        self,
        root: Path,
        *,
        layout: str = "hierarchy",
        duplicates: str = "keep",
        max_object_bytes: int = 0,
        min_free_bytes: int = 0,
    ) -> None:
        self.root = root
        self.layout = layout
        self.duplicates = duplicates
        self.max_object_bytes = max_object_bytes
        self.min_free_bytes = min_free_bytes
        self.incoming = root / INCOMING
        self._checked: set[Path] = set()
        """Folders of the store already created and found inside it."""

    def prepare(self) -> None:
        """Create the folders and remove spool files left by a crash."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        for stale in self.incoming.iterdir():
            with contextlib.suppress(OSError):
                stale.unlink()
        self._real_root = self.root.resolve()

    def free_bytes(self) -> int:
        """Free space on the store's file system, for an unprivileged writer."""
        try:
            st = os.statvfs(self.root)
        except OSError:
            return 0
        return st.f_bavail * st.f_frsize

    def new_spool(self) -> Spool:
        """A fresh spool file, or a refusing one when the disk is too full."""
        if self.min_free_bytes and self.free_bytes() < self.min_free_bytes:
            return Spool(
                self.incoming / "refused",
                0,
                f"less than {self.min_free_bytes} bytes free in the store",
            )
        while True:
            path = self.incoming / f"{os.getpid()}-{next(_SPOOL_NUMBERS)}.part"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # left by an earlier process with our pid
                continue
            return Spool(path, self.max_object_bytes, fd=fd)

    def commit(self, spool: Spool, sop_uid: str, record: FileRecord) -> Placed:
        """Move a complete spool file to its place in the store.

        Args:
            spool: The closed spool file.
            sop_uid: The SOP Instance UID of the C-STORE request.
            record: Its index fields (read from the spool file).

        Returns:
            Where it went and how.

        Raises:
            OSError: The object could not be placed (it is discarded).
        """
        rel = relative_path(self.layout, record, sop_uid)
        dest = self.root / rel
        try:
            for attempt in (1, 2):
                if dest.parent not in self._checked:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    real_parent = dest.parent.resolve()
                    if not real_parent.is_relative_to(self._real_root):
                        raise OSError(f"{dest.parent} leads outside the store")
                    if len(self._checked) > 10000:
                        self._checked.clear()
                    self._checked.add(dest.parent)
                try:
                    return self._place(spool.path, dest)
                except FileNotFoundError:  # the folder was removed meanwhile
                    self._checked.discard(dest.parent)
                    if attempt == 2 or not spool.path.exists():
                        raise
            raise AssertionError("unreachable")
        except OSError:
            spool.discard()
            raise

    def _place(self, src: Path, dest: Path) -> Placed:
        if self.duplicates == "overwrite":
            existed = dest.exists()
            os.replace(src, dest)
            return Placed(dest, "overwritten" if existed else "stored")
        stem, n = dest.name[: -len(".dcm")], 0
        candidate = dest
        while True:
            try:
                if _rename_noreplace(src, candidate):
                    return Placed(candidate, "stored" if n == 0 else "kept")
                os.link(src, candidate)
            except FileExistsError:
                if _same_file(src, candidate):
                    os.unlink(src)
                    return Placed(candidate, "duplicate")
                n += 1
                candidate = dest.with_name(f"{stem}.{n}.dcm")
                continue
            except OSError:  # no hard links here: rename if nothing is there
                if candidate.exists():
                    raise
                os.rename(src, candidate)
                return Placed(candidate, "stored" if n == 0 else "kept")
            os.unlink(src)
            return Placed(candidate, "stored" if n == 0 else "kept")


_libc_renameat2: Any = None


def _rename_noreplace(src: Path, dest: Path) -> bool:
    """Rename, failing if ``dest`` exists (Linux renameat2 RENAME_NOREPLACE).

    Returns:
        True when renamed; False when the system cannot do it (use link).

    Raises:
        FileExistsError: ``dest`` exists.
    """
    global _libc_renameat2
    if _libc_renameat2 is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _libc_renameat2 = libc.renameat2
            _libc_renameat2.argtypes = [
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_uint,
            ]
        except (OSError, AttributeError):
            _libc_renameat2 = False
    if _libc_renameat2 is False:
        return False
    import ctypes

    at_fdcwd, noreplace = -100, 1
    if _libc_renameat2(at_fdcwd, bytes(src), at_fdcwd, bytes(dest), noreplace) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dest))
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dest))


def _same_file(a: Path, b: Path) -> bool:
    """True when two files hold the same bytes (apart from the meta header's
    implementation fields, which differ between senders and do not count)."""
    try:
        if a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False):
            return True
        return _dataset_bytes_equal(a, b)
    except OSError:
        return False


def _dataset_offset(path: Path) -> int:
    """Offset of the data set in a Part 10 file (after the meta group)."""
    with open(path, "rb") as f:
        head = f.read(144)
        if len(head) < 144 or head[128:132] != b"DICM" or head[132:134] != b"\2\0":
            return -1
        (group_length,) = struct.unpack("<I", head[140:144])
        return 144 + group_length


def _dataset_bytes_equal(a: Path, b: Path) -> bool:
    oa, ob = _dataset_offset(a), _dataset_offset(b)
    if oa < 0 or ob < 0 or a.stat().st_size - oa != b.stat().st_size - ob:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(oa)
        fb.seek(ob)
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


class IndexWriter:
    """Puts received objects into the SQLite index, in batches, off the hot path."""

    def __init__(self, db_path: Path, every: float = 0.25) -> None:
        self._db_path = db_path
        self._every = every
        self._pending: collections.deque[FileRecord] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name="dcmtui-store-index"
        )
        self._thread.start()

    def add(self, record: FileRecord) -> None:
        """Queue one record (thread-safe, cheap: no wake-up per record)."""
        self._pending.append(record)

    def close(self) -> None:
        """Write what is queued and stop."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from dcmtui.services.files import Index

        index = Index(self._db_path)
        while True:
            stopping = self._stop.wait(self._every)
            batch: list[FileRecord] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if batch:
                try:
                    index.upsert(batch)
                except Exception:
                    LOGGER.exception("could not index %d received objects", len(batch))
            if stopping:
                return


def record_for(path: Path, record: FileRecord) -> FileRecord:
    """The record of a placed object: the spool's fields with the final path."""
    try:
        st = path.stat()
    except OSError:
        return replace(record, path=str(path))
    return replace(record, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns)


def disk_usage(path: Path) -> tuple[int, int]:
    """(free, total) bytes of the file system holding ``path``."""
    usage = shutil.disk_usage(path)
    return usage.free, usage.total
