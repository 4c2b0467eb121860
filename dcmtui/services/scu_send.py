"""Send files to a node (C-STORE): contexts from the files, as-is where the
node accepts the files' transfer syntax, converted where it does not and
pydicom can, a pre-flight check, progress, and resume of an interrupted send.

Files are sent without decoding, over the small upper layer of dimse_fast:
the meta group is read to plan the presentation contexts (a small file's
data set comes with it), and the data set goes out as its bytes. A file is
decoded only when it must be converted. One request is in flight at a time;
while the node stores it, the file before is reported and the next one read
and made ready (``Sender._store_each``).
"""

from __future__ import annotations

import dataclasses
import os
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG as stat_isreg

from dcmtui.models import FileSendStatus, Node, SendProgress
from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.dimse_fast import (
    Aborted,
    FastAssociation,
    Negotiated,
    Proposal,
    read_meta,
)
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.scu import (
    MAX_CONTEXTS,
    AssociationFailed,
    Scu,
    _uid_name,
)

try:  # the builtin module: hashlib loads OpenSSL (3 ms) for one short digest
    from _sha256 import sha256
except ImportError:  # Python 3.12 and later keep it in _sha2
    from hashlib import sha256

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from typing import Any

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
UNCOMPRESSED = (EXPLICIT_LE, IMPLICIT_LE)
_WARNINGS = {0x0001, 0xB000, 0xB006, 0xB007}
_NO_ANSWER = "no answer: the node aborted or timed out"
KEEP_BYTES = 64 * 1024 * 1024
"""How many bytes of small files' data sets ``collect`` keeps in memory."""
READ_AHEAD_BYTES = 256 * 1024
"""Data sets up to this size are read (or converted) while the node still
stores the file before: the two machines, or cores, work at once."""


class SendError(DcmtuiError):
    """Nothing to send, or a send finished with failures."""


@dataclass(frozen=True, slots=True)
class SendFile:
    """A file to send, as its meta group describes it."""

    path: str
    size: int
    mtime_ns: int
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    offset: int = 0
    """Where the data set starts in the file."""
    data: bytes | None = dataclasses.field(default=None, repr=False, compare=False)
    """The data set, read with the meta group (small files, up to
    ``KEEP_BYTES`` in all), so that sending does not read the file again."""


def _walk(paths: Iterable[str], recursive: bool) -> Iterator[str]:
    """Files named, and the files in the folders named (sorted, by folder)."""
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                yield os.path.join(folder, name)
            if not recursive:
                break


def collect(
    paths: Sequence[Path | str], recursive: bool = False
) -> tuple[list[SendFile], list[FileSendStatus]]:
    """Read the meta group of every file; skip what cannot be sent.

    Args:
        paths: Files and folders.
        recursive: Descend into sub-folders of folders.

    Returns:
        The files to send, and a status for each file skipped (with why).
    """
    files: list[SendFile] = []
    skipped: list[FileSendStatus] = []
    seen: set[str] = set()
    named = {os.path.abspath(p) for p in paths}
    kept = 0
    for key in _walk([os.path.abspath(p) for p in paths], recursive):
        if key in seen:
            continue
        seen.add(key)
        try:
            stat = os.stat(key)
            if not stat_isreg(stat.st_mode):
                continue
            meta = read_meta(key, stat.st_size if kept < KEEP_BYTES else -1)
        except FileNotFoundError:
            skipped.append(FileSendStatus(key, "failed", detail="no such file"))
            continue
        except (OSError, ValueError, struct.error) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "damaged file"
            if isinstance(exc, OSError):
                reason = f"cannot read: {exc.strerror or exc}"
            # Named on the command line: a failure. Found in a folder: skipped.
            state = "failed" if key in named else "skipped"
            skipped.append(FileSendStatus(key, state, detail=reason))
            continue
        if meta.sop_class == "1.2.840.10008.1.3.10":  # Media Storage Directory
            skipped.append(
                FileSendStatus(key, "failed", detail="a DICOMDIR is not sent")
            )
            continue
        files.append(
            SendFile(
                key,
                stat.st_size,
                stat.st_mtime_ns,
                meta.sop_class,
                meta.sop_instance,
                meta.transfer_syntax,
                meta.offset,
                meta.data,
            )
        )
        if meta.data is not None:
            kept += len(meta.data)
    return files, skipped


