"""The network client: C-ECHO, C-STORE (send), C-FIND, C-MOVE and C-GET.

Async outside, pynetdicom in threads inside. Every association goes into the
EventBus (direction ``out``). Every failure becomes an ``AssociationFailed``
that says what happened and what to try, in words a DICOM user knows.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager

from dcmtui.models import AssocEvent, ContextResult, EchoResult, Node
from dcmtui.services import tcp
from dcmtui.services.echo_fast import _address
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import DEFAULT_CALLING_AE

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import ssl
    from typing import Any

    from pynetdicom.association import Association
    from pynetdicom.presentation import PresentationContext

    from dcmtui.services.dimse_fast import FastAssociation, Negotiated, Proposal

MAX_CONTEXTS = 128
DEFAULT_MAX_PDU = 1_048_576
"""The PDU size we accept when the node sets none: large PDUs cost less."""

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


class AssociationFailed(DcmtuiError):
    """An association or a DIMSE operation failed.

    Attributes:
        cause: What happened, in words.
        fix: What to try.
        status: The DIMSE status, when there was one.
    """

    def __init__(
        self, node: Node, cause: str, fix: str, *, status: int | None = None
    ) -> None:
        self.node = node
        self.cause = cause
        self.fix = fix
        self.status = status
        where = (
            node.address
            if node.name == node.address
            else f"{node.name} ({node.address})"
        )
        super().__init__(f"{where}: {cause}. {fix}")


# PS3.8 table 9-21: (source, reason) of an A-ASSOCIATE-RJ.
_REJECT_REASONS: dict[tuple[int, int], tuple[str, str]] = {
    (1, 1): (
        "the node rejected the association and gave no reason",
        "Check the node's log; it may only accept known calling AE titles or "
        "addresses, or be refusing work for now",
    ),
    (1, 2): (
        "the node rejected the association: application context not supported",
        "The node does not speak standard DICOM on this port; check the port",
    ),
    (1, 3): (
        "the node rejected the association: calling AE title not recognised",
        "Add our AE title ({calling}) and this host to the node's list of "
        "known peers, or set the calling AE this node expects",
    ),
    (1, 7): (
        "the node rejected the association: called AE title not recognised",
        "The node does not answer to {called}; check the AE title in the "
        "address book against the node's own configuration",
    ),
    (2, 1): (
        "the node's DICOM layer rejected the association and gave no reason",
        "Check the node's log",
    ),
    (2, 2): (
        "the node rejected the association: protocol version not supported",
        "The node speaks another version of the DICOM upper layer; check the port",
    ),
    (3, 1): (
        "the node rejected the association: temporary congestion",
        "The node is busy; try again later",
    ),
    (3, 2): (
        "the node rejected the association: local limit exceeded",
        "The node has as many associations open as it allows; try again when "
        "others have finished, or raise its limit",
    ),
}


def tls_args(node: Node) -> tuple[ssl.SSLContext, str] | None:
    """The TLS context for ``node`` (None without TLS).

    Raises:
        OSError: A file cannot be read (ssl.SSLError is one).
    """
    if not node.tls:
        return None
    import ssl  # here: most nodes do without TLS

    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=node.tls_ca or None
    )
    context.check_hostname = False
    if not node.tls_ca:
        context.verify_mode = ssl.CERT_NONE
    if node.tls_cert:
        context.load_cert_chain(node.tls_cert, node.tls_key or None)
    return context, node.host


_tls_args = tls_args  # the old name, still imported elsewhere


def _tune_socket(assoc: Association) -> None:
    """TCP_NODELAY on our side, and reads that acknowledge at once what the
    peer sent before they wait (services.tcp): no 40 ms delayed-ACK stall per
    message with a peer that has Nagle's algorithm on."""
    with contextlib.suppress(Exception):
        wrapper: Any = assoc.dul.socket
        sock: socket.socket = wrapper.socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wrapper.recv = functools.partial(tcp.recv_exactly, sock)


