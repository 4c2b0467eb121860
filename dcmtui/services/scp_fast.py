"""The receiver's fast path: C-STORE and C-ECHO read straight off the socket.

pynetdicom decodes every P-DATA PDU into objects, hands each message between
three threads and encodes each response with pydicom: a few milliseconds per
object, several times storescp's cost. For an association that only stores
and echoes, the DUL thread here reads the socket into a buffer of its own and
serves P-DATA-TF PDUs in a loop: the command set (a dozen implicit-VR
elements) is parsed by hand, data set fragments go from the receive buffer
into the spool file, and the response is encoded from a template and sent at
once, before the object's bookkeeping. Everything else (association
negotiation, release, abort, timers) stays with pynetdicom: PDUs other than
P-DATA-TF are decoded and queued exactly as pynetdicom's own reader does.
Over plain TCP, the reader of an established association is lent to one
thread that serves all of them (services.scp_hub, :meth:`FastReader.pump`)
instead of running in the association's DUL thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dcmtui.services.tcp import acknowledge_now

if TYPE_CHECKING:
    from dcmtui.services.store import Spool

LOGGER = logging.getLogger(__name__)

C_STORE_RQ = 0x0001
C_ECHO_RQ = 0x0030
C_STORE_RSP = 0x8001
C_ECHO_RSP = 0x8030
NO_DATASET = 0x0101
_HEADER = struct.Struct(">BBL")
_LENGTH = struct.Struct(">L")
_BUFFER = 256 * 1024
"""Initial size of a fast reader's receive buffer (it grows for larger PDUs)."""
_AT_ONCE = 25e-6
"""A wait for the socket shorter than this found the bytes there already."""
_PDV = struct.Struct(">LBB")
_ELEMENT = struct.Struct("<HHL")
_KNOWN_PDU_TYPES = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07)


class ProtocolError(Exception):
    """The peer broke the protocol; pynetdicom aborts the association."""


