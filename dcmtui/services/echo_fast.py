"""C-ECHO over a plain socket, importing nothing but ``socket`` and ``struct``.

``dcmtui echo AET@host:port`` is a whole process whose useful work (an
association, one C-ECHO, a release) takes about a millisecond; the rest is
Python's start-up and imports. This module does that work with the standard
library's cheapest modules: A-ASSOCIATE-RQ with the Verification context,
one P-DATA C-ECHO-RQ, A-RELEASE-RQ. It does no TLS and emits no events (the
CLI decides when it may be used; :meth:`dcmtui.services.scu.Scu.echo_sync`
is the general path).

A failure is raised as :class:`QuickEchoFailed`, which carries the same
exceptions the general small upper layer (``dimse_fast``) raises; the words
for the user come from ``Scu`` (``request_failure``, ``nothing_accepted``,
``aborted``, ``echo_status_failure``), imported only then, so both paths say
exactly the same thing.
"""

from __future__ import annotations

import socket
import struct

from dcmtui.services import tcp

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from dcmtui.services.dimse_fast import Negotiated

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1453.1"
IMPLEMENTATION_VERSION = "DCMTUI"
"""The same as dimse_fast's (tests/services/test_echo_fast.py checks the
request is byte for byte the one dimse_fast sends)."""
CONTEXT_ID = 1


class QuickEchoFailed(Exception):
    """The quick C-ECHO failed.

    Attributes:
        stage: ``request`` (no association: ``error`` is dimse_fast's
            ConnectFailed, Rejected or Aborted), ``nothing-accepted`` (the
            Verification context was rejected: see ``contexts``), ``echo``
            (lost during the C-ECHO: ``error`` is dimse_fast's Aborted) or
            ``status`` (answered with ``status`` other than 0).
        error: The dimse_fast exception, for ``request`` and ``echo``.
        status: The C-ECHO status, for ``status``.
        contexts: The contexts as the peer answered, for ``nothing-accepted``.
    """

    def __init__(
        self,
        stage: str,
        error: BaseException | None = None,
        *,
        status: int | None = None,
        contexts: list[Negotiated] | None = None,
    ) -> None:
        super().__init__(stage, str(error or ""))
        self.stage = stage
        self.error = error
        self.status = status
        self.contexts = contexts or []


def _uid(value: str) -> bytes:
    data = value.encode("ascii")
    return data + b"\0" if len(data) % 2 else data


