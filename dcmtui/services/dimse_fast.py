"""A small, fast C-STORE requester: the DICOM upper layer and the C-STORE
command set encoded by hand, data sets streamed from the files as they are.

pynetdicom's general machinery costs several milliseconds a message (and,
with TCP_NODELAY on both sides, it can lose a C-STORE response under load and
wait for its DIMSE timeout). Sending is a narrow job: one association, a
command of seven elements, the data set bytes, one response to read. This
module does only that, with large PDUs and TCP_NODELAY, and nothing is
decoded but the response's status.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

# The PDU item encoders and the PDU reader live in echo_fast, which must import
# nothing heavier than socket and struct (dcmtui echo's start-up); shared here.
from dcmtui.services.echo_fast import (
    APPLICATION_CONTEXT,
    IMPLEMENTATION_UID,
    IMPLEMENTATION_VERSION,
    PduReader,
    _address,
    _ae,
    _item,
    _uid,
    add_command_fragments,
)
from dcmtui.services.fastread import LONG_VRS

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import ssl
    from typing import BinaryIO

OUR_MAX_PDU = 1_048_576
_CHUNK = 4 * 1_048_576

SAME_HOST_SEND_BUFFER = 131_072
"""SO_SNDBUF for a peer on this host (Linux doubles it: 256 KB of bytes in
flight). Left alone, Linux grows a socket's send buffer to 4 MB, and a
receiver on this host then copies out bytes written megabytes earlier, no
longer in the CPU's caches: DCMTK's storescp spent about 10% more CPU taking a
400 MB file that way (benchmarks/bench_send.py). A same-host round trip takes
tens of microseconds, so 256 KB in flight never limits the rate there; across
a network it would, so other peers keep the kernel's own tuning."""

# Presentation context results (PS3.8 9.3.3.2).
CONTEXT_RESULTS = {
    0: "accepted",
    1: "rejected: user rejection",
    2: "rejected: no reason",
    3: "rejected: SOP class not supported",
    4: "rejected: transfer syntaxes not supported",
}


def same_host(peer: str, local: str) -> bool:
    """Whether a connection from ``local`` to ``peer`` (IP addresses) stays on
    this host: a loopback address, or our own address (Linux routes that
    through loopback too)."""
    if peer.startswith("::ffff:"):
        peer = peer[7:]
    if local.startswith("::ffff:"):
        local = local[7:]
    return peer == local or peer.startswith("127.") or peer == "::1"


def _bound_same_host_buffer(sock: socket.socket) -> None:
    """Bound the send buffer for a peer on this host (SAME_HOST_SEND_BUFFER)."""
    with contextlib.suppress(OSError):  # not an IP socket, or gone already
        if same_host(sock.getpeername()[0], sock.getsockname()[0]):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SAME_HOST_SEND_BUFFER)


class UpperLayerError(Exception):
    """The association could not be set up or was lost."""


class ConnectFailed(UpperLayerError):
    """The TCP (or TLS) connection could not be made."""


@dataclass
class Rejected(UpperLayerError):
    """A-ASSOCIATE-RJ: result (1 permanent, 2 transient), source, reason."""

    result: int
    source: int
    reason: int


class Aborted(UpperLayerError):
    """A-ABORT received, the connection closed, or the peer did not answer."""


@dataclass
class Proposal:
    """One presentation context we propose."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass
class Negotiated:
    """One presentation context as the peer answered it."""

    context_id: int
    abstract_syntax: str
    result: int
    transfer_syntax: str
    """The accepted transfer syntax (empty when rejected)."""
    proposed: tuple[str, ...] = ()


def associate_rq(
    calling: str, called: str, proposals: Sequence[Proposal], max_pdu: int
) -> bytes:
    """Encode an A-ASSOCIATE-RQ PDU."""
    body = bytearray(struct.pack(">HH", 1, 0) + _ae(called) + _ae(calling) + bytes(32))
    body += _item(0x10, APPLICATION_CONTEXT.encode())
    for p in proposals:
        sub = _item(0x30, p.abstract_syntax.encode())
        for ts in p.transfer_syntaxes:
            sub += _item(0x40, ts.encode())
        body += _item(0x20, struct.pack(">BBBB", p.context_id, 0, 0, 0) + sub)
    user = (
        _item(0x51, struct.pack(">I", max_pdu))
        + _item(0x52, IMPLEMENTATION_UID.encode())
        + _item(0x55, IMPLEMENTATION_VERSION.encode())
    )
    body += _item(0x50, user)
    return struct.pack(">BBI", 0x01, 0, len(body)) + bytes(body)


def _element(group_elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, group_elem, len(value)) + value


def store_command(sop_class: str, sop_instance: str, message_id: int) -> bytes:
    """The C-STORE-RQ command set, implicit VR little endian."""
    elements = (
        _element(0x0002, _uid(sop_class))
        + _element(0x0100, struct.pack("<H", 0x0001))
        + _element(0x0110, struct.pack("<H", message_id & 0xFFFF))
        + _element(0x0700, struct.pack("<H", 0))
        + _element(0x0800, struct.pack("<H", 0x0000))
        + _element(0x1000, _uid(sop_instance))
    )
    return _element(0x0000, struct.pack("<I", len(elements))) + elements


def parse_command(data: bytes) -> dict[int, bytes]:
    """(0000,eeee) element number to raw value, of an implicit VR command set."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if group == 0:
            out[elem] = data[pos : pos + length]
        pos += length
    return out


