"""Query/retrieve and modality worklist on the receiver's port (dcmqrscp,
wlmscpfs).

An extension of the built-in receiver (services.scp.StoreScp): it adds the
presentation contexts of C-FIND (patient and study root, modality worklist),
C-MOVE and C-GET to what the receiver accepts, and answers them from the
store's SQLite index (services.qr_match) and the worklist folder
(services.worklist). Access follows the ``[qr]`` settings: each service can be
off (its contexts are then not accepted, as on a server without it), and by
default only calling AE titles of the address book may use them (others get
their query/retrieve contexts refused, and a log line and an association event
say which AE title to add). C-MOVE sends only to address-book nodes; an unknown
destination gets 0xA801 and a log line naming the AE title to add. C-GET sends
on the same association, with the SCP/SCU role the requestor proposed for each
storage SOP class. Objects are sent from their files without decoding.
C-CANCEL stops matches and sub-operations. A requestor that negotiates combined
date-time matching (SOP class extended negotiation) gets it.

Speed (benchmarks/bench_qr.py against dcmqrscp): on a plain TCP association
the C-FIND answers are encoded from the index and written by us, and a C-GET
runs entirely on the association's socket (services.qr_fast); a C-MOVE's
sub-association is made by the small sender of services.scu_send. For C-GET
and C-MOVE we send every response ourselves and drop the final one pynetdicom
would send (the handler yields it no sub-operations).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmtui.config import QrSettings
from dcmtui.models import Node
from dcmtui.services.qr_fast import (
    FastGet,
    FastResponses,
    LaneClosed,
    PendingGet,
    get_response_command,
    pending_find_command,
    uid_list,
)
from dcmtui.services.qr_match import Instance, QueryError, StoreQuery
from dcmtui.services.worklist import Worklist

if TYPE_CHECKING:
    from dcmtui.services.scp import StoreScp

LOGGER = logging.getLogger(__name__)

FIND = {
    "1.2.840.10008.5.1.4.1.2.1.1": "patient",
    "1.2.840.10008.5.1.4.1.2.2.1": "study",
}
MOVE = {
    "1.2.840.10008.5.1.4.1.2.1.2": "patient",
    "1.2.840.10008.5.1.4.1.2.2.2": "study",
}
GET = {
    "1.2.840.10008.5.1.4.1.2.1.3": "patient",
    "1.2.840.10008.5.1.4.1.2.2.3": "study",
}
WORKLIST = "1.2.840.10008.5.1.4.31"
_SERVICES = {
    **{uid: "find" for uid in FIND},
    **{uid: "move" for uid in MOVE},
    **{uid: "get" for uid in GET},
    WORKLIST: "worklist",
}
_KIND = {"find": "c-find", "move": "c-move", "get": "c-get", "worklist": "c-find"}
_IDENTIFIER_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
)
PENDING = 0xFF00
_BATCH_BYTES = 32768
"""Pending C-FIND responses written together (then C-CANCEL is looked at)."""
CANCEL = 0xFE00
SUCCESS = 0x0000
MOVE_DESTINATION_UNKNOWN = 0xA801
NOT_AUTHORISED = 0x0124
UNABLE_TO_PROCESS = 0xC001
_STORE_WARNINGS = (0x0001, 0xB000, 0xB006, 0xB007)


def extensions_for(scp: StoreScp) -> list[Any]:
    """The extensions the receiver gets by default: query/retrieve and worklist."""
    return [QrService(scp)]


def _status(code: int, comment: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


def _ae(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip()


def describe(identifier: Any) -> str:
    """The non-empty keys of a query, for the association log."""
    parts = []
    level = ""
    for elem in identifier:
        if elem.keyword == "QueryRetrieveLevel":
            level = str(elem.value)
            continue
        if elem.VR == "SQ" or elem.tag.group in (0x0000, 0x0002):
            continue
        value = str(elem.value if elem.value is not None else "")
        if value and elem.keyword != "SpecificCharacterSet":
            parts.append(f"{elem.keyword or elem.tag}={value}")
    keys = " ".join(parts) or "all"
    return f"{level} {keys}".strip()


class _Cancelled:
    """Whether the peer sent C-CANCEL; sticky (pynetdicom forgets it once read).
    During a fast C-GET the cancel is read by the lane."""

    def __init__(self, event: Any, lane: FastGet | None = None) -> None:
        self._event = event
        self._lane = lane
        self._seen = False

    def __call__(self) -> bool:
        if not self._seen and (
            self._event.is_cancelled or (self._lane and self._lane.cancel_seen)
        ):
            self._seen = True
        return self._seen


@dataclass
class _Counts:
    """Sub-operations of a retrieve: completed and failed."""

    completed: int = 0
    failed: int = 0
    warning: int = 0
    nbytes: int = 0

    def summary(self, what: str, status: int, total: int, started: float) -> str:
        """The retrieve's line for the Associations screen and the log."""
        if status == CANCEL:
            return f"{what}: cancelled by the peer after {self.completed} of {total}"
        seconds = time.monotonic() - started
        return (
            f"{what}: {self.completed} sent, {self.failed} failed, "
            f"{self.warning} warnings in {seconds:.1f} s"
        )