def _probe(host: str, port: int, timeout: float) -> tuple[str, str]:
    """Why a TCP connection to host:port fails: (cause, fix)."""
    try:
        with socket.create_connection((_address(host), port), timeout=timeout):
            return (
                "the connection was closed before the association was set up",
                "Try again; if it goes on, check the node's log",
            )
    except ConnectionRefusedError:
        return (
            f"connection refused: nothing listens on {host}:{port}",
            "Check that the node is running and that the host and port are right",
        )
    except TimeoutError:
        return (
            f"connection timed out: {host}:{port} did not answer within {timeout:g} s",
            "Check the host and port, and that no firewall drops the traffic",
        )
    except socket.gaierror:
        return (
            f"unknown host {host!r}",
            "Check the host name in the address book, or use an IP address",
        )
    except OSError as exc:
        return (
            f"cannot connect to {host}:{port}: {exc.strerror or exc}",
            "Check the host and port, and the network between us and the node",
        )


def context_results(assoc: Association) -> tuple[ContextResult, ...]:
    """The presentation contexts of an association as ContextResults."""

    out: list[ContextResult] = []
    reasons = {
        1: "rejected: user rejection",
        2: "rejected: no reason",
        3: "rejected: SOP class not supported",
        4: "rejected: transfer syntaxes not supported",
    }
    contexts: list[PresentationContext] = [
        *assoc.accepted_contexts,
        *assoc.rejected_contexts,
    ]
    for cx in contexts:
        accepted = cx.result == 0
        ts = (
            str(cx.transfer_syntax[0])
            if accepted and cx.transfer_syntax
            else "\\".join(str(t) for t in cx.transfer_syntax)
        )
        out.append(
            ContextResult(
                abstract_syntax=str(cx.abstract_syntax),
                transfer_syntax=ts,
                result="accepted"
                if accepted
                else reasons.get(cx.result or 0, "rejected"),
            )
        )
    return tuple(out)


def _uid_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name and name != uid else uid


