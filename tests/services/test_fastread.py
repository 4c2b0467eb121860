"""Tests of the fast header reader, against files written by pydicom."""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from dcmtui.models import FileKind, FileRecord
from dcmtui.services.fastread import read_record

CT = "1.2.840.10008.5.1.4.1.1.2"
SOP = "1.2.3.4.5.6.7.8.9"
STUDY = "1.2.3.4.100"
SERIES = "1.2.3.4.100.1"


def bundled(name: str) -> str:
    """Path of one of pydicom's bundled test files.

    Args:
        name: Its file name.

    Returns:
        Its path.
    """
    path = get_testdata_file(name)
    assert isinstance(path, str)
    return path


def make_dataset(**overrides: object) -> Dataset:
    """A small CT data set with every tag the index reads.

    Args:
        **overrides: Keywords to set (or replace) on the data set.

    Returns:
        The data set, with a file meta group but no transfer syntax yet.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(CT)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(SOP)
    ds.SpecificCharacterSet = "ISO_IR 6"
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = SOP
    ds.StudyDate = "20240131"
    ds.StudyTime = "101530.25"
    ds.AccessionNumber = "ACC42"
    ds.Modality = "CT"
    ds.StudyDescription = "Head without contrast"
    ds.SeriesDescription = "Axial 5mm"
    ds.PatientName = "Doe^Jane^Q"
    ds.PatientID = "PID-001"
    ds.PatientBirthDate = "19800229"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.SeriesNumber = 3
    ds.InstanceNumber = 17
    ds.Rows = 16
    ds.Columns = 16
    ds.BitsAllocated = 16
    ds.PixelData = bytes(range(256)) * 2
    for keyword, value in overrides.items():
        setattr(ds, keyword, value)
    return ds


def write(
    path: Path,
    ds: Dataset,
    syntax: str = ExplicitVRLittleEndian,
    *,
    file_format: bool = True,
) -> Path:
    """Write `ds` with pydicom.

    Args:
        path: Where.
        ds: What.
        syntax: The transfer syntax.
        file_format: With preamble and meta group (else the bare data set).

    Returns:
        The path.
    """
    if file_format:
        ds.file_meta.TransferSyntaxUID = UID(syntax)
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(
            path,
            implicit_vr=syntax == ImplicitVRLittleEndian,
            little_endian=syntax != ExplicitVRBigEndian,
        )
    return path


def read(path: Path | str) -> FileRecord:
    """read_record with the size and mtime from stat.

    Args:
        path: The file.

    Returns:
        Its record.
    """
    st = os.stat(path)
    return read_record(str(path), st.st_size, st.st_mtime_ns)


def assert_full(record: FileRecord, syntax: str) -> None:
    """Check every field of a record of make_dataset().

    Args:
        record: The record.
        syntax: The transfer syntax it should report.
    """
    assert record.kind is FileKind.DICOM, record.reason
    assert record.reason == ""
    assert record.patient_name == "Doe^Jane^Q"
    assert record.patient_id == "PID-001"
    assert record.patient_birth_date == "19800229"
    assert record.study_uid == STUDY
    assert record.study_date == "20240131"
    assert record.study_time == "101530.25"
    assert record.study_description == "Head without contrast"
    assert record.accession_number == "ACC42"
    assert record.modality == "CT"
    assert record.series_uid == SERIES
    assert record.series_number == 3
    assert record.series_description == "Axial 5mm"
    assert record.instance_number == 17
    assert record.sop_class_uid == CT
    assert record.sop_instance_uid == SOP
    assert record.transfer_syntax_uid == syntax


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
    ids=["explicit", "implicit"],
)
def test_little_endian(tmp_path: Path, syntax: str) -> None:
    path = write(tmp_path / "a.dcm", make_dataset(), syntax)
    record = read(path)
    assert_full(record, syntax)
    assert record.path == str(path)
    assert record.size == path.stat().st_size


def test_record_keeps_size_and_mtime_given(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    record = read_record(str(path), 12345, 678)
    assert (record.size, record.mtime_ns) == (12345, 678)


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian],
    ids=["big-endian", "deflated"],
)
def test_pydicom_fallback_syntaxes(tmp_path: Path, syntax: str) -> None:
    path = tmp_path / "a.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write(path, make_dataset(), syntax)
    assert_full(read(path), syntax)


@pytest.mark.parametrize(
    ("name", "syntax", "patient", "instance"),
    [
        ("MR_small_bigendian.dcm", ExplicitVRBigEndian, "CompressedSamples^MR1", 1),
        ("image_dfl.dcm", DeflatedExplicitVRLittleEndian, "^^^^", None),
    ],
)
def test_pydicom_fallback_test_files(
    name: str, syntax: str, patient: str, instance: int | None
) -> None:
    record = read(bundled(name))
    assert record.kind is FileKind.DICOM
    assert record.transfer_syntax_uid == syntax
    assert record.patient_name == patient
    assert record.instance_number == instance


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
    ids=["explicit", "implicit"],
)
def test_no_preamble_no_meta(tmp_path: Path, syntax: str) -> None:
    path = write(tmp_path / "raw", make_dataset(), syntax, file_format=False)
    assert path.read_bytes()[:2] == b"\x08\x00"
    record = read(path)
    assert record.kind is FileKind.DICOM
    assert record.transfer_syntax_uid == syntax  # guessed from the bytes
    assert record.patient_name == "Doe^Jane^Q"
    assert record.sop_instance_uid == SOP
    assert record.instance_number == 17


def test_no_preamble_big_endian(tmp_path: Path) -> None:
    path = tmp_path / "raw"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write(path, make_dataset(), ExplicitVRBigEndian, file_format=False)
    record = read(path)
    assert record.kind is FileKind.DICOM
    assert record.patient_id == "PID-001"
    assert record.series_number == 3


def test_meta_group_without_preamble(tmp_path: Path) -> None:
    full = write(tmp_path / "a.dcm", make_dataset()).read_bytes()
    path = tmp_path / "b.dcm"
    path.write_bytes(full[132:])
    assert_full(read(path), ExplicitVRLittleEndian)


def nested_sequences() -> Sequence:
    """Two levels of sequences, with an empty item and an empty sequence.

    Returns:
        The outer sequence.
    """
    inner = Dataset()
    inner.CodeValue = "T-A0100"
    inner.CodingSchemeDesignator = "SRT"
    inner.CodeMeaning = "Brain"
    inner.PatientName = "Not^The^Patient"  # nested: must not be taken
    item = Dataset()
    item.ReferencedSOPClassUID = CT
    item.ReferencedSOPInstanceUID = "9.9.9"
    item.AnatomicRegionSequence = Sequence([inner, Dataset()])
    item.PurposeOfReferenceCodeSequence = Sequence([])
    return Sequence([item, Dataset()])


@pytest.mark.parametrize(
    "syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
    ids=["explicit", "implicit"],
)
@pytest.mark.parametrize("undefined", [True, False], ids=["undefined", "defined"])
def test_sequences_before_patient_module(
    tmp_path: Path, syntax: str, undefined: bool
) -> None:
    ds = make_dataset()
    ds.ReferencedImageSequence = nested_sequences()  # (0008,1140)
    ds.SourceImageSequence = nested_sequences()  # (0008,2112)
    for keyword in ("ReferencedImageSequence", "SourceImageSequence"):
        ds[keyword].is_undefined_length = undefined
        for item in ds[keyword].value:
            item.is_undefined_length_sequence_item = undefined
            for elem in item:
                if elem.VR == "SQ":
                    elem.is_undefined_length = undefined
                    for sub in elem.value:
                        sub.is_undefined_length_sequence_item = undefined
    path = write(tmp_path / "a.dcm", ds, syntax)
    assert (b"\xff\xff\xff\xff" in path.read_bytes()) is undefined
    assert_full(read(path), syntax)


def test_un_sequence_of_undefined_length(tmp_path: Path) -> None:
    # An explicit VR file with a private UN element of undefined length: its
    # items are implicit VR (PS3.5 6.2.2), and hold a PatientName of their own.
    body = io.BytesIO()
    inner = Dataset()
    inner.CodeValue = "1234"
    inner.PatientName = "Inner^Name"
    inner.save_as(body, implicit_vr=True, little_endian=True)
    un_value = (
        b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
        + body.getvalue()
        + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )
    path = write(tmp_path / "a.dcm", make_dataset())
    data = path.read_bytes()
    at = data.index(b"\x10\x00\x10\x00PN")  # insert (0009,xxxx) before it
    private = b"\x09\x00\x10\x00LO\x04\x00TEST" + b"\x09\x00\x10\x10UN\x00\x00"
    private += b"\xff\xff\xff\xff" + un_value
    path.write_bytes(data[:at] + private + data[at:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = pydicom.dcmread(path, stop_before_pixels=True)
    assert check.PatientName == "Doe^Jane^Q"
    assert_full(read(path), ExplicitVRLittleEndian)


def test_iso_ir_100(tmp_path: Path) -> None:
    ds = make_dataset(
        SpecificCharacterSet="ISO_IR 100",
        PatientName="Müller^Jörg",
        StudyDescription="Thorax für Ärzte",
    )
    path = write(tmp_path / "a.dcm", ds)
    assert "Müller".encode("latin-1") in path.read_bytes()
    record = read(path)
    assert record.patient_name == "Müller^Jörg"
    assert record.study_description == "Thorax für Ärzte"


def test_utf8(tmp_path: Path) -> None:
    ds = make_dataset(SpecificCharacterSet="ISO_IR 192", PatientName="Ωμέγα^Δ")
    record = read(write(tmp_path / "a.dcm", ds))
    assert record.patient_name == "Ωμέγα^Δ"


def test_iso_ir_101_goes_through_pydicom(tmp_path: Path) -> None:
    ds = make_dataset(SpecificCharacterSet="ISO_IR 101", PatientName="Dvořák^Łukasz")
    record = read(write(tmp_path / "a.dcm", ds))
    assert record.patient_name == "Dvořák^Łukasz"


def test_iso_2022_ir_87() -> None:
    path = next(f for f in get_charset_files() if f.endswith("chrH31.dcm"))
    assert b"\x1b$B" in Path(path).read_bytes()
    record = read(path)
    assert record.kind is FileKind.DICOM
    assert record.patient_name == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_iso_2022_korean() -> None:
    path = next(f for f in get_charset_files() if f.endswith("chrI2.dcm"))
    assert read(path).patient_name == "Hong^Gildong=洪^吉洞=홍^길동"


def test_hostile_text_is_kept_literally(tmp_path: Path) -> None:
    name = "\x1b[31mRed\x1b[0m^[bold]Bob[/bold]\nrm -rf\x00x"
    ds = make_dataset(PatientName=name, PatientID="[link=x]ID\x07")
    del ds.SpecificCharacterSet
    record = read(write(tmp_path / "a.dcm", ds))
    assert record.patient_name == name
    assert record.patient_id == "[link=x]ID\x07"


def test_trailing_padding_is_stripped(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset(PatientID="AB"))
    data = path.read_bytes()
    data = data.replace(b"LO\x02\x00AB", b"LO\x04\x00AB \x00", 1)
    path.write_bytes(data)
    assert read(path).patient_id == "AB"


@pytest.mark.parametrize(
    ("raw", "number"),
    [(b"  12 ", 12), (b"", None), (b"7.0 ", 7), (b"x1", None), (b"-3", -3)],
)
def test_integer_strings(tmp_path: Path, raw: bytes, number: int | None) -> None:
    ds = make_dataset()
    ds.add_new(0x00200013, "IS", None)
    path = write(tmp_path / "a.dcm", ds, ImplicitVRLittleEndian)
    data = path.read_bytes()
    empty = b"\x20\x00\x13\x00\x00\x00\x00\x00"
    assert empty in data
    path.write_bytes(data.replace(empty, empty[:4] + struct.pack("<I", len(raw)) + raw))
    record = read(path)
    assert record.kind is FileKind.DICOM
    assert record.instance_number == number


def test_sop_uids_fall_back_to_meta(tmp_path: Path) -> None:
    ds = make_dataset()
    del ds.SOPClassUID
    del ds.SOPInstanceUID
    record = read(write(tmp_path / "a.dcm", ds))
    assert record.sop_class_uid == CT
    assert record.sop_instance_uid == SOP


def test_truncated_pixel_data(tmp_path: Path) -> None:
    ds = make_dataset()
    ds.Rows = ds.Columns = 512
    ds.PixelData = b"\x01\x02" * (512 * 512)
    path = write(tmp_path / "a.dcm", ds)
    data = path.read_bytes()
    cut = len(data) - 2 * 512 * 512 + 1000
    path.write_bytes(data[:cut])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "truncated: PixelData declares 524288 bytes, 1000 remain"
    assert record.patient_name == "Doe^Jane^Q"  # what could be read is kept
    assert record.instance_number == 17


def test_truncated_pixel_data_small_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset(), ImplicitVRLittleEndian)
    path.write_bytes(path.read_bytes()[:-10])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "truncated: PixelData declares 512 bytes, 502 remain"


def encapsulated(tmp_path: Path, frames: int = 3) -> Path:
    """An encapsulated (JPEG Baseline labelled) file with fake fragments.

    Args:
        tmp_path: Folder for the file.
        frames: Number of frames.

    Returns:
        Its path.
    """
    ds = make_dataset()
    ds.NumberOfFrames = frames
    ds.PixelData = encapsulate([bytes([n]) * 3000 for n in range(frames)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return write(tmp_path / "enc.dcm", ds, JPEGBaseline8Bit)


def test_encapsulated_intact(tmp_path: Path) -> None:
    path = encapsulated(tmp_path)
    assert path.read_bytes()[-8:] == b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    assert_full(read(path), JPEGBaseline8Bit)


def test_encapsulated_truncated(tmp_path: Path) -> None:
    path = encapsulated(tmp_path)
    path.write_bytes(path.read_bytes()[:-2000])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "truncated: encapsulated pixel data has no end"


def test_encapsulated_with_trailing_padding(tmp_path: Path) -> None:
    path = encapsulated(tmp_path)
    # (FFFC,FFFC) Data Set Trailing Padding after the pixel data
    path.write_bytes(
        path.read_bytes() + b"\xfc\xff\xfc\xffOB\x00\x00\x04\x00\x00\x00\x00"
    )
    record = read(path)
    assert record.kind is FileKind.DICOM, record.reason


def test_encapsulated_cut_after_last_fragment(tmp_path: Path) -> None:
    path = encapsulated(tmp_path)
    path.write_bytes(path.read_bytes()[:-8])  # only the delimiter is missing
    record = read(path)
    assert record.reason == "truncated: encapsulated pixel data has no end"


@pytest.mark.parametrize("cut", [300, 420, 133, 140])
def test_truncated_header(tmp_path: Path, cut: int) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    path.write_bytes(path.read_bytes()[:cut])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason.startswith("truncated"), record.reason


def test_truncated_inside_patient_name(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset(), ImplicitVRLittleEndian)
    data = path.read_bytes()
    at = data.index(b"Doe^Jane")
    path.write_bytes(data[: at + 3])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "truncated: (0010,0010) declares 10 bytes, 3 remain"
    assert record.modality == "CT"
    assert record.patient_name == ""


def test_bad_length(tmp_path: Path) -> None:
    ds = make_dataset()
    ds.PixelData = bytes(300_000)
    path = write(tmp_path / "a.dcm", ds, ImplicitVRLittleEndian)
    data = path.read_bytes()
    header = b"\x10\x00\x10\x00\x0a\x00\x00\x00Doe^Jane^Q"
    assert header in data
    path.write_bytes(
        data.replace(header, header[:4] + struct.pack("<I", 200_000) + header[8:])
    )
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "bad length at (0010,0010)"


def test_bad_meta_group_length(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    data = bytearray(path.read_bytes())
    assert data[132:140] == b"\x02\x00\x00\x00UL\x04\x00"
    real = struct.unpack_from("<I", data, 140)[0]
    struct.pack_into("<I", data, 140, real - 6)
    path.write_bytes(bytes(data))
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == (
        f"bad meta header: group length says {real - 6} bytes, the group has {real}"
    )
    assert record.patient_name == "Doe^Jane^Q"


def test_meta_without_transfer_syntax(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    data = path.read_bytes()
    ts = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
    assert ts in data
    # keep the group length right, so only the missing element is the fault
    data = data.replace(ts, b"")
    length = struct.unpack_from("<I", data, 140)[0] - len(ts)
    path.write_bytes(data[:140] + struct.pack("<I", length) + data[144:])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "bad meta header: no TransferSyntaxUID"
    assert record.patient_id == "PID-001"  # the data set is still read (guessed)


def test_meta_element_runs_past_end(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    data = bytearray(path.read_bytes())
    at = data.index(b"\x02\x00\x02\x00UI")
    struct.pack_into("<H", data, at + 6, 0xFFF0)
    path.write_bytes(bytes(data[:600]))
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason.startswith("truncated: (0002,0002) declares 65520 bytes")


def test_meta_bad_vr(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset())
    data = path.read_bytes().replace(b"\x02\x00\x10\x00UI", b"\x02\x00\x10\x00\x01\x02")
    path.write_bytes(data)
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason == "bad meta header: bad VR at (0002,0010)"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello, world\n" * 20,
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        bytes(range(256)) * 4,
        b"DICM",
        bytes(128) + b"DIC",
    ],
    ids=["empty", "text", "png", "random", "short-dicm", "short-preamble"],
)
def test_not_dicom(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    record = read(path)
    assert record.kind is FileKind.OTHER
    assert not record.is_dicom
    assert record.patient_name == "" and record.reason == ""


def test_dicomdir() -> None:
    path = bundled("DICOMDIR")
    record = read(path)
    assert record.kind is FileKind.DICOMDIR
    assert record.sop_class_uid == "1.2.840.10008.1.3.10"
    assert record.transfer_syntax_uid == ExplicitVRLittleEndian
    assert record.sop_instance_uid == str(
        pydicom.dcmread(
            path, stop_before_pixels=True
        ).file_meta.MediaStorageSOPInstanceUID
    )


@pytest.mark.parametrize(
    ("name", "cut", "reason"),
    [
        ("MR_small_bigendian.dcm", -100, "truncated: PixelData declares 8192 bytes"),
        ("MR_small_bigendian.dcm", 400, "truncated: element header cut at offset 400"),
        ("ExplVR_BigEndNoMeta.dcm", 400, "truncated: (300A,0007) declares 6 bytes"),
        ("image_dfl.dcm", -100, "unreadable: Error -5 while decompressing data"),
    ],
)
def test_damage_found_through_pydicom(
    tmp_path: Path, name: str, cut: int, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(Path(bundled(name)).read_bytes()[:cut])
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason.startswith(reason)


def test_pydicom_complaint_is_damage_not_io_error(tmp_path: Path) -> None:
    # pydicom raises a bare OSError ("No tag to read at file position ...")
    # for a file cut inside a sequence: content, so DAMAGED, not an I/O error.
    ds = make_dataset()
    ds.ReferencedImageSequence = nested_sequences()
    ds["ReferencedImageSequence"].is_undefined_length = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data = write(tmp_path / "b.dcm", ds, ExplicitVRBigEndian).read_bytes()
    at = data.index(b"\xff\xfe\xe0\x00")  # first item tag, big endian
    path = tmp_path / "a.dcm"
    path.write_bytes(data[: at + 12])
    with pytest.raises(OSError, match="No tag to read"):
        pydicom.dcmread(path, force=True)
    record = read(path)
    assert record.kind is FileKind.DAMAGED
    assert record.reason.startswith("unreadable: No tag to read at file position")


def test_mutated_files_never_raise(tmp_path: Path) -> None:
    rng = random.Random(20240131)
    sources = [
        write(tmp_path / "e.dcm", make_dataset()).read_bytes(),
        write(tmp_path / "i.dcm", make_dataset(), ImplicitVRLittleEndian).read_bytes(),
        encapsulated(tmp_path).read_bytes(),
        Path(bundled("MR_small_bigendian.dcm")).read_bytes(),
        Path(bundled("rtplan.dcm")).read_bytes(),
    ]
    path = tmp_path / "m.dcm"
    kinds = set()
    for _ in range(600):
        data = bytearray(rng.choice(sources))
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        else:
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(min(len(data), 1500))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing may leak out either
            kinds.add(read(path).kind)
    assert {FileKind.DICOM, FileKind.DAMAGED} <= kinds


def test_vanished_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_record(str(tmp_path / "gone.dcm"), 1000, 0)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read_record(str(tmp_path), 4096, 0)


def test_import_is_cheap_and_ascii_needs_no_pydicom(tmp_path: Path) -> None:
    path = write(tmp_path / "a.dcm", make_dataset(), ImplicitVRLittleEndian)
    code = (
        "import sys\n"
        "from dcmtui.services.fastread import read_record\n"
        f"r = read_record({str(path)!r}, 0, 0)\n"
        "assert r.patient_name == 'Doe^Jane^Q', r\n"
        "bad = {'pydicom', 'textual', 'rich'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Files of pydicom's test set that pydicom reads without force=True and that
# the fast reader reports DAMAGED on purpose (pydicom only logs the fault).
EXPECTED_DAMAGED = {
    "MR_truncated.dcm": "truncated: PixelData declares 8192 bytes, 8130 remain",
    "rtplan_truncated.dcm": "truncated: (300A,00B0) declares 976 bytes, 711 remain",
    "meta_missing_tsyntax.dcm": "bad meta header: no TransferSyntaxUID",
    # only present once pydicom has downloaded its extra test files
    "emri_small_jpeg_2k_lossless_too_short.dcm": (
        "truncated: encapsulated pixel data has no end"
    ),
}
# Deliberately not compared: no_meta.dcm starts with a stray 0x20 byte, so
# pydicom (with force=True) reads one garbage element (0820,0500) and nothing
# else; the fast reader calls it OTHER, as dcmdump does.
EXCLUDED = {"no_meta.dcm"}

KEYWORDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "study_uid": "StudyInstanceUID",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "study_description": "StudyDescription",
    "accession_number": "AccessionNumber",
    "modality": "Modality",
    "series_uid": "SeriesInstanceUID",
    "series_description": "SeriesDescription",
    "sop_class_uid": "SOPClassUID",
    "sop_instance_uid": "SOPInstanceUID",
}


def pydicom_text(ds: Dataset, keyword: str) -> str:
    """A value as the index should show it: multiple values joined by "\\".

    Args:
        ds: The data set.
        keyword: The keyword.

    Returns:
        The text.
    """
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(item) for item in value)
    return str(value)


def test_matches_pydicom_on_its_test_files() -> None:
    files = sorted(
        f for f in get_testdata_files() + get_charset_files() if os.path.isfile(f)
    )
    compared = 0
    for path in files:
        name = os.path.basename(path)
        record = read(path)
        with open(path, "rb") as f:
            no_preamble = f.read(132)[128:] != b"DICM"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # force=True reads files without preamble, and any garbage too
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=no_preamble)
            if record.kind is FileKind.OTHER:
                # only fine if pydicom found nothing an index would show
                assert no_preamble, name
                assert name in EXCLUDED or not any(
                    pydicom_text(ds, k) for k in KEYWORDS.values()
                ), name
                continue
            expected = {a: pydicom_text(ds, k) for a, k in KEYWORDS.items()}
            for attr in ("sop_class_uid", "sop_instance_uid"):
                if not expected[attr]:
                    meta_keyword = "MediaStorage" + KEYWORDS[attr]
                    expected[attr] = str(ds.file_meta.get(meta_keyword) or "")
            numbers = {
                attr: None if ds.get(k) in (None, "") else int(ds.get(k))
                for attr, k in (
                    ("series_number", "SeriesNumber"),
                    ("instance_number", "InstanceNumber"),
                )
            }
        if name in EXPECTED_DAMAGED:
            assert record.kind is FileKind.DAMAGED, name
            assert record.reason == EXPECTED_DAMAGED[name]
        elif getattr(ds.file_meta, "MediaStorageSOPClassUID", "") == (
            "1.2.840.10008.1.3.10"
        ):
            assert record.kind is FileKind.DICOMDIR, name
            continue
        else:
            assert record.kind is FileKind.DICOM, (name, record.reason)
        for attr, value in expected.items():
            assert getattr(record, attr) == value, (name, attr)
        for attr, number in numbers.items():
            assert getattr(record, attr) == number, (name, attr)
        compared += 1
    assert compared > 150
