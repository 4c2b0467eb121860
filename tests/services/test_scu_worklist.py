"""The modality worklist as its own model, against DCMTK's wlmscpfs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from dcmtui.cli import main
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import Scu
from dcmtui.services.scu_qr import Retriever, build_identifier
from tests.netpeers import Peer, start_wlmscpfs


def write_item(path: Path, name: str, pid: str, modality: str, date: str) -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.AccessionNumber = f"ACC-{pid}"
    ds.ReferringPhysicianName = "REF^DOC"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.1453.2.{pid[-1]}"
    ds.RequestedProcedureID = f"RP-{pid}"
    ds.RequestedProcedureDescription = "EXAM"
    ds.RequestedProcedurePriority = "ROUTINE"
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = f"{modality}01"
    step.ScheduledStationName = "STATION"
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = "101500"
    step.ScheduledPerformingPhysicianName = "PERF^DOC"
    step.ScheduledProcedureStepDescription = f"{modality} EXAM"
    step.ScheduledProcedureStepID = f"SPS-{pid}"
    step.ScheduledProcedureStepLocation = "ROOM1"
    ds.ScheduledProcedureStepSequence = [step]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.31")
    meta.MediaStorageSOPInstanceUID = UID(f"1.2.826.0.1.3680043.10.1453.1.{pid[-1]}")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def worklist(tmp_path: Path) -> Iterator[Peer]:
    folder = tmp_path / "wl"
    (folder / "WLAE").mkdir(parents=True)
    write_item(folder / "WLAE" / "a.wl", "WORK^ANN", "W1", "CT", "20240105")
    write_item(folder / "WLAE" / "b.wl", "WORK^BOB", "W2", "MR", "20240106")
    peer = start_wlmscpfs(folder)
    yield peer
    peer.stop()


def test_worklist_keys_go_into_the_step_item() -> None:
    ds = build_identifier("", [("Modality", "CT")], root="worklist")
    assert "QueryRetrieveLevel" not in ds
    assert ds.ScheduledProcedureStepSequence[0].Modality == "CT"
    assert "ScheduledStationAETitle" in ds.ScheduledProcedureStepSequence[0]
    assert "Modality" not in ds


async def test_worklist_query(worklist: Peer) -> None:
    node = parse_address(f"WLAE@127.0.0.1:{worklist.port}")
    found = Retriever(Scu()).find(node, "", [("Modality", "CT")], root="worklist")
    items = [m.values async for m in found]
    assert len(items) == 1
    (item,) = items
    assert item["PatientName"] == "WORK^ANN"
    assert item["Modality"] == "CT"
    assert item["ScheduledStationAETitle"] == "CT01"
    assert item["ScheduledProcedureStepStartDate"] == "20240105"


def test_worklist_cli(worklist: Peer, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"WLAE@127.0.0.1:{worklist.port}"
    assert main(["find", address, "-W", "-k", "PatientName=WORK*", "--dcmtk"]) == 0
    captured = capsys.readouterr()
    assert "PatientName=WORK^ANN" in captured.out
    assert "PatientName=WORK^BOB" in captured.out
    assert "2 matches" in captured.err
    assert "-W" in captured.err
