"""Query/Retrieve as a client: C-FIND, C-MOVE and C-GET as async iterators.

Each yields a model per response as it arrives (``FindResult`` per match,
``RetrieveProgress`` per sub-operation update). Stopping the iteration sends
a C-CANCEL and, if the node does not end the operation soon, aborts the
association, so nothing is left half open.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmtui.models import FindResult, Node, RetrieveProgress
from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.scu import AssociationFailed, Scu

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association

LOGGER = logging.getLogger(__name__)
LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
ROOTS = ("patient", "study", "worklist")

_FIND = {
    "patient": "1.2.840.10008.5.1.4.1.2.1.1",
    "study": "1.2.840.10008.5.1.4.1.2.2.1",
    "worklist": "1.2.840.10008.5.1.4.31",
}
_MOVE = {
    "patient": "1.2.840.10008.5.1.4.1.2.1.2",
    "study": "1.2.840.10008.5.1.4.1.2.2.2",
}
_GET = {
    "patient": "1.2.840.10008.5.1.4.1.2.1.3",
    "study": "1.2.840.10008.5.1.4.1.2.2.3",
}

DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "NumberOfPatientRelatedStudies",
    ),
    "STUDY": (
        "PatientName",
        "PatientID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "StudyDescription",
        "StudyInstanceUID",
        "NumberOfStudyRelatedInstances",
    ),
    "SERIES": (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
    ),
    "IMAGE": (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    ),
    "WORKLIST": (
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "ScheduledProcedureStepStartDate",
        "Modality",
        "ScheduledStationAETitle",
        "ScheduledProcedureStepDescription",
        "RequestedProcedureID",
        "StudyInstanceUID",
    ),
}
SPS_KEYS = frozenset(
    {
        "Modality",
        "ScheduledStationAETitle",
        "ScheduledStationName",
        "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartTime",
        "ScheduledPerformingPhysicianName",
        "ScheduledProcedureStepDescription",
        "ScheduledProcedureStepID",
        "ScheduledProcedureStepLocation",
    }
)
"""Worklist keys that live in the Scheduled Procedure Step Sequence item."""
UNIQUE_KEY = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}

# Status codes of C-MOVE/C-GET failures, with the words and the fix.
_RETRIEVE_FAILURES: dict[int, tuple[str, str]] = {
    0xA801: (
        "C-MOVE destination unknown (0xA801): the node has no entry for "
        "the AE title {dest}",
        "Add {dest} with its host and port to the node's list of known "
        "destinations (its AE table), or choose a destination it knows",
    ),
    0xA701: (
        "out of resources: the node could not count the matches (0xA701)",
        "Narrow the query, or try later",
    ),
    0xA702: (
        "out of resources: the node could not start the sub-operations (0xA702)",
        "Check the node's log; for C-GET, check that it may send the objects to us",
    ),
    0xA900: (
        "the identifier does not match the SOP class (0xA900)",
        "Check the level and the unique keys of the request",
    ),
    0xC000: ("the node is unable to process the request (0xC000)", "Check its log"),
}


class QueryError(DcmtuiError):
    """A matching key could not be understood."""


@dataclass
class _Live:
    """What a running operation needs to be cancelled from another thread."""

    assoc: Association | None = None
    msg_id: int = 1
    context_id: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held to queue a C-CANCEL, and to end :meth:`running`: a C-CANCEL never
    follows the release request (pynetdicom's DUL thread fails on a P-DATA
    after A-RELEASE-RQ, and the release then waits for its timeout)."""

    @contextmanager
    def running(self, assoc: Association) -> Iterator[None]:
        """While the operation runs on ``assoc``, it can be cancelled."""
        with self.lock:
            self.assoc = assoc
        try:
            yield
        finally:
            with self.lock:
                self.assoc = None  # the release comes next

    def cancel(self, grace: float = 5.0) -> None:
        """C-CANCEL, then abort if the node does not end the operation."""
        self.stop.set()
        with self.lock:
            assoc = self.assoc
            if assoc is None or self.finished.is_set():
                return
            try:
                if assoc.is_established:
                    assoc.send_c_cancel(self.msg_id, self.context_id)
            except Exception:
                LOGGER.exception("C-CANCEL failed")
        if not self.finished.wait(grace) and assoc.is_established:
            assoc.abort()