def plan_contexts(
    files: Sequence[SendFile], preferred: Sequence[str] = ()
) -> list[tuple[list[Proposal], list[SendFile]]]:
    """Presentation contexts for ``files``, in batches of at most 128.

    For each SOP class: one context per transfer syntax found in the files
    (so each file can go as it is), and one with the uncompressed syntaxes
    (or the node's preferred ones) to convert to when the node refuses.
    All contexts of a SOP class stay in the same batch (association).

    Returns:
        (contexts, files) per association.
    """
    by_class: dict[str, list[SendFile]] = {}
    for item in files:
        by_class.setdefault(item.sop_class, []).append(item)
    fallback = tuple(preferred) or UNCOMPRESSED
    batches: list[tuple[list[tuple[str, tuple[str, ...]]], list[SendFile]]] = []
    contexts: list[tuple[str, tuple[str, ...]]] = []
    batch_files: list[SendFile] = []
    for sop_class, members in by_class.items():
        natives = list(dict.fromkeys(f.transfer_syntax for f in members))
        own: list[tuple[str, tuple[str, ...]]] = [(sop_class, (ts,)) for ts in natives]
        if not set(fallback) <= set(natives):
            own.append((sop_class, fallback))
        own = own[:MAX_CONTEXTS]
        if contexts and len(contexts) + len(own) > MAX_CONTEXTS:
            batches.append((contexts, batch_files))
            contexts, batch_files = [], []
        contexts.extend(own)
        batch_files.extend(members)
    if contexts:
        batches.append((contexts, batch_files))
    return [
        (
            [
                Proposal(2 * i + 1, abstract, syntaxes)
                for i, (abstract, syntaxes) in enumerate(batch)
            ],
            members,
        )
        for batch, members in batches
    ]


def _accepted(contexts: Sequence[Negotiated]) -> dict[str, dict[str, int]]:
    """SOP class -> accepted transfer syntax -> context id."""
    out: dict[str, dict[str, int]] = {}
    for cx in contexts:
        if cx.result == 0:
            out.setdefault(cx.abstract_syntax, {}).setdefault(
                cx.transfer_syntax, cx.context_id
            )
    return out


def _decision(item: SendFile, accepted: dict[str, dict[str, int]]) -> tuple[str, str]:
    """("as-is" | "convert" | "refused", target transfer syntax or reason)."""
    syntaxes = accepted.get(item.sop_class)
    if not syntaxes:
        return "refused", (
            f"the node does not accept {_uid_name(item.sop_class)} "
            "(SOP class not supported)"
        )
    if item.transfer_syntax in syntaxes:
        return "as-is", item.transfer_syntax
    for target in (*UNCOMPRESSED, *sorted(syntaxes)):
        if target in syntaxes:
            return "convert", target
    return "refused", "no transfer syntax"  # pragma: no cover


def _convert(path: str, source: str, target: str) -> bytes:
    """Read ``path`` and encode its data set in ``target`` (uncompressed only).

    Raises:
        SendError: pydicom cannot do it (say which and why).
    """
    from pydicom import dcmread
    from pydicom.uid import UID
    from pynetdicom.dsutils import encode

    if target not in UNCOMPRESSED:
        raise SendError(
            f"the node accepts this SOP class only as {_uid_name(target)}; "
            "dcmtui cannot compress to it"
        )
    ds = dcmread(path)
    if UID(source).is_compressed:
        try:
            ds.decompress(generate_instance_uid=False)
        except Exception as exc:
            raise SendError(
                f"the node refuses {_uid_name(source)} and dcmtui cannot "
                f"decompress it here ({exc})"
            ) from exc
    data = encode(ds, UID(target).is_implicit_VR, True)
    if data is None:
        raise SendError(f"pydicom could not encode the file as {_uid_name(target)}")
    return data


