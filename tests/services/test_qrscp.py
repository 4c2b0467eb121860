"""Query/retrieve and worklist on the receiver, against DCMTK findscu,
movescu (to DCMTK storescp) and getscu."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from pydicom import dcmread

from dcmtui.config import QrSettings, Settings, load_settings
from dcmtui.models import AssocEvent, Node
from dcmtui.services.events import EventBus
from dcmtui.services.fastread import read_record
from dcmtui.services.files import Index
from dcmtui.services.nodes import NodeBook
from dcmtui.services.scp import StoreScp
from dcmtui.services.worklist import Worklist
from tests.factories import write_dicom
from tests.netpeers import dcmtk, delayed_acks, free_port, start_storescp
from tests.services.test_qr_match import index_folder


class Pacs:
    """A running receiver with query/retrieve, and what it emitted."""

    def __init__(self, scp: StoreScp, events: list[AssocEvent], book: NodeBook):
        self.scp = scp
        self.events = events
        self.book = book

    @property
    def port(self) -> int:
        return self.scp.port

    def ops(self, kind: str) -> list[AssocEvent]:
        return [e for e in self.events if e.kind == kind]


def fill_store(settings: Settings, root: Path) -> None:
    """Two studies: DOE^JOHN (3 CT images), ROE^JANE (1 MR image)."""
    for n in range(3):
        write_dicom(
            root / "p1" / f"i{n}.dcm",
            uid_seed=f"doe{n}",
            PatientName="DOE^JOHN",
            PatientID="PID1",
            StudyInstanceUID="1.2.826.0.1.3680043.10.1453.1",
            SeriesInstanceUID="1.2.826.0.1.3680043.10.1453.1.1",
            InstanceNumber=n + 1,
        )
    write_dicom(
        root / "p2" / "i0.dcm",
        uid_seed="roe",
        implicit=True,
        PatientName="ROE^JANE",
        PatientID="PID2",
        StudyInstanceUID="1.2.826.0.1.3680043.10.1453.2",
        SeriesInstanceUID="1.2.826.0.1.3680043.10.1453.2.1",
        Modality="MR",
        StudyDate="20250301",
    )
    index_folder(settings.index_path, root)


async def start_pacs(
    tmp_path: Path, qr: QrSettings | None = None, **receiver: Any
) -> Pacs:
    settings = replace(load_settings(), qr=qr or QrSettings())
    if receiver:
        settings = replace(settings, receiver=replace(settings.receiver, **receiver))
    bus = EventBus()
    seen: list[AssocEvent] = []
    bus.add_sink(seen.append)
    scp = StoreScp(
        settings, bus, port=0, ae_title="DCMTUI", store_dir=tmp_path / "store"
    )
    fill_store(settings, tmp_path / "store")
    await scp.start()
    book = NodeBook.in_folder(settings.config_dir)
    for ae in ("FINDSCU", "GETSCU", "MOVESCU"):
        book.add(Node(name=ae.lower(), ae_title=ae, host="127.0.0.1", port=104))
    return Pacs(scp, seen, book)


@pytest.fixture
async def pacs(tmp_path: Path) -> AsyncIterator[Pacs]:
    running = await start_pacs(tmp_path)
    yield running
    await running.scp.stop(grace=1)


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )


async def findscu(
    pacs: Pacs, out: Path, *args: str, aet: str = "FINDSCU"
) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    import asyncio

    argv = [dcmtk("findscu"), "-aet", aet, "-aec", "DCMTUI", "-X", "-od", str(out)]
    argv += [*args, "127.0.0.1", str(pacs.port)]

    def call() -> tuple[subprocess.CompletedProcess[str], list[Any]]:
        out.mkdir(parents=True, exist_ok=True)
        done = run(argv, out)
        return done, [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]

    return await asyncio.to_thread(call)


async def getscu(
    pacs: Pacs,
    out: Path,
    study: str,
    *options: str,
    aet: str = "GETSCU",
) -> subprocess.CompletedProcess[str]:
    """DCMTK's getscu: a study-root C-GET of ``study`` (UIDs joined with
    backslashes) into the new folder ``out``."""
    import asyncio

    argv = [dcmtk("getscu"), *options, "-aet", aet, "-S", "-od", str(out)]
    argv += ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"]
    argv += ["127.0.0.1", str(pacs.port)]

    def call() -> subprocess.CompletedProcess[str]:
        out.mkdir()
        return run(argv, out)

    return await asyncio.to_thread(call)


async def test_findscu_study_root_wildcard(pacs: Pacs, tmp_path: Path) -> None:
    done, found = await findscu(
        pacs,
        tmp_path / "f1",
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientName=D*",
        "-k",
        "StudyInstanceUID",
        "-k",
        "NumberOfStudyRelatedInstances",
        "-k",
        "RetrieveAETitle",
    )
    assert done.returncode == 0, done.stderr
    assert len(found) == 1
    (study,) = found
    assert str(study.PatientName) == "DOE^JOHN"
    assert int(study.NumberOfStudyRelatedInstances) == 3
    assert study.RetrieveAETitle == "DCMTUI"
    (op,) = pacs.ops("c-find")
    assert op.status == 0 and "1 matches" in op.detail
    assert op.calling_ae == "FINDSCU"


async def test_findscu_patient_root_image_level(pacs: Pacs, tmp_path: Path) -> None:
    done, found = await findscu(
        pacs,
        tmp_path / "f2",
        "-P",
        "-k",
        "QueryRetrieveLevel=IMAGE",
        "-k",
        "PatientID=PID1",
        "-k",
        "StudyInstanceUID=1.2.826.0.1.3680043.10.1453.1",
        "-k",
        "SeriesInstanceUID=1.2.826.0.1.3680043.10.1453.1.1",
        "-k",
        "SOPInstanceUID",
        "-k",
        "InstanceNumber",
    )
    assert done.returncode == 0, done.stderr
    assert sorted(int(r.InstanceNumber) for r in found) == [1, 2, 3]


async def test_findscu_cancel_is_honoured(pacs: Pacs, tmp_path: Path) -> None:
    # 5,000 instances in the index (one file, the rest index rows: a C-FIND
    # on index keys never opens them), so the answers take long enough for
    # findscu's C-CANCEL (sent after the first answer) to arrive mid-way.
    many = pacs.scp.store.root / "many"
    write_dicom(many / "0.dcm", pixels=False, PatientID="MANY")
    st = (many / "0.dcm").stat()
    first = read_record(str(many / "0.dcm"), st.st_size, st.st_mtime_ns)
    Index(pacs.scp.settings.index_path).upsert(
        [
            replace(
                first,
                path=str(many / f"{n}.dcm"),
                sop_instance_uid=f"1.2.826.0.1.3680043.10.1453.99.{n}",
            )
            for n in range(5000)
        ]
    )
    done, found = await findscu(
        pacs,
        tmp_path / "f3",
        "-P",
        "--cancel",
        "1",
        "-k",
        "QueryRetrieveLevel=IMAGE",
        "-k",
        "SOPInstanceUID",
    )
    assert done.returncode == 0, done.stderr
    assert len(found) < 5000
    assert any(e.status == 0xFE00 for e in pacs.ops("c-find"))


async def test_find_refused_for_an_unknown_calling_ae(
    pacs: Pacs, tmp_path: Path
) -> None:
    done, found = await findscu(
        pacs,
        tmp_path / "f4",
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        aet="STRANGER",
    )
    assert done.returncode != 0
    assert found == []
    (op,) = pacs.ops("c-find")
    assert op.status == 0x0124
    assert "STRANGER" in op.detail and "address book" in op.detail


async def test_find_allowed_for_anyone_when_known_peers_only_is_off(
    tmp_path: Path,
) -> None:
    pacs = await start_pacs(tmp_path, QrSettings(known_peers_only=False))
    try:
        done, found = await findscu(
            pacs,
            tmp_path / "f5",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            aet="STRANGER",
        )
        assert done.returncode == 0, done.stderr
        assert len(found) == 2
    finally:
        await pacs.scp.stop(grace=1)


async def test_each_service_can_be_turned_off(tmp_path: Path) -> None:

    pacs = await start_pacs(tmp_path, QrSettings(find=False, get=False))
    try:
        done, found = await findscu(
            pacs, tmp_path / "f6", "-S", "-k", "QueryRetrieveLevel=STUDY"
        )
        assert done.returncode != 0 and found == []
        out = tmp_path / "g-off"
        got = await getscu(pacs, out, "1.2.826.0.1.3680043.10.1453.1")
        assert list(out.iterdir()) == []
        assert got.returncode != 0
        assert pacs.ops("c-get") == []  # not refused: not offered at all
    finally:
        await pacs.scp.stop(grace=1)


async def test_getscu_retrieves_a_study_on_the_same_association(
    pacs: Pacs, tmp_path: Path
) -> None:

    out = tmp_path / "got"
    done = await getscu(pacs, out, "1.2.826.0.1.3680043.10.1453.1")
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    assert len(files) == 3
    originals = {
        dcmread(p).SOPInstanceUID: p for p in (pacs.scp.store.root / "p1").glob("*.dcm")
    }
    for path in files:
        got = dcmread(path)
        assert originals[got.SOPInstanceUID].exists()
    (op,) = pacs.ops("c-get")
    assert op.status == 0 and "3 sent" in op.detail
    sent = pacs.ops("c-store")  # each sub-operation, on the same association
    assert len(sent) == 3 and all(e.status == 0 and e.nbytes > 0 for e in sent)
    assert {e.assoc_id for e in sent} == {op.assoc_id}


async def test_getscu_gets_a_large_object_streamed_in_pdus(
    pacs: Pacs, tmp_path: Path
) -> None:
    """A data set larger than the lane's read block and than getscu's PDU
    (16 KB) goes in many P-DATA-TF PDUs, byte for byte."""
    big = pacs.scp.store.root / "big" / "b.dcm"
    pixels = bytes(range(256)) * 1200  # 300 KB
    write_dicom(
        big,
        pixels=False,
        PatientID="BIG",
        StudyInstanceUID="1.2.826.0.1.3680043.10.1453.9",
        Rows=300,
        Columns=500,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=16,
        BitsStored=16,
        HighBit=15,
        PixelRepresentation=0,
        PixelData=pixels,
    )
    index_folder(pacs.scp.settings.index_path, big.parent)
    out = tmp_path / "got"
    done = await getscu(pacs, out, "1.2.826.0.1.3680043.10.1453.9")
    assert done.returncode == 0, done.stderr
    (path,) = out.iterdir()
    got, original = dcmread(path), dcmread(big)
    assert got.PixelData == pixels
    assert got == original
    (op,) = pacs.ops("c-get")
    assert op.status == 0 and op.nbytes == big.stat().st_size


async def test_getscu_refused_for_an_unknown_calling_ae(
    pacs: Pacs, tmp_path: Path
) -> None:

    out = tmp_path / "got"
    done = await getscu(pacs, out, "1.2.826.0.1.3680043.10.1453.1", aet="STRANGER")
    assert done.returncode != 0
    assert list(out.iterdir()) == []
    assert [e.status for e in pacs.ops("c-get")] == [0x0124]


async def test_movescu_to_storescp_in_the_address_book(
    pacs: Pacs, tmp_path: Path
) -> None:
    import asyncio

    dest = start_storescp(tmp_path / "dest", aet="DEST")
    try:
        pacs.book.add(
            Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port)
        )
        done = await asyncio.to_thread(
            run,
            [
                dcmtk("movescu"),
                "-aet",
                "MOVESCU",
                "-aem",
                "DEST",
                "-S",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                "StudyInstanceUID=1.2.826.0.1.3680043.10.1453.2",
                "127.0.0.1",
                str(pacs.port),
            ],
            tmp_path,
        )
        assert done.returncode == 0, done.stderr
        received = list((tmp_path / "dest").iterdir())
        assert len(received) == 1
        assert str(dcmread(received[0]).PatientName) == "ROE^JANE"
    finally:
        dest.stop()
    (op,) = pacs.ops("c-move")
    assert op.status == 0 and "1 sent" in op.detail
    assert any(e.direction == "out" and e.called_ae == "DEST" for e in pacs.events)
    (sent,) = [e for e in pacs.ops("c-store") if e.direction == "out"]
    assert sent.status == 0 and sent.called_ae == "DEST"


async def test_movescu_to_an_unknown_destination_gets_a801(
    pacs: Pacs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    done = await asyncio.to_thread(
        run,
        [
            dcmtk("movescu"),
            "-v",
            "-aet",
            "MOVESCU",
            "-aem",
            "NOWHERE",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID=1.2.826.0.1.3680043.10.1453.2",
            "127.0.0.1",
            str(pacs.port),
        ],
        tmp_path,
    )
    assert "MoveDestinationUnknown" in done.stdout + done.stderr
    (op,) = pacs.ops("c-move")
    assert op.status == 0xA801
    assert "'NOWHERE'" in op.detail
    assert any("NOWHERE" in r.getMessage() for r in caplog.records)


async def test_movescu_refused_for_an_unknown_calling_ae(
    pacs: Pacs, tmp_path: Path
) -> None:
    import asyncio

    port = free_port()
    pacs.book.add(Node(name="self", ae_title="STRANGER", host="10.9.9.9", port=port))
    done = await asyncio.to_thread(
        run,
        [
            dcmtk("movescu"),
            "-aet",
            "OTHER",
            "-aem",
            "STRANGER",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID=1.2.826.0.1.3680043.10.1453.2",
            "127.0.0.1",
            str(pacs.port),
        ],
        tmp_path,
    )
    assert done.returncode != 0
    assert [e.status for e in pacs.ops("c-move")] == [0x0124]


async def test_worklist_findscu_W(pacs: Pacs, tmp_path: Path) -> None:
    folder = pacs.scp.settings.data_dir / "worklist"
    wl = Worklist(folder)
    wl.add(
        {"PatientName": "DOE^JOHN", "PatientID": "PID1", "AccessionNumber": "A1"},
        {"Modality": "CT", "ScheduledStationAETitle": "CT1"},
    )
    wl.add(
        {"PatientName": "ROE^JANE", "PatientID": "PID2", "AccessionNumber": "A2"},
        {"Modality": "MR", "ScheduledStationAETitle": "MR1"},
    )
    # A hand-written DICOM JSON item too.
    (folder / "hand.json").write_text(
        json.dumps(
            {
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "POE^ED"}]},
                "00400100": {
                    "vr": "SQ",
                    "Value": [{"00080060": {"vr": "CS", "Value": ["MR"]}}],
                },
            }
        )
    )
    done, found = await findscu(
        pacs,
        tmp_path / "w",
        "-W",
        "-k",
        "PatientName",
        "-k",
        "AccessionNumber",
        "-k",
        "ScheduledProcedureStepSequence[0].Modality=MR",
        "-k",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    )
    assert done.returncode == 0, done.stderr
    names = sorted(str(r.PatientName) for r in found)
    assert names == ["POE^ED", "ROE^JANE"]
    jane = next(r for r in found if str(r.PatientName) == "ROE^JANE")
    assert jane.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "MR1"
    assert any("worklist" in e.detail for e in pacs.ops("c-find"))


async def test_receiver_refuses_objects_when_the_quota_is_full(tmp_path: Path) -> None:
    import asyncio

    pacs = await start_pacs(tmp_path, QrSettings(quota_bytes=1000))
    try:
        sent = write_dicom(tmp_path / "out" / "new.dcm", uid_seed="quota")
        done = await asyncio.to_thread(
            run,
            [
                dcmtk("storescu"),
                "-aec",
                "DCMTUI",
                "127.0.0.1",
                str(pacs.port),
                str(sent),
            ],
            tmp_path,
        )
        assert done.returncode != 0
        (op,) = pacs.ops("c-store")
        assert op.status == 0xA700
        assert "the store is full" in op.detail
        assert not list(pacs.scp.store.root.rglob("x*.dcm"))
    finally:
        await pacs.scp.stop(grace=1)


async def test_getscu_accepting_only_implicit_gets_converted_files(
    pacs: Pacs, tmp_path: Path
) -> None:
    """Files stored explicit VR are converted (by the fast lane, with the
    sender's converter) when the peer accepts only implicit VR."""

    out = tmp_path / "got"
    both = "1.2.826.0.1.3680043.10.1453.1\\1.2.826.0.1.3680043.10.1453.2"
    done = await getscu(pacs, out, both, "+xi")
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    assert len(files) == 4
    names = sorted(str(dcmread(p).PatientName) for p in files)
    assert names == ["DOE^JOHN"] * 3 + ["ROE^JANE"]
    (op,) = pacs.ops("c-get")
    assert op.status == 0 and "4 sent" in op.detail


async def test_allowed_calling_aes_extend_the_address_book(tmp_path: Path) -> None:
    pacs = await start_pacs(tmp_path, QrSettings(allowed_calling_aes=["LISTED"]))
    try:
        done, found = await findscu(
            pacs,
            tmp_path / "f7",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            aet="LISTED",
        )
        assert done.returncode == 0, done.stderr
        assert len(found) == 2
    finally:
        await pacs.scp.stop(grace=1)


async def test_check_host_refuses_a_known_ae_from_another_address(
    tmp_path: Path,
) -> None:
    pacs = await start_pacs(tmp_path, QrSettings(check_host=True))
    try:
        pacs.book.add(Node(name="far", ae_title="FAR", host="10.9.9.9", port=104))
        done, found = await findscu(
            pacs, tmp_path / "f8", "-S", "-k", "QueryRetrieveLevel=STUDY", aet="FAR"
        )
        assert done.returncode != 0 and found == []
        assert [e.status for e in pacs.ops("c-find")] == [0x0124]
        done, found = await findscu(
            pacs,
            tmp_path / "f9",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
        )
        assert done.returncode == 0 and len(found) == 2  # FINDSCU is 127.0.0.1
    finally:
        await pacs.scp.stop(grace=1)


def _client_node(pacs: Pacs) -> Node:
    pacs.book.add(Node(name="us", ae_title="DCMTUI", host="127.0.0.1", port=104))
    return Node(name="pacs", ae_title="DCMTUI", host="127.0.0.1", port=pacs.port)


async def test_dcmtui_client_get_and_cancel(pacs: Pacs, tmp_path: Path) -> None:
    """dcmtui's own client (pynetdicom, role selection) against the fast C-GET,
    then a C-CANCEL in the middle of a long one."""
    from dcmtui.models import RetrieveProgress
    from dcmtui.services.scu import Scu
    from dcmtui.services.scu_qr import Retriever

    node = _client_node(pacs)
    many = pacs.scp.store.root / "many"

    def fill() -> None:
        for n in range(300):
            write_dicom(
                many / f"{n}.dcm",
                pixels=False,
                PatientID="MANY",
                StudyInstanceUID="1.2.826.0.1.3680043.10.1453.77",
            )
        index_folder(pacs.scp.settings.index_path, many)

    await asyncio.to_thread(fill)
    updates = [
        p
        async for p in Retriever(Scu(timeout=10)).get(
            node, "STUDY", [("PatientID", "PID1")], tmp_path / "got"
        )
    ]
    assert (updates[-1].completed, updates[-1].failed) == (3, 0)
    stream = cast(
        AsyncGenerator[RetrieveProgress, None],
        Retriever(Scu(timeout=10)).get(
            node, "STUDY", [("PatientID", "MANY")], tmp_path / "many"
        ),
    )
    async for _ in stream:
        break
    await stream.aclose()
    for _ in range(100):
        gets = pacs.ops("c-get")
        if len(gets) == 2:
            break
        await asyncio.sleep(0.05)
    assert gets[0].status == 0
    assert gets[1].status == 0xFE00, gets[1].detail
    assert "cancelled by the peer" in gets[1].detail


async def test_dcmtk_clients_with_nagle_on_are_not_held_up(
    pacs: Pacs, tmp_path: Path
) -> None:
    """getscu, and a storescp as C-MOVE destination, as Debian ships them
    (no TCP_NODELAY=1: Nagle's algorithm on) write each C-STORE response's
    PDU body after its header, held back until the header is acknowledged;
    we acknowledge at once (services.tcp), so no acknowledgement waits for
    Linux's 40 ms delayed-ACK timer (without: one or more per object)."""
    study = "1.2.826.0.1.3680043.10.1453.3"
    store = pacs.scp.store.root
    for n in range(20):
        write_dicom(
            store / "p3" / f"i{n}.dcm",
            uid_seed=f"nagle{n}",
            PatientID="PID3",
            StudyInstanceUID=study,
            SeriesInstanceUID=f"{study}.1",
        )
    index_folder(pacs.scp.settings.index_path, store)
    dest = start_storescp(tmp_path / "dest", aet="DEST", nagle=True)
    pacs.book.add(Node(name="dest", ae_title="DEST", host="127.0.0.1", port=dest.port))
    keys = ["-S", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"]
    (tmp_path / "got").mkdir()
    clients = {
        "get": [dcmtk("getscu"), "-aet", "GETSCU", "-od", str(tmp_path / "got")],
        "move": [dcmtk("movescu"), "-aet", "MOVESCU", "-aem", "DEST"],
    }
    delayed: dict[str, int] = {}
    try:
        for name, argv in clients.items():
            before = delayed_acks()
            done = await asyncio.to_thread(
                subprocess.run,
                [*argv, *keys, "127.0.0.1", str(pacs.port)],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                env={"PATH": "/usr/bin:/bin"},
            )
            delayed[name] = delayed_acks() - before
            assert done.returncode == 0, done.stderr
    finally:
        dest.stop()
    assert len(list((tmp_path / "got").iterdir())) == 20
    assert len(list((tmp_path / "dest").iterdir())) == 20
    assert delayed["get"] < 5 and delayed["move"] < 5, delayed
