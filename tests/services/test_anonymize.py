"""De-identification: PS3.15 Annex E basic profile, retain options, UIDs
remapped consistently across a study, dry runs, dcmdump/dciodvfy on output."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from dcmtui.services import anonymize as anon
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
        ProcedureCodeSequence=Sequence([item]),
        ContentSequence=Sequence([Dataset()]),
        OtherPatientIDsSequence=Sequence([Dataset()]),
    )
    result = anonymize_file(path, None)
    ds = pydicom.dcmread(path)
    assert result.target == str(path)
    assert ds.ProcedureCodeSequence[0].PersonName == "ANONYMIZED"
    assert ds.ProcedureCodeSequence[0].ObservationDateTime == "19000101000000"
    assert "OtherPatientIDsSequence" not in ds
    assert "ContentSequence" not in ds  # D: an SR content tree may hold anything
    paths = {c.path for c in result.changes}
    assert "(0008,1032)[0].(0040,A123)" in paths


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


_TABLE_E1_1 = Path(__file__).with_name("table_e1_1.tsv")

# Where dcmtui's action is not one the standard allows, on purpose or as
# found: reported, not changed.
_KNOWN_DIFFERENCES = {
    0x00001000: "U",  # Affected SOP Instance UID: X; dcmtui remaps it
    0x0008009C: "X",  # Consulting Physician's Name: Z
    0x00402016: "X",  # Placer Order Number / Imaging Service Request: Z
    0x00402017: "X",  # Filler Order Number / Imaging Service Request: Z
    0x006A0003: "U",  # Annotation Group UID: D; a consistent new UID is that dummy
}


def _ours(tag: int) -> tuple[str, frozenset[str]]:
    """dcmtui's action for a tag of Table E.1-1, and the options that keep it."""
    keyword = keyword_for_tag(tag)
    if tag in anon._ACTIONS:
        action, options = anon._ACTIONS[tag]
        return action, options | ({"uids"} if action == "U" else set())
    if keyword in anon._UID_KEYWORDS:
        return "U", frozenset({"uids"})
    if keyword in anon._UID_SEQUENCES:
        return "X/Z/U*", frozenset({"uids"})
    return "K", frozenset()


def test_every_attribute_of_table_e1_1_is_handled() -> None:
    """Every row of PS3.15 Table E.1-1 (2026c; the file says where it comes
    from) has an action dcmtui applies, one the standard allows, and is kept
    by each retain option whose column says K."""
    rows = [
        line.split("\t")
        for line in _TABLE_E1_1.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rows) == 655
    wrong, unkept = [], []
    for tag_text, action, kept_by, name in rows:
        if "X" in tag_text[:4]:  # 50xx curve data, 60xx overlays: by group
            continue
        tag = int(tag_text, 16)
        ours, options = _ours(tag)
        allowed = set(action.split("/")) | {action}
        if ours not in allowed and _KNOWN_DIFFERENCES.get(tag) != ours:
            wrong.append(f"{tag_text} {name}: {ours}, not {action}")
        for option in kept_by.split(",") if kept_by != "-" else []:
            if option not in options and not (option == "uids" and tag == 0x0040A124):
                unkept.append(f"{tag_text} {name}: not kept by {option}")
    assert not wrong, wrong
    assert not unkept, unkept


