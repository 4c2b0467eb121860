"""Find, move and get against Orthanc, a real PACS, started by the test on
free ports with its own configuration and loaded by C-STORE (DCMTK storescu)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread

from dcmtui.models import Node
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import AssociationFailed, Scu
from dcmtui.services.scu_qr import Retriever
from tests.factories import write_dicom
from tests.netpeers import Peer, dcmtk, start_orthanc, start_storescp


@dataclass
class Pacs:
    orthanc: Peer
    dest: Peer
    dest_folder: Path
    files: list[Path]

    @property
    def node(self) -> Node:
        return parse_address(f"ORTHANC@127.0.0.1:{self.orthanc.port}", name="orthanc")


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pacs]:
    base = tmp_path_factory.mktemp("orthanc")
    dest = start_storescp(base / "dest", aet="DEST")
    orthanc = start_orthanc(base / "pacs", {"DEST": ("127.0.0.1", dest.port)})
    files = [
        write_dicom(
            base / "src" / f"{i}.dcm",
            uid_seed="orthanc-study",
            SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.4.{i}",
            SeriesInstanceUID=f"1.2.826.0.1.3680043.10.1453.3.{i // 2}",
            InstanceNumber=i,
            PatientName="ORTHANC^TEST",
            PatientID="OPID",
        )
        for i in range(4)
    ]
    subprocess.run(
        [
            dcmtk("storescu"),
            "-aec",
            "ORTHANC",
            "127.0.0.1",
            str(orthanc.port),
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TCP_NODELAY": "1"},
        timeout=60,
    )
    yield Pacs(orthanc, dest, base / "dest", files)
    orthanc.stop()
    dest.stop()


def retriever() -> Retriever:
    return Retriever(Scu(timeout=10))


async def test_echo_orthanc(pacs: Pacs) -> None:
    result = await Scu().echo(pacs.node)
    assert result.ok, result.detail


async def test_find_levels(pacs: Pacs) -> None:
    studies = [
        m.values
        async for m in retriever().find(
            pacs.node, "STUDY", [("PatientName", "ORTHANC*")]
        )
    ]
    assert [s["PatientID"] for s in studies] == ["OPID"]
    uid = studies[0]["StudyInstanceUID"]
    series = [
        m.values
        async for m in retriever().find(
            pacs.node, "SERIES", [("StudyInstanceUID", uid)]
        )
    ]
    assert len(series) == 2
    images = [
        m.values
        async for m in retriever().find(
            pacs.node, "IMAGE", [("StudyInstanceUID", uid), ("SOPInstanceUID", "")]
        )
    ]
    assert sorted(i["SOPInstanceUID"] for i in images) == sorted(
        f"1.2.826.0.1.3680043.10.1453.4.{i}" for i in range(4)
    )


async def test_move_to_storescp(pacs: Pacs) -> None:
    updates = [
        p
        async for p in retriever().move(
            pacs.node,
            "SERIES",
            [("SeriesInstanceUID", "1.2.826.0.1.3680043.10.1453.3.0")],
            "DEST",
        )
    ]
    assert updates[-1].done and updates[-1].completed == 2 and updates[-1].failed == 0
    got = {dcmread(p).SOPInstanceUID for p in pacs.dest_folder.iterdir()}
    assert {"1.2.826.0.1.3680043.10.1453.4.0", "1.2.826.0.1.3680043.10.1453.4.1"} <= got


async def test_move_to_unknown_destination(pacs: Pacs) -> None:
    series = [("SeriesInstanceUID", "1.2.826.0.1.3680043.10.1453.3.0")]
    with pytest.raises(AssociationFailed) as info:
        async for _ in retriever().move(pacs.node, "SERIES", series, "NOWHERE"):
            pass
    # Orthanc 1.10 answers 0xC000 with no comment (newer ones 0xA801)
    assert info.value.status in (0xA801, 0xC000), str(info.value)
    assert "dd NOWHERE with its host and port" in str(info.value), str(info.value)


async def test_get_into_folder(pacs: Pacs, tmp_path: Path) -> None:
    updates = [
        p
        async for p in retriever().get(
            pacs.node,
            "STUDY",
            [("StudyInstanceUID", str(dcmread(pacs.files[0]).StudyInstanceUID))],
            tmp_path / "got",
        )
    ]
    last = updates[-1]
    assert (last.completed, last.failed) == (4, 0), last
    assert len(last.received) == 4
    copies = {str(dcmread(p).SOPInstanceUID): dcmread(p) for p in last.received}
    for path in pacs.files:
        original = dcmread(path)
        assert copies[str(original.SOPInstanceUID)].PixelData == original.PixelData