class QrService:
    """C-FIND / C-MOVE / C-GET / worklist handlers for one receiver."""

    def __init__(self, scp: StoreScp) -> None:
        self.scp = scp
        self.settings = scp.settings
        self.config: QrSettings = self.settings.qr
        self.query = StoreQuery(self.settings.index_path, scp.store.root, scp.ae_title)
        folder = self.config.worklist_dir
        self.worklist = Worklist(
            Path(folder).expanduser() if folder else self.settings.data_dir / "worklist"
        )
        self._lock = threading.Lock()
        self._used: int | None = None

    # --- the hook interface of StoreScp -----------------------------------

    def handlers(self) -> list[tuple[Any, Any]]:
        """pynetdicom event handlers to bind on the receiver's server."""
        from pynetdicom import evt

        return [
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_SOP_EXTENDED, self._on_extended),
        ]

    def _on_extended(self, event: Any) -> dict[str, bytes]:
        """SOP class extended negotiation (PS3.4 C.5.1.1.1): of the C-FIND
        options we support combined date-time matching (byte 2); every other
        byte asked for is answered 0 (not supported)."""
        answers: dict[str, bytes] = {}
        combined: set[str] = set()
        try:
            for uid, info in (event.app_info or {}).items():
                uid, info = str(uid), bytes(info or b"")
                if uid not in FIND or not info:
                    continue
                answer = bytearray(len(info))
                if len(info) > 1 and info[1] == 1:
                    answer[1] = 1
                    combined.add(uid)
                answers[uid] = bytes(answer)
            event.assoc.dcmtui_combined_datetime = combined
        except Exception:
            LOGGER.exception("query/retrieve: extended negotiation failed")
            return {}
        return answers

    def enabled(self, service: str) -> bool:
        """True when ``service`` (find, move, get, worklist) is on."""
        return bool(getattr(self.config, service))

    def contexts(self, assoc: Any, calling: str, supported: list[Any]) -> list[Any]:
        """Add the query/retrieve contexts this peer may use to ``supported``.

        Called by the receiver for each association request, after its own
        choice of storage contexts.
        """
        from pynetdicom.presentation import build_context

        wanted: dict[str, list[str]] = {}
        refused: set[str] = set()
        allowed: bool | None = None
        host = str(assoc.requestor.address)
        for cx in assoc.requestor.requested_contexts:
            uid = str(cx.abstract_syntax)
            service = _SERVICES.get(uid)
            if service is None or not self.enabled(service):
                continue
            if allowed is None:
                allowed = self.allowed(calling, host)
            if not allowed:
                refused.add(service)
                continue
            syntaxes = wanted.setdefault(uid, [])
            syntaxes.extend(
                str(ts)
                for ts in cx.transfer_syntax
                if str(ts) in _IDENTIFIER_SYNTAXES and str(ts) not in syntaxes
            )
        for service in sorted(refused):
            why = (
                f"{service.upper()} refused: calling AE '{calling}' from {host} "
                "is not in the address book; add it in Nodes, or list it in "
                "[qr] allowed_calling_aes"
            )
            LOGGER.warning("query/retrieve: %s", why)
            self.scp.emit_for(assoc, _KIND[service], status=NOT_AUTHORISED, detail=why)
        added = [build_context(uid, ts) for uid, ts in wanted.items() if ts]
        if any(uid in GET for uid in wanted):
            roles = assoc.requestor.role_selection
            for cx in supported:
                if str(cx.abstract_syntax) in roles:
                    cx.scp_role = True
                    cx.scu_role = True
        return [*supported, *added]

    def refuse_store(self, nbytes: int) -> str:
        """Why an object of ``nbytes`` must be refused ('' to store it): the
        store quota (``[qr] quota_bytes``)."""
        if not self.config.quota_bytes:
            return ""
        from dcmtui.services.store_admin import StoreAdmin

        with self._lock:
            admin = StoreAdmin(self.settings, self.scp.store.root)
            if self._used is None:
                self._used = admin.used_bytes()
            problem = admin.quota_problem(self._used, nbytes)
            if not problem:
                self._used += nbytes
        if problem:
            LOGGER.warning("receiver: %s", problem)
        return problem

    # --- access -----------------------------------------------------------

    def allowed(self, calling: str, host: str) -> bool:
        """True when ``calling`` (from ``host``) may query and retrieve."""
        cfg = self.config
        if not cfg.known_peers_only:
            return True
        if calling in {a.strip() for a in cfg.allowed_calling_aes}:
            return True
        for node in self._nodes():
            if node.ae_title.strip() != calling:
                continue
            if not cfg.check_host or _same_host(node.host, host):
                return True
        return False

    def _nodes(self) -> list[Node]:
        try:
            from dcmtui.services.nodes import NodeBook

            return NodeBook.in_folder(self.settings.config_dir).nodes()
        except Exception as exc:  # an unreadable book allows no one
            LOGGER.warning("query/retrieve: address book unreadable: %s", exc)
            return []

    def destination(self, ae_title: str) -> Node | None:
        """The address-book node with AE title ``ae_title``, if any."""
        for node in self._nodes():
            if node.ae_title.strip() == ae_title:
                return node
        return None

    # --- C-FIND -----------------------------------------------------------

    def _on_find(self, event: Any) -> Iterator[tuple[Any, Any]]:
        uid = str(event.context.abstract_syntax)
        assoc = event.assoc
        try:
            identifier = event.identifier
        except Exception as exc:
            self.scp.emit_for(
                assoc, "c-find", status=0xC000, detail=f"undecodable query: {exc}"
            )
            yield _status(0xC000, "cannot decode the identifier"), None
            return
        what = describe(identifier)
        fast = FastResponses.install(assoc)
        cancelled = _Cancelled(event)
        encoded: Iterator[bytes] | None = None
        if uid == WORKLIST:
            what = f"worklist {what}"
            matches = self.worklist.find(identifier, cancelled)
        else:
            what = f"{FIND[uid]} root {what}"
            combined = uid in getattr(assoc, "dcmtui_combined_datetime", ())
            if combined:
                what = f"{what} (combined date-time)"
            matches = self.query.find(identifier, FIND[uid], cancelled, combined)
            syntax = str(event.context.transfer_syntax)
            if fast and syntax in _IDENTIFIER_SYNTAXES[:2]:
                try:
                    encoded = self.query.find_encoded(
                        identifier,
                        FIND[uid],
                        syntax == _IDENTIFIER_SYNTAXES[1],
                        cancelled,
                        combined,
                    )
                except QueryError:
                    encoded = None  # the usual path says why
        count = 0
        try:
            if encoded is not None:
                count = self._send_encoded(event, uid, encoded, cancelled)
            else:
                for match in matches:
                    if cancelled():
                        break
                    count += 1
                    yield PENDING, match
        except QueryError as exc:
            self.scp.emit_for(
                assoc, "c-find", status=exc.status, detail=f"{what}: {exc}"
            )
            yield _status(exc.status, str(exc)), None
            return
        except Exception as exc:
            LOGGER.exception("query/retrieve: C-FIND failed")
            self.scp.emit_for(
                assoc, "c-find", status=UNABLE_TO_PROCESS, detail=f"{what}: {exc}"
            )
            yield _status(UNABLE_TO_PROCESS, "the query failed"), None
            return
        if cancelled():
            self.scp.emit_for(
                assoc,
                "c-find",
                status=CANCEL,
                detail=f"{what}: cancelled by the peer after {count} matches",
            )
            yield CANCEL, None
            return
        self.scp.emit_for(
            assoc, "c-find", status=SUCCESS, detail=f"{what}: {count} matches"
        )

    @staticmethod
    def _send_encoded(
        event: Any, uid: str, encoded: Iterator[bytes], cancelled: _Cancelled
    ) -> int:
        """Write the Pending responses of ``encoded`` ourselves (a few dozen
        per write); return how many. pynetdicom sends the final one."""
        writer = FastResponses.writer(event.assoc)
        context_id = int(event.context.context_id)
        command = pending_find_command(uid, int(event.request.MessageID))
        batch: list[bytes] = []
        size = count = 0
        limit = 1  # the first answer at once, then growing batches
        try:
            for data in encoded:
                count += 1
                batch.append(data)
                size += len(data) + len(command) + 12
                if size >= limit:
                    writer.responses(context_id, command, batch)
                    batch, size = [], 0
                    limit = min(limit * 4, _BATCH_BYTES)
                    if cancelled():
                        break
            if batch and not cancelled():
                writer.responses(context_id, command, batch)
        except OSError as exc:
            LOGGER.info("query/retrieve: the peer is gone: %s", exc)
        return count

    # --- C-MOVE and C-GET -------------------------------------------------

    def _sender(
        self,
        assoc: Any,
        counts: _Counts,
        via: str,
        emit: Callable[..., None],
    ) -> None:
        """Make ``assoc.send_c_store`` send our file references from the file
        (pynetdicom streams the data set), and report each sub-operation as a
        ``c-store`` event through ``emit``. The path of a C-GET where the
        fast lane cannot run (TLS, a big endian or deflated identifier)."""
        original = assoc.send_c_store

        def send_c_store(dataset: Any, *args: Any, **kwargs: Any) -> Any:
            path = getattr(dataset, "dcmtui_path", None)
            if path is None:
                return original(dataset, *args, **kwargs)
            from pynetdicom import _config

            _config.STORE_SEND_CHUNKED_DATASET = True
            size = 0
            with contextlib.suppress(OSError):
                size = Path(path).stat().st_size
            try:
                try:
                    rsp = original(path, *args, **kwargs)
                except ValueError:  # no context for the file's syntax
                    from pydicom import dcmread

                    rsp = original(dcmread(path), *args, **kwargs)
            except Exception as exc:
                counts.failed += 1
                emit(
                    status=0xA700,
                    nbytes=size,
                    detail=f"{via} sub-operation failed: {exc}",
                )
                raise
            status = int(getattr(rsp, "Status", 0xC000)) if rsp else 0xC000
            if status == 0:
                counts.completed += 1
                counts.nbytes += size
            elif status in _STORE_WARNINGS:
                counts.warning += 1
            else:
                counts.failed += 1
            uid = str(getattr(dataset, "SOPInstanceUID", ""))
            emit(status=status, nbytes=size, detail=f"sent by {via}: {uid}")
            return rsp

        assoc.send_c_store = send_c_store

    @staticmethod
    def _reference(item: Instance) -> Any:
        from pydicom import config
        from pydicom.dataelem import DataElement
        from pydicom.dataset import Dataset

        ds = Dataset()
        for tag, value in (
            (0x00080016, item.sop_class_uid),
            (0x00080018, item.sop_instance_uid),
        ):
            ds.add(
                DataElement(
                    tag,
                    "UI",
                    value,
                    already_converted=True,
                    validation_mode=config.IGNORE,
                )
            )
        ds.dcmtui_path = item.path
        return ds

    def _retrieve(
        self,
        event: Any,
        service: str,
        instances: list[Instance],
        counts: _Counts,
        what: str,
    ) -> Iterator[tuple[Any, Any]]:
        started = time.monotonic()
        cancelled = _Cancelled(event)
        for item in instances:
            if cancelled():
                self.scp.emit_for(
                    event.assoc,
                    _KIND[service],
                    status=CANCEL,
                    detail=counts.summary(what, CANCEL, len(instances), started),
                )
                yield CANCEL, None
                return
            yield PENDING, self._reference(item)
        status = SUCCESS if not (counts.failed or counts.warning) else 0xB000
        self.scp.emit_for(
            event.assoc,
            _KIND[service],
            status=status,
            nbytes=counts.nbytes,
            detail=counts.summary(what, status, len(instances), started),
        )

    def _on_get(self, event: Any) -> Iterator[Any]:
        uid = str(event.context.abstract_syntax)
        assoc = event.assoc
        try:
            identifier = event.identifier
            what = f"{GET[uid]} root {describe(identifier)}"
            instances = self.query.instances(identifier, GET[uid])
        except QueryError as exc:
            self.scp.emit_for(assoc, "c-get", status=exc.status, detail=str(exc))
            yield 1
            yield _status(exc.status, str(exc)), None
            return
        except Exception as exc:
            LOGGER.exception("query/retrieve: C-GET failed")
            self.scp.emit_for(assoc, "c-get", status=UNABLE_TO_PROCESS, detail=str(exc))
            yield 1
            yield _status(UNABLE_TO_PROCESS, "the retrieve failed"), None
            return
        syntax = str(event.context.transfer_syntax)
        if (
            FastGet.possible(assoc)
            and syntax in _IDENTIFIER_SYNTAXES[:2]
            and FastResponses.install(assoc)
        ):
            self._get_fast(event, uid, instances, what, syntax)
            yield 0  # all answered: pynetdicom's own final response is dropped
            return
        counts = _Counts()
        self._sender(
            assoc,
            counts,
            "C-GET",
            lambda **values: self.scp.emit_for(assoc, "c-store", **values),
        )
        yield len(instances)
        yield from self._retrieve(event, "get", instances, counts, what)

    def _get_fast(
        self, event: Any, uid: str, instances: list[Instance], what: str, syntax: str
    ) -> None:
        """The whole C-GET on the association's socket: each sub-operation,
        a Pending response after each, and the final response."""
        assoc = event.assoc
        lane = FastGet(assoc)
        counts = _Counts()
        failed: list[str] = []
        cancelled = _Cancelled(event, lane)
        request_id = int(event.request.MessageID)
        context_id = int(event.context.context_id)
        total = len(instances)
        started = time.monotonic()
        done = 0
        status = SUCCESS

        def emit(**values: Any) -> None:
            self.scp.emit_for(assoc, "c-store", **values)

        pending = PendingGet(uid, request_id, context_id)
        deferred: dict[str, Any] | None = None

        def sub_id(number: int) -> int:
            return (request_id + number - 1) % 65535 + 1

        try:
            ahead = lane.prepare(instances[0].path, sub_id(1)) if instances else None
            for done, item in enumerate(instances, 1):
                if cancelled():
                    status = CANCEL
                    done -= 1
                    break
                current, size = ahead, 0
                assert current is not None
                code: int | None = None
                try:
                    if current.error is not None:
                        code = 0xA700
                        LOGGER.warning(
                            "query/retrieve: cannot send %s: %s",
                            item.path,
                            current.error,
                        )
                    else:
                        lane.send(current)
                        size = current.size
                    if deferred:  # the previous one's event, off the critical path
                        emit(**deferred)
                        deferred = None
                    # the next file is read while the peer stores this one
                    ahead = (
                        lane.prepare(instances[done].path, sub_id(done + 1))
                        if done < total
                        else None
                    )
                    if code is None:
                        code = lane.response()
                except LaneClosed as exc:
                    counts.failed += 1
                    emit(status=0xA700, detail=f"C-GET sub-operation failed: {exc}")
                    raise
                except Exception as exc:  # anything else: this one failed
                    code = 0xA700
                    LOGGER.warning("query/retrieve: cannot send %s: %s", item.path, exc)
                if code == 0:
                    counts.completed += 1
                    counts.nbytes += size
                elif code in _STORE_WARNINGS:
                    counts.warning += 1
                else:
                    counts.failed += 1
                    failed.append(item.sop_instance_uid)
                lane.queue(
                    pending.pdu(
                        total - done, counts.completed, counts.failed, counts.warning
                    )
                )
                deferred = {
                    "status": code,
                    "nbytes": size,
                    "detail": f"sent by C-GET: {item.sop_instance_uid}",
                }
            if status != CANCEL and (counts.failed or counts.warning):
                status = 0xA702 if counts.failed == total else 0xB000
            remaining = total - done if status == CANCEL else None
            identifier = (
                uid_list(failed, syntax == _IDENTIFIER_SYNTAXES[1])
                if status != SUCCESS
                else None
            )
            lane.queue(
                lane.writer.pdu(
                    context_id,
                    get_response_command(
                        uid,
                        request_id,
                        status,
                        (remaining, counts.completed, counts.failed, counts.warning),
                        identifier is not None,
                    ),
                    identifier,
                )
            )
            lane.flush()
            FastResponses.answered(assoc, request_id)
        except LaneClosed as exc:
            status = 0xA700
            LOGGER.info("query/retrieve: C-GET ended: %s", exc)
        finally:
            if deferred:
                emit(**deferred)
            with contextlib.suppress(LaneClosed):
                lane.close()
        self.scp.emit_for(
            assoc,
            "c-get",
            status=status,
            nbytes=counts.nbytes,
            detail=counts.summary(what, status, total, started),
        )

    def _on_move(self, event: Any) -> Iterator[Any]:
        uid = str(event.context.abstract_syntax)
        assoc = event.assoc
        dest_ae = _ae(event.move_destination)
        node = self.destination(dest_ae)
        if node is None:
            why = (
                f"C-MOVE destination '{dest_ae}' is not in the address book: "
                f"add a node with AE title '{dest_ae}' (its host and port) in Nodes"
            )
            LOGGER.warning("query/retrieve: %s", why)
            self.scp.emit_for(
                assoc, "c-move", status=MOVE_DESTINATION_UNKNOWN, detail=why
            )
            yield None, None
            return
        yield node.host, node.port, {}  # known: we make the sub-association
        FastResponses.install(assoc)
        self._move(event, uid, node, dest_ae)
        yield 0  # all answered: pynetdicom's own final response is dropped

    def _move(self, event: Any, uid: str, node: Node, dest_ae: str) -> None:
        """The whole C-MOVE: the sub-operations on an association to ``node``
        made by the small sender of services.scu_send (files streamed as they
        are, converted where the node refuses their syntax), a Pending
        response after each, and the final response."""
        from dcmtui.services.scu import AssociationFailed, Scu
        from dcmtui.services.scu_send import Sender, collect

        assoc = event.assoc
        counts = _Counts()
        failed: list[str] = []
        cancelled = _Cancelled(event)
        responder = _MoveResponder(event, uid)
        started = time.monotonic()
        try:
            identifier = event.identifier
            what = f"{MOVE[uid]} root {describe(identifier)} to {dest_ae}"
            instances = self.query.instances(identifier, MOVE[uid])
        except QueryError as exc:
            self.scp.emit_for(assoc, "c-move", status=exc.status, detail=str(exc))
            responder.final(exc.status, comment=str(exc))
            return
        except Exception as exc:
            LOGGER.exception("query/retrieve: C-MOVE failed")
            self.scp.emit_for(
                assoc, "c-move", status=UNABLE_TO_PROCESS, detail=str(exc)
            )
            responder.final(UNABLE_TO_PROCESS, comment="the retrieve failed")
            return
        total = len(instances)
        by_path = {item.path: item for item in instances}
        files, skipped = collect(list(by_path))
        done = 0

        seen: set[str] = set()

        def tally(path: str, state: str, nbytes: int) -> None:
            nonlocal done
            done += 1
            seen.add(path)
            if state in ("sent", "converted"):
                counts.completed += 1
                counts.nbytes += nbytes
            elif state == "warning":
                counts.warning += 1
            else:
                counts.failed += 1
                item = by_path.get(path)
                failed.append(item.sop_instance_uid if item else "")
            responder.pending(total - done, counts)

        for skip in skipped:
            LOGGER.warning("query/retrieve: cannot send %s: %s", skip.path, skip.detail)
            tally(skip.path, "failed", 0)
        scu = Scu(self.scp.events, calling_ae=self.scp.ae_title, timeout=30.0)
        sender = Sender(scu, self.settings.data_dir)
        status: int | None = None
        try:
            for sent, result in sender.send_files(
                replace(node, calling_ae=""), files, "C-MOVE", stop=cancelled
            ):
                tally(sent.path, result.state, result.nbytes)
        except AssociationFailed as exc:
            LOGGER.warning("query/retrieve: C-MOVE to %s: %s", dest_ae, exc)
            if not counts.completed and not counts.warning:
                status = MOVE_DESTINATION_UNKNOWN  # what pynetdicom answers
                what = f"{what}: cannot associate: {exc.cause}"
            for path, unsent in by_path.items():  # the rest were not sent
                if path not in seen:
                    seen.add(path)
                    done += 1
                    counts.failed += 1
                    failed.append(unsent.sop_instance_uid)
        if status is None:
            if cancelled() and done < total:
                status = CANCEL
            elif counts.failed or counts.warning:
                status = 0xA702 if counts.failed == total else 0xB000
            else:
                status = SUCCESS
        remaining = total - done if status == CANCEL else None
        responder.final(status, counts, remaining, failed)
        self.scp.emit_for(
            assoc,
            "c-move",
            status=status,
            nbytes=counts.nbytes,
            detail=counts.summary(what, status, total, started),
        )


