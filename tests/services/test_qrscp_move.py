"""C-MOVE from the receiver: the sub-association is made by the small sender
of services.scu_send; counters, warnings and failures, C-CANCEL, and a
destination that cannot be reached. The client is pynetdicom (its responses
are checked one by one); the destinations are pynetdicom storage SCPs we run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelMove,
)

from dcmtui.models import Node
from tests.factories import write_dicom
from tests.netpeers import free_port
from tests.services.test_qr_match import index_folder
from tests.services.test_qrscp import Pacs, start_pacs

MOVE_MODEL = StudyRootQueryRetrieveInformationModelMove


@dataclass
class Destination:
    """A storage SCP; ``status`` decides each object's C-STORE status."""

    port: int
    received: list[Dataset] = field(default_factory=list)


@pytest.fixture
def destination() -> Iterator[Callable[..., Destination]]:
    servers: list[Any] = []

    def start(
        status: Callable[[Dataset], int] = lambda ds: 0, delay: float = 0.0
    ) -> Destination:
        ae = AE(ae_title="DEST")
        for sop in (CTImageStorage, MRImageStorage):
            ae.add_supported_context(sop)  # explicit and implicit VR LE
        dest = Destination(0)

        def on_store(event: Any) -> int:
            ds = event.dataset
            dest.received.append(ds)
            if delay:
                time.sleep(delay)
            return status(ds)

        server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, on_store)],
        )
        assert server is not None
        servers.append(server)
        dest.port = int(server.server_address[1])
        return dest

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture
async def pacs(tmp_path: Path) -> Any:
    running = await start_pacs(tmp_path)
    yield running
    await running.scp.stop(grace=1)


def study_key(uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = uid
    return ds


def move(
    pacs: Pacs, key: Dataset, cancel_after: int | None = None
) -> list[tuple[Dataset, Dataset | None]]:
    """C-MOVE ``key`` to DEST; every response (a C-CANCEL after
    ``cancel_after`` Pending ones)."""
    ae = AE(ae_title="MOVESCU")
    ae.add_requested_context(MOVE_MODEL)
    assoc = ae.associate("127.0.0.1", pacs.port, ae_title="DCMTUI")
    assert assoc.is_established
    (cx,) = [c for c in assoc.accepted_contexts if c.abstract_syntax == MOVE_MODEL]
    out = []
    try:
        for status, identifier in assoc.send_c_move(key, "DEST", MOVE_MODEL, msg_id=7):
            out.append((status, identifier))
            pending = sum(1 for s, _ in out if s and s.Status == 0xFF00)
            if cancel_after is not None and pending == cancel_after:
                assoc.send_c_cancel(7, cx.context_id)
    finally:
        assoc.release()
    return out


DOE_STUDY = "1.2.826.0.1.3680043.10.1453.1"


async def test_move_counts_each_sub_operation(
    pacs: Pacs, destination: Callable[..., Destination]
) -> None:
    dest = destination()
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port))
    responses = await asyncio.to_thread(move, pacs, study_key(DOE_STUDY))
    statuses = [s for s, _ in responses]
    pending = [s for s in statuses if s.Status == 0xFF00]
    assert [p.NumberOfRemainingSuboperations for p in pending] == [2, 1, 0]
    assert [p.NumberOfCompletedSuboperations for p in pending] == [1, 2, 3]
    final = statuses[-1]
    assert final.Status == 0x0000
    assert (
        final.NumberOfCompletedSuboperations,
        final.NumberOfFailedSuboperations,
        final.NumberOfWarningSuboperations,
    ) == (3, 0, 0)
    assert sorted(int(ds.InstanceNumber) for ds in dest.received) == [1, 2, 3]
    # one sub-association, made by dcmtui's own sender, in the log
    out = [e for e in pacs.events if e.direction == "out"]
    assert {e.called_ae for e in out} == {"DEST"}
    assert [e.kind for e in out if e.kind in ("accepted", "released")] == [
        "accepted",
        "released",
    ]
    assert len([e for e in out if e.kind == "c-store" and e.status == 0]) == 3
    (op,) = pacs.ops("c-move")
    assert op.status == 0 and "3 sent, 0 failed" in op.detail


async def test_move_reports_warnings_and_failures(
    pacs: Pacs, destination: Callable[..., Destination]
) -> None:
    by_number = {1: 0x0000, 2: 0xB000, 3: 0xA700}
    dest = destination(lambda ds: by_number[int(ds.InstanceNumber)])
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port))
    responses = await asyncio.to_thread(move, pacs, study_key(DOE_STUDY))
    final, identifier = responses[-1]
    assert final.Status == 0xB000  # some sub-operations failed
    assert (
        final.NumberOfCompletedSuboperations,
        final.NumberOfFailedSuboperations,
        final.NumberOfWarningSuboperations,
    ) == (1, 1, 1)
    (failed,) = [ds for ds in dest.received if int(ds.InstanceNumber) == 3]
    assert identifier is not None
    assert identifier.FailedSOPInstanceUIDList == failed.SOPInstanceUID
    (op,) = pacs.ops("c-move")
    assert op.status == 0xB000 and "1 failed, 1 warnings" in op.detail


async def test_move_where_every_sub_operation_fails(
    pacs: Pacs, destination: Callable[..., Destination]
) -> None:
    dest = destination(lambda ds: 0xA700)
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port))
    responses = await asyncio.to_thread(move, pacs, study_key(DOE_STUDY))
    final, identifier = responses[-1]
    assert final.Status == 0xA702
    assert final.NumberOfFailedSuboperations == 3
    assert identifier is not None and len(identifier.FailedSOPInstanceUIDList) == 3


async def test_move_cancelled_midway(
    pacs: Pacs, destination: Callable[..., Destination], tmp_path: Path
) -> None:
    many = pacs.scp.store.root / "many"
    for n in range(40):
        write_dicom(
            many / f"{n}.dcm",
            pixels=False,
            PatientID="MANY",
            StudyInstanceUID="1.2.826.0.1.3680043.10.1453.77",
            InstanceNumber=n + 1,
        )
    index_folder(pacs.scp.settings.index_path, many)
    dest = destination(delay=0.05)  # 2 s for all 40: the cancel comes first
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port))
    responses = await asyncio.to_thread(
        move, pacs, study_key("1.2.826.0.1.3680043.10.1453.77"), 1
    )
    final, _identifier = responses[-1]
    assert final.Status == 0xFE00
    assert final.NumberOfRemainingSuboperations > 0
    assert final.NumberOfCompletedSuboperations < 40
    assert len(dest.received) < 40
    (op,) = pacs.ops("c-move")
    assert op.status == 0xFE00 and "cancelled by the peer" in op.detail
    # the sub-association was released, not left open
    out = [e.kind for e in pacs.events if e.direction == "out"]
    assert out[-1] == "released"


async def test_move_to_a_destination_that_does_not_answer(pacs: Pacs) -> None:
    port = free_port()  # nothing listens there
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=port))
    responses = await asyncio.to_thread(move, pacs, study_key(DOE_STUDY))
    final, _ = responses[-1]
    assert final.Status == 0xA801
    (op,) = pacs.ops("c-move")
    assert op.status == 0xA801 and "cannot associate" in op.detail
    assert any(e.kind == "failed" and e.called_ae == "DEST" for e in pacs.events)