class SendJournal:
    """Files already sent by one send job (same node, same files), so that an
    interrupted send can resume; removed when the job finishes cleanly."""

    def __init__(self, folder: Path, node: Node, calling_ae: str, paths: Iterable[str]):
        digest = sha256(
            "\n".join([node.address, calling_ae, *sorted(paths)]).encode()
        ).hexdigest()[:32]
        self.path = folder / f"{digest}.journal"

    def done(self) -> set[tuple[str, int, int]]:
        """(path, size, mtime_ns) of each file sent before."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return set()
        out: set[tuple[str, int, int]] = set()
        for line in lines:
            parts = line.rsplit("\t", 2)
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                out.add((parts[0], int(parts[1]), int(parts[2])))
        return out

    def open(self) -> Any:
        """Open for appending (one line per file sent)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("a", encoding="utf-8")

    def remove(self) -> None:
        """Forget the job (it finished)."""
        self.path.unlink(missing_ok=True)


@dataclass
class _Run:
    """A send in progress: its counters, and when it started."""

    progress: SendProgress
    started: float

    def finish(self, status: FileSendStatus) -> SendProgress:
        p = self.progress
        p.done_files += 1
        p.done_bytes += status.nbytes
        if status.state == "sent":
            p.sent += 1
        elif status.state == "converted":
            p.sent += 1
            p.converted += 1
        elif status.state == "warning":
            p.sent += 1
            p.warnings += 1
        elif status.state == "skipped":
            p.skipped += 1
        else:
            p.failed += 1
        p.last = status
        p.elapsed = time.monotonic() - self.started
        return dataclasses.replace(p)


@dataclass(slots=True)
class _Prepared:
    """One file's C-STORE, made ready by ``Sender._prepare``."""

    item: SendFile
    state: str
    """``as-is``, ``convert`` or ``refused``."""
    context_id: int
    target: str = ""
    """The transfer syntax converted to."""
    message: bytes | None = None
    """The whole request, ready to send."""
    data: bytes | None = None
    """The data set, when the request takes more than one PDU."""
    failed: FileSendStatus | None = None
    """Why nothing is sent."""


class _Lost(Exception):
    """The association was lost with ``item`` in flight."""

    def __init__(self, item: SendFile, cause: Aborted) -> None:
        super().__init__(str(cause))
        self.item = item
        self.cause = cause


def _unaccepted(members: Sequence[SendFile]) -> list[FileSendStatus]:
    """A failure for each file of a batch whose contexts the node refused."""
    return [
        FileSendStatus(item.path, "failed", detail=_decision(item, {})[1])
        for item in members
    ]


def _answered(prepared: _Prepared, code: int | None, comment: str) -> FileSendStatus:
    """The status of a file the node answered with ``code``."""
    item = prepared.item
    if code is None:
        return FileSendStatus(item.path, "failed", detail=_NO_ANSWER)
    if code == 0:
        if prepared.state == "convert":
            return FileSendStatus(
                item.path,
                "converted",
                status=0,
                detail=f"sent as {_uid_name(prepared.target)}",
                nbytes=item.size,
            )
        return FileSendStatus(item.path, "sent", status=0, nbytes=item.size)
    if code in _WARNINGS:
        return FileSendStatus(
            item.path, "warning", status=code, detail=comment, nbytes=item.size
        )
    return FileSendStatus(
        item.path,
        "failed",
        status=code,
        detail=f"the node answered 0x{code:04X}" + (f": {comment}" if comment else ""),
    )