def test_rare_attributes_of_table_e1_1(tmp_path: Path) -> None:
    """GPS, lens and calibration, selector values, RT, trial issuers, SR and
    waveform annotations, attributes pydicom cannot name, overlay data:
    de-identified as Table E.1-1 says, and kept by their options."""
    selector = Dataset()
    selector.SelectorAttribute = 0x00100010
    selector.SelectorAttributeVR = "PN"
    selector.SelectorPNValue = "DOE^JOHN"
    selector.SelectorDAValue = "19610203"
    selector.SelectorASValue = "063Y"
    fields: dict[str, Any] = {
        "GPSLatitude": "52.3702",
        "GPSLongitude": "4.8952",
        "GPSDateStamp": "20240102",
        "LensMake": "ACME OPTICS",
        "LensSpecification": [1.0, 2.0, 3.0, 4.0],
        "CalibrationDate": "20230101",
        "DateOfManufacture": "20190505",
        "IssuerOfClinicalTrialSubjectID": "TRIAL ISSUER",
        "ClinicalTrialProtocolEthicsCommitteeName": "ETHICS BOARD",
        "EthnicGroupCodeSequence": Sequence([Dataset()]),
        "BeamDescription": "MR DOE SPINE",
        "RTPrescriptionLabel": "RX DOE",
        "ConceptualVolumeUID": "1.2.3.4.5.6.88",
        "AnnotationGroupUID": "1.2.3.4.5.6.89",
        "ManufacturerDeviceClassUID": "1.2.3.4.5.6.90",
        "FlowIdentifier": b"\x01\x02\x03\x04",
        "ContentSequence": Sequence([Dataset()]),
        "ImageSetSelectorSequence": Sequence([selector]),
        "ReferencedImageSequence": Sequence([Dataset()]),
    }
    path = write_image(tmp_path / "rare.dcm", **fields)
    ds = pydicom.dcmread(path)
    ds.ReferencedImageSequence[0].ReferencedSOPClassUID = CTImageStorage
    ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3.4.5.6.91"
    ds.add_new(0x00100012, "LO", "JOHNNY")  # Name to Use: not in pydicom 3.0
    ds.add_new(0x60003000, "OW", b"\xff" * 8)  # Overlay Data
    ds.save_as(path)
    result = anonymize_file(path, tmp_path / "out.dcm")
    out = pydicom.dcmread(tmp_path / "out.dcm")
    for gone in (
        "GPSLatitude",
        "GPSLongitude",
        "GPSDateStamp",
        "LensMake",
        "LensSpecification",
        "CalibrationDate",
        "DateOfManufacture",
        "IssuerOfClinicalTrialSubjectID",
        "EthnicGroupCodeSequence",
        "BeamDescription",
        "ContentSequence",
    ):
        assert gone not in out, gone
    assert 0x00100012 not in out and 0x60003000 not in out
    assert out.ClinicalTrialProtocolEthicsCommitteeName == "ANONYMIZED"
    assert out.RTPrescriptionLabel == "ANONYMIZED"
    assert out.FlowIdentifier == bytes(4)
    item = out.ImageSetSelectorSequence[0]
    assert item.SelectorPNValue == "ANONYMIZED"
    assert item.SelectorDAValue == "19000101" and item.SelectorASValue == "000Y"
    for uid in (
        "ConceptualVolumeUID",
        "AnnotationGroupUID",
        "ManufacturerDeviceClassUID",
    ):
        assert out[uid].value.startswith("2.25."), uid
    ref = out.ReferencedImageSequence[0]  # X/Z/U*: kept, its UIDs remapped
    assert ref.ReferencedSOPInstanceUID.startswith("2.25.")
    data = (tmp_path / "out.dcm").read_bytes()
    for value in ("52.3702", "ACME", "DOE", "JOHNNY", "ETHICS", "1.2.3.4.5.6"):
        assert value.encode() not in data, value
    assert {c.keyword for c in result.changes} >= {"GPSLatitude", "SelectorPNValue"}
    assert _errors(tmp_path / "out.dcm") <= _errors(path)

    keep = frozenset({"dates", "device", "uids", "patient", "institution"})
    anonymize_file(path, tmp_path / "kept.dcm", keep)
    kept = pydicom.dcmread(tmp_path / "kept.dcm")
    assert kept.GPSDateStamp == "20240102"  # dates
    assert kept.LensMake == "ACME OPTICS" and kept.DateOfManufacture == "20190505"
    assert kept.ClinicalTrialProtocolEthicsCommitteeName == "ETHICS BOARD"
    assert len(kept.EthnicGroupCodeSequence) == 1  # patient characteristics
    assert kept.ConceptualVolumeUID == "1.2.3.4.5.6.88"  # UIDs
    assert kept.ManufacturerDeviceClassUID == "1.2.3.4.5.6.90"
    item = kept.ImageSetSelectorSequence[0]
    assert item.SelectorASValue == "063Y" and item.SelectorDAValue == "19610203"
    assert item.SelectorPNValue == "ANONYMIZED"  # no option keeps a name
    assert "GPSLatitude" not in kept and "BeamDescription" not in kept
    # Kept by the device option alone too (its column says K as well).
    anonymize_file(path, tmp_path / "device.dcm", frozenset({"device"}))
    assert pydicom.dcmread(tmp_path / "device.dcm").CalibrationDate == "20230101"
