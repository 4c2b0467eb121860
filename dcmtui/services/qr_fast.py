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
  parsed here (a C-CANCEL arriving meanwhile is noticed). Each file is read
  (and a large one streamed) in pieces of the peer's PDU size, the next one
  read while the peer stores the current one; a file whose transfer syntax
  has no accepted context is converted (scu_send) to an uncompressed one the
  peer accepted.

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
from dataclasses import dataclass
from typing import Any

from dcmtui.services import tcp
from dcmtui.services.dimse_fast import FileMeta, parse_command, store_command
from dcmtui.services.echo_fast import add_command_fragments
from dcmtui.services.fastread import LONG_VRS

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

    @staticmethod
    def pdu(context_id: int, command: bytes, data: bytes | None = None) -> bytes:
        """One P-DATA-TF holding a command set and its (small) data set."""
        parts = [struct.pack(">IBB", len(command) + 2, context_id, 0x03), command]
        if data is not None:
            parts += [struct.pack(">IBB", len(data) + 2, context_id, 0x02), data]
        body = b"".join(parts)
        return struct.pack(">BBI", 0x04, 0, len(body)) + body

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

        answered: set[int] = set()
        assoc.dcmtui_answered = answered

        def send_msg(primitive: Any, context_id: int) -> None:
            if (
                answered
                and type(primitive).__name__ in ("C_GET", "C_MOVE")
                and primitive.MessageIDBeingRespondedTo in answered
            ):  # we sent every response of this C-GET / C-MOVE ourselves
                answered.discard(primitive.MessageIDBeingRespondedTo)
                return
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
    def answered(assoc: Any, message_id: int) -> None:
        """Drop pynetdicom's final response to the C-GET or C-MOVE request
        ``message_id``: we sent it (on any association, TLS too)."""
        answered: set[int] | None = getattr(assoc, "dcmtui_answered", None)
        if answered is None:
            answered = set()
            dimse = assoc.dimse
            original = dimse.send_msg

            def send_msg(primitive: Any, context_id: int) -> None:
                if (
                    type(primitive).__name__ in ("C_GET", "C_MOVE")
                    and primitive.MessageIDBeingRespondedTo in answered
                ):
                    answered.discard(primitive.MessageIDBeingRespondedTo)
                    return
                original(primitive, context_id)

            dimse.send_msg = send_msg
            assoc.dcmtui_answered = answered
        answered.add(message_id)

    @staticmethod
    def writer(assoc: Any) -> _Writer:
        """The writer of an association ``install`` returned True for."""
        return assoc.dcmtui_writer


@dataclass(frozen=True)
class Prepared:
    """One C-STORE sub-operation, read and encoded ahead of its turn."""

    path: str
    size: int
    """The file's size."""
    meta: FileMeta | None
    context_id: int | None
    """None when ``error`` says why the file cannot be sent."""
    message: bytes | None
    """The P-DATA-TF to write: the whole request, or its command set when
    ``streamed``."""
    error: OSError | None
    """Why the file cannot be sent."""
    streamed: bool = False
    """The data set follows, read from the file when it is sent."""
    converted: bytes | None = None
    """The data set converted to a syntax the peer accepted (sent instead of
    the file's bytes)."""