class Sender:
    """Sends files to nodes through an Scu (so every association is an event)."""

    def __init__(self, scu: Scu, journal_dir: Path) -> None:
        self.scu = scu
        self.journal_dir = journal_dir

    def _open(
        self, node: Node, proposals: list[Proposal], what: str
    ) -> tuple[FastAssociation, str]:
        return self.scu.open_fast(node, proposals, what)

    # -- pre-flight --------------------------------------------------------------

    def check_sync(
        self, node: Node, paths: Sequence[Path | str], recursive: bool = False
    ) -> list[FileSendStatus]:
        """Which files the node will take, as they are or converted, without
        sending: states ``as-is``, ``convert`` or ``refused``/``failed``."""
        files, out = collect(paths, recursive)
        for contexts, members in plan_contexts(files, node.transfer_syntaxes):
            accepted: dict[str, dict[str, int]] = {}
            opened = self._open_batch(node, contexts, "pre-flight")
            if opened is not None:
                assoc, assoc_id = opened
                with self._held(node, assoc, assoc_id, "stopped"):
                    accepted = _accepted(assoc.contexts)
            for item in members:
                state, detail = _decision(item, accepted)
                if state == "convert":
                    detail = f"will be converted to {_uid_name(detail)}"
                elif state == "as-is":
                    detail = f"accepted as {_uid_name(detail)}"
                out.append(FileSendStatus(item.path, state, detail=detail))
        return out

    async def check(
        self, node: Node, paths: Sequence[Path | str], recursive: bool = False
    ) -> list[FileSendStatus]:
        """Async ``check_sync``."""
        import asyncio

        return await asyncio.to_thread(self.check_sync, node, paths, recursive)

    # -- send --------------------------------------------------------------------

    def send_iter(
        self,
        node: Node,
        paths: Sequence[Path | str],
        *,
        recursive: bool = False,
        resume: bool = True,
        stop: threading.Event | None = None,
    ) -> Iterator[SendProgress]:
        """Send (blocking); yield the progress after each file.

        Raises:
            AssociationFailed: The node could not be reached, or aborted.
            SendError: There was nothing to send.
        """
        stop = stop or threading.Event()
        files, skipped = collect(paths, recursive)
        if not files and not skipped:
            raise SendError("no files to send")
        journal = SendJournal(
            self.journal_dir, node, self.scu.calling_for(node), [f.path for f in files]
        )
        done_before = journal.done() if resume else set()
        run = _Run(
            SendProgress(
                total_files=len(files) + len(skipped),
                total_bytes=sum(f.size for f in files),
            ),
            time.monotonic(),
        )
        yield dataclasses.replace(run.progress)
        for status in skipped:
            yield run.finish(status)
        todo: list[SendFile] = []
        for item in files:
            if (item.path, item.size, item.mtime_ns) in done_before:
                yield run.finish(
                    FileSendStatus(
                        item.path,
                        "skipped",
                        detail="sent before (resumed)",
                        nbytes=item.size,
                    )
                )
            else:
                todo.append(item)
        with journal.open() as log:
            for contexts, members in plan_contexts(todo, node.transfer_syntaxes):
                yield from self._send_batch(node, contexts, members, run, log, stop)
        p = run.progress
        p.done = True
        p.elapsed = time.monotonic() - run.started
        if p.failed == 0:
            journal.remove()
        yield dataclasses.replace(p)

    def _send_batch(
        self,
        node: Node,
        contexts: list[Proposal],
        members: list[SendFile],
        run: _Run,
        log: Any,
        stop: threading.Event,
    ) -> Iterator[SendProgress]:
        opened = self._open_batch(node, contexts, "C-STORE")
        if opened is None:
            for status in _unaccepted(members):
                yield run.finish(status)
            return
        assoc, assoc_id = opened
        with self._held(node, assoc, assoc_id, "cancelled"):
            accepted = _accepted(assoc.contexts)
            count = 0
            try:
                for item, status in self._store_each(
                    node, assoc, assoc_id, members, accepted, stop.is_set
                ):
                    count += 1
                    if status.state in ("sent", "converted", "warning"):
                        log.write(f"{item.path}\t{item.size}\t{item.mtime_ns}\n")
                        log.flush()
                    yield run.finish(status)
            except _Lost as lost:
                yield run.finish(
                    FileSendStatus(lost.item.path, "failed", detail=_NO_ANSWER)
                )
                raise self.scu.aborted(node, "the C-STORE") from lost.cause
            if count < len(members):
                raise SendError("send cancelled")

    def _open_batch(
        self, node: Node, contexts: list[Proposal], what: str
    ) -> tuple[FastAssociation, str] | None:
        """Open the association of one batch; None when the node accepts none
        of its presentation contexts (each file then fails: ``_unaccepted``).

        Raises:
            AssociationFailed: Not connected, rejected, or aborted.
        """
        try:
            return self._open(node, contexts, what)
        except AssociationFailed as exc:
            if "no presentation context accepted" not in exc.cause:
                raise
            return None

    @contextmanager
    def _held(
        self, node: Node, assoc: FastAssociation, assoc_id: str, stopped: str
    ) -> Iterator[None]:
        """Release ``assoc`` after the block; abort it on any exception (a
        consumer that stops a generator too), with why in the event stream
        (``stopped`` when the exception says nothing)."""
        try:
            yield
        except BaseException as exc:
            assoc.abort()
            detail = exc.cause if isinstance(exc, AssociationFailed) else str(exc)
            self.scu._emit(assoc_id, node, "aborted", detail=detail or stopped)
            raise
        assoc.release()
        self.scu._emit(assoc_id, node, "released")

    def _store_each(
        self,
        node: Node,
        assoc: FastAssociation,
        assoc_id: str,
        members: Sequence[SendFile],
        accepted: dict[str, dict[str, int]],
        stop: Callable[[], bool],
    ) -> Iterator[tuple[SendFile, FileSendStatus]]:
        """Send ``members`` on ``assoc`` in order; yield each with its status.
        Stops early, with nothing in flight, when ``stop()`` turns true.

        One request is in flight at a time, as DICOM asks without an
        asynchronous operations window, but the waiting is not wasted: while
        the node stores one file, the file before is reported (so the
        consumer's work runs then too) and the next is read, or converted,
        and its request made ready.

        Raises:
            _Lost: The association was lost with ``item`` in flight.
        """
        ahead: _Prepared | None = None
        answered: tuple[_Prepared, int | None, str] | None = None
        for index, item in enumerate(members):
            if stop():
                break
            current = ahead or self._prepare(assoc, item, accepted)
            ahead = None
            if current.failed is not None:
                if answered is not None:
                    yield self._report(node, assoc_id, *answered)
                    answered = None
                yield item, current.failed
                continue
            lost: Aborted | None = None
            try:
                self._request(assoc, current)
            except Aborted as exc:
                lost = exc
            # the file before is reported while the node stores this one
            if answered is not None:
                yield self._report(node, assoc_id, *answered)
                answered = None
            if lost is not None:
                raise _Lost(item, lost) from lost
            if index + 1 < len(members) and not stop():
                following = members[index + 1]
                if following.size - following.offset <= READ_AHEAD_BYTES:
                    ahead = self._prepare(assoc, following, accepted)
            try:
                code, comment = assoc.store_response()
            except Aborted as exc:
                raise _Lost(item, exc) from exc
            answered = (current, code, comment)
        if answered is not None:
            yield self._report(node, assoc_id, *answered)

    def _report(
        self,
        node: Node,
        assoc_id: str,
        prepared: _Prepared,
        code: int | None,
        comment: str,
    ) -> tuple[SendFile, FileSendStatus]:
        """An answered C-STORE: its event, and the file with its status."""
        item = prepared.item
        self.scu._emit(
            assoc_id, node, "c-store", status=code, nbytes=item.size, detail=item.path
        )
        return item, _answered(prepared, code, comment)

    def _prepare(
        self,
        assoc: FastAssociation,
        item: SendFile,
        accepted: dict[str, dict[str, int]],
    ) -> _Prepared:
        """What to send for ``item``: a whole request ready to go where it is
        small, else what ``_request`` streams; or why nothing is sent."""
        state, target = _decision(item, accepted)
        if state == "refused":
            return _Prepared(
                item,
                state,
                0,
                failed=FileSendStatus(item.path, "failed", detail=target),
            )
        prepared = _Prepared(item, state, accepted[item.sop_class][target])
        data = item.data
        if state == "convert":
            try:
                data = _convert(item.path, item.transfer_syntax, target)
            except SendError as exc:
                prepared.failed = FileSendStatus(item.path, "failed", detail=str(exc))
                return prepared
            except Exception as exc:
                prepared.failed = FileSendStatus(
                    item.path, "failed", detail=f"cannot read the file: {exc}"
                )
                return prepared
            prepared.target = target
        elif data is None and item.size - item.offset <= READ_AHEAD_BYTES:
            try:
                with open(item.path, "rb") as handle:
                    handle.seek(item.offset)
                    data = handle.read()
            except OSError as exc:
                prepared.failed = FileSendStatus(
                    item.path,
                    "failed",
                    detail=f"cannot read the file: {exc.strerror or exc}",
                )
                return prepared
        if data is not None:
            prepared.message = assoc.store_message(
                prepared.context_id, item.sop_class, item.sop_instance, data
            )
            if prepared.message is None:
                prepared.data = data  # more than one PDU: sent in parts
        return prepared

    @staticmethod
    def _request(assoc: FastAssociation, prepared: _Prepared) -> None:
        """Send the request ``prepared`` holds (no waiting for the answer).

        Raises:
            Aborted: The connection was lost, or the file could not be read.
        """
        item = prepared.item
        try:
            if prepared.message is not None:
                assoc.send_message(prepared.message)
            elif prepared.data is not None:
                assoc.store_request(
                    prepared.context_id,
                    item.sop_class,
                    item.sop_instance,
                    data=prepared.data,
                )
            else:
                assoc.store_request(
                    prepared.context_id,
                    item.sop_class,
                    item.sop_instance,
                    path=item.path,
                    offset=item.offset,
                )
        except OSError as exc:
            if prepared.message is not None or prepared.data is not None:
                raise Aborted(f"the connection was lost: {exc}") from exc
            raise Aborted(f"cannot read {item.path}: {exc}") from exc

    def send_files(
        self,
        node: Node,
        files: Sequence[SendFile],
        what: str,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[tuple[SendFile, FileSendStatus]]:
        """Send files read by ``collect``, without a journal, on as few
        associations as their contexts need (a C-MOVE's sub-operations);
        yield each file with its status. When ``stop()`` turns true, nothing
        more is sent and the association is released.

        Raises:
            AssociationFailed: The node could not be reached, rejected us, or
                aborted (the files not yet yielded were not sent).
        """
        for contexts, members in plan_contexts(files, node.transfer_syntaxes):
            if stop():
                return
            opened = self._open_batch(node, contexts, what)
            if opened is None:
                yield from zip(members, _unaccepted(members), strict=True)
                continue
            assoc, assoc_id = opened
            with self._held(node, assoc, assoc_id, "stopped"):
                accepted = _accepted(assoc.contexts)
                try:
                    yield from self._store_each(
                        node, assoc, assoc_id, members, accepted, stop
                    )
                except _Lost as lost:
                    raise self.scu.aborted(node, what) from lost.cause

    async def send(
        self,
        node: Node,
        paths: Sequence[Path | str],
        *,
        recursive: bool = False,
        resume: bool = True,
    ) -> AsyncIterator[SendProgress]:
        """Send files; yield progress after each one (the last has ``done``).

        Cancelling the consumer stops after the file in flight and aborts the
        association; what arrived is in the journal, for a resume.
        """
        stop = threading.Event()
        try:
            async for progress in iterate_in_thread(
                lambda: self.send_iter(
                    node, paths, recursive=recursive, resume=resume, stop=stop
                )
            ):
                yield progress
        finally:
            stop.set()


def journal_folder(data_dir: Path) -> Path:
    """Where send journals live."""
    return data_dir / "send-journal"


def human_rate(progress: SendProgress) -> str:
    """``12/40 files, 3.1/9.8 MB, 25.0 MB/s, 0:03 left``."""
    left = progress.seconds_left
    eta = "" if left is None else f", {int(left) // 60}:{int(left) % 60:02d} left"
    return (
        f"{progress.done_files}/{progress.total_files} files, "
        f"{progress.done_bytes / 1e6:.1f}/{progress.total_bytes / 1e6:.1f} MB, "
        f"{progress.mb_per_s:.1f} MB/s{eta}"
    )
