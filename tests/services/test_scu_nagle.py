"""Our client against DCMTK's servers as Debian ships them: Nagle's algorithm on.

Such a peer writes a PDU's header, then its body, and a response's command,
then its data set; each second write waits until the first is acknowledged,
and Linux delays that acknowledgement about 40 ms when nobody asks for it at
once (services.tcp). Each test counts the delayed acknowledgements of the
machine (TcpExt DelayedACKs) meanwhile: without the quick acknowledgement,
at least one per message; with it, none (a few are allowed for whatever else
the machine does). (C-FIND is not held up: dcmqrscp writes each match's
command and identifier without waiting.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmtui.models import Node
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import Scu
from dcmtui.services.scu_qr import Retriever, parse_key
from dcmtui.services.scu_send import Sender
from tests.factories import write_dicom
from tests.netpeers import (
    Peer,
    delayed_acks,
    load_dcmqrscp,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
)

FEW = 5
"""Delayed acknowledgements allowed for the rest of the machine's traffic."""


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Peer]:
    peer = start_storescp(tmp_path / "in", nagle=True)
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def dcmqrscp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    base = tmp_path_factory.mktemp("nagle-qr")
    peer = start_dcmqrscp(base / "qr", nagle=True)
    files = [
        write_dicom(
            base / "src" / f"{i}.dcm",
            uid_seed="nagle",
            SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.9.{i}",
            PatientID="NAGLE",
        )
        for i in range(20)
    ]
    load_dcmqrscp(peer, files)
    yield peer
    peer.stop()


def node(peer: Peer, aet: str) -> Node:
    return parse_address(f"{aet}@127.0.0.1:{peer.port}", name="peer")


def test_send(tmp_path: Path, storescp: Peer) -> None:
    files = [write_dicom(tmp_path / "src" / f"{i}.dcm") for i in range(40)]
    sender = Sender(Scu(EventBus()), tmp_path / "journal")
    before = delayed_acks()
    last = list(sender.send_iter(node(storescp, "STORESCP"), [tmp_path / "src"]))[-1]
    delayed = delayed_acks() - before
    assert last.done and last.sent == 40 and last.failed == 0
    assert len(list((tmp_path / "in").iterdir())) == len(files)
    assert delayed < FEW  # without: 40


async def test_echo(storescp: Peer) -> None:
    scu = Scu(EventBus())
    before = delayed_acks()
    results = [await scu.echo(node(storescp, "STORESCP")) for _ in range(10)]
    delayed = delayed_acks() - before
    assert all(r.ok for r in results), [r.detail for r in results]
    assert delayed < FEW  # without: one per echo


async def test_get(dcmqrscp: Peer, tmp_path: Path) -> None:
    retriever = Retriever(Scu(EventBus(), timeout=5))
    before = delayed_acks()
    updates = [
        p
        async for p in retriever.get(
            node(dcmqrscp, "QRSCP"), "STUDY", [("PatientID", "NAGLE")], tmp_path
        )
    ]
    delayed = delayed_acks() - before
    assert (updates[-1].completed, updates[-1].failed) == (20, 0)
    assert len(updates[-1].received) == 20
    assert delayed < FEW  # without: one or more per object


async def test_orthanc_store_and_get(tmp_path: Path) -> None:
    """Orthanc, a real PACS, on DCMTK's network code with Nagle on: sending
    to it and getting back from it (without: one stall per object each)."""
    orthanc = start_orthanc(tmp_path / "pacs", {}, nagle=True)
    try:
        pacs = node(orthanc, "ORTHANC")
        for i in range(20):
            write_dicom(
                tmp_path / "src" / f"{i}.dcm",
                uid_seed="orthanc",
                SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.10.{i}",
                PatientID="NAGLE",
            )
        sender = Sender(Scu(EventBus()), tmp_path / "journal")
        before = delayed_acks()
        last = list(sender.send_iter(pacs, [tmp_path / "src"]))[-1]
        sent_delayed = delayed_acks() - before
        assert last.done and last.sent == 20 and last.failed == 0
        retriever = Retriever(Scu(EventBus(), timeout=5))
        found = retriever.find(pacs, "STUDY", [parse_key("PatientID=NAGLE")])
        (study,) = [m.values["StudyInstanceUID"] async for m in found]
        before = delayed_acks()
        updates = [
            p
            async for p in retriever.get(
                pacs, "STUDY", [("StudyInstanceUID", study)], tmp_path / "got"
            )
        ]
        got_delayed = delayed_acks() - before
        assert (updates[-1].completed, updates[-1].failed) == (20, 0)
        assert sent_delayed < FEW and got_delayed < FEW  # without: 20 and 21
    finally:
        orthanc.stop()