class _MoveResponder:
    """C-MOVE responses of one request, sent by us (through FastResponses'
    encoder on a plain socket, pynetdicom's with TLS)."""

    def __init__(self, event: Any, uid: str) -> None:
        self.assoc = event.assoc
        self.context_id = int(event.context.context_id)
        self.syntax = str(event.context.transfer_syntax)
        self.uid = uid
        self.message_id = int(event.request.MessageID)

    def _response(self, status: int) -> Any:
        from pynetdicom.dimse_primitives import C_MOVE

        rsp = C_MOVE()
        rsp.MessageID = self.message_id
        rsp.MessageIDBeingRespondedTo = self.message_id
        rsp.AffectedSOPClassUID = self.uid
        rsp.Status = status
        return rsp

    def pending(self, remaining: int, counts: _Counts) -> None:
        """A Pending response with the sub-operation counts."""
        rsp = self._response(PENDING)
        rsp.NumberOfRemainingSuboperations = remaining
        rsp.NumberOfCompletedSuboperations = counts.completed
        rsp.NumberOfFailedSuboperations = counts.failed
        rsp.NumberOfWarningSuboperations = counts.warning
        self.assoc.dimse.send_msg(rsp, self.context_id)

    def final(
        self,
        status: int,
        counts: _Counts | None = None,
        remaining: int | None = None,
        failed: list[str] | None = None,
        comment: str = "",
    ) -> None:
        """The final response; pynetdicom's own one is dropped."""
        from io import BytesIO

        rsp = self._response(status)
        if comment:
            rsp.ErrorComment = comment[:64]
        if counts is not None:
            if remaining is not None:
                rsp.NumberOfRemainingSuboperations = remaining
            rsp.NumberOfCompletedSuboperations = counts.completed
            rsp.NumberOfFailedSuboperations = counts.failed
            rsp.NumberOfWarningSuboperations = counts.warning
        if counts is not None and status not in (SUCCESS, MOVE_DESTINATION_UNKNOWN):
            from pydicom.dataset import Dataset
            from pydicom.uid import UID
            from pynetdicom.dsutils import encode

            ds = Dataset()
            ds.FailedSOPInstanceUIDList = failed or []
            syntax = UID(self.syntax)
            data = encode(
                ds, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated
            )
            if data:
                rsp.Identifier = BytesIO(data)
        try:
            self.assoc.dimse.send_msg(rsp, self.context_id)
        finally:
            FastResponses.answered(self.assoc, self.message_id)


_HOSTS: dict[str, set[str]] = {}
_HOSTS_LOCK = threading.Lock()


def _same_host(name: str, address: str) -> bool:
    """True when ``name`` (a host name or address) resolves to ``address``."""
    with _HOSTS_LOCK:
        known = _HOSTS.get(name)
    if known is None:
        try:
            known = {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            known = {name}
        with _HOSTS_LOCK:
            _HOSTS[name] = known
    return address in known
