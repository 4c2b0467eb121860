"""De-identification: PS3.15 Annex E basic profile, retain options, UIDs
remapped consistently across a study, dry runs, dcmdump/dciodvfy on output."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from dcmtui.services.anonymize import (
    AnonymizeError,
    UidMap,
    anonymize_file,
    anonymize_files,
    anonymize_iter,
)
from tests.factories import write_dicom
from tests.imaging import write_image
from tests.peers import require


def _study(tmp_path: Path) -> tuple[Path, Path]:
    """Two CT images of one study; the second references the first."""
    a = write_dicom(
        tmp_path / "in" / "a.dcm",
        uid_seed="a",
        InstitutionName="ST ELSEWHERE",
        StationName="CT01",
        DeviceSerialNumber="SN123",
        PatientSex="F",
        PatientAge="052Y",
        PatientWeight="61",
        OperatorsName="SMITH^OP",
        FrameOfReferenceUID="1.2.3.4.5.6.7",
    )
    first = pydicom.dcmread(a)
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
    b = write_dicom(
        tmp_path / "in" / "b.dcm",
        uid_seed="b",
        StudyInstanceUID=first.StudyInstanceUID,
        SeriesInstanceUID=first.SeriesInstanceUID,
        FrameOfReferenceUID="1.2.3.4.5.6.7",
        ReferencedImageSequence=Sequence([ref]),
        InstanceNumber=2,
    )
    ds = pydicom.dcmread(b)
    ds.private_block(0x0029, "ACME 1.0", create=True).add_new(0x01, "LO", "SECRET")
    ds.save_as(b)
    return a, b


def test_basic_profile(tmp_path: Path) -> None:
    a, _ = _study(tmp_path)
    before = pydicom.dcmread(a)
    result = anonymize_file(a, tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds.PatientName == "" and ds.PatientID == "" and ds.PatientBirthDate == ""
    assert ds.StudyDate == "" and ds.AccessionNumber == ""
    for gone in (
        "InstitutionName",
        "StationName",
        "DeviceSerialNumber",
        "PatientAge",
        "PatientWeight",
        "OperatorsName",
        "StudyDescription",
        "SeriesDescription",
    ):
        assert gone not in ds, gone
    assert ds.PatientIdentityRemoved == "YES"
    assert "Basic" in ds.DeidentificationMethod
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.SOPInstanceUID != before.SOPInstanceUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == before.SOPClassUID  # class UIDs are kept
    assert ds.Modality == "CT" and ds.Rows == 8
    assert ds.PixelData == before.PixelData
    keywords = {c.keyword for c in result.changes}
    assert {"PatientName", "SOPInstanceUID", "InstitutionName"} <= keywords
    assert pydicom.dcmread(a).PatientName == "DOE^JOHN"  # source untouched


def test_uids_consistent_across_a_study(tmp_path: Path) -> None:
    a, b = _study(tmp_path)
    results = list(anonymize_iter([a, b], tmp_path / "out"))
    assert all(r.ok for r in results)
    new_a = pydicom.dcmread(tmp_path / "out" / "a.dcm")
    new_b = pydicom.dcmread(tmp_path / "out" / "b.dcm")
    old_a = pydicom.dcmread(a)
    assert new_a.StudyInstanceUID == new_b.StudyInstanceUID != old_a.StudyInstanceUID
    assert new_a.SeriesInstanceUID == new_b.SeriesInstanceUID
    assert new_a.FrameOfReferenceUID == new_b.FrameOfReferenceUID != "1.2.3.4.5.6.7"
    assert new_a.SOPInstanceUID != new_b.SOPInstanceUID
    ref = new_b.ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == new_a.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == CTImageStorage
    assert not any(e.tag.is_private for e in new_b)


def test_salt_gives_the_same_uids_in_every_run(tmp_path: Path) -> None:
    a, _ = _study(tmp_path)
    one = anonymize_file(a, tmp_path / "1.dcm", uids=UidMap("s3cret"))
    two = anonymize_file(a, tmp_path / "2.dcm", uids=UidMap("s3cret"))
    three = anonymize_file(a, tmp_path / "3.dcm", uids=UidMap("other"))
    uid = [
        pydicom.dcmread(p).SOPInstanceUID
        for p in (one.target, two.target, three.target)
    ]
    assert uid[0] == uid[1] != uid[2]
    assert all(u.startswith("2.25.") for u in uid)


def test_retain_options(tmp_path: Path) -> None:
    a, b = _study(tmp_path)
    keep = frozenset({"dates", "device", "uids", "patient", "institution", "private"})
    anonymize_file(b, tmp_path / "b.dcm", keep)
    anonymize_file(a, tmp_path / "a.dcm", keep)
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    old = pydicom.dcmread(a)
    assert ds.StudyDate == "20240102" and ds.StudyTime == "101500"
    assert ds.StationName == "CT01" and ds.DeviceSerialNumber == "SN123"
    assert ds.SOPInstanceUID == old.SOPInstanceUID
    assert ds.PatientSex == "F" and ds.PatientAge == "052Y"
    assert ds.InstitutionName == "ST ELSEWHERE"
    assert ds.PatientName == ""  # never retained
    codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113106", "113109", "113110", "113108", "113112"}
    assert any(e.tag.is_private for e in pydicom.dcmread(tmp_path / "b.dcm"))


def test_dry_run_lists_everything_and_writes_nothing(tmp_path: Path) -> None:
    a, _ = _study(tmp_path)
    data = a.read_bytes()
    result = anonymize_file(a, None, dry_run=True)
    assert a.read_bytes() == data and result.target == ""
    lines = [c.line() for c in result.changes]
    assert any(
        line.startswith("(0010,0010) PatientName: Z 'DOE^JOHN'") for line in lines
    )
    assert any("InstitutionName: remove (was 'ST ELSEWHERE')" in line for line in lines)
    # The dry run lists exactly what a real run changes.
    real = anonymize_file(a, tmp_path / "real.dcm", uids=UidMap("x"))
    dry = anonymize_file(a, None, uids=UidMap("x"), dry_run=True)
    assert real.changes == dry.changes


def test_in_place_and_inside_sequences(tmp_path: Path) -> None:
    item = Dataset()
    item.PersonName = "WITNESS^A"
    item.ObservationDateTime = "20240102101500"
    path = write_image(
        tmp_path / "seq.dcm",
        ContentSequence=Sequence([item]),
        OtherPatientIDsSequence=Sequence([Dataset()]),
    )
    result = anonymize_file(path, None)
    ds = pydicom.dcmread(path)
    assert result.target == str(path)
    assert ds.ContentSequence[0].PersonName == "ANONYMIZED"
    assert ds.ContentSequence[0].ObservationDateTime == "19000101000000"
    assert "OtherPatientIDsSequence" not in ds
    paths = {c.path for c in result.changes}
    assert "(0040,A730)[0].(0040,A123)" in paths


def _errors(path: Path) -> set[str]:
    out = subprocess.run(
        [require("dciodvfy"), str(path)], capture_output=True, text=True
    )
    return {
        re.sub(r"\s+", " ", line)
        for line in (out.stdout + out.stderr).splitlines()
        if line.startswith("Error")
    }


def test_output_reads_in_dcmdump_and_dciodvfy_finds_nothing_new(tmp_path: Path) -> None:
    source = write_image(tmp_path / "sc.dcm")
    out = tmp_path / "anon.dcm"
    anonymize_file(source, out)
    dump = subprocess.run(
        [require("dcmdump"), "-q", str(out)], capture_output=True, check=True
    ).stdout.decode("latin-1")
    assert "PIXEL^TEST" not in dump and "(0012,0062) CS [YES]" in dump
    assert _errors(out) <= _errors(source)


async def test_async_and_failures(tmp_path: Path) -> None:
    a, _ = _study(tmp_path)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"junk")
    results = [r async for r in anonymize_files([a, junk], tmp_path / "o")]
    assert [r.ok for r in results] == [True, False]
    with pytest.raises(AnonymizeError, match="unknown retain option"):
        anonymize_file(a, tmp_path / "x.dcm", frozenset({"everything"}))


def test_more_of_table_e1_1(tmp_path: Path) -> None:
    """Attributes of the basic profile beyond the patient module: AE titles,
    stations, request reasons, provenance, thumbnails, trial IDs, and the
    UIDs of references; the options keep what they should."""
    icon = Dataset()
    icon.Rows = 1
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6.99"
    fields: dict[str, Any] = {
        "StationAETitle": "CT_SCANNER_3",
        "RetrieveAETitle": "PACS_MAIN",
        "PerformedStationName": "CT3 ROOM 12",
        "PerformedLocation": "BUILDING B",
        "ReasonForStudy": "SUSPECTED FRACTURE",
        "FrameComments": "MR SMITH MOVED",
        "ClinicalTrialSubjectID": "SUBJ-0042",
        "ContrastBolusAgent": "OMNIPAQUE",
        "TimezoneOffsetFromUTC": "+0100",
        "PerformedProcedureStepStartDateTime": "20240102101500",
        "IconImageSequence": Sequence([icon]),
        "ReferencedPerformedProcedureStepSequence": Sequence([ref]),
        "PaletteColorLookupTableUID": "1.2.3.4.5.6.77",
    }
    path = write_image(tmp_path / "more.dcm", **fields)
    result = anonymize_file(path, tmp_path / "out.dcm")
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    for gone in (
        "StationAETitle",
        "RetrieveAETitle",
        "PerformedStationName",
        "PerformedLocation",
        "ReasonForStudy",
        "FrameComments",
        "TimezoneOffsetFromUTC",
        "PerformedProcedureStepStartDateTime",
        "IconImageSequence",
        "ReferencedPerformedProcedureStepSequence",
    ):
        assert gone not in ds, gone
    assert ds.ClinicalTrialSubjectID == "ANONYMIZED"
    assert ds.ContrastBolusAgent == ""
    assert ds.PaletteColorLookupTableUID.startswith("2.25.")
    dump = (tmp_path / "out.dcm").read_bytes()
    for value in ("CT_SCANNER_3", "BUILDING B", "MR SMITH", "SUBJ-0042", "1.2.3.4.5.6"):
        assert value.encode() not in dump, value
    assert {c.keyword for c in result.changes} >= {"StationAETitle", "FrameComments"}
    keep = frozenset({"device", "dates", "uids"})
    anonymize_file(path, tmp_path / "kept.dcm", keep)
    ds = pydicom.dcmread(tmp_path / "kept.dcm")
    assert ds.PerformedStationName == "CT3 ROOM 12"  # device identity
    assert ds.TimezoneOffsetFromUTC == "+0100"  # full dates
    assert ds.ReferencedPerformedProcedureStepSequence[0] == ref  # UIDs
    assert "StationAETitle" not in ds  # AE titles are never kept
    assert _errors(tmp_path / "out.dcm") <= _errors(path)
