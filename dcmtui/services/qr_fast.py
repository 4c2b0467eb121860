"""A fast lane for query/retrieve answers on a pynetdicom association.

pynetdicom spends a few milliseconds of Python on every DIMSE message (command
sets built and parsed as pydicom Datasets, the state machine, a queue hop to
the DUL thread). A C-FIND answer or a C-GET sub-operation is a small, fixed
exchange, so here they are encoded by hand and written straight to the
association's socket:

- ``FastResponses`` replaces ``assoc.dimse.send_msg`` for C-FIND, C-GET and
  C-MOVE responses (the identifier pynetdicom encoded is sent as it is); any
  other message goes the usual way.
- ``FastGet`` runs the C-STORE sub-operations of a C-GET itself: while it
  runs, the DUL thread is kept off the socket (``AssociationSocket.ready`` is
  False when its ``socket`` is None), the C-STORE requests are written with
  the file's data set bytes as they are, and the responses are read and
  parsed here (a C-CANCEL arriving meanwhile is noticed). A file whose
  transfer syntax has no accepted context goes through pynetdicom (with
  conversion), after handing the socket back.

Plain TCP only: with TLS the usual path is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from typing import Any

from dcmtui.services.dimse_fast import add_command_fragments, parse_command

LOGGER = logging.getLogger(__name__)
PENDING = 0xFF00

_RSP_FIELDS = {"C_FIND": 0x8020, "C_GET": 0x8010, "C_MOVE": 0x8021}
_COUNTS = (
    (0x1020, "NumberOfRemainingSuboperations"),
    (0x1021, "NumberOfCompletedSuboperations"),
    (0x1022, "NumberOfFailedSuboperations"),
    (0x1023, "NumberOfWarningSuboperations"),
)
_HANDLED = {
    "AffectedSOPClassUID",
    "MessageIDBeingRespondedTo",
    "Status",
    "ErrorComment",
    "Identifier",
    "MessageID",
    *(name for _, name in _COUNTS),
}


class LaneClosed(Exception):
    """The association was lost while we held its socket."""


def _element(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, elem, len(value)) + value


def _us(value: int) -> bytes:
    return struct.pack("<H", value & 0xFFFF)


def _text(value: str, pad: bytes) -> bytes:
    data = value.encode("latin-1", "replace")
    return data + pad if len(data) % 2 else data


def _command(elements: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(_element(e, v) for e, v in sorted(elements))
    return _element(0x0000, struct.pack("<I", len(body))) + body


def response_command(rsp: Any) -> tuple[bytes, bytes | None] | None:
    """The command set (and identifier bytes) of a C-FIND/C-GET/C-MOVE
    response primitive, or None when it has fields we do not encode."""
    kind = type(rsp).__name__
    field = _RSP_FIELDS.get(kind)
    if field is None or rsp.MessageIDBeingRespondedTo is None:
        return None
    for name in ("OffendingElement", "ErrorID", "AffectedSOPInstanceUID"):
        if getattr(rsp, name, None) not in (None, [], ""):
            return None
    identifier = rsp.Identifier.getvalue() if rsp.Identifier is not None else None
    elements = [
        (0x0002, _text(str(rsp.AffectedSOPClassUID or ""), b"\0")),
        (0x0100, _us(field)),
        (0x0120, _us(int(rsp.MessageIDBeingRespondedTo))),
        (0x0800, _us(0x0001 if identifier else 0x0101)),
        (0x0900, _us(int(rsp.Status))),
    ]
    comment = getattr(rsp, "ErrorComment", None)
    if comment:
        elements.append((0x0902, _text(str(comment)[:64], b" ")))
    if kind != "C_FIND":
        for elem, name in _COUNTS:
            value = getattr(rsp, name, None)
            if value is not None:
                elements.append((elem, _us(int(value))))
    return _command(elements), identifier


def pending_find_command(sop_class: str, message_id: int) -> bytes:
    """The command set of a Pending C-FIND-RSP with an identifier."""
    return _command(
        [
            (0x0002, _text(sop_class, b"\0")),
            (0x0100, _us(0x8020)),
            (0x0120, _us(message_id)),
            (0x0800, _us(0x0001)),
            (0x0900, _us(PENDING)),
        ]
    )


def store_command(sop_class: str, sop_instance: str, message_id: int) -> bytes:
    """A C-STORE-RQ command set (implicit VR little endian)."""
    return _command(
        [
            (0x0002, _text(sop_class, b"\0")),
            (0x0100, _us(0x0001)),
            (0x0110, _us(message_id)),
            (0x0700, _us(0)),
            (0x0800, _us(0x0000)),
            (0x1000, _text(sop_instance, b"\0")),
        ]
    )


def _raw_socket(assoc: Any) -> socket.socket | None:
    sock = getattr(assoc.dul, "socket", None)
    raw = getattr(sock, "socket", None)
    if raw is None or isinstance(raw, ssl.SSLSocket):
        return None
    return raw


class _Writer:
    """Writes whole DIMSE messages as P-DATA-TF PDUs on a raw socket."""

    def __init__(self, raw: socket.socket, peer_max_pdu: int) -> None:
        self.raw = raw
        limit = peer_max_pdu if peer_max_pdu > 0 else 1 << 20
        self.max_value = max(min(limit, 1 << 20) - 12, 1024)

    def message(self, context_id: int, command: bytes, data: bytes | None) -> None:
        parts = [struct.pack(">IBB", len(command) + 2, context_id, 0x03), command]
        if data is not None and len(data) + len(command) + 12 <= self.max_value:
            parts += [struct.pack(">IBB", len(data) + 2, context_id, 0x02), data]
            data = None
            body = b"".join(parts)
            self.raw.sendall(struct.pack(">BBI", 0x04, 0, len(body)) + body)
            return
        body = b"".join(parts)
        self.raw.sendall(struct.pack(">BBI", 0x04, 0, len(body)) + body)
        if data is not None:
            self.dataset(context_id, memoryview(data))

    def responses(self, context_id: int, command: bytes, datas: list[bytes]) -> None:
        """Several messages with the same command set, in one write."""
        out: list[bytes] = []
        for data in datas:
            total = len(command) + len(data) + 12
            if total > self.max_value:  # too big for one PDU: on its own
                if out:
                    self.raw.sendall(b"".join(out))
                    out = []
                self.message(context_id, command, data)
                continue
            out += [
                struct.pack(">BBI", 0x04, 0, total),
                struct.pack(">IBB", len(command) + 2, context_id, 0x03),
                command,
                struct.pack(">IBB", len(data) + 2, context_id, 0x02),
                data,
            ]
        if out:
            self.raw.sendall(b"".join(out))

    def dataset(self, context_id: int, view: memoryview) -> None:
        if not len(view):
            self.raw.sendall(struct.pack(">BBIIBB", 0x04, 0, 6, 2, context_id, 0x02))
            return
        for start in range(0, len(view), self.max_value):
            part = view[start : start + self.max_value]
            last = 0x02 if start + self.max_value >= len(view) else 0x00
            head = struct.pack(
                ">BBIIBB", 0x04, 0, len(part) + 6, len(part) + 2, context_id, last
            )
            self.raw.sendall(head + bytes(part))


class FastResponses:
    """Installs the fast C-FIND/C-GET/C-MOVE response writer on an association."""

    @staticmethod
    def install(assoc: Any) -> bool:
        """Install once per association; False when the fast lane is not
        possible (TLS, no socket)."""
        if getattr(assoc, "dcmtui_fast", False):
            return True
        raw = _raw_socket(assoc)
        if raw is None:
            return False
        writer = _Writer(raw, int(assoc.requestor.maximum_length or 0))
        dimse = assoc.dimse
        original = dimse.send_msg

        def send_msg(primitive: Any, context_id: int) -> None:
            encoded = response_command(primitive)
            if encoded is None:
                original(primitive, context_id)
                return
            command, identifier = encoded
            try:
                writer.message(context_id, command, identifier)
            except OSError as exc:
                LOGGER.info("query/retrieve: the peer is gone: %s", exc)

        dimse.send_msg = send_msg
        assoc.dcmtui_fast = True
        assoc.dcmtui_writer = writer
        return True

    @staticmethod
    def writer(assoc: Any) -> _Writer:
        """The writer of an association ``install`` returned True for."""
        return assoc.dcmtui_writer


class FastGet:
    """C-STORE sub-operations of a C-GET, on the association's own socket."""

    def __init__(self, assoc: Any) -> None:
        self.assoc = assoc
        self.sock = assoc.dul.socket
        raw = _raw_socket(assoc)
        assert raw is not None
        self.raw = raw
        self.writer = _Writer(raw, int(assoc.requestor.maximum_length or 0))
        self.cancel_seen = False
        self.dead = False
        """The association was lost: no more sub-operations."""
        self.held = False
        self._contexts: dict[tuple[str, str], int | None] = {}
        self._last_tick = time.monotonic()
        # A reactor pass that saw the socket just before hold() could still
        # call recv: it waits here until the socket is given back.
        self._free = threading.Event()
        self._free.set()
        reader = self.sock.recv

        def guarded(count: int) -> Any:
            self._free.wait()
            return reader(count)

        self.sock.recv = guarded

    @staticmethod
    def possible(assoc: Any) -> bool:
        """True on a plain TCP association."""
        return _raw_socket(assoc) is not None

    # -- holding the socket ---------------------------------------------------

    def hold(self) -> None:
        """Keep the DUL thread off the socket (it sees no data to read)."""
        if not self.held:
            self._free.clear()
            self.sock.socket = None
            self.held = True

    def release(self) -> None:
        """Give the socket back to the DUL thread."""
        if self.held:
            self.sock.socket = self.raw
            self.held = False
            self._free.set()

    def _tick(self) -> None:
        """Keep pynetdicom's network idle timer from firing while we work."""
        now = time.monotonic()
        if now - self._last_tick > 1.0:
            self._last_tick = now
            with contextlib.suppress(Exception):
                self.assoc.dul._idle_timer.restart()

    # -- reading ----------------------------------------------------------------

    def _exact(self, count: int) -> bytes:
        buf = bytearray(count)
        view = memoryview(buf)
        got = 0
        while got < count:
            try:
                n = self.raw.recv_into(view[got:], count - got)
            except OSError as exc:
                raise LaneClosed(f"the connection was lost: {exc}") from exc
            if not n:
                raise LaneClosed("the peer closed the connection")
            got += n
        return bytes(buf)

    def _read_command(self) -> dict[int, bytes]:
        command = bytearray()
        while True:
            kind, _, length = struct.unpack(">BBI", self._exact(6))
            body = self._exact(length)
            if kind != 0x04:
                raise LaneClosed(f"the peer sent PDU type {kind:#04x} mid-retrieve")
            if add_command_fragments(body, command):
                return parse_command(bytes(command))

    # -- one sub-operation --------------------------------------------------------

    def _context(self, sop_class: str, ts: str) -> int | None:
        key = (sop_class, ts)
        if key not in self._contexts:
            self._contexts[key] = next(
                (
                    int(cx.context_id)
                    for cx in self.assoc.accepted_contexts
                    if str(cx.abstract_syntax) == sop_class
                    and cx.transfer_syntax
                    and str(cx.transfer_syntax[0]) == ts
                    and cx.as_scu
                ),
                None,
            )
        return self._contexts[key]

    def store(self, path: str, message_id: int) -> int | None:
        """Send one file; return the C-STORE status, or None when this file
        needs pynetdicom (no context for its transfer syntax).

        Raises:
            LaneClosed: The association is gone.
            OSError: The file cannot be read.
        """
        from dcmtui.services.dimse_fast import read_meta

        try:
            meta = read_meta(path)
        except ValueError as exc:
            raise OSError(str(exc)) from exc
        context_id = self._context(meta.sop_class, meta.transfer_syntax)
        if context_id is None:
            return None
        self.hold()
        self._tick()
        command = store_command(meta.sop_class, meta.sop_instance, message_id)
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size - meta.offset
            handle.seek(meta.offset)
            data = handle.read(size)
        try:
            self.writer.message(context_id, command, data)
            while True:
                response = self._read_command()
                field = _u16(response.get(0x0100))
                if field == 0x0FFF:  # C-CANCEL-RQ for the C-GET
                    self.cancel_seen = True
                    continue
                if field != 0x8001:
                    raise LaneClosed(f"unexpected command {field:#06x} mid-retrieve")
                return _u16(response.get(0x0900), 0xC000)
        except OSError as exc:
            raise LaneClosed(str(exc)) from exc


def _u16(raw: bytes | None, default: int = 0) -> int:
    if not raw or len(raw) < 2:
        return default
    return int(struct.unpack_from("<H", raw)[0])