class Scu:
    """DICOM network client for the nodes of the address book."""

    def __init__(
        self,
        events: EventBus | None = None,
        *,
        calling_ae: str = DEFAULT_CALLING_AE,
        timeout: float = 10.0,
    ) -> None:
        """Args:
        events: Where association events go (a private bus when None).
        calling_ae: Our AE title, unless a node sets its own.
        timeout: Seconds to wait for a connection, an association answer, or
            a DIMSE response.
        """
        self.events = events or EventBus()
        self.calling_ae = calling_ae
        self.timeout = timeout

    def calling_for(self, node: Node) -> str:
        """Our AE title towards ``node``."""
        return node.calling_ae or self.calling_ae

    # -- events ---------------------------------------------------------------

    def _emit(self, assoc_id: str, node: Node, kind: str, **fields: Any) -> None:
        self.events.emit(
            AssocEvent(
                time=time.time(),
                assoc_id=assoc_id,
                direction="out",
                kind=kind,
                peer_host=node.host,
                peer_port=node.port,
                calling_ae=self.calling_for(node),
                called_ae=node.ae_title,
                **fields,
            )
        )

    # -- associations ---------------------------------------------------------

    @contextmanager
    def associate(
        self,
        node: Node,
        contexts: Sequence[PresentationContext],
        *,
        ext_neg: Sequence[Any] = (),
        evt_handlers: Sequence[tuple[Any, Callable[..., Any]]] = (),
        what: str = "",
    ) -> Iterator[tuple[Association, str]]:
        """Open an association (blocking); release it on exit, abort on error.

        Args:
            node: The peer.
            contexts: At most 128 presentation contexts.
            ext_neg: Extended negotiation items (SCP/SCU role selection).
            evt_handlers: Extra pynetdicom handlers (C-GET's EVT_C_STORE).
            what: The operation, for messages ("C-FIND", ...).

        Yields:
            The established association and its event id.

        Raises:
            AssociationFailed: Could not connect, rejected, aborted, or no
                presentation context accepted.
        """
        from pynetdicom import AE, evt

        ae = AE(ae_title=self.calling_for(node))
        ae.acse_timeout = self.timeout
        ae.connection_timeout = self.timeout
        ae.dimse_timeout = max(self.timeout, 30.0)
        ae.network_timeout = max(self.timeout, 60.0)
        ae.maximum_pdu_size = 0
        assoc_id = self.events.new_id("out")
        opened = threading.Event()

        def on_open(event: Any) -> None:
            opened.set()
            _tune_socket(event.assoc)

        self._emit(assoc_id, node, "requested", detail=what)
        started = time.monotonic()
        try:
            tls = tls_args(node)
        except OSError as exc:  # ssl.SSLError is an OSError
            cause = f"cannot load the TLS files: {exc}"
            self._emit(assoc_id, node, "failed", detail=cause)
            raise AssociationFailed(
                node, cause, "Check the CA, certificate and key paths of this node"
            ) from exc
        try:
            assoc = ae.associate(
                node.host,
                node.port,
                contexts=list(contexts),
                ae_title=node.ae_title,
                max_pdu=node.max_pdu or DEFAULT_MAX_PDU,
                ext_neg=list(ext_neg) or None,
                evt_handlers=[(evt.EVT_CONN_OPEN, on_open), *evt_handlers],
                tls_args=tls,
            )
        except OSError as exc:  # the host name does not resolve, for one
            cause, fix = _probe(node.host, node.port, self.timeout)
            self._emit(assoc_id, node, "failed", detail=f"{cause}. {fix}")
            raise AssociationFailed(node, cause, fix) from exc
        if not assoc.is_established:
            failure = self._diagnose(assoc, node, opened.is_set(), started, what)
            kind = "rejected" if assoc.is_rejected else "failed"
            contexts_seen = context_results(assoc) if assoc.acceptor.primitive else ()
            self._emit(
                assoc_id,
                node,
                kind,
                detail=f"{failure.cause}. {failure.fix}",
                contexts=contexts_seen,
            )
            raise failure
        self._emit(assoc_id, node, "accepted", contexts=context_results(assoc))
        try:
            yield assoc, assoc_id
        except BaseException as exc:
            if assoc.is_established:
                assoc.abort()
            detail = exc.cause if isinstance(exc, AssociationFailed) else str(exc)
            self._emit(assoc_id, node, "aborted", detail=detail or "cancelled")
            raise
        if assoc.is_established:
            assoc.release()
            self._emit(assoc_id, node, "released")
        else:
            self._emit(assoc_id, node, "aborted", detail="the node aborted")

    def _diagnose(
        self, assoc: Association, node: Node, opened: bool, started: float, what: str
    ) -> AssociationFailed:
        if not opened:
            return self.connect_failure(node)
        primitive = assoc.acceptor.primitive
        if assoc.is_rejected and primitive is not None:
            return self.reject_failure(
                node,
                int(primitive.result or 0),
                int(primitive.result_source or 0),
                int(primitive.diagnostic or 0),
            )
        if primitive is not None and primitive.result == 0:
            rejected = [
                f"{_uid_name(str(cx.abstract_syntax))}"
                f" ({', '.join(_uid_name(str(t)) for t in cx.transfer_syntax)})"
                for cx in assoc.rejected_contexts
            ]
            listed = "; ".join(rejected[:4]) + (" ..." if len(rejected) > 4 else "")
            fix = (
                "Configure the node to accept this SOP class and transfer "
                "syntax, or convert the files to a transfer syntax it accepts"
            )
            if what in ("C-ECHO", "C-FIND", "C-MOVE", "C-GET"):
                fix = (
                    f"The node does not offer {what} with this information "
                    "model: try the other root model, or check the node's "
                    "configuration"
                )
            return AssociationFailed(
                node,
                "no presentation context accepted: the node supports none of "
                f"the SOP classes and transfer syntaxes proposed ({listed})",
                fix,
            )
        if time.monotonic() - started >= self.timeout - 0.05:
            return AssociationFailed(
                node,
                f"the node accepted the connection but did not answer the "
                f"association request within {self.timeout:g} s",
                "Check that this port speaks DICOM (not TLS or HTTP), and that "
                "the node is not overloaded",
            )
        return AssociationFailed(
            node,
            "the node aborted or closed the connection without answering "
            "the association request",
            "Check the node's log: it may refuse our AE title, address or TLS "
            "settings, or be overloaded",
        )

    def reject_failure(
        self, node: Node, result: int, source: int, reason: int
    ) -> AssociationFailed:
        """The error for an A-ASSOCIATE-RJ, its reason in words.

        Args:
            node: The peer.
            result: 1 permanent, 2 transient.
            source: 1 service user, 2 ACSE provider, 3 presentation provider.
            reason: The reason/diagnostic code.
        """
        cause, fix = _REJECT_REASONS.get(
            (source, reason),
            (
                f"the node rejected the association (result {result}, source "
                f"{source}, reason {reason})",
                "Check the node's log",
            ),
        )
        if result == 2:
            cause += " (transient)"
        return AssociationFailed(
            node,
            cause,
            fix.format(calling=self.calling_for(node), called=node.ae_title),
        )

    def connect_failure(self, node: Node) -> AssociationFailed:
        """The error for a connection that could not be made, with why."""
        cause, fix = _probe(node.host, node.port, self.timeout)
        if node.tls and "refused" not in cause and "unknown host" not in cause:
            cause = "the TLS connection failed (certificate, key or CA?)"
            fix = (
                "Check that the node speaks TLS on this port, that its "
                "certificate is signed by the CA given, and that it trusts ours"
            )
        return AssociationFailed(node, cause, fix)

    def aborted(self, node: Node, what: str) -> AssociationFailed:
        """The error for an association the node aborted during ``what``."""
        return AssociationFailed(
            node,
            f"the node aborted the association during {what}",
            "Check the node's log; it may have run out of space or met data it "
            "cannot handle",
        )

    def request_failure(
        self, node: Node, exc: BaseException, started: float
    ) -> tuple[AssociationFailed, str]:
        """The error, and the event kind, for an association request of the
        small upper layer (dimse_fast's, or the quick echo's) that failed.

        Args:
            node: The peer.
            exc: ConnectFailed, Rejected, Aborted, or an OSError.
            started: ``time.monotonic()`` when the request began (an abort
                that took the whole timeout is a timeout).
        """
        from dcmtui.services.dimse_fast import Aborted, ConnectFailed, Rejected

        if isinstance(exc, ConnectFailed):
            return self.connect_failure(node), "failed"
        if isinstance(exc, Rejected):
            failure = self.reject_failure(node, exc.result, exc.source, exc.reason)
            return failure, "rejected"
        if isinstance(exc, Aborted):
            if time.monotonic() - started >= self.timeout - 0.05:
                return AssociationFailed(
                    node,
                    "the node accepted the connection but did not answer the "
                    f"association request within {self.timeout:g} s",
                    "Check that this port speaks DICOM (not TLS or HTTP), and "
                    "that the node is not overloaded",
                ), "failed"
            return AssociationFailed(
                node,
                "the node aborted or closed the connection without answering "
                "the association request",
                "Check the node's log: it may refuse our AE title, address "
                "or TLS settings, or be overloaded",
            ), "failed"
        return AssociationFailed(  # TLS files unreadable, for one
            node, f"cannot set up the connection: {exc}", "Check the TLS files"
        ), "failed"

    def nothing_accepted(
        self, node: Node, contexts: Sequence[Negotiated]
    ) -> AssociationFailed:
        """The error for an association on which no proposed context was accepted."""
        listed = "; ".join(
            f"{_uid_name(cx.abstract_syntax)} "
            f"({', '.join(_uid_name(t) for t in cx.proposed)})"
            for cx in contexts[:4]
        ) + (" ..." if len(contexts) > 4 else "")
        return AssociationFailed(
            node,
            "no presentation context accepted: the node supports none of "
            f"the SOP classes and transfer syntaxes proposed ({listed})",
            "Configure the node to accept this SOP class and transfer "
            "syntax, or convert the files to a transfer syntax it accepts",
        )

    def echo_status_failure(self, node: Node, code: int | None) -> AssociationFailed:
        """The error for a C-ECHO answered with a status other than success."""
        return AssociationFailed(
            node,
            f"C-ECHO answered with status 0x{code:04X}"
            if code is not None
            else "C-ECHO answered without a status",
            "Check the node's log",
            status=code,
        )

    def open_fast(
        self, node: Node, proposals: list[Proposal], what: str
    ) -> tuple[FastAssociation, str]:
        """Open an association with the small upper layer of dimse_fast;
        every outcome goes to the event bus.

        Raises:
            AssociationFailed: Not connected, rejected, aborted, or nothing
                accepted (the cause says "no presentation context accepted").
        """
        from dcmtui.models import ContextResult
        from dcmtui.services.dimse_fast import (
            CONTEXT_RESULTS,
            Aborted,
            ConnectFailed,
            FastAssociation,
            Rejected,
        )

        scu = self
        assoc_id = scu.events.new_id("out")
        scu._emit(assoc_id, node, "requested", detail=what)
        started = time.monotonic()
        try:
            tls = tls_args(node)
        except OSError as exc:  # ssl.SSLError is an OSError
            words = f"cannot load the TLS files: {exc}"
            scu._emit(assoc_id, node, "failed", detail=words)
            raise AssociationFailed(
                node, words, "Check the CA, certificate and key paths of this node"
            ) from exc
        try:
            assoc = FastAssociation.request(
                node.host,
                node.port,
                calling=scu.calling_for(node),
                called=node.ae_title,
                proposals=proposals,
                timeout=scu.timeout,
                tls=tls[0] if tls else None,
                max_pdu=node.max_pdu or DEFAULT_MAX_PDU,
            )
        except (ConnectFailed, Rejected, Aborted, OSError) as exc:
            failure, kind = scu.request_failure(node, exc, started)
            cause: BaseException = exc
        else:
            results = tuple(
                ContextResult(
                    cx.abstract_syntax,
                    cx.transfer_syntax or "\\".join(cx.proposed),
                    CONTEXT_RESULTS.get(cx.result, "rejected"),
                )
                for cx in assoc.contexts
            )
            if not any(cx.result == 0 for cx in assoc.contexts):
                assoc.abort()
                failure = scu.nothing_accepted(node, assoc.contexts)
                scu._emit(
                    assoc_id, node, "aborted", detail=failure.cause, contexts=results
                )
                raise failure
            scu._emit(assoc_id, node, "accepted", contexts=results)
            return assoc, assoc_id
        scu._emit(assoc_id, node, kind, detail=f"{failure.cause}. {failure.fix}")
        raise failure from cause

    # -- C-ECHO ---------------------------------------------------------------

    def echo_sync(self, node: Node) -> EchoResult:
        """C-ECHO ``node`` (blocking); a failure is a result, not an error."""
        from dcmtui.services.dimse_fast import Aborted, Proposal

        started = time.monotonic()
        when = time.time()
        try:
            assoc, assoc_id = self.open_fast(
                node, [Proposal(1, VERIFICATION, (IMPLICIT_LE,))], "C-ECHO"
            )
            try:
                t0 = time.perf_counter()
                code = assoc.echo(1)
                ms = (time.perf_counter() - t0) * 1000
            except Aborted as exc:
                assoc.close()
                self._emit(assoc_id, node, "aborted", detail=str(exc))
                raise self.aborted(node, "the C-ECHO") from exc
            self._emit(assoc_id, node, "c-echo", status=code)
            assoc.release()
            self._emit(assoc_id, node, "released")
            if code != 0:
                raise self.echo_status_failure(node, code)
        except AssociationFailed as exc:
            return EchoResult(
                node=node.name,
                ok=False,
                ms=(time.monotonic() - started) * 1000,
                when=when,
                status=exc.status,
                detail=str(exc),
            )
        return EchoResult(node=node.name, ok=True, ms=ms, when=when, status=0)

    async def echo(self, node: Node) -> EchoResult:
        """C-ECHO ``node``: the outcome and the round trip in milliseconds."""
        import asyncio  # here: the blocking commands do not load it

        return await asyncio.to_thread(self.echo_sync, node)

    async def echo_all(self, nodes: Sequence[Node]) -> AsyncIterator[EchoResult]:
        """C-ECHO every node at once; yield each result as it comes."""
        import asyncio

        tasks = [asyncio.create_task(self.echo(node)) for node in nodes]
        try:
            for done in asyncio.as_completed(tasks):
                yield await done
        finally:
            for task in tasks:
                task.cancel()
