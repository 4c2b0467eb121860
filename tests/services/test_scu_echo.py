"""C-ECHO against real peers, and every association failure provoked for real."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dcmtui.models import Node
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import Scu
from tests.netpeers import Peer, free_port, start_dcmqrscp, start_storescp


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Peer]:
    peer = start_storescp(tmp_path / "in")
    yield peer
    peer.stop()


def node_at(port: int, aet: str = "STORESCP") -> Node:
    return parse_address(f"{aet}@127.0.0.1:{port}", name="peer")


async def test_echo_ok_with_round_trip_and_events(storescp: Peer) -> None:
    bus = EventBus()
    result = await Scu(bus).echo(node_at(storescp.port))
    assert result.ok, result.detail
    assert result.status == 0
    assert 0 < result.ms < 5000
    assert abs(result.when - time.time()) < 60
    kinds = [e.kind for e in bus.history()]
    assert kinds == ["requested", "accepted", "c-echo", "released"]
    assert {e.direction for e in bus.history()} == {"out"}
    accepted = bus.history()[1]
    assert accepted.contexts[0].result == "accepted"
    assert accepted.called_ae == "STORESCP" and accepted.calling_ae == "DCMTUI"


async def test_echo_uses_node_calling_ae(storescp: Peer) -> None:
    bus = EventBus()
    node = parse_address(f"STORESCP@127.0.0.1:{storescp.port}")
    from dataclasses import replace

    assert (await Scu(bus).echo(replace(node, calling_ae="MINE"))).ok
    assert bus.history()[0].calling_ae == "MINE"


async def test_connection_refused() -> None:
    bus = EventBus()
    result = await Scu(bus, timeout=3).echo(node_at(free_port()))
    assert not result.ok
    assert "connection refused" in result.detail
    assert "Check that the node is running" in result.detail
    assert bus.history()[-1].kind == "failed"


async def test_unknown_host() -> None:
    result = await Scu(timeout=3).echo(parse_address("X@no-such-host.invalid:104"))
    assert not result.ok
    assert "unknown host 'no-such-host.invalid'" in result.detail


async def test_silent_peer_times_out() -> None:
    """A peer that takes the TCP connection but never answers the A-ASSOCIATE."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        result = await Scu(timeout=1).echo(node_at(listener.getsockname()[1]))
    finally:
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()
    assert not result.ok
    assert "did not answer the association request within 1 s" in result.detail


async def test_rejected_no_reason(tmp_path: Path) -> None:
    peer = start_storescp(tmp_path / "in", "--refuse")
    try:
        result = await Scu().echo(node_at(peer.port))
    finally:
        peer.stop()
    assert not result.ok
    assert "rejected the association and gave no reason" in result.detail


async def test_rejected_called_ae_not_recognised(tmp_path: Path) -> None:
    peer = start_dcmqrscp(tmp_path / "qr")
    try:
        ok = await Scu().echo(node_at(peer.port, "QRSCP"))
        bad = await Scu().echo(node_at(peer.port, "NOSUCHAE"))
    finally:
        peer.stop()
    assert ok.ok, ok.detail
    assert not bad.ok
    assert "called AE title not recognised" in bad.detail
    assert "does not answer to NOSUCHAE" in bad.detail


async def test_rejected_local_limit_exceeded(tmp_path: Path) -> None:
    peer = start_dcmqrscp(tmp_path / "qr", max_assoc=1)
    ae = AE(ae_title="HOLDER")
    ae.add_requested_context(Verification)
    held = ae.associate("127.0.0.1", peer.port, ae_title="QRSCP")
    try:
        assert held.is_established
        await asyncio.sleep(0.3)  # dcmqrscp counts its child once forked
        # Under load dcmqrscp sometimes fails to send its A-ASSOCIATE-RJ and
        # just closes ("Association Reject Failed" in its log): try again.
        results = []
        for _ in range(3):
            results.append(await Scu().echo(node_at(peer.port, "QRSCP")))
            if "local limit" in results[-1].detail:
                break
    finally:
        held.release()
        peer.stop()
    assert not any(r.ok for r in results)
    assert "local limit exceeded" in results[-1].detail
    assert "try again when others have finished" in results[-1].detail


@pytest.fixture
def picky_scp() -> Iterator[int]:
    """A pynetdicom SCP that knows one calling AE title only."""
    ae = AE(ae_title="PICKY")
    ae.add_supported_context(Verification)
    ae.require_calling_aet = ["FRIEND"]
    server = ae.start_server(("127.0.0.1", 0), block=False)
    assert server is not None
    yield server.server_address[1]
    server.shutdown()


async def test_rejected_calling_ae_not_recognised(picky_scp: int) -> None:
    result = await Scu(calling_ae="STRANGER").echo(node_at(picky_scp, "PICKY"))
    assert not result.ok
    assert "calling AE title not recognised" in result.detail
    assert "Add our AE title (STRANGER)" in result.detail
    assert (await Scu(calling_ae="FRIEND").echo(node_at(picky_scp, "PICKY"))).ok


async def test_echo_all_yields_each(storescp: Peer) -> None:
    nodes = [node_at(storescp.port), node_at(free_port())]
    results = [r async for r in Scu(timeout=3).echo_all(nodes)]
    assert sorted(r.ok for r in results) == [False, True]


async def test_node_max_pdu_is_proposed(tmp_path: Path) -> None:
    from dataclasses import replace

    peer = start_storescp(tmp_path / "in", "-d")
    try:
        node = replace(node_at(peer.port), max_pdu=32768)
        assert (await Scu().echo(node)).ok
    finally:
        peer.stop()
    assert re.search(r"Their Max PDU Receive Size: +32768", peer.log.read_text())
