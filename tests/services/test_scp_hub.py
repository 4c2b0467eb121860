"""The receiver's hub (services.scp_hub): lending and handing back readers.

The receiver tests (test_scp, test_scp_hostile) run the hub with DCMTK's
senders; these pin its contract with readers whose ``pump`` we control."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from dcmtui.services.scp_hub import Hub


class Reader:
    """What the hub uses of a FastReader: a socket and a pump."""

    def __init__(self, sock: socket.socket, pump: Callable[[Reader], bool]) -> None:
        self.fd = sock.fileno()
        self.sock = sock
        self.hub: Any = None
        self.handed_back: Callable[[], None] | None = None
        self.serving = threading.RLock()
        self.failed: Exception | None = None
        self.pumps = 0
        self._pump = pump
        self.back = threading.Event()

    def pump(self) -> bool:
        self.pumps += 1
        return self._pump(self)


def wait(condition: Callable[[], bool], seconds: float = 5) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


@pytest.fixture
def hub() -> Iterator[Hub]:
    h = Hub()
    yield h
    h.close()


def lend(hub: Hub, pump: Callable[[Reader], bool]) -> tuple[Reader, socket.socket]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    reader = Reader(ours, pump)
    assert hub.attach(cast(Any, reader), reader.back.set)
    return reader, peer


def drain(reader: Reader) -> bool:
    try:
        data = reader.sock.recv(4096)
    except BlockingIOError:
        return True
    return data != b"bye"


def test_the_hub_serves_a_reader_until_it_asks_to_go_back(hub: Hub) -> None:
    reader, peer = lend(hub, drain)
    wait(lambda: reader.pumps >= 1)  # served at once (bytes may wait already)
    peer.sendall(b"hello")
    wait(lambda: reader.pumps >= 2)
    assert reader.hub is hub and not reader.back.is_set()
    peer.sendall(b"bye")
    assert reader.back.wait(5)
    assert reader.hub is None and reader.handed_back is None
    served = reader.pumps
    peer.sendall(b"more")  # the DUL thread's from now on
    time.sleep(0.1)
    assert reader.pumps == served
    peer.close()


def test_detach_waits_while_the_hub_serves(hub: Hub) -> None:
    """Whoever takes a reader back (to send a PDU) never writes to the
    socket while the hub is in the middle of serving it."""
    inside, leave = threading.Event(), threading.Event()

    def slow(reader: Reader) -> bool:
        if reader.pumps == 2:
            inside.set()
            leave.wait(5)
        return drain(reader)

    reader, peer = lend(hub, slow)
    wait(lambda: reader.pumps >= 1)
    peer.sendall(b"x")
    assert inside.wait(5)
    done = threading.Event()

    def take_back() -> None:
        hub.detach(cast(Any, reader))
        done.set()

    thread = threading.Thread(target=take_back)
    thread.start()
    assert not done.wait(0.2)  # still being served
    leave.set()
    assert done.wait(5)
    thread.join()
    assert reader.hub is None and reader.back.is_set()
    hub.detach(cast(Any, reader))  # idempotent
    peer.close()


def test_a_failure_in_a_pump_goes_back_to_the_dul_thread(hub: Hub) -> None:
    def broken(reader: Reader) -> bool:
        if reader.pumps == 2:
            raise ValueError("bad PDV")
        return drain(reader)

    reader, peer = lend(hub, broken)
    wait(lambda: reader.pumps >= 1)
    peer.sendall(b"x")
    assert reader.back.wait(5)
    assert isinstance(reader.failed, ValueError)
    # the hub goes on serving the others
    other, other_peer = lend(hub, drain)
    other_peer.sendall(b"bye")
    assert other.back.wait(5)
    peer.close()
    other_peer.close()


def test_close_hands_every_reader_back() -> None:
    hub = Hub()
    readers = [lend(hub, drain) for _ in range(3)]
    hub.close()
    for reader, peer in readers:
        assert reader.back.is_set() and reader.hub is None
        peer.close()
    assert not hub.thread.is_alive()
    assert hub._wake_w == -1  # closed by close(), after the thread: no late write
    late, late_peer = socket.socketpair()
    assert not hub.attach(cast(Any, Reader(late, drain)), lambda: None)
    late.close()
    late_peer.close()


def _cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


@pytest.mark.parametrize(("spin", "spins"), [(2.0, True), (0.0, False)])
def test_a_busy_hub_polls_for_the_next_bytes_instead_of_sleeping(
    spin: float, spins: bool
) -> None:
    """After serving a reader, bytes that come within the spin are found by
    polling (no sleep and wake-up); a hub that does not spin never does."""
    hub = Hub(spin=spin)
    try:
        reader, peer = lend(hub, drain)
        wait(lambda: reader.pumps >= 1)
        peer.sendall(b"command")
        wait(lambda: reader.pumps >= 2)
        time.sleep(0.05)  # the data set comes a little later
        peer.sendall(b"data set")
        wait(lambda: reader.pumps >= 3)
        assert (hub.spun >= 1) is spins
        peer.close()
    finally:
        hub.close()


def test_an_idle_hub_sleeps() -> None:
    """One spin after the last bytes, then the hub sleeps: no CPU while
    nothing comes, even with a long spin."""
    hub = Hub(spin=0.1)
    try:
        reader, peer = lend(hub, drain)
        peer.sendall(b"x")
        wait(lambda: reader.pumps >= 2)
        time.sleep(0.3)  # the one spin (0.1 s of CPU) is over
        before = _cpu(hub.thread)
        time.sleep(0.5)
        assert _cpu(hub.thread) - before < 0.02
        peer.close()
    finally:
        hub.close()
