"""One thread that serves the fast path of every plain-TCP association.

With a thread per association (pynetdicom's DUL threads, each running its
:class:`~dcmtui.services.scp_fast.FastReader`), several senders at once make
the threads hand Python's interpreter lock to each other at every system
call: about 40 futex calls per object and thread with four senders, and half
again as much CPU per object as with one. The hub serves the P-DATA of all of
them from one thread instead, over one epoll set: no hand-offs between
receiving threads, and the DUL threads sleep until their association needs
them again.

A reader is lent to the hub once its association is established (the DUL
thread calls :meth:`Hub.attach`) and handed back, for good, when anything but
P-DATA arrives (release, abort, an unknown PDU: left in the reader's buffer
for pynetdicom), when the stream ends or fails, or when pynetdicom has a PDU
to send (:meth:`Hub.detach`, from whichever thread asks). The DUL thread is
woken through its wake pipe and goes on as it did before the hub existed.

While it is busy, the hub waits for the next bytes by polling for a short
while (``spin``) before it sleeps in epoll: a sender writes a C-STORE's
command and its data set as two PDUs a few tens of microseconds apart, and
its next command comes a little later; a thread that went to sleep meanwhile
costs two wake-ups per object (about 30 us each on this kind of virtual
machine: a tenth of a small object's cycle). It never spins when idle: one
spin that finds nothing, and it sleeps until the next bytes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcmtui.services.scp_fast import FastReader

LOGGER = logging.getLogger(__name__)

SPIN = 300e-6
"""Seconds the busy hub polls for the next bytes before it sleeps."""


class Hub:
    """The thread that serves lent readers (see the module docstring)."""

    def __init__(self, spin: float = SPIN) -> None:
        self._spin = spin
        self.spun = 0
        """Times a poll while spinning found bytes (that a sleep would have
        waited for)."""
        self._epoll = select.epoll()
        self._readers: dict[int, FastReader] = {}
        """The readers served, by socket file descriptor."""
        self._lock = threading.Lock()
        """Guards ``_epoll``'s registrations, ``_readers`` and ``_new``."""
        self._new: list[FastReader] = []
        """Readers attached since the last turn: bytes may wait in their
        buffers already, which epoll would not report."""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, daemon=True, name="dcmtui-receiver-hub"
        )
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def attach(self, reader: FastReader, handed_back: Callable[[], None]) -> bool:
        """Lend ``reader`` to the hub; False if it cannot be taken.

        Args:
            reader: Its association is established and takes the fast path.
            handed_back: Called (in the hub's thread, or in the thread that
                detaches) once the reader is back with its DUL thread: it
                wakes that thread.
        """
        with self._lock:
            if self._stopped or reader.hub is not None:
                return False
            try:
                self._epoll.register(reader.fd, select.EPOLLIN)
            except (OSError, ValueError):
                return False
            self._readers[reader.fd] = reader
            reader.hub = self
            reader.handed_back = handed_back
            self._new.append(reader)
        self._poke()
        return True

    def detach(self, reader: FastReader) -> None:
        """Take ``reader`` back from the hub, waiting while the hub serves it
        (so that nothing else writes to its socket meanwhile). Idempotent, and
        safe from the hub's own thread (``serving`` is re-entrant)."""
        with reader.serving:
            self._release(reader)

    def close(self) -> None:
        """Hand every reader back and stop the thread."""
        with self._lock:
            self._stopped = True
            readers = list(self._readers.values())
        for reader in readers:
            self.detach(reader)
        self._poke()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        if not self._thread.is_alive():
            with self._lock:  # never a write to a number reused meanwhile
                wake, self._wake_w = self._wake_w, -1
                for fd in (self._wake_r, wake):
                    with contextlib.suppress(OSError):
                        os.close(fd)

    # --- the hub's thread ------------------------------------------------------

    def _poke(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            if self._wake_w >= 0:
                os.write(self._wake_w, b"\0")

    def _release(self, reader: FastReader) -> None:
        """Unregister ``reader`` and wake its DUL thread (once)."""
        with self._lock:
            if reader.hub is not self:
                return
            reader.hub = None
            self._readers.pop(reader.fd, None)
            with contextlib.suppress(ValueError, OSError):
                self._epoll.unregister(reader.fd)
            with contextlib.suppress(ValueError):
                self._new.remove(reader)
        handed_back, reader.handed_back = reader.handed_back, None
        if handed_back is not None:
            handed_back()

    def _serve(self, reader: FastReader) -> None:
        with reader.serving:
            if reader.hub is not self:  # detached meanwhile
                return
            try:
                keep = reader.pump()
            except Exception as exc:  # raised again in its DUL thread
                reader.failed = exc
                keep = False
            if not keep:
                self._release(reader)

    def _next_events(self, busy: bool) -> list[tuple[int, int]]:
        """What epoll reports next: polled for up to ``spin`` seconds first
        while ``busy`` (see the module docstring), then waited for."""
        poll = self._epoll.poll
        if busy and self._spin > 0:
            limit = time.perf_counter() + self._spin
            while time.perf_counter() < limit:
                events = poll(0)
                if events:
                    self.spun += 1
                    return events
        return poll(1.0)

    def _run(self) -> None:
        wake, readers = self._wake_r, self._readers
        busy = False
        try:
            while not self._stopped:
                if self._new:
                    with self._lock:
                        new, self._new = self._new, []
                    for reader in new:
                        self._serve(reader)
                    busy = True
                events = self._next_events(busy)
                busy = False
                for fd, _ in events:
                    if fd == wake:
                        with contextlib.suppress(OSError):
                            os.read(wake, 4096)
                    elif (lent := readers.get(fd)) is not None:
                        self._serve(lent)
                        busy = True
        except Exception:  # never leave readers stranded
            LOGGER.exception("receiver hub failed")
            with self._lock:
                self._stopped = True
                stranded = list(readers.values())
            for reader in stranded:
                self._release(reader)
        finally:
            with self._lock:
                self._epoll.close()
