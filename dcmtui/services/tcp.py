"""Waiting for a peer's bytes without waiting for a delayed acknowledgement.

A peer with Nagle's algorithm on (DCMTK's tools and servers unless
``TCP_NODELAY=1`` is set, pynetdicom always, many PACS) holds back a write
smaller than a segment until what it sent before is acknowledged. DCMTK
writes a PDU's header and its body separately, and a C-STORE's command and
data set: the second write waits. Linux delays the acknowledgement (about
40 ms) hoping to send it with our next message, which waits for those very
bytes: 40 ms per message, a hundred times the cost of a small object.

So whoever waits for the rest of a message first has the kernel acknowledge
what came (``TCP_QUICKACK``, which the kernel forgets again as soon as we
answer, so it is set at each wait, not once). Reading what is there first
keeps this off the path when the bytes are there already. The receiver
(scp, scp_fast), the C-GET sub-operations of the query/retrieve server
(qr_fast) and every client connection (echo_fast, dimse_fast, and
pynetdicom's for query/retrieve: scu) use it.
"""

from __future__ import annotations

import contextlib
import os
import socket

TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
"""Linux's option; elsewhere (macOS, Windows) None, and nothing is done."""


def acknowledge_now(sock: socket.socket) -> None:
    """Have the kernel acknowledge now what ``sock`` received."""
    if TCP_QUICKACK is None:
        return
    with contextlib.suppress(OSError):  # not TCP, or closed: a read says so
        sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)


def _can_look(sock: socket.socket) -> bool:
    """True when what is there can be read without waiting: a plain socket
    with a timeout, whose descriptor Python keeps non-blocking. Over TLS or
    a blocking socket nothing tells what is there without waiting, so the
    readers below acknowledge first."""
    return type(sock) is socket.socket and sock.gettimeout() is not None


def recv(sock: socket.socket, size: int) -> bytes:
    """``sock.recv(size)``, acknowledging what came before it waits: what is
    there is read at once; only when nothing is does it acknowledge, then
    wait (``socket.recv`` with a timeout would poll first)."""
    if _can_look(sock):
        try:
            return os.read(sock.fileno(), size)
        except (BlockingIOError, InterruptedError):
            pass
    acknowledge_now(sock)
    return sock.recv(size)


def recv_into(sock: socket.socket, view: memoryview) -> int:
    """``sock.recv_into(view)``, acknowledging what came before it waits
    (as :func:`recv`)."""
    if _can_look(sock):
        try:
            return os.readv(sock.fileno(), (view,))
        except (BlockingIOError, InterruptedError):
            pass
    acknowledge_now(sock)
    return sock.recv_into(view)


def recv_exactly(sock: socket.socket, count: int) -> bytearray:
    """``count`` bytes into one buffer (fewer when the peer closed),
    acknowledging what came before each wait and once they are there.

    The reader of pynetdicom's ``AssociationSocket.recv`` for our
    associations, both ways (scu, scp): pynetdicom reads a PDU's header, then
    its body, and then waits for the next PDU in its reactor, where nothing
    would acknowledge the PDU just read.
    """
    data = bytearray(count)
    view = memoryview(data)
    got = 0
    while got < count:
        n = recv_into(sock, view[got:])
        if not n:
            break
        got += n
    view.release()
    del data[got:]
    acknowledge_now(sock)
    return data
