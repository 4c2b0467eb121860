"""Send files to a node (C-STORE): contexts from the files, as-is where the
node accepts the files' transfer syntax, converted where it does not and
pydicom can, a pre-flight check, progress, and resume of an interrupted send.

Files are sent without decoding: pynetdicom reads the file meta group and
streams the data set bytes from the file (``STORE_SEND_CHUNKED_DATASET``).
A file is decoded only when it must be converted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmtui.models import FileSendStatus, Node, SendProgress
from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.scu import MAX_CONTEXTS, AssociationFailed, Scu, _uid_name

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.presentation import PresentationContext

LOGGER = logging.getLogger(__name__)
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
UNCOMPRESSED = (EXPLICIT_LE, IMPLICIT_LE)
_WARNINGS = {0x0001, 0xB000, 0xB006, 0xB007}
_NO_ANSWER = "no answer: the node aborted or timed out"


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


def _walk(paths: Iterable[Path], recursive: bool) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern)):
                if child.is_file():
                    yield child
        else:
            yield path


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
    from pydicom.filereader import read_file_meta_info

    files: list[SendFile] = []
    skipped: list[FileSendStatus] = []
    seen: set[str] = set()
    named = {str(Path(p).resolve()) for p in paths}
    for path in _walk((Path(p) for p in paths), recursive):
        key = str(path.resolve())
        if key in seen:
            continue
        seen.add(key)
        try:
            stat = path.stat()
            meta = read_file_meta_info(path)
            sop_class = str(meta.MediaStorageSOPClassUID)
            sop_instance = str(meta.MediaStorageSOPInstanceUID)
            ts = str(meta.TransferSyntaxUID)
        except FileNotFoundError:
            skipped.append(FileSendStatus(key, "failed", detail="no such file"))
            continue
        except Exception as exc:  # not DICOM, damaged meta, missing UIDs
            reason = "not a DICOM file with a file meta group"
            if isinstance(exc, OSError):
                reason = f"cannot read: {exc.strerror or exc}"
            # Named on the command line: a failure. Found in a folder: skipped.
            state = "failed" if key in named else "skipped"
            skipped.append(FileSendStatus(key, state, detail=reason))
            continue
        if sop_class == "1.2.840.10008.1.3.10":  # Media Storage Directory
            skipped.append(
                FileSendStatus(key, "failed", detail="a DICOMDIR is not sent")
            )
            continue
        files.append(
            SendFile(key, stat.st_size, stat.st_mtime_ns, sop_class, sop_instance, ts)
        )
    return files, skipped


def plan_contexts(
    files: Sequence[SendFile], preferred: Sequence[str] = ()
) -> list[tuple[list[PresentationContext], list[SendFile]]]:
    """Presentation contexts for ``files``, in batches of at most 128.

    For each SOP class: one context per transfer syntax found in the files
    (so each file can go as it is), and one with the uncompressed syntaxes
    (or the node's preferred ones) to convert to when the node refuses.
    All contexts of a SOP class stay in the same batch (association).

    Returns:
        (contexts, files) per association.
    """
    from pynetdicom.presentation import build_context

    by_class: dict[str, list[SendFile]] = {}
    for item in files:
        by_class.setdefault(item.sop_class, []).append(item)
    fallback = list(preferred) or list(UNCOMPRESSED)
    batches: list[tuple[list[PresentationContext], list[SendFile]]] = []
    contexts: list[PresentationContext] = []
    batch_files: list[SendFile] = []
    for sop_class, members in by_class.items():
        natives = list(dict.fromkeys(f.transfer_syntax for f in members))
        own = [build_context(sop_class, ts) for ts in natives]
        if not set(fallback) <= set(natives):
            own.append(build_context(sop_class, fallback))
        own = own[:MAX_CONTEXTS]
        if contexts and len(contexts) + len(own) > MAX_CONTEXTS:
            batches.append((contexts, batch_files))
            contexts, batch_files = [], []
        contexts.extend(own)
        batch_files.extend(members)
    if contexts:
        batches.append((contexts, batch_files))
    return batches


def _accepted(assoc: Association) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for cx in assoc.accepted_contexts:
        out.setdefault(str(cx.abstract_syntax), set()).add(str(cx.transfer_syntax[0]))
    return out


def _decision(item: SendFile, accepted: dict[str, set[str]]) -> tuple[str, str]:
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


def _convert(path: str, source: str, target: str) -> Any:
    """Read ``path`` and re-encode it in ``target`` (uncompressed only).

    Raises:
        SendError: pydicom cannot do it (say which and why).
    """
    from pydicom import dcmread
    from pydicom.uid import UID

    if target not in UNCOMPRESSED:
        raise SendError(
            f"the node accepts this SOP class only as {_uid_name(target)}; "
            "dcmtui cannot compress to it"
        )
    ds = dcmread(path)
    if UID(source).is_compressed:
        try:
            ds.decompress()
        except Exception as exc:
            raise SendError(
                f"the node refuses {_uid_name(source)} and dcmtui cannot "
                f"decompress it here ({exc})"
            ) from exc
    target_uid = UID(target)
    ds.file_meta.TransferSyntaxUID = target_uid
    ds.set_original_encoding(target_uid.is_implicit_VR, True, ds.original_character_set)
    return ds


class SendJournal:
    """Files already sent by one send job (same node, same files), so that an
    interrupted send can resume; removed when the job finishes cleanly."""

    def __init__(self, folder: Path, node: Node, calling_ae: str, paths: Iterable[str]):
        digest = hashlib.sha256(
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


class Sender:
    """Sends files to nodes through an Scu (so every association is an event)."""

    def __init__(self, scu: Scu, journal_dir: Path) -> None:
        self.scu = scu
        self.journal_dir = journal_dir

    # -- pre-flight --------------------------------------------------------------

    def check_sync(
        self, node: Node, paths: Sequence[Path | str], recursive: bool = False
    ) -> list[FileSendStatus]:
        """Which files the node will take, as they are or converted, without
        sending: states ``as-is``, ``convert`` or ``refused``/``failed``."""
        files, out = collect(paths, recursive)
        for contexts, members in plan_contexts(files, node.transfer_syntaxes):
            try:
                with self.scu.associate(node, contexts, what="pre-flight") as (a, _):
                    accepted = _accepted(a)
            except AssociationFailed as exc:
                if "no presentation context accepted" not in exc.cause:
                    raise
                accepted = {}
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
        from pynetdicom import _config

        _config.STORE_SEND_CHUNKED_DATASET = True
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
        contexts: list[PresentationContext],
        members: list[SendFile],
        run: _Run,
        log: Any,
        stop: threading.Event,
    ) -> Iterator[SendProgress]:
        try:
            cm = self.scu.associate(node, contexts, what="C-STORE")
            assoc, assoc_id = cm.__enter__()
        except AssociationFailed as exc:
            if "no presentation context accepted" not in exc.cause:
                raise
            for item in members:
                _state, detail = _decision(item, {})
                yield run.finish(FileSendStatus(item.path, "failed", detail=detail))
            return
        ok = True
        try:
            accepted = _accepted(assoc)
            for item in members:
                if stop.is_set():
                    raise SendError("send cancelled")
                status = self._send_one(node, assoc, assoc_id, item, accepted)
                if status.state in ("sent", "converted", "warning"):
                    log.write(f"{item.path}\t{item.size}\t{item.mtime_ns}\n")
                    log.flush()
                yield run.finish(status)
                if status.detail == _NO_ANSWER or not assoc.is_established:
                    raise self.scu.aborted(node, "the C-STORE")
        except BaseException as exc:
            ok = False
            if not cm.__exit__(type(exc), exc, exc.__traceback__):
                raise
        finally:
            if ok:
                cm.__exit__(None, None, None)

    def _send_one(
        self,
        node: Node,
        assoc: Association,
        assoc_id: str,
        item: SendFile,
        accepted: dict[str, set[str]],
    ) -> FileSendStatus:
        state, target = _decision(item, accepted)
        if state == "refused":
            return FileSendStatus(item.path, "failed", detail=target)
        dataset: Any = item.path
        if state == "convert":
            try:
                dataset = _convert(item.path, item.transfer_syntax, target)
            except SendError as exc:
                return FileSendStatus(item.path, "failed", detail=str(exc))
            except Exception as exc:
                return FileSendStatus(
                    item.path, "failed", detail=f"cannot read the file: {exc}"
                )
        try:
            rsp = assoc.send_c_store(dataset)
        except (ValueError, AttributeError) as exc:
            return FileSendStatus(item.path, "failed", detail=str(exc))
        code = int(rsp.Status) if "Status" in rsp else None
        self.scu._emit(
            assoc_id, node, "c-store", status=code, nbytes=item.size, detail=item.path
        )
        if code is None:
            return FileSendStatus(item.path, "failed", detail=_NO_ANSWER)
        if code == 0:
            if state == "convert":
                return FileSendStatus(
                    item.path,
                    "converted",
                    status=0,
                    detail=f"sent as {_uid_name(target)}",
                    nbytes=item.size,
                )
            return FileSendStatus(item.path, "sent", status=0, nbytes=item.size)
        comment = str(rsp.get("ErrorComment", "") or "")
        if code in _WARNINGS:
            return FileSendStatus(
                item.path, "warning", status=code, detail=comment, nbytes=item.size
            )
        return FileSendStatus(
            item.path,
            "failed",
            status=code,
            detail=f"the node answered 0x{code:04X}"
            + (f": {comment}" if comment else ""),
        )

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
