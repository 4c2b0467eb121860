"""The receiver's store folder: safe names, spool files, atomic placement.

Objects arrive into a spool file under ``<store>/.incoming`` (same file system
as their final place), exactly as received: a file meta header, then the data
set bytes of each P-DATA fragment (written in large pieces). When the
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from dcmtui.models import FileRecord
from dcmtui.services.fastread import LONG_VRS, SHORT_VRS

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


class PathFields(Protocol):
    """What the folders of an object are named after (a FileRecord has them)."""

    @property
    def patient_id(self) -> str: ...
    @property
    def patient_name(self) -> str: ...
    @property
    def study_uid(self) -> str: ...
    @property
    def series_uid(self) -> str: ...


class Fields(NamedTuple):
    """The fields of :class:`PathFields`, read by :func:`path_fields`."""

    patient_id: str
    patient_name: str
    study_uid: str
    series_uid: str


_EXPLICIT_ELEMENT = struct.Struct("<HH2sH")
_IMPLICIT_ELEMENT = struct.Struct("<HHL")
_U32 = struct.Struct("<L")
_LONG_VRS, _SHORT_VRS = LONG_VRS, SHORT_VRS
_PATH_TAGS = {0x00100020: 0, 0x00100010: 1, 0x0020000D: 2, 0x0020000E: 3}
_LAST_TAG = 0x00200013
"""The index reader (services.fastread) stops looking after this tag."""
_OTHER_ENCODINGS = frozenset(
    {
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.4.95",  # JPIP Referenced Deflate
    }
)
"""Transfer syntaxes whose data set is not plain little endian."""


def path_fields(data: bytes, syntax: str, *, complete: bool) -> Fields | None:
    """The fields the folders are named after, from the start of a data set.

    The values are exactly what the index reader (services.fastread) decodes
    from the stored file, so that an object lands where its index record says;
    whenever that is not certain (non-ASCII text, undefined lengths, an unusual
    transfer syntax, data cut short), the answer is None and the caller reads
    the file with the index reader itself.

    Args:
        data: The first bytes of the data set (as received).
        syntax: Its transfer syntax UID.
        complete: Whether ``data`` is the whole data set.

    Returns:
        The four fields, or None.
    """
    if syntax in _OTHER_ENCODINGS or not syntax.startswith("1.2.840.10008.1.2"):
        return None
    end = len(data)
    if end >= 2 and data[:2] == b"\x00\x08":  # big endian
        return None
    explicit = data[4:6] in _LONG_VRS or data[4:6] in _SHORT_VRS
    values = [b"", b"", b"", b""]
    pos = 0
    while True:
        if pos + 8 > end:
            if complete and pos == end:
                break
            return None
        if explicit:
            group, elem, vr, length = _EXPLICIT_ELEMENT.unpack_from(data, pos)
            if vr in _SHORT_VRS:
                header = 8
            elif vr in _LONG_VRS and pos + 12 <= end:
                length = _U32.unpack_from(data, pos + 8)[0]
                header = 12
            else:
                return None
        else:
            group, elem, length = _IMPLICIT_ELEMENT.unpack_from(data, pos)
            header = 8
        tag = group << 16 | elem
        if tag > _LAST_TAG:
            break
        if length == 0xFFFFFFFF or group == 0xFFFE:
            return None
        stop = pos + header + length
        if stop > end:
            return None
        index = _PATH_TAGS.get(tag)
        if index is not None:
            values[index] = data[pos + header : stop]
        pos = stop
    patient_id, patient_name, study, series = values
    for raw in (patient_id, patient_name):
        if not raw.isascii() or b"\x1b" in raw:
            return None
    return Fields(
        patient_id.decode("ascii").rstrip(" \x00"),
        patient_name.decode("ascii").rstrip(" \x00").rstrip("="),
        study.decode("latin-1").rstrip(" \x00"),
        series.decode("latin-1").rstrip(" \x00"),
    )


def relative_path(layout: str, record: PathFields, sop_uid: str) -> Path:
    """Where an object goes inside the store, from its indexed fields.

    Args:
        layout: ``hierarchy``, ``study`` or ``flat``.
        record: The fields read from the received object.
        sop_uid: The SOP Instance UID from the C-STORE request.

    Returns:
        A relative path whose every part is a checked UID or a hash.
    """
    return Path(*relative_parts(layout, record, sop_uid))


def relative_parts(layout: str, record: PathFields, sop_uid: str) -> tuple[str, ...]:
    """The parts of :func:`relative_path` (folders, then the file name)."""
    return (*folder_parts(layout, record), file_name(sop_uid))


def folder_parts(layout: str, record: PathFields) -> tuple[str, ...]:
    """The folders of :func:`relative_path`."""
    if layout == "flat":
        return ()
    study = uid_name("s", record.study_uid)
    if layout == "study":
        return (study,)
    patient = hashed("P", record.patient_id + "\0" + record.patient_name)
    if record.patient_id and not record.patient_name:
        patient = hashed("P", record.patient_id)
    return (patient, study, uid_name("e", record.series_uid))


def file_name(sop_uid: str) -> str:
    """The file name of :func:`relative_path`."""
    return uid_name("x", sop_uid) + ".dcm"


_FLUSH_BYTES = 1 << 20
"""A spool writes what it holds once it holds this much (one ``writev``)."""
_FLUSH_CHUNKS = 512
"""... or this many pieces (well under IOV_MAX)."""


class Spool:
    """A file being received, handed to pynetdicom instead of a NamedTemporaryFile.

    It counts what is written, stops writing (and frees the space) as soon as
    the object is too large or the disk fails, and remembers why, so that the
    C-STORE handler can answer 0xA700 instead of storing a partial object.

    Writes are gathered in memory (up to ``_FLUSH_BYTES``) and written with
    one ``writev``: a small object costs one system call, without a file
    object and its buffer. The data passed to :meth:`write` is kept, not
    copied, until then: callers never modify it afterwards (pynetdicom and
    the fast path pass ``bytes``). An object written in that one ``writev``
    keeps its pieces after :meth:`close` (``contents``), so that its index
    record is read from memory instead of from the file.
    """

    def __init__(
        self, path: Path | str, max_bytes: int, problem: str = "", fd: int | None = None
    ) -> None:
        self.name = str(path)
        self.nbytes = 0
        self.problem = problem
        """Why this object cannot be stored; empty while all is well."""
        self._max = max_bytes
        self._chunks: list[bytes | bytearray | memoryview] = []
        self._pending = 0
        self.head = b""
        """The first piece of the data set, kept by the fast path to name the
        folders without reading the file back (see :func:`path_fields`)."""
        self.head_at = 0
        """Bytes written before ``head`` (preamble and meta group)."""
        self.syntax = ""
        """The transfer syntax of the data set, when the writer knows it."""
        self.contents: list[bytes | bytearray | memoryview] | None = None
        """After :meth:`close`: the whole file, in the pieces written, when
        it was written at once (small objects); else None."""
        self.mtime_ns = 0
        """After :meth:`close`, with ``contents``: the file's modification time."""
        self.meta: tuple[int, str, str, str] | None = None
        """The file meta group, when the writer made it: see the ``meta``
        argument of services.fastread.record_from_bytes."""
        self._flushed = False
        self._whole: list[bytes | bytearray | memoryview] | None = None
        """Set by :meth:`complete`: the pieces of a file written at once,
        or an empty list."""
        self._fd = -1
        if not problem:
            self._fd = (
                fd
                if fd is not None
                else os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            )

    @property
    def path(self) -> Path:
        """The spool file."""
        return Path(self.name)

    @property
    def file(self) -> Spool:
        """Itself: pynetdicom calls ``.file.flush()`` after each write (a
        property, not an attribute: no reference cycle to wait for the GC)."""
        return self

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; never raises (a failure is kept in ``problem``)."""
        size = len(data)
        if self.problem:
            return size
        self.nbytes += size
        if self._max and self.nbytes > self._max:
            self._fail(f"object larger than the limit of {self._max} bytes")
            return size
        self._chunks.append(data)
        self._pending += size
        if self._pending >= _FLUSH_BYTES or len(self._chunks) >= _FLUSH_CHUNKS:
            self._flush()
        return size

    def _flush(self) -> None:
        chunks, total = self._chunks, self._pending
        if not chunks or self._fd < 0:
            return
        self._chunks, self._pending = [], 0
        self._flushed = True
        try:
            done = os.writev(self._fd, chunks)
            if done < total:  # a short write: the rest one piece at a time
                rest = memoryview(b"".join(chunks))[done:]
                while rest:
                    n = os.write(self._fd, rest)
                    if n <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    rest = rest[n:]
        except OSError as exc:
            self._fail(f"cannot write the object: {exc.strerror or exc}")

    def _fail(self, reason: str) -> None:
        self.problem = reason
        self._discard()

    def _discard(self) -> None:
        self._chunks, self._pending = [], 0
        self.contents = None
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(self.name)

    def flush(self) -> None:
        """Nothing: the data is written in large pieces, and at the end."""

    def unused(self) -> bool:
        """True for a spool nothing was written to whose file is still there
        (made ahead of time: its folder may have been removed meanwhile)."""
        if self.problem or self.nbytes or self._fd < 0:
            return False
        try:
            return os.fstat(self._fd).st_nlink > 0
        except OSError:
            return False

    def complete(self) -> None:
        """Write what is held, and keep the file open; a failure becomes
        ``problem``. The object is then whole on disk: it can be placed
        (renamed) and answered for, and :meth:`close` done afterwards."""
        if self._fd < 0 or self._whole is not None:
            return
        self._whole = [] if self._flushed else self._chunks
        self._flush()

    def close(self) -> None:
        """Write what is held and close; a failure becomes ``problem``.

        Idempotent."""
        if self._fd < 0:
            return
        self.complete()
        if self._fd < 0:  # the write failed: already discarded
            return
        whole = self._whole or None
        fd, self._fd = self._fd, -1
        if whole is not None:
            try:
                self.mtime_ns = os.fstat(fd).st_mtime_ns
            except OSError:
                whole = None  # the index writer reads the file instead
        try:
            os.close(fd)
        except OSError as exc:
            self._fail(f"cannot write the object: {exc.strerror or exc}")
            return
        self.contents = whole

    def discard(self) -> None:
        """Close and delete the spool file (an aborted or refused transfer)."""
        self._discard()


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a received object ended up."""

    path: str
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
        self._checked: set[str] = set()
        """Folders of the store already created and found inside it."""
        self._folders: dict[tuple[str, str, str, str], str] = {}
        """Folder of the objects of one patient, study and series (the
        fields of :class:`PathFields`): named once, not for every object."""
        self._free_until = 0.0
        self._spool_prefix = ""

    def prepare(self) -> None:
        """Create the folders and remove spool files left by a crash."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        for stale in self.incoming.iterdir():
            with contextlib.suppress(OSError):
                stale.unlink()
        self._real_root = os.path.realpath(self.root)
        self._spool_prefix = os.path.join(str(self.incoming), f"{os.getpid()}-")

    def free_bytes(self) -> int:
        """Free space on the store's file system, for an unprivileged writer."""
        try:
            st = os.statvfs(self.root)
        except FileNotFoundError:  # the store was removed: make it again
            try:
                os.makedirs(self.incoming, exist_ok=True)
                st = os.statvfs(self.root)
            except OSError:
                return 0
        except OSError:
            return 0
        return st.f_bavail * st.f_frsize

    def _too_full(self) -> bool:
        """Whether free space is below ``min_free_bytes``. Looked up at most
        every 0.1 s while there is room to spare (the limit is a margin: a
        full disk is still caught by the writes themselves)."""
        now = time.monotonic()
        if now < self._free_until:
            return False
        free = self.free_bytes()
        if free < self.min_free_bytes:
            return True
        if free > 2 * self.min_free_bytes:
            self._free_until = now + 0.1
        return False

    def new_spool(self, spare: Spool | None = None) -> Spool:
        """A fresh spool file, or a refusing one when the disk is too full.

        Args:
            spare: A spool this method made earlier, while the peer was busy
                (opening a file is one of the costliest steps of a small
                object): returned when it is still :meth:`Spool.unused`,
                else discarded.
        """
        if self.min_free_bytes and self._too_full():
            if spare is not None:
                spare.discard()
            return Spool(
                self.incoming / "refused",
                0,
                f"less than {self.min_free_bytes} bytes free in the store",
            )
        if spare is not None:
            if spare.unused():
                return spare
            spare.discard()
        if not self._spool_prefix:
            self._spool_prefix = os.path.join(str(self.incoming), f"{os.getpid()}-")
        prefix = self._spool_prefix
        remade = False
        while True:
            path = f"{prefix}{next(_SPOOL_NUMBERS)}.part"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # left by an earlier process with our pid
                continue
            except FileNotFoundError:
                # the store, or its spool folder, was removed while we run
                # (someone cleaning up): make it again, once
                if remade:
                    raise
                os.makedirs(self.incoming, exist_ok=True)
                remade = True
                continue
            return Spool(path, self.max_object_bytes, fd=fd)

    def commit(self, spool: Spool, sop_uid: str, record: PathFields) -> Placed:
        """Move a complete spool file to its place in the store.

        Args:
            spool: The closed spool file.
            sop_uid: The SOP Instance UID of the C-STORE request.
            record: What its folders are named after (read from the data set).

        Returns:
            Where it went and how.

        Raises:
            OSError: The object could not be placed (it is discarded).
        """
        key = (
            record.patient_id,
            record.patient_name,
            record.study_uid,
            record.series_uid,
        )
        folder = self._folders.get(key)
        if folder is None:
            folder = os.path.join(str(self.root), *folder_parts(self.layout, record))
            if len(self._folders) > 10000:
                self._folders.clear()
            self._folders[key] = folder
        dest = os.path.join(folder, file_name(sop_uid))
        try:
            for attempt in (1, 2):
                if folder not in self._checked:
                    os.makedirs(folder, exist_ok=True)
                    real = os.path.realpath(folder)
                    if real != self._real_root and not real.startswith(
                        self._real_root + os.sep
                    ):
                        raise OSError(f"{folder} leads outside the store")
                    if len(self._checked) > 10000:
                        self._checked.clear()
                    self._checked.add(folder)
                try:
                    return self._place(spool.name, dest)
                except FileNotFoundError:  # the folder was removed meanwhile
                    self._checked.discard(folder)
                    if attempt == 2 or not os.path.exists(spool.name):
                        raise
            raise AssertionError("unreachable")
        except OSError:
            spool.discard()
            raise

    def _place(self, src: str, dest: str) -> Placed:
        if self.duplicates == "overwrite":
            existed = os.path.exists(dest)
            os.replace(src, dest)
            return Placed(dest, "overwritten" if existed else "stored")
        stem, n = dest[: -len(".dcm")], 0
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
                candidate = f"{stem}.{n}.dcm"
                continue
            except OSError:  # no hard links here: rename if nothing is there
                if os.path.exists(candidate):
                    raise
                os.rename(src, candidate)
                return Placed(candidate, "stored" if n == 0 else "kept")
            os.unlink(src)
            return Placed(candidate, "stored" if n == 0 else "kept")