def parse_command(data: bytes | bytearray) -> dict[int, bytes]:
    """Elements of a command set (implicit VR little endian), by element number.

    Raises:
        ProtocolError: The command set is malformed.
    """
    elements: dict[int, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        if pos + 8 > end:
            raise ProtocolError("truncated command set")
        group, elem, length = _ELEMENT.unpack_from(data, pos)
        pos += 8
        if group != 0 or pos + length > end:
            raise ProtocolError("malformed command set")
        elements[elem] = bytes(data[pos : pos + length])
        pos += length
    return elements


def _us(elements: dict[int, bytes], elem: int) -> int:
    raw = elements.get(elem)
    if raw is None or len(raw) != 2:
        raise ProtocolError(f"command element (0000,{elem:04X}) missing")
    return int.from_bytes(raw, "little")


def _ui(elements: dict[int, bytes], elem: int) -> str:
    return elements.get(elem, b"").rstrip(b"\0 ").decode("ascii", "replace")


def _el(elem: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0, elem, len(value)) + value


def _uid(value: bytes) -> bytes:
    return value + b"\0" if len(value) % 2 else value


def response(
    command: int, message_id: int, status: int, sop_class: bytes, sop_uid: bytes
) -> bytes:
    """A C-STORE-RSP or C-ECHO-RSP command set."""
    body = _el(0x0002, _uid(sop_class))
    body += _el(0x0100, command.to_bytes(2, "little"))
    body += _el(0x0120, message_id.to_bytes(2, "little"))
    body += _el(0x0800, NO_DATASET.to_bytes(2, "little"))
    body += _el(0x0900, status.to_bytes(2, "little"))
    if sop_uid:
        body += _el(0x1000, _uid(sop_uid))
    return _el(0x0000, len(body).to_bytes(4, "little")) + body


@functools.lru_cache(maxsize=256)
def _response_head(command: int, sop_class: bytes) -> bytes:
    """The elements of a response before its Message ID Being Responded To."""
    return (
        _el(0x0002, _uid(sop_class))
        + _el(0x0100, command.to_bytes(2, "little"))
        + _ELEMENT.pack(0, 0x0120, 2)
    )


_STATUS_HEAD = _el(0x0800, NO_DATASET.to_bytes(2, "little")) + _ELEMENT.pack(
    0, 0x0900, 2
)


def response_pdu(
    context_id: int,
    command: int,
    message_id: int,
    status: int,
    sop_class: bytes,
    sop_uid: bytes,
) -> bytes:
    """``p_data(context_id, response(...))``, with the parts that are the
    same for every object of a class made once."""
    head = _response_head(command, sop_class)
    uid = _el(0x1000, _uid(sop_uid)) if sop_uid else b""
    length = len(head) + 2 + len(_STATUS_HEAD) + 2 + len(uid)
    return b"".join(
        (
            _HEADER.pack(0x04, 0, length + 12 + 6),
            _PDV.pack(length + 12 + 2, context_id, 0x03),
            _ELEMENT.pack(0, 0x0000, 4),
            length.to_bytes(4, "little"),
            head,
            message_id.to_bytes(2, "little"),
            _STATUS_HEAD,
            status.to_bytes(2, "little"),
            uid,
        )
    )


def p_data(context_id: int, command: bytes) -> bytes:
    """One P-DATA-TF PDU carrying a whole command set as its last fragment."""
    pdv = _PDV.pack(len(command) + 2, context_id, 0x03) + command
    return _HEADER.pack(0x04, 0, len(pdv)) + pdv


class FastReader:
    """Replaces ``DULServiceProvider._read_pdu_data`` for one association.

    Once the association is established (and only stores and echoes), it
    reads the socket into one buffer of its own and serves P-DATA PDUs in a
    loop, without going back to pynetdicom's reactor between them: a small
    object costs a few system calls and no thread hand-off. It goes back to
    the reactor (which then finds the queued event) for any other PDU, when
    pynetdicom has something to send (the wake pipe, and :attr:`woken`), when
    the thread is to end, and after ``idle`` seconds without data, so that
    pynetdicom's timers and checks keep running. Bytes left in the buffer are
    served by the next call, whatever the state (see :meth:`has_pdu`); only
    with an empty buffer does pynetdicom's own reader take the socket again.

    Args:
        dul: The association's DUL provider.
        raw: Its socket (plain or TLS).
        wake_fd: Read end of the pipe written when pynetdicom has a PDU to send.
        cap: Largest PDU accepted (longer: ``refused`` and the connection is
            treated as closed, as pynetdicom's reader does on a failed read).
        refused: Called with the reason when a PDU is refused for its length.
        enabled: Called per call: True once the association is established and
            may use the fast path (only storage and verification contexts).
        new_spool: Makes the spool file of a C-STORE (sop class, sop instance,
            transfer syntax), with its meta header written.
        stored: Called with (spool, sop instance uid) when a data set is
            complete; returns the DIMSE status to answer, and what to call
            once the answer is sent (or None).
        echoed: Called for each C-ECHO.
        idle: Seconds without data before the reactor gets a turn.
    """

    def __init__(
        self,
        dul: Any,
        raw: socket.socket,
        wake_fd: int,
        cap: int,
        refused: Callable[[str], None],
        enabled: Callable[[], bool],
        new_spool: Callable[[str, str, str], Spool],
        stored: Callable[[Spool, str], tuple[int, Callable[[], None] | None]],
        echoed: Callable[[], None],
        idle: float = 0.01,
    ) -> None:
        self.dul = dul
        self.original = dul._read_pdu_data
        self.raw = raw
        self.tls = isinstance(raw, ssl.SSLSocket)
        self.decrypted: Callable[[], int] | None = (
            raw.pending if isinstance(raw, ssl.SSLSocket) else None
        )
        """Bytes TLS has decrypted already (select cannot see them)."""
        self.fd = raw.fileno()
        self.wake_fd = wake_fd
        self.cap = cap
        self.refused = refused
        self.enabled = enabled
        self.new_spool = new_spool
        self.stored = stored
        self.echoed = echoed
        self.idle = idle
        self.woken = False
        """Set (with a byte in the wake pipe) when pynetdicom has a PDU to
        send: the reader then looks at the pipe before reading on."""
        self._eager = True
        """The peer's bytes were there when last looked for: read first."""
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        """First byte of the buffer not yet served."""
        self._end = 0
        """End of the bytes received."""
        self._dead = False
        """The stream cannot be read on (closed, or a PDU refused)."""
        self._command = bytearray()
        self._pending: dict[int, bytes] | None = None
        """The command whose data set is arriving."""
        self._context = 0
        self._spool: Spool | None = None
        self.hub: Any = None
        """The hub (services.scp_hub) serving this reader, while it does."""
        self.handed_back: Callable[[], None] | None = None
        """Set by the hub: wakes the DUL thread when the reader is back."""
        self.serving = threading.RLock()
        """Held by the hub while it serves this reader."""
        self.unsent = b""
        """The rest of a response the hub could not write at once (the peer
        does not read): written by the DUL thread, which takes over."""
        self.failed: Exception | None = None
        """What went wrong while the hub served this reader: raised in the
        DUL thread, where pynetdicom aborts the association for it."""

    # --- the reactor's entry points -------------------------------------------

    def has_pdu(self) -> bool:
        """True when a whole PDU (or a refusal) waits in the buffer."""
        avail = self._end - self._start
        if avail < 6 or self._dead:
            return False
        length = _LENGTH.unpack_from(self._buf, self._start + 2)[0]
        return avail >= 6 + length or length > self.cap

    def __call__(self) -> None:
        if self.failed is not None:
            failed, self.failed = self.failed, None
            raise failed
        if self.unsent:
            unsent, self.unsent = self.unsent, b""
            with contextlib.suppress(OSError):
                self.raw.sendall(unsent)  # waits (up to the socket's timeout)
        if self._dead:
            return
        if self._start == self._end:
            if not self.enabled():
                self.original()  # (acknowledges: scp._fast_recv)
                return
            fast = True
        else:
            fast = self.enabled()
        while True:
            pdu = self._next_pdu()
            if pdu is None:
                if self._dead or not self._fill():
                    return
                continue
            pdu_type, body = pdu
            if pdu_type != 0x04 or not fast:
                self._queue(pdu_type, body)
                return
            self._p_data(body)
            del body

    def pump(self) -> bool:
        """Serve the association from the hub (services.scp_hub): receive what
        the socket holds, then serve the P-DATA PDUs in the buffer.

        Returns:
            False when the association must go back to its DUL thread: a PDU
            other than P-DATA is next (left in the buffer for it), or the
            stream ended or was refused (its event queued).
        """
        if self._dead or not self._serve_buffered():
            return False
        end = self._room()
        try:
            n = os.readv(self.fd, (self._view[end:],))
        except (BlockingIOError, InterruptedError):
            return True
        except (OSError, TimeoutError):
            n = 0
        if not (self._got(n, end) and self._serve_buffered()):
            return False
        self._hurry_peer()
        return True

    def _hurry_peer(self) -> None:
        """Acknowledge at once while the rest of an object is awaited (see
        services.tcp): after a read that left a PDU or a data set
        incomplete."""
        if self._pending is not None or self._start != self._end:
            acknowledge_now(self.raw)

    def _serve_buffered(self) -> bool:
        """Serve the whole P-DATA PDUs in the buffer; False as :meth:`pump`."""
        while self._end > self._start:
            if self._buf[self._start] != 0x04:
                return False
            pdu = self._next_pdu()
            if pdu is None:
                return not self._dead
            self._p_data(pdu[1])
            if self.unsent:  # nothing more before the rest of that answer
                return False
        return True

    def release(self) -> None:
        """Free the buffer: the association is over (reads nothing more)."""
        self._dead = True
        self._start = self._end = 0
        with contextlib.suppress(BufferError):
            self._view.release()
        self._buf = bytearray()
        self._view = memoryview(self._buf)
        self._command = bytearray()
        self._pending = self._spool = None

    # --- the buffer -----------------------------------------------------------

    def _next_pdu(self) -> tuple[int, memoryview] | None:
        """The next whole PDU in the buffer (its type and body), or None."""
        start = self._start
        avail = self._end - start
        if avail < 6:
            return None
        pdu_type, _, length = _HEADER.unpack_from(self._buf, start)
        if pdu_type not in _KNOWN_PDU_TYPES:
            self._die("Evt19")  # as pynetdicom's reader: unrecognised PDU
            return None
        if length > self.cap:
            self.refused(
                f"aborted by us: the peer declared a PDU of {length} bytes, "
                f"above our limit of {self.cap} (receiver.max_pdu)"
            )
            self._die("Evt17")  # as a failed read in pynetdicom's reader
            return None
        total = 6 + length
        if avail < total:
            if total > len(self._buf):
                self._grow(total)
            return None
        self._start = start + total
        return pdu_type, self._view[start + 6 : start + total]

    def _grow(self, size: int) -> None:
        old = self._buf
        self._view.release()
        self._buf = bytearray(max(size, 2 * len(old)))
        self._buf[: self._end - self._start] = old[self._start : self._end]
        self._end -= self._start
        self._start = 0
        self._view = memoryview(self._buf)

    def _fill(self) -> bool:
        """Receive more bytes; False when the reactor must have a turn."""
        if self.dul._kill_thread:
            return False
        end = self._room()
        if self.decrypted is not None:
            wait = not self.decrypted()
        else:
            # Read at once while the peer is ahead of us (the bytes were there
            # the last time), else wait first, watching the wake pipe too: a
            # read that finds nothing costs about as much as the wait.
            wait = self.woken or not self._eager
            if not wait:
                try:
                    n = os.readv(self.fd, (self._view[end:],))
                except (BlockingIOError, InterruptedError):
                    wait = True
                    self._eager = False
                except (OSError, TimeoutError):
                    n = 0
                if not wait:
                    return self._got(n, end)
        if wait:
            self._hurry_peer()
            started = time.monotonic()
            try:
                ready, _, _ = select.select([self.fd, self.wake_fd], [], [], self.idle)
            except (OSError, ValueError):
                self._die("Evt17")
                return False
            if self.wake_fd in ready:
                self.woken = False  # before reading: a later wake is not lost
                with contextlib.suppress(OSError):
                    os.read(self.wake_fd, 4096)
                return False
            if not ready:
                return False
            self._eager = time.monotonic() - started < _AT_ONCE
        try:
            if self.tls:
                n = self.raw.recv_into(self._view[end:])
            else:
                n = os.readv(self.fd, (self._view[end:],))
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return True
        except (OSError, TimeoutError):
            n = 0
        return self._got(n, end)

    def _room(self) -> int:
        """Make room at the end of the buffer; where the next bytes go."""
        start, end = self._start, self._end
        if start == end:
            self._start = self._end = 0
            return 0
        if end == len(self._buf):  # full: move what is left to the front
            self._buf[: end - start] = self._buf[start:end]
            self._end = end = end - start
            self._start = 0
            if end == len(self._buf):
                self._grow(2 * end)
        return end

    def _got(self, n: int, end: int) -> bool:
        """Account for ``n`` bytes received at ``end`` (0: the peer closed)."""
        if not n:
            self._die("Evt17")  # the peer closed the connection
            return False
        self._end = end + n
        self.dul._idle_timer.restart()
        return True

    def _die(self, event: str) -> None:
        self._dead = True
        self._start = self._end = 0
        self.dul.event_queue.put(event)

    def _queue(self, pdu_type: int, body: memoryview) -> None:
        """Decode a PDU and queue its event, as pynetdicom's reader does."""
        dul = self.dul
        data = bytearray(_HEADER.pack(pdu_type, 0, len(body)))
        data += body
        try:
            pdu, event = dul._decode_pdu(data)
        except Exception:
            LOGGER.debug("undecodable PDU of type 0x%02X", pdu_type)
            dul.event_queue.put("Evt19")
            return
        dul.event_queue.put(event)
        dul._recv_pdu.put(pdu)

    # --- P-DATA ---------------------------------------------------------------

    def _p_data(self, body: memoryview) -> None:
        pos, end = 0, len(body)
        while pos < end:
            if pos + 6 > end:
                raise ProtocolError("truncated PDV item")
            length, context_id, control = _PDV.unpack_from(body, pos)
            if length < 2 or pos + 4 + length > end:
                raise ProtocolError("bad PDV item length")
            data = body[pos + 6 : pos + 4 + length]
            pos += 4 + length
            if control & 1:
                self._command_fragment(context_id, data, last=bool(control & 2))
            else:
                self._dataset_fragment(context_id, data, last=bool(control & 2))

    def _command_fragment(self, context_id: int, data: memoryview, last: bool) -> None:
        if self._pending is not None:
            raise ProtocolError("a command arrived before the data set was complete")
        self._command += data
        if not last:
            return
        elements = parse_command(self._command)
        self._command = bytearray()
        context = self.dul.assoc._accepted_cx.get(context_id)
        if context is None:
            raise ProtocolError(f"presentation context {context_id} not accepted")
        field = _us(elements, 0x0100)
        has_dataset = _us(elements, 0x0800) != NO_DATASET
        if field == C_ECHO_RQ and not has_dataset:
            self.echoed()
            self._send(context_id, C_ECHO_RSP, elements, 0x0000, with_uid=False)
        elif field == C_STORE_RQ and has_dataset:
            self._pending = elements
            self._context = context_id
            self._spool = self.new_spool(
                _ui(elements, 0x0002),
                _ui(elements, 0x1000),
                str(context.transfer_syntax[0]),
            )
        else:
            raise ProtocolError(f"command 0x{field:04X} is not served here")

    def _dataset_fragment(self, context_id: int, data: memoryview, last: bool) -> None:
        spool, elements = self._spool, self._pending
        if spool is None or elements is None or context_id != self._context:
            raise ProtocolError("a data set fragment without its command")
        chunk = bytes(data)  # a copy: the buffer is reused
        if not spool.head:
            spool.head, spool.head_at = chunk, spool.nbytes
        spool.write(chunk)
        if not last:
            return
        self._pending = None
        self._spool = None
        status, after = self.stored(spool, _ui(elements, 0x1000))
        self._send(context_id, C_STORE_RSP, elements, status, with_uid=True)
        if after is not None:  # bookkeeping while the peer sends the next one
            after()

    def _send(
        self,
        context_id: int,
        command: int,
        elements: dict[int, bytes],
        status: int,
        *,
        with_uid: bool,
    ) -> None:
        message_id = _us(elements, 0x0110)
        sop_class = elements.get(0x0002, b"").rstrip(b"\0 ")
        sop_uid = elements.get(0x1000, b"").rstrip(b"\0 ") if with_uid else b""
        pdu = response_pdu(context_id, command, message_id, status, sop_class, sop_uid)
        if not self.tls:
            try:
                sent = os.write(self.fd, pdu)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the connection is gone: the next read says so
            if sent == len(pdu):
                return
            pdu = pdu[sent:]
            if self.hub is not None:  # the hub never waits for one peer
                self.unsent = pdu
                return
        with contextlib.suppress(OSError):
            self.raw.sendall(pdu)  # waits (up to the socket's timeout)