def parse_key(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` or ``KEY`` (a keyword, ``gggg,eeee`` or ``(gggg,eeee)``).

    Raises:
        QueryError: Unknown keyword or malformed tag.
    """
    key, _, value = text.partition("=")
    key = key.strip()
    tag_text = key.strip("()")
    if re.fullmatch(r"[0-9A-Fa-f]{4},[0-9A-Fa-f]{4}", tag_text):
        return tag_text.upper(), value
    from pydicom.datadict import tag_for_keyword

    if tag_for_keyword(key) is None:
        raise QueryError(
            f"unknown key {key!r}: use a DICOM keyword such as PatientName, "
            "or a tag such as 0010,0010"
        )
    return key, value


def build_identifier(
    level: str,
    keys: Sequence[tuple[str, str]],
    root: str = "study",
    *,
    return_keys: bool = True,
) -> Dataset:
    """The C-FIND/C-MOVE/C-GET identifier: the user's keys, the level, and
    (for C-FIND, ``return_keys``) the default return keys of the level, left
    empty to be returned."""
    from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
    from pydicom.dataset import Dataset
    from pydicom.tag import Tag

    level = level.upper()
    if level not in LEVELS and root != "worklist":
        raise QueryError(f"level {level!r} must be one of {', '.join(LEVELS)}")
    ds = Dataset()
    if root != "worklist":
        ds.QueryRetrieveLevel = level
    defaults = DEFAULT_KEYS["WORKLIST" if root == "worklist" else level]
    if not return_keys:  # C-MOVE/C-GET: the unique keys of this level and above
        order = LEVELS[: LEVELS.index(level) + 1] if level in LEVELS else ()
        defaults = tuple(
            UNIQUE_KEY[lv] for lv in order if lv != "PATIENT" or root == "patient"
        )
    given = {k for k, _ in keys}
    for keyword in defaults:
        if keyword not in given:
            setattr(ds, keyword, None)
    target = ds
    if root == "worklist":
        sps = Dataset()
        for keyword in defaults:
            if keyword in SPS_KEYS:
                if keyword in ds:
                    delattr(ds, keyword)
                setattr(sps, keyword, None)
        ds.ScheduledProcedureStepSequence = [sps]
    for key, value in keys:
        target = ds
        if root == "worklist" and key in SPS_KEYS:
            target = ds.ScheduledProcedureStepSequence[0]
        if "," in key:
            tag = Tag(int(key[:4], 16), int(key[5:], 16))
            keyword = keyword_for_tag(tag)
        else:
            tag = Tag(tag_for_keyword(key) or 0)
            keyword = key
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = "LO"
        if vr == "SQ":
            if tag not in target:
                target.add_new(tag, vr, [Dataset()] if not value else [])
            continue
        if keyword:
            setattr(target, keyword, value or None)
        else:
            target.add_new(tag, vr, value or None)
    return ds


def _text(ds: Dataset) -> dict[str, str]:
    from pydicom.datadict import keyword_for_tag

    out: dict[str, str] = {}
    for elem in ds:
        name = (
            elem.keyword
            or keyword_for_tag(elem.tag)
            or (f"{elem.tag.group:04X},{elem.tag.element:04X}")
        )
        if elem.VR == "SQ":
            out[name] = f"({len(elem.value)} items)"
            if len(elem.value) == 1:  # one item (a worklist step): its values too
                for key, value in _text(elem.value[0]).items():
                    out.setdefault(key, value)
        elif elem.value is None:
            out[name] = ""
        elif elem.VM > 1:
            out[name] = "\\".join(str(v) for v in elem.value)
        elif isinstance(elem.value, bytes):
            out[name] = f"({len(elem.value)} bytes)"
        else:
            out[name] = str(elem.value)
    return out


def _category(status: int) -> str:
    if status in (0xFF00, 0xFF01):
        return "pending"
    if status == 0:
        return "success"
    if status == 0xFE00:
        return "cancel"
    if status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        return "warning"
    return "failure"


def _safe_name(uid: str) -> str:
    if re.fullmatch(r"[0-9]+(\.[0-9]+)*", uid) and len(uid) <= 64:
        return uid
    return hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:40]


class Retriever:
    """C-FIND, C-MOVE and C-GET through an Scu (events and failure words)."""

    def __init__(self, scu: Scu) -> None:
        self.scu = scu

    # -- C-FIND --------------------------------------------------------------

    async def find(
        self,
        node: Node,
        level: str,
        keys: Sequence[tuple[str, str]],
        *,
        root: str = "study",
    ) -> AsyncGenerator[FindResult, None]:
        """Yield each match as it arrives.

        Raises:
            AssociationFailed: Association failed, or the node answered with
                a failure status (words and fix in the message).
            QueryError: A key could not be understood.
        """
        identifier = build_identifier(level, keys, root)
        live = _Live()
        async for item in self._run(
            live, lambda: self._find_iter(node, level, identifier, root, live)
        ):
            yield item

    def _find_iter(
        self, node: Node, level: str, identifier: Dataset, root: str, live: _Live
    ) -> Iterator[FindResult]:
        from pynetdicom.presentation import build_context

        model = _FIND[root]
        level_name = "WORKLIST" if root == "worklist" else level.upper()
        with (
            self.scu.associate(node, [build_context(model)], what="C-FIND") as (
                assoc,
                assoc_id,
            ),
            live.running(assoc),
        ):
            live.context_id = assoc.accepted_contexts[0].context_id
            matches = 0
            final: int | None = None
            for status, ds in assoc.send_c_find(identifier, model, msg_id=live.msg_id):
                if "Status" not in status:
                    raise self.scu.aborted(node, "the C-FIND")
                code = int(status.Status)
                if _category(code) == "pending":
                    if ds is not None and not live.stop.is_set():
                        matches += 1
                        yield FindResult(level=level_name, values=_text(ds))
                    continue
                final = code
            self.scu._emit(
                assoc_id, node, "c-find", status=final, detail=f"{matches} matches"
            )
            if final is not None and _category(final) == "failure":
                comment = str(status.get("ErrorComment", "") or "")
                raise AssociationFailed(
                    node,
                    f"C-FIND failed with status 0x{final:04X}"
                    + (f" ({comment})" if comment else ""),
                    "Check the keys and the level; the node may not support them",
                    status=final,
                )

    # -- C-MOVE --------------------------------------------------------------

    async def move(
        self,
        node: Node,
        level: str,
        keys: Sequence[tuple[str, str]],
        destination: str,
        *,
        root: str = "study",
    ) -> AsyncIterator[RetrieveProgress]:
        """C-MOVE to ``destination``; yield the sub-operation counters."""
        if root not in _MOVE:
            raise QueryError("C-MOVE works with the patient or study root only")
        identifier = build_identifier(level, keys, root, return_keys=False)
        live = _Live()
        async for item in self._run(
            live,
            lambda: self._retrieve_iter(
                node, identifier, root, live, destination=destination
            ),
        ):
            yield item

    # -- C-GET ---------------------------------------------------------------

    async def get(
        self,
        node: Node,
        level: str,
        keys: Sequence[tuple[str, str]],
        output: Path,
        *,
        root: str = "study",
        on_file: Callable[[Path], None] | None = None,
    ) -> AsyncIterator[RetrieveProgress]:
        """C-GET into ``output``; yield the counters and files received."""
        if root not in _GET:
            raise QueryError("C-GET works with the patient or study root only")
        identifier = build_identifier(level, keys, root, return_keys=False)
        live = _Live()
        async for item in self._run(
            live,
            lambda: self._retrieve_iter(
                node, identifier, root, live, output=output, on_file=on_file
            ),
        ):
            yield item

    def _retrieve_iter(
        self,
        node: Node,
        identifier: Dataset,
        root: str,
        live: _Live,
        *,
        destination: str = "",
        output: Path | None = None,
        on_file: Callable[[Path], None] | None = None,
    ) -> Iterator[RetrieveProgress]:
        from pynetdicom import evt
        from pynetdicom.presentation import (
            StoragePresentationContexts,
            build_context,
            build_role,
        )

        is_get = output is not None
        model = _GET[root] if is_get else _MOVE[root]
        what = "C-GET" if is_get else "C-MOVE"
        contexts = [build_context(model)]
        roles: list[Any] = []
        handlers: list[tuple[Any, Callable[..., Any]]] = []
        received: list[str] = []
        assoc_ids: list[str] = []  # set once associated (on_store needs it)
        if is_get:
            assert output is not None
            output.mkdir(parents=True, exist_ok=True)
            for cx in StoragePresentationContexts[:127]:
                uid = str(cx.abstract_syntax)
                contexts.append(build_context(uid))
                roles.append(build_role(uid, scp_role=True))

            def on_store(event: Any) -> int:
                try:
                    path = _write_received(event, output)
                except Exception:
                    LOGGER.exception("C-GET: cannot write a received object")
                    return 0xA700
                received.append(str(path))
                if assoc_ids:  # the object shows on the association's row
                    try:
                        size = path.stat().st_size
                    except OSError:
                        size = 0
                    self.scu._emit(
                        assoc_ids[0],
                        node,
                        "c-store",
                        status=0,
                        nbytes=size,
                        detail=f"received {path.name}",
                    )
                if on_file is not None:
                    on_file(path)
                return 0x0000

            handlers.append((evt.EVT_C_STORE, on_store))
        with (
            self.scu.associate(
                node, contexts, ext_neg=roles, evt_handlers=handlers, what=what
            ) as (assoc, assoc_id),
            live.running(assoc),
        ):
            assoc_ids.append(assoc_id)
            main_cx = (
                next(
                    cx for cx in assoc.accepted_contexts if cx.abstract_syntax == model
                )
                if any(cx.abstract_syntax == model for cx in assoc.accepted_contexts)
                else None
            )
            if main_cx is None:
                raise AssociationFailed(
                    node,
                    f"the node does not support {what} with the {root} root model",
                    "Try the other root model, or the other retrieve method",
                )
            live.context_id = main_cx.context_id
            if is_get and not any(
                cx.as_scp
                for cx in assoc.accepted_contexts
                if cx.abstract_syntax != model
            ):
                raise AssociationFailed(
                    node,
                    "C-GET storage role refused: the node did not agree that we "
                    "take the storage SCP role, so it cannot send us the objects",
                    "Use C-MOVE for this node (retrieve = C-MOVE), or configure "
                    "it to accept SCP/SCU role selection for C-GET",
                )
            if is_get:
                responses = assoc.send_c_get(identifier, model, msg_id=live.msg_id)
            else:
                responses = assoc.send_c_move(
                    identifier, destination, model, msg_id=live.msg_id
                )
            last: RetrieveProgress | None = None
            comment = ""
            for status, _ds in responses:
                if "Status" not in status:
                    raise self.scu.aborted(node, f"the {what}")
                code = int(status.Status)
                progress = RetrieveProgress(
                    remaining=status.get("NumberOfRemainingSuboperations"),
                    completed=int(status.get("NumberOfCompletedSuboperations") or 0),
                    failed=int(status.get("NumberOfFailedSuboperations") or 0),
                    warning=int(status.get("NumberOfWarningSuboperations") or 0),
                    status=code,
                    done=_category(code) != "pending",
                    received=tuple(received),
                )
                last = progress
                if progress.done:
                    comment = str(status.get("ErrorComment", "") or "").strip()
                    break
                yield progress
            if last is None:
                raise self.scu.aborted(node, f"the {what}")
            self.scu._emit(
                assoc_id,
                node,
                what.lower(),
                status=last.status,
                detail=(
                    f"{last.completed} completed, {last.failed} failed, "
                    f"{last.warning} warning"
                ),
            )
            category = _category(last.status)
            if category == "failure":
                code = last.status
                lowered = comment.lower()
                if (
                    not is_get
                    and "unknown" in lowered
                    and any(w in lowered for w in ("modality", "destination", "aet"))
                ):
                    code = 0xA801  # Orthanc says it with 0xC000 and a comment
                if code == 0xC000 and not is_get:
                    cause, fix = (
                        "the node is unable to process the C-MOVE (0xC000)",
                        "Check its log. Often the node does not know the "
                        "destination: add {dest} with its host and port to the "
                        "node's known destinations (Orthanc: DicomModalities)",
                    )
                else:
                    cause, fix = _RETRIEVE_FAILURES.get(
                        code,
                        (
                            f"{what} failed with status 0x{last.status:04X}",
                            "Check the node's log",
                        ),
                    )
                dest = destination or "?"
                cause = cause.format(dest=dest)
                if code != last.status:
                    cause = cause.replace("(0xA801)", f"(0x{last.status:04X})")
                if comment:
                    cause += f" (the node says: {comment})"
                raise AssociationFailed(
                    node, cause, fix.format(dest=dest), status=last.status
                )
            detail = ""
            if category == "warning" or last.failed:
                detail = f"{last.failed} of the sub-operations failed"
            elif category == "cancel":
                detail = "cancelled"
            yield RetrieveProgress(
                remaining=0 if category == "success" else last.remaining,
                completed=last.completed,
                failed=last.failed,
                warning=last.warning,
                status=last.status,
                done=True,
                received=tuple(received),
                detail=detail,
            )

    # -- plumbing ------------------------------------------------------------

    async def _run(
        self, live: _Live, make: Callable[[], Iterator[Any]]
    ) -> AsyncIterator[Any]:
        def wrapped() -> Iterator[Any]:
            try:
                yield from make()
            finally:
                live.finished.set()

        try:
            async for item in iterate_in_thread(wrapped):
                yield item
        finally:
            if not live.finished.is_set():
                threading.Thread(
                    target=live.cancel, daemon=True, name="dcmtui-cancel"
                ).start()


def _write_received(event: Any, folder: Path) -> Path:
    """Write a C-STORE received during C-GET as a file, atomically."""
    data = event.encoded_dataset(include_meta=True)
    sop = str(event.request.AffectedSOPInstanceUID or "")
    target = folder / f"{_safe_name(sop)}.dcm"
    fd, tmp = tempfile.mkstemp(prefix=".get-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
