"""C-FIND, C-MOVE and C-GET against DCMTK's dcmqrscp (configured and loaded
by the test), C-MOVE into DCMTK's storescp, and the failures of each."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelGet,
)

from dcmtui.models import Node
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import AssociationFailed, Scu
from dcmtui.services.scu_qr import Retriever, build_identifier, parse_key
from tests.factories import write_dicom
from tests.netpeers import Peer, load_dcmqrscp, start_dcmqrscp, start_storescp


@dataclass
class Archive:
    qr: Peer
    dest: Peer
    dest_folder: Path
    files: list[Path]

    @property
    def node(self) -> Node:
        return parse_address(f"QRSCP@127.0.0.1:{self.qr.port}", name="qr")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    base = tmp_path_factory.mktemp("archive")
    dest = start_storescp(base / "dest", aet="DEST")
    qr = start_dcmqrscp(base / "qr", hosts={"DEST": ("127.0.0.1", dest.port)})
    files = []
    for i in range(12):
        patient = i // 6  # two patients, one study each, two series of three
        files.append(
            write_dicom(
                base / "src" / f"{i}.dcm",
                uid_seed=f"p{patient}",
                SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.7.{i}",
                SeriesInstanceUID=f"1.2.826.0.1.3680043.10.1453.8.{i // 3}",
                SeriesNumber=i // 3,
                InstanceNumber=i % 3,
                PatientName=f"DOE^{'JOHN' if patient == 0 else 'JANE'}",
                PatientID=f"PID{patient}",
                StudyDate=f"2024010{patient + 1}",
            )
        )
    load_dcmqrscp(qr, files)
    yield Archive(qr, dest, base / "dest", files)
    qr.stop()
    dest.stop()


def retriever(bus: EventBus | None = None) -> Retriever:
    return Retriever(Scu(bus or EventBus(), timeout=5))


async def collect_find(
    node: Node, level: str, *keys: str, root: str = "study"
) -> list[dict[str, str]]:
    found = retriever().find(node, level, [parse_key(k) for k in keys], root=root)
    return [m.values async for m in found]


async def test_find_studies_with_wildcard(archive: Archive) -> None:
    studies = await collect_find(archive.node, "STUDY", "PatientName=DOE^J*")
    assert sorted(s["PatientName"] for s in studies) == ["DOE^JANE", "DOE^JOHN"]
    assert all(s["StudyInstanceUID"] for s in studies)
    jane = await collect_find(archive.node, "STUDY", "PatientName=*JANE")
    assert [s["PatientID"] for s in jane] == ["PID1"]


async def test_find_date_range_and_tag_key(archive: Archive) -> None:
    hits = await collect_find(archive.node, "STUDY", "StudyDate=20240102-20240131")
    assert [h["PatientID"] for h in hits] == ["PID1"]
    by_tag = await collect_find(archive.node, "STUDY", "0010,0020=PID0")
    assert [h["PatientName"] for h in by_tag] == ["DOE^JOHN"]


async def test_drill_down_study_series_image(archive: Archive) -> None:
    (study,) = await collect_find(archive.node, "STUDY", "PatientID=PID0")
    uid = study["StudyInstanceUID"]
    series = await collect_find(archive.node, "SERIES", f"StudyInstanceUID={uid}")
    assert len(series) == 2
    images = await collect_find(
        archive.node,
        "IMAGE",
        f"StudyInstanceUID={uid}",
        f"SeriesInstanceUID={series[0]['SeriesInstanceUID']}",
    )
    assert len(images) == 3 and all(i["SOPInstanceUID"] for i in images)


async def test_patient_root(archive: Archive) -> None:
    patients = await collect_find(
        archive.node, "PATIENT", "PatientID=*", root="patient"
    )
    assert sorted(p["PatientID"] for p in patients) == ["PID0", "PID1"]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
async def test_stopping_a_find_closes_the_association(archive: Archive) -> None:
    """Closing the results mid-stream cancels and releases; pynetdicom's
    thread must not fail on a C-CANCEL queued after the release request."""
    bus = EventBus()
    found = retriever(bus).find(archive.node, "IMAGE", [parse_key("PatientID=*")])
    async for _ in found:
        break
    await found.aclose()
    for _ in range(100):
        if bus.history()[-1].kind in ("released", "aborted"):
            break
        await asyncio.sleep(0.05)
    assert bus.history()[-1].kind in ("released", "aborted")


def test_identifier_has_level_and_return_keys() -> None:
    ds = build_identifier("SERIES", [("Modality", "CT")])
    assert ds.QueryRetrieveLevel == "SERIES"
    assert ds.Modality == "CT"
    assert "SeriesInstanceUID" in ds and ds.SeriesInstanceUID in (None, "")
    with pytest.raises(Exception, match="unknown key 'Nonsense'"):
        parse_key("Nonsense=1")


async def test_move_to_storescp(archive: Archive) -> None:
    bus = EventBus()
    updates = [
        p
        async for p in retriever(bus).move(
            archive.node,
            "SERIES",
            [("SeriesInstanceUID", "1.2.826.0.1.3680043.10.1453.8.1")],
            "DEST",
        )
    ]
    last = updates[-1]
    assert last.done and (last.completed, last.failed, last.remaining) == (3, 0, 0)
    assert any(not u.done for u in updates)  # pending counters arrived
    got = {dcmread(p).SOPInstanceUID for p in archive.dest_folder.iterdir()}
    assert {f"1.2.826.0.1.3680043.10.1453.7.{i}" for i in (3, 4, 5)} <= got
    assert "c-move" in [e.kind for e in bus.history()]


async def test_move_destination_unknown(archive: Archive) -> None:
    with pytest.raises(AssociationFailed) as info:
        async for _ in retriever().move(
            archive.node, "STUDY", [("PatientID", "PID0")], "NOWHERE"
        ):
            pass
    assert info.value.status == 0xA801
    assert "destination unknown" in str(info.value)
    assert "Add NOWHERE with its host and port" in str(info.value)


async def test_get_into_folder(archive: Archive, tmp_path: Path) -> None:
    bus = EventBus()
    updates = [
        p
        async for p in retriever(bus).get(
            archive.node, "STUDY", [("PatientID", "PID1")], tmp_path / "got"
        )
    ]
    last = updates[-1]
    assert (last.completed, last.failed) == (6, 0)
    assert len(last.received) == 6
    # The objects show on the outgoing association's row, with their bytes.
    stores = [e for e in bus.history() if e.kind == "c-store"]
    assert len(stores) == 6 and {e.direction for e in stores} == {"out"}
    sizes = await asyncio.to_thread(lambda: [os.path.getsize(p) for p in last.received])
    assert sum(e.nbytes for e in stores) == sum(sizes)
    for path in last.received:
        copy = dcmread(path)
        original = dcmread(archive.files[int(copy.SOPInstanceUID.rsplit(".", 1)[1])])
        assert copy.PixelData == original.PixelData
        assert copy.PatientName == original.PatientName


@pytest.fixture
def no_role_scp() -> Iterator[int]:
    """A pynetdicom Q/R SCP that takes C-GET but refuses role selection."""
    ae = AE(ae_title="NOROLE")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_supported_context(CTImageStorage)  # no scp_role: role refused
    server = ae.start_server(("127.0.0.1", 0), block=False)
    assert server is not None
    yield server.server_address[1]
    server.shutdown()


async def test_get_storage_role_refused(no_role_scp: int, tmp_path: Path) -> None:
    node = parse_address(f"NOROLE@127.0.0.1:{no_role_scp}")
    with pytest.raises(AssociationFailed, match="C-GET storage role refused"):
        async for _ in retriever().get(node, "STUDY", [("PatientID", "X")], tmp_path):
            pass


async def test_find_against_unreachable_node() -> None:
    from tests.netpeers import free_port

    node = parse_address(f"QR@127.0.0.1:{free_port()}")
    with pytest.raises(AssociationFailed, match="connection refused"):
        async for _ in retriever().find(node, "STUDY", []):
            pass


@pytest.fixture
def slow_find_scp() -> Iterator[tuple[int, list[bool]]]:
    """A pynetdicom C-FIND SCP that sends a match every 50 ms, up to 200, and
    records whether it saw a C-CANCEL."""
    import time as _time

    from pynetdicom import evt
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]
        StudyRootQueryRetrieveInformationModelFind,
    )

    cancelled: list[bool] = []

    def on_find(event: object) -> Iterator[tuple[int, object]]:
        from pydicom.dataset import Dataset

        for i in range(200):
            if event.is_cancelled:  # type: ignore[attr-defined]
                cancelled.append(True)
                yield 0xFE00, None
                return
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            ds.StudyInstanceUID = f"1.2.3.{i}"
            yield 0xFF00, ds
            _time.sleep(0.05)
        yield 0x0000, None

    ae = AE(ae_title="SLOW")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)]
    )
    assert server is not None
    yield server.server_address[1], cancelled
    server.shutdown()


async def test_stopping_a_find_sends_c_cancel(
    slow_find_scp: tuple[int, list[bool]],
) -> None:
    port, cancelled = slow_find_scp
    bus = EventBus()
    node = parse_address(f"SLOW@127.0.0.1:{port}")
    found = retriever(bus).find(node, "STUDY", [])
    seen = 0
    async for _ in found:
        seen += 1
        if seen == 3:
            break
    await found.aclose()
    for _ in range(100):
        if cancelled and bus.history()[-1].kind in ("released", "aborted"):
            break
        await asyncio.sleep(0.05)
    assert cancelled == [True]  # the SCP saw our C-CANCEL
    assert bus.history()[-1].kind == "released"  # ended cleanly, not aborted