def _item(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def _ae(title: str) -> bytes:
    return title.encode("ascii", "replace")[:16].ljust(16, b" ")


def associate_rq(calling: str, called: str, max_pdu: int) -> bytes:
    """The A-ASSOCIATE-RQ PDU proposing Verification in implicit VR LE."""
    context = _item(0x30, VERIFICATION.encode()) + _item(0x40, IMPLICIT_LE.encode())
    user = (
        _item(0x51, struct.pack(">I", max_pdu))
        + _item(0x52, IMPLEMENTATION_UID.encode())
        + _item(0x55, IMPLEMENTATION_VERSION.encode())
    )
    body = (
        struct.pack(">HH", 1, 0)
        + _ae(called)
        + _ae(calling)
        + bytes(32)
        + _item(0x10, APPLICATION_CONTEXT.encode())
        + _item(0x20, struct.pack(">BBBB", CONTEXT_ID, 0, 0, 0) + context)
        + _item(0x50, user)
    )
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def _element(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, elem, len(value)) + value


def echo_rq(message_id: int = 1) -> bytes:
    """The P-DATA-TF PDU of a C-ECHO-RQ (one command fragment, the last)."""
    elements = (
        _element(0x0002, _uid(VERIFICATION))
        + _element(0x0100, struct.pack("<H", 0x0030))
        + _element(0x0110, struct.pack("<H", message_id))
        + _element(0x0800, struct.pack("<H", 0x0101))
    )
    command = _element(0x0000, struct.pack("<I", len(elements))) + elements
    return (
        struct.pack(
            ">BBIIBB", 0x04, 0, len(command) + 6, len(command) + 2, CONTEXT_ID, 0x03
        )
        + command
    )


class PduReader:
    """A socket read PDU by PDU (here and in dimse_fast's associations)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def exact(self, count: int) -> bytes:
        """``count`` bytes; raises dimse_fast's Aborted when they do not come."""
        while len(self.buffer) < count:
            try:
                chunk = tcp.recv(self.sock, max(65536, count - len(self.buffer)))
            except TimeoutError as exc:
                raise _aborted("the peer did not answer in time") from exc
            except OSError as exc:
                raise _aborted(f"the connection was lost: {exc}") from exc
            if not chunk:
                raise _aborted("the peer closed the connection")
            self.buffer += chunk
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def pdu(self) -> tuple[int, bytes]:
        """One PDU: (type, body); an A-ABORT raises Aborted."""
        kind, _, length = struct.unpack(">BBI", self.exact(6))
        body = self.exact(length)
        if kind == 0x07:
            raise _aborted("the peer aborted the association (A-ABORT)")
        return kind, body


def _aborted(words: str) -> Exception:
    from dcmtui.services.dimse_fast import Aborted

    return Aborted(words)


def _as_aborted(exc: BaseException) -> BaseException:
    """``exc`` when it is dimse_fast's Aborted, else an Aborted that says why."""
    from dcmtui.services.dimse_fast import Aborted

    if isinstance(exc, Aborted):
        return exc
    return Aborted(f"the connection was lost: {exc}")


def _context_result(body: bytes) -> int:
    """The result of our context in an A-ASSOCIATE-AC (4 when absent)."""
    pos = 68
    while pos + 4 <= len(body):
        kind, _, length = struct.unpack_from(">BBH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind == 0x21 and len(value) >= 4 and value[0] == CONTEXT_ID:
            return value[2]
    return 4


def _status(command: bytes) -> int | None:
    pos = 0
    while pos + 8 <= len(command):
        group, elem, length = struct.unpack_from("<HHI", command, pos)
        pos += 8
        if group == 0 and elem == 0x0900 and length >= 2:
            return int(struct.unpack_from("<H", command, pos)[0])
        pos += length
    return None


def add_command_fragments(body: bytes, command: bytearray) -> bool:
    """Append the command fragments of one P-DATA-TF body to ``command``.

    Returns:
        True when the last fragment of the command set has arrived.
    """
    pos = 0
    while pos + 6 <= len(body):
        (length,) = struct.unpack_from(">I", body, pos)
        header = body[pos + 5]
        value = body[pos + 6 : pos + 4 + length]
        pos += 4 + length
        if header & 0x01:
            command += value
            if header & 0x02:
                return True
    return False


def _read_response(link: PduReader) -> bytes:
    """The command set of the next DIMSE message (command fragments only)."""
    command = bytearray()
    while True:
        kind, body = link.pdu()
        if kind != 0x04:
            raise _aborted(f"unexpected PDU type {kind:#04x} instead of a response")
        if add_command_fragments(body, command):
            return bytes(command)


def _address(host: str) -> str:
    """``host`` for ``socket.create_connection``: an ASCII name as bytes, as
    a str would go through the idna codec, which imports unicodedata and
    stringprep first (typed as str: the socket module takes either)."""
    return host.encode("ascii") if host.isascii() else host  # type: ignore[return-value]


def _request(
    host: str, port: int, calling: str, called: str, timeout: float, max_pdu: int
) -> PduReader:
    """Connect and associate; raises QuickEchoFailed."""
    try:
        sock = socket.create_connection((_address(host), port), timeout=timeout)
    except OSError as exc:
        from dcmtui.services.dimse_fast import ConnectFailed

        raise QuickEchoFailed("request", ConnectFailed(str(exc))) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    link = PduReader(sock)
    try:
        sock.sendall(associate_rq(calling, called, max_pdu))
        kind, body = link.pdu()
    except Exception as exc:  # Aborted, or sendall's OSError (as dimse_fast's)
        sock.close()
        raise QuickEchoFailed("request", exc) from exc
    if kind == 0x03 and len(body) >= 4:
        from dcmtui.services.dimse_fast import Rejected

        sock.close()
        raise QuickEchoFailed("request", Rejected(body[1], body[2], body[3]))
    if kind != 0x02:
        sock.close()
        error = _aborted("the peer aborted the association request")
        raise QuickEchoFailed("request", error)
    result = _context_result(body)
    if result != 0:
        from dcmtui.services.dimse_fast import Negotiated

        _abort(sock)
        negotiated = Negotiated(CONTEXT_ID, VERIFICATION, result, "", (IMPLICIT_LE,))
        raise QuickEchoFailed("nothing-accepted", contexts=[negotiated])
    sock.settimeout(None if timeout <= 0 else max(timeout, 60.0))
    return link


def _abort(sock: socket.socket) -> None:
    try:  # noqa: SIM105 - contextlib is one more import on the quick path
        sock.sendall(struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0, 0))
    except OSError:
        pass
    sock.close()


def _release(link: PduReader) -> None:
    """A-RELEASE-RQ, wait briefly for the RP, close (errors do not matter)."""
    try:
        link.sock.sendall(struct.pack(">BBIi", 0x05, 0, 4, 0))
        link.sock.settimeout(10)
        while link.pdu()[0] != 0x06:
            pass
    except Exception:  # the echo is done; a lost release is no failure
        pass
    finally:
        link.sock.close()


def echo(
    host: str,
    port: int,
    *,
    calling: str,
    called: str,
    timeout: float,
    max_pdu: int,
) -> float:
    """Associate, C-ECHO, release.

    Args:
        host: The peer's host.
        port: Its port.
        calling: Our AE title.
        called: The peer's AE title.
        timeout: Seconds for the connection and the association answer.
        max_pdu: The largest PDU we accept (announced in the request).

    Returns:
        The round trip of the C-ECHO request and response, in milliseconds.

    Raises:
        QuickEchoFailed: Anything but success (see its ``stage``).
    """
    import time

    link = _request(host, port, calling, called, timeout, max_pdu)
    try:
        started = time.perf_counter()
        link.sock.sendall(echo_rq(1))
        status = _status(_read_response(link))
        ms = (time.perf_counter() - started) * 1000
    except Exception as exc:
        link.sock.close()
        raise QuickEchoFailed("echo", _as_aborted(exc)) from exc
    _release(link)
    if status != 0:
        raise QuickEchoFailed("status", status=status)
    return ms