class FastGet:
    """C-STORE sub-operations of a C-GET, on the association's own socket.

    While the lane holds the socket (``hold``), pynetdicom's DUL thread sees
    no socket to read and waits on an event instead of polling, so the
    sub-operations are not slowed by a second thread contending for the GIL.
    """

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
        self._queued: list[bytes] = []
        self._contexts: dict[tuple[str, str], int | None] = {}
        self._last_tick = time.monotonic()
        self._buffer = bytearray(_READ_BLOCK)
        # A reactor pass that saw the socket just before hold() could still
        # call recv: it waits here until the socket is given back.
        self._free = threading.Event()
        self._free.set()
        dul = assoc.dul
        self._dul = dul
        self._reader = self.sock.recv
        self._transport_event = dul.__dict__.get("_is_transport_event")
        reader = self._reader
        looks = dul._is_transport_event
        free = self._free

        def guarded(count: int) -> Any:
            free.wait()
            return reader(count)

        def transport_event() -> bool:
            if not free.is_set():  # held: sleep until given back (or a while)
                free.wait(0.05)
                return False
            return bool(looks())

        self.sock.recv = guarded
        dul._is_transport_event = transport_event

    @staticmethod
    def possible(assoc: Any) -> bool:
        """True on a plain TCP association."""
        return _raw_socket(assoc) is not None

    def close(self) -> None:
        """Give the socket back and undo what __init__ hooked.

        Raises:
            LaneClosed: What was queued could not be sent.
        """
        try:
            self.release()
        finally:
            self._unhook()

    def _unhook(self) -> None:
        self.sock.recv = self._reader
        if self._transport_event is None:
            self._dul.__dict__.pop("_is_transport_event", None)
        else:
            self._dul._is_transport_event = self._transport_event

    # -- holding the socket ---------------------------------------------------

    def hold(self) -> None:
        """Keep the DUL thread off the socket (it sees no data to read)."""
        if not self.held:
            self._free.clear()
            self.sock.socket = None
            self.held = True

    def release(self) -> None:
        """Send what is queued; give the socket back to the DUL thread.

        Raises:
            LaneClosed: The association is gone (the socket is given back).
        """
        try:
            self.flush()
        finally:
            self._give_back()

    def _give_back(self) -> None:
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

    # -- writing ----------------------------------------------------------------

    def queue(self, data: bytes) -> None:
        """Send ``data`` with the next write (a Pending C-GET response goes
        out with the next C-STORE request)."""
        self._queued.append(data)

    def flush(self) -> None:
        """Send what is queued.

        Raises:
            LaneClosed: The association is gone.
        """
        if self._queued:
            data, self._queued = b"".join(self._queued), []
            try:
                self.raw.sendall(data)
            except OSError as exc:
                raise LaneClosed(str(exc)) from exc

    # -- reading ----------------------------------------------------------------

    def _exact(self, count: int) -> memoryview:
        if count > len(self._buffer):
            self._buffer = bytearray(count)
        view = memoryview(self._buffer)[:count]
        got = 0
        while got < count:
            try:
                n = tcp.recv_into(self.raw, view[got:])
            except OSError as exc:
                raise LaneClosed(f"the connection was lost: {exc}") from exc
            if not n:
                raise LaneClosed("the peer closed the connection")
            got += n
        return view

    def _read_command(self) -> dict[int, bytes]:
        command = bytearray()
        while True:
            kind, _, length = struct.unpack(">BBI", self._exact(6))
            if length > _MAX_COMMAND_PDU:
                raise LaneClosed(f"the peer sent a PDU of {length} bytes mid-retrieve")
            body = bytes(self._exact(length))
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

    def prepare(self, path: str, message_id: int) -> Prepared:
        """Read what sending ``path`` needs (its meta group; all of a small
        file, as a ready P-DATA-TF) before it is its turn, so the file I/O
        happens while the peer is busy with the previous object."""
        try:
            with open(path, "rb") as handle:
                head = handle.read(_READ_BLOCK)
                file_size = os.fstat(handle.fileno()).st_size
            meta = meta_from_bytes(head)
            if meta is None:  # a meta group longer than the first block
                from dcmtui.services.dimse_fast import read_meta

                try:
                    meta = read_meta(path)
                except ValueError as exc:
                    raise OSError(str(exc)) from exc
        except OSError as exc:
            return Prepared(path, 0, None, None, None, exc)
        context_id = self._context(meta.sop_class, meta.transfer_syntax)
        converted: bytes | None = None
        if context_id is None:  # the peer refuses the file's syntax
            try:
                context_id, converted = self._convert(path, meta)
            except Exception as exc:
                return Prepared(path, file_size, meta, None, None, OSError(str(exc)))
        command = store_command(meta.sop_class, meta.sop_instance, message_id)
        size = file_size - meta.offset if converted is None else len(converted)
        whole = converted if converted is not None else None
        if whole is None and len(head) == file_size:
            whole = head[meta.offset :]
        if whole is not None and size + len(command) + 12 <= self.writer.max_value:
            data = whole
            message = b"".join(
                (
                    struct.pack(">BBI", 0x04, 0, len(command) + len(data) + 12),
                    struct.pack(">IBB", len(command) + 2, context_id, 0x03),
                    command,
                    struct.pack(">IBB", len(data) + 2, context_id, 0x02),
                    data,
                )
            )
            return Prepared(path, file_size, meta, context_id, message, None)
        header = b"".join(
            (
                struct.pack(">BBI", 0x04, 0, len(command) + 6),
                struct.pack(">IBB", len(command) + 2, context_id, 0x03),
                command,
            )
        )
        return Prepared(
            path, file_size, meta, context_id, header, None, True, converted
        )

    def _convert(self, path: str, meta: FileMeta) -> tuple[int, bytes]:
        """The data set of ``path`` in an uncompressed syntax the peer
        accepted for its SOP class: (context ID, bytes).

        Raises:
            OSError: No such context.
            SendError: pydicom cannot convert the file.
        """
        from dcmtui.services.scu_send import UNCOMPRESSED, _convert

        for target in UNCOMPRESSED:
            context_id = self._context(meta.sop_class, target)
            if context_id is not None:
                return context_id, _convert(path, meta.transfer_syntax, target)
        raise OSError("the peer accepted no context for this SOP class")

    def send(self, item: Prepared) -> None:
        """Send a prepared C-STORE request (with what is queued before it);
        a large data set is streamed from the file in PDU-sized pieces.

        Raises:
            LaneClosed: The association is gone, or the file changed.
        """
        assert item.meta is not None and item.context_id is not None
        assert item.message is not None
        self.hold()
        self._tick()
        self._queued.append(item.message)
        try:
            self.flush()
            if item.streamed and item.converted is not None:
                view = memoryview(item.converted)
                limit = self.writer.max_value
                for start in range(0, len(view), limit):
                    part = view[start : start + limit]
                    last = 2 if start + limit >= len(view) else 0
                    self._send(
                        struct.pack(
                            ">BBIIBB",
                            0x04,
                            0,
                            len(part) + 6,
                            len(part) + 2,
                            item.context_id,
                            last,
                        ),
                        part,
                    )
            elif item.streamed:
                with open(item.path, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size - item.meta.offset
                    if size + item.meta.offset != item.size:
                        raise LaneClosed(f"{item.path} changed while being sent")
                    self._stream(
                        handle,
                        item.context_id,
                        item.meta.offset,
                        size,
                        self.writer.max_value,
                    )
        except LaneClosed:
            self.dead = True
            raise
        except OSError as exc:
            self.dead = True
            raise LaneClosed(str(exc)) from exc

    def response(self) -> int:
        """Wait for the C-STORE response; its status (a C-CANCEL meanwhile
        is noted in ``cancel_seen``).

        Raises:
            LaneClosed: The association is gone, or the peer sent something
                else.
        """
        try:
            while True:
                response = self._read_command()
                field = _u16(response.get(0x0100))
                if field == 0x0FFF:  # C-CANCEL-RQ for the C-GET
                    self.cancel_seen = True
                    continue
                if field != 0x8001:
                    raise LaneClosed(f"unexpected command {field:#06x} mid-retrieve")
                return _u16(response.get(0x0900), 0xC000)
        except LaneClosed:
            self.dead = True
            raise

    def _stream(
        self, handle: Any, context_id: int, offset: int, size: int, limit: int
    ) -> None:
        """The data set, ``size`` bytes from ``offset``, in P-DATA-TF PDUs of
        at most ``limit`` bytes of value, one buffer reused."""
        handle.seek(offset)
        buffer = bytearray(min(limit, max(size, 1)))
        view = memoryview(buffer)
        left = size
        if not left:
            self.raw.sendall(struct.pack(">BBIIBB", 0x04, 0, 6, 2, context_id, 0x02))
            return
        while left:
            want = min(limit, left)
            got = handle.readinto(view[:want])
            if got != want:
                raise LaneClosed("the file is shorter than it was")
            left -= got
            head = struct.pack(
                ">BBIIBB", 0x04, 0, got + 6, got + 2, context_id, 0 if left else 2
            )
            self._send(head, view[:got])

    def _send(self, head: bytes, body: memoryview) -> None:
        sent = self.raw.sendmsg([head, body])
        total = len(head) + len(body)
        if sent < total:
            rest = (
                bytes(head[sent:]) + bytes(body)
                if sent < len(head)
                else body[sent - len(head) :]
            )
            self.raw.sendall(rest)


def meta_from_bytes(data: bytes) -> FileMeta | None:
    """The file meta group of a Part 10 file from its first bytes; None when
    they do not hold all of it.

    Raises:
        OSError: Not a DICOM file with a file meta group, or a damaged one.
    """
    if len(data) < 140 or data[128:132] != b"DICM":
        raise OSError("not a DICOM file with a file meta group")
    values: dict[int, bytes] = {}
    pos = 132
    while True:
        if len(data) < pos + 8:
            return None
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in LONG_VRS:
            if len(data) < pos + 12:
                return None
            (length,) = struct.unpack_from("<I", data, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            start = pos + 8
        end = start + length
        if end - 132 > 65536:
            raise OSError("damaged file meta group")
        if end > len(data):
            return None
        values[elem] = data[start:end]
        pos = end

    def text(elem: int) -> str:
        return values.get(elem, b"").rstrip(b"\0 ").decode("ascii", "replace")

    meta = FileMeta(text(0x0002), text(0x0003), text(0x0010), pos)
    if not (meta.sop_class and meta.sop_instance and meta.transfer_syntax):
        raise OSError("the file meta group lacks a SOP class, instance or syntax")
    return meta


_READ_BLOCK = 65536
_MAX_COMMAND_PDU = 1 << 20


def get_response_command(
    sop_class: str,
    message_id: int,
    status: int,
    counts: tuple[int | None, int, int, int],
    identifier: bool,
) -> bytes:
    """A C-GET-RSP command set; ``counts``: remaining (None: left out),
    completed, failed, warning."""
    elements = [
        (0x0002, _text(sop_class, b"\0")),
        (0x0100, _us(0x8010)),
        (0x0120, _us(message_id)),
        (0x0800, _us(0x0001 if identifier else 0x0101)),
        (0x0900, _us(status)),
    ]
    for elem, value in zip((0x1020, 0x1021, 0x1022, 0x1023), counts, strict=True):
        if value is not None:
            elements.append((elem, _us(value)))
    return _command(elements)


class PendingGet:
    """The Pending C-GET-RSP PDUs of one request: all but the four counts is
    encoded once."""

    _COUNTS = struct.Struct("<" + "HHIH" * 4)

    def __init__(self, sop_class: str, message_id: int, context_id: int) -> None:
        sample = get_response_command(
            sop_class, message_id, PENDING, (0, 0, 0, 0), False
        )
        command_head = sample[: len(sample) - self._COUNTS.size]
        self._head = (
            struct.pack(">BBI", 0x04, 0, len(sample) + 6)
            + struct.pack(">IBB", len(sample) + 2, context_id, 0x03)
            + command_head
        )

    def pdu(self, remaining: int, completed: int, failed: int, warning: int) -> bytes:
        """The P-DATA-TF of a Pending response with these counts."""
        return self._head + self._COUNTS.pack(
            0,
            0x1020,
            2,
            remaining & 0xFFFF,
            0,
            0x1021,
            2,
            completed & 0xFFFF,
            0,
            0x1022,
            2,
            failed & 0xFFFF,
            0,
            0x1023,
            2,
            warning & 0xFFFF,
        )


def uid_list(uids: list[str], implicit: bool) -> bytes:
    """An identifier holding only Failed SOP Instance UID List (0008,0058),
    little endian (as many UIDs as fit an explicit VR length)."""
    value = "\\".join(uids).encode("ascii", "replace")
    if not implicit and len(value) > 0xFFFE:
        value = value[: value.rfind(b"\\", 0, 0xFFFE)]
    if len(value) % 2:
        value += b"\0"
    head = struct.pack("<HH", 0x0008, 0x0058)
    if implicit:
        return head + struct.pack("<I", len(value)) + value
    return head + b"UI" + struct.pack("<H", len(value)) + value


def _u16(raw: bytes | None, default: int = 0) -> int:
    if not raw or len(raw) < 2:
        return default
    return int(struct.unpack_from("<H", raw)[0])
