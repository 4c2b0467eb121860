"""The receiver's fast path: C-STORE and C-ECHO read straight off the socket.

pynetdicom decodes every P-DATA PDU into objects, hands each message between
three threads and encodes each response with pydicom: a few milliseconds per
object, several times storescp's cost. For an association that only stores
and echoes, the DUL thread here reads P-DATA-TF PDUs itself: the command set
(a dozen implicit-VR elements) is parsed by hand, data set fragments go
straight from the receive buffer into the spool file, and the response is
encoded by hand and sent at once. Everything else (association negotiation,
release, abort, timers) stays with pynetdicom: PDUs other than P-DATA-TF are
decoded and queued exactly as pynetdicom's own reader does.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcmtui.services.store import Spool

LOGGER = logging.getLogger(__name__)

C_STORE_RQ = 0x0001
C_ECHO_RQ = 0x0030
C_STORE_RSP = 0x8001
C_ECHO_RSP = 0x8030
NO_DATASET = 0x0101
_HEADER = struct.Struct(">BBL")
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


def p_data(context_id: int, command: bytes) -> bytes:
    """One P-DATA-TF PDU carrying a whole command set as its last fragment."""
    pdv = _PDV.pack(len(command) + 2, context_id, 0x03) + command
    return _HEADER.pack(0x04, 0, len(pdv)) + pdv


class FastReader:
    """Replaces ``DULServiceProvider._read_pdu_data`` for one association.

    Args:
        dul: The association's DUL provider.
        enabled: Called per PDU: True once the association is established and
            may use the fast path (only storage and verification contexts).
        new_spool: Makes the spool file of a C-STORE (sop class, sop instance,
            transfer syntax), with its meta header written.
        stored: Called with (spool, sop instance uid) when a data set is
            complete; returns the DIMSE status to answer.
        echoed: Called for each C-ECHO.
    """

    def __init__(
        self,
        dul: Any,
        enabled: Callable[[], bool],
        new_spool: Callable[[str, str, str], Spool],
        stored: Callable[[Spool, str], int],
        echoed: Callable[[], None],
    ) -> None:
        self.dul = dul
        self.original = dul._read_pdu_data
        self.enabled = enabled
        self.new_spool = new_spool
        self.stored = stored
        self.echoed = echoed
        self._command = bytearray()
        self._pending: dict[int, bytes] | None = None
        """The command whose data set is arriving."""
        self._context = 0
        self._spool: Spool | None = None

    def __call__(self) -> None:
        if not self.enabled():
            self.original()
            return
        dul = self.dul
        sock = dul.socket
        try:
            header = sock.recv(6)
        except (OSError, TimeoutError):
            dul.event_queue.put("Evt17")
            return
        if len(header) < 6:
            dul.event_queue.put("Evt17")
            return
        pdu_type, _, length = _HEADER.unpack(header)
        if pdu_type not in _KNOWN_PDU_TYPES:
            dul.event_queue.put("Evt19")
            return
        try:
            body = sock.recv(length)
        except (OSError, TimeoutError):
            dul.event_queue.put("Evt17")
            return
        if len(body) != length:
            dul.event_queue.put("Evt17")
            return
        if pdu_type != 0x04:  # not P-DATA: decode and queue as pynetdicom does
            try:
                pdu, event = dul._decode_pdu(header + body)
            except Exception:
                dul.event_queue.put("Evt19")
                return
            dul.event_queue.put(event)
            dul._recv_pdu.put(pdu)
            return
        self._p_data(memoryview(body))

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
        spool.write(data)
        if not last:
            return
        self._pending = None
        self._spool = None
        status = self.stored(spool, _ui(elements, 0x1000))
        self._send(context_id, C_STORE_RSP, elements, status, with_uid=True)

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
        pdu = p_data(
            context_id, response(command, message_id, status, sop_class, sop_uid)
        )
        self.dul.socket.send(pdu)