@dataclass
class FastAssociation:
    """An established association for sending C-STOREs."""

    sock: socket.socket
    peer_max_pdu: int
    contexts: list[Negotiated]
    _message_id: int = 0
    _reader: PduReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reader = PduReader(self.sock)

    # -- setting up ----------------------------------------------------------

    @classmethod
    def request(
        cls,
        host: str,
        port: int,
        *,
        calling: str,
        called: str,
        proposals: Sequence[Proposal],
        timeout: float,
        tls: ssl.SSLContext | None = None,
        max_pdu: int = OUR_MAX_PDU,
    ) -> FastAssociation:
        """Connect and negotiate.

        Raises:
            ConnectFailed: No TCP/TLS connection (the OSError is the cause).
            Rejected: The peer rejected the association.
            Aborted: The peer aborted, closed, or did not answer in time.
        """
        try:
            sock = socket.create_connection((_address(host), port), timeout=timeout)
        except OSError as exc:
            raise ConnectFailed(str(exc)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _bound_same_host_buffer(sock)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=None)
            except OSError as exc:  # ssl.SSLError is an OSError
                sock.close()
                raise ConnectFailed(f"TLS handshake failed: {exc}") from exc
        assoc = cls(sock, 0, [])
        try:
            sock.sendall(associate_rq(calling, called, proposals, max_pdu))
            kind, body = assoc._read_pdu()
        except BaseException:
            sock.close()
            raise
        if kind == 0x03:
            sock.close()
            raise Rejected(body[1], body[2], body[3])
        if kind != 0x02:
            sock.close()
            raise Aborted("the peer aborted the association request")
        assoc._parse_ac(body, {p.context_id: p for p in proposals})
        sock.settimeout(None if timeout <= 0 else max(timeout, 60.0))
        return assoc

    def _parse_ac(self, body: bytes, proposals: dict[int, Proposal]) -> None:
        pos = 68
        while pos + 4 <= len(body):
            kind, _, length = struct.unpack_from(">BBH", body, pos)
            value = body[pos + 4 : pos + 4 + length]
            pos += 4 + length
            if kind == 0x21:
                cid, result = value[0], value[2]
                ts = ""
                if len(value) > 8 and value[4] == 0x40:
                    (ts_len,) = struct.unpack_from(">H", value, 6)
                    ts = value[8 : 8 + ts_len].rstrip(b"\0 ").decode("ascii", "replace")
                proposal = proposals.get(cid)
                self.contexts.append(
                    Negotiated(
                        cid,
                        proposal.abstract_syntax if proposal else "",
                        result,
                        ts if result == 0 else "",
                        proposal.transfer_syntaxes if proposal else (),
                    )
                )
            elif kind == 0x50:
                sub = 0
                while sub + 4 <= len(value):
                    skind, _, slen = struct.unpack_from(">BBH", value, sub)
                    if skind == 0x51 and slen == 4:
                        (self.peer_max_pdu,) = struct.unpack_from(">I", value, sub + 4)
                    sub += 4 + slen

    # -- reading -------------------------------------------------------------

    def _read_pdu(self) -> tuple[int, bytes]:
        return self._reader.pdu()

    def _read_command(self) -> dict[int, bytes]:
        """Read P-DATA until a whole command set has arrived."""
        command = bytearray()
        while True:
            kind, body = self._read_pdu()
            if kind != 0x04:
                raise Aborted(f"unexpected PDU type {kind:#04x} instead of a response")
            if add_command_fragments(body, command):
                return parse_command(bytes(command))

    # -- sending -------------------------------------------------------------

    def _max_value(self) -> int:
        peer = self.peer_max_pdu or OUR_MAX_PDU
        return max(peer - 6, 1024)

    def _send_pdv(self, context_id: int, header: int, data: bytes | memoryview) -> None:
        head = struct.pack(
            ">BBIIBB", 0x04, 0, len(data) + 6, len(data) + 2, context_id, header
        )
        if len(data) < 65536:
            self.sock.sendall(head + bytes(data))
            return
        sent = self.sock.sendmsg([head, data])  # one system call, no copy
        total = len(head) + len(data)
        if sent < total:  # the rest, the slow way
            rest = (
                memoryview(head + bytes(data))[sent:]
                if sent < len(head)
                else (memoryview(data)[sent - len(head) :])
            )
            self.sock.sendall(rest)

    def _send_dataset_file(self, context_id: int, handle: BinaryIO, size: int) -> None:
        limit = self._max_value()
        if size == 0:
            self._send_pdv(context_id, 0x02, b"")
            return
        offset = handle.tell()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                end = offset + size
                if len(view) < end:
                    raise OSError("the file is shorter than it was")
                for start in range(offset, end, limit):
                    stop = min(start + limit, end)
                    self._send_pdv(
                        context_id, 0x02 if stop >= end else 0x00, view[start:stop]
                    )
            finally:
                view.release()

    def store_message(
        self, context_id: int, sop_class: str, sop_instance: str, data: bytes
    ) -> bytes | None:
        """A whole C-STORE-RQ (command and the data set ``data``) as one
        P-DATA-TF PDU, ready for ``send_message``; None when it does not fit
        in one PDU (send it with ``store_request``). Takes the next message
        ID."""
        command = store_command(
            sop_class, sop_instance, (self._message_id % 0xFFFF) + 1
        )
        if len(data) + len(command) + 12 > self._max_value():
            return None
        self._message_id = (self._message_id % 0xFFFF) + 1
        return (
            struct.pack(">BBI", 0x04, 0, len(command) + len(data) + 12)
            + struct.pack(">IBB", len(command) + 2, context_id, 0x03)
            + command
            + struct.pack(">IBB", len(data) + 2, context_id, 0x02)
            + data
        )

    def send_message(self, message: bytes) -> None:
        """Send a message made by ``store_message``; its answer comes from
        ``store_response``.

        Raises:
            OSError: The connection was lost.
        """
        self.sock.sendall(message)

    def store_request(
        self,
        context_id: int,
        sop_class: str,
        sop_instance: str,
        *,
        path: str | None = None,
        offset: int = 0,
        data: bytes | None = None,
    ) -> None:
        """Send one C-STORE-RQ without waiting for its answer
        (``store_response`` reads it).

        The data set is ``data``, or the bytes of ``path`` from ``offset``
        to its end (the file's own encoding, sent as it is).

        Raises:
            OSError: The connection was lost, or the file could not be read
                (the association is aborted then).
        """
        self._message_id = (self._message_id % 0xFFFF) + 1
        command = store_command(sop_class, sop_instance, self._message_id)
        if path is not None:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size - offset
                handle.seek(offset)
                if size + len(command) + 12 <= self._max_value() and size < 262144:
                    # small: command and data set in one P-DATA-TF, one write
                    body = handle.read(size)
                    self.sock.sendall(
                        struct.pack(">BBI", 0x04, 0, len(command) + len(body) + 12)
                        + struct.pack(">IBB", len(command) + 2, context_id, 0x03)
                        + command
                        + struct.pack(">IBB", len(body) + 2, context_id, 0x02)
                        + body
                    )
                else:
                    self._send_pdv(context_id, 0x03, command)
                    try:
                        self._send_dataset_file(context_id, handle, size)
                    except OSError:
                        self.abort()
                        raise
        else:
            assert data is not None
            self._send_pdv(context_id, 0x03, command)
            limit = self._max_value()
            view = memoryview(data)
            if not len(view):
                self._send_pdv(context_id, 0x02, b"")
            for start in range(0, len(view), limit):
                part = view[start : start + limit]
                self._send_pdv(
                    context_id, 0x02 if start + limit >= len(view) else 0x00, part
                )

    def store_response(self) -> tuple[int | None, str]:
        """Read the C-STORE-RSP to the request in flight: (status, comment).

        Raises:
            Aborted: The association was lost.
        """
        response = self._read_command()
        status_raw = response.get(0x0900)
        status = struct.unpack("<H", status_raw[:2])[0] if status_raw else None
        comment = response.get(0x0902, b"").rstrip(b"\0 ").decode("latin-1")
        return status, comment

    def echo(self, context_id: int) -> int | None:
        """Send a C-ECHO; return its status.

        Raises:
            Aborted: The association was lost.
        """
        self._message_id = (self._message_id % 0xFFFF) + 1
        elements = (
            _element(0x0002, _uid("1.2.840.10008.1.1"))
            + _element(0x0100, struct.pack("<H", 0x0030))
            + _element(0x0110, struct.pack("<H", self._message_id))
            + _element(0x0800, struct.pack("<H", 0x0101))
        )
        command = _element(0x0000, struct.pack("<I", len(elements))) + elements
        self._send_pdv(context_id, 0x03, command)
        response = self._read_command()
        raw = response.get(0x0900)
        return struct.unpack("<H", raw[:2])[0] if raw else None

    # -- ending --------------------------------------------------------------

    def release(self) -> None:
        """A-RELEASE-RQ, wait for the RP (briefly), close."""
        try:
            self.sock.sendall(struct.pack(">BBIi", 0x05, 0, 4, 0))
            self.sock.settimeout(10)
            while True:
                kind, _ = self._read_pdu()
                if kind == 0x06:
                    break
        except (UpperLayerError, OSError):
            pass
        finally:
            self.close()

    def abort(self) -> None:
        """A-ABORT and close."""
        with contextlib.suppress(OSError):
            self.sock.sendall(struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0, 0))
        self.close()

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self.sock.close()