_libc_renameat2: Any = None


def _rename_noreplace(src: str, dest: str) -> bool:
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
    if (
        _libc_renameat2(
            at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dest), noreplace
        )
        == 0
    ):
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dest))
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dest))


def _same_file(a: str, b: str) -> bool:
    """True when two files hold the same bytes (apart from the meta header's
    implementation fields, which differ between senders and do not count)."""
    try:
        if os.path.getsize(a) == os.path.getsize(b) and filecmp.cmp(
            a, b, shallow=False
        ):
            return True
        return _dataset_bytes_equal(a, b)
    except OSError:
        return False


def _dataset_offset(path: str) -> int:
    """Offset of the data set in a Part 10 file (after the meta group)."""
    with open(path, "rb") as f:
        head = f.read(144)
        if len(head) < 144 or head[128:132] != b"DICM" or head[132:134] != b"\2\0":
            return -1
        (group_length,) = struct.unpack("<I", head[140:144])
        return 144 + group_length


def _dataset_bytes_equal(a: str, b: str) -> bool:
    oa, ob = _dataset_offset(a), _dataset_offset(b)
    if oa < 0 or ob < 0 or os.path.getsize(a) - oa != os.path.getsize(b) - ob:
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

    def __init__(self, db_path: Path, every: float = 0.5) -> None:
        self._db_path = db_path
        self._every = every
        self._pending: collections.deque[FileRecord | str] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name="dcmtui-store-index"
        )
        self._thread.start()

    def add(self, record: FileRecord | str) -> None:
        """Queue one record, or the path of a file to read it from (in the
        writer's thread). Thread-safe and cheap: no wake-up per record."""
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
                item = self._pending.popleft()
                if isinstance(item, str):
                    record = read_stored(item)
                    if record is None:
                        continue
                    item = record
                batch.append(item)
            if batch:
                try:
                    index.upsert(batch)
                except Exception:
                    LOGGER.exception("could not index %d received objects", len(batch))
            if stopping:
                return


def read_stored(path: str) -> FileRecord | None:
    """The index record of a stored file (None if it is gone)."""
    from dcmtui.services.fastread import read_record

    try:
        st = os.stat(path)
        return read_record(path, st.st_size, st.st_mtime_ns)
    except OSError:
        return None


def disk_usage(path: Path) -> tuple[int, int]:
    """(free, total) bytes of the file system holding ``path``."""
    usage = shutil.disk_usage(path)
    return usage.free, usage.total