_LONG_VRS = LONG_VRS


@dataclass(frozen=True)
class FileMeta:
    """What a sender needs from a file's meta group."""

    sop_class: str
    sop_instance: str
    transfer_syntax: str
    offset: int
    """Where the data set starts."""
    data: bytes | None = None
    """The data set, when the first read took the whole file."""


def read_meta(path: str, size: int = -1) -> FileMeta:
    """Read the file meta group (explicit VR little endian) of a Part 10 file.

    Args:
        path: The file.
        size: Its size, if known: when the first read takes all of it, the
            data set comes back too (``FileMeta.data``), so that it need not
            be read again.

    Raises:
        ValueError: No ``DICM`` preamble, a damaged meta group, or one of the
            three UIDs missing.
    """
    with open(path, "rb", buffering=0) as handle:
        # One read takes the whole meta group of nearly every file.
        head = handle.read(8192)
        while len(head) < 140 and (more := handle.read(8192)):
            head += more  # a short read
        if len(head) < 140 or head[128:132] != b"DICM":
            raise ValueError("not a DICOM file with a file meta group")
        data = head[132:]
        values: dict[int, bytes] = {}
        pos = 0
        limit = 64 * 1024
        while True:
            if len(data) < pos + 8:
                more = handle.read(max(4096, pos + 8 - len(data)))
                if not more:
                    break
                data += more
            group, elem = struct.unpack_from("<HH", data, pos)
            if group != 2:
                break
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if len(data) < pos + 12:
                    data += handle.read(4096)
                (length,) = struct.unpack_from("<I", data, pos + 8)
                start = pos + 12
            else:
                (length,) = struct.unpack_from("<H", data, pos + 6)
                start = pos + 8
            end = start + length
            if end > limit:
                raise ValueError("damaged file meta group")
            while len(data) < end:
                more = handle.read(end - len(data))
                if not more:
                    raise ValueError("truncated file meta group")
                data += more
            values[elem] = data[start:end]
            pos = end

    def text(elem: int) -> str:
        return values.get(elem, b"").rstrip(b"\0 ").decode("ascii", "replace")

    whole = len(head) == size and len(data) == size - 132
    meta = FileMeta(
        text(0x0002),
        text(0x0003),
        text(0x0010),
        132 + pos,
        data[pos:] if whole else None,
    )
    if not (meta.sop_class and meta.sop_instance and meta.transfer_syntax):
        raise ValueError("the file meta group lacks a SOP class, instance or syntax")
    return meta
