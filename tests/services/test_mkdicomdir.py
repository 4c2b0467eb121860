"""DICOMDIR file-sets beside DCMTK's dcmmkdir: same records, keys and file
IDs; the 8-character rule; updates; dcmdump and dciodvfy on the result."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from dcmtui.services.mkdicomdir import (
    DicomdirError,
    make_dicomdir,
    make_dicomdir_async,
    valid_file_id,
)
from tests.factories import write_dicom
from tests.peers import require

_KEYS = (
    "PatientID",
    "PatientName",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "InstanceNumber",
    "ReferencedSOPClassUIDInFile",
    "ReferencedSOPInstanceUIDInFile",
    "ReferencedTransferSyntaxUIDInFile",
)


def _corpus(root: Path) -> list[Path]:
    files = []
    for p, patient in enumerate(("SMITH^ANN", "JONES^BOB")):
        for s in range(2):
            for n in range(2):
                files.append(
                    write_dicom(
                        root / f"p{p}" / f"s{s}" / f"img{n}.dcm",
                        implicit=(s == 1),
                        uid_seed=f"{p}-{s}-{n}",
                        PatientName=patient,
                        PatientID=f"P{p}",
                        StudyID="1",
                        SeriesNumber=s + 1,
                        InstanceNumber=n + 1,
                        StudyInstanceUID=f"1.2.826.0.1.3680043.10.1453.9.{p}",
                        SeriesInstanceUID=f"1.2.826.0.1.3680043.10.1453.9.{p}.{s}",
                    )
                )
    return files


def _records(path: Path) -> list[tuple[object, ...]]:
    ds = pydicom.dcmread(path)
    rows = []
    for record in ds.DirectoryRecordSequence:
        file_id = record.get("ReferencedFileID")
        if file_id is not None:
            file_id = "/".join([file_id] if isinstance(file_id, str) else file_id)
        keys = tuple(str(record.get(k, "")) for k in _KEYS)
        rows.append((record.DirectoryRecordType, keys, file_id))
    return sorted(rows, key=str)


def test_same_records_as_dcmmkdir(tmp_path: Path) -> None:
    sources = _corpus(tmp_path / "in")
    out = tmp_path / "cd"
    result = make_dicomdir([tmp_path / "in"], out, fileset_id="DEMO")
    assert (result.added, result.converted, result.total) == (8, 4, 8)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    reference = tmp_path / "DICOMDIR.dcmtk"
    subprocess.run(
        [
            require("dcmmkdir"),
            "+r",
            "+id",
            str(out),
            "+D",
            str(reference),
            *folders,
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    assert _records(out / "DICOMDIR") == _records(reference)
    ds = pydicom.dcmread(out / "DICOMDIR")
    assert ds.FileSetID == "DEMO"
    for record in ds.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            parts = list(record.ReferencedFileID)
            assert valid_file_id(parts)
            copied = pydicom.dcmread(out.joinpath(*parts))
            assert copied.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    # Pixel values came along unchanged.
    by_uid = {pydicom.dcmread(p).SOPInstanceUID: p for p in sources}
    for record in ds.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            copied = pydicom.dcmread(out.joinpath(*record.ReferencedFileID))
            original = pydicom.dcmread(by_uid[copied.SOPInstanceUID])
            assert np.array_equal(copied.pixel_array, original.pixel_array)
    subprocess.run(
        [require("dcmdump"), "-q", str(out / "DICOMDIR")],
        check=True,
        capture_output=True,
    )
    check = subprocess.run(
        [require("dciodvfy"), str(out / "DICOMDIR")], capture_output=True, text=True
    )
    assert "Error" not in check.stdout + check.stderr


def test_update_adds_and_keeps_the_existing_files(tmp_path: Path) -> None:
    sources = _corpus(tmp_path / "in")
    out = tmp_path / "cd"
    make_dicomdir(sources[:4], out)
    before = {p: p.read_bytes() for p in out.rglob("IM*")}
    result = make_dicomdir(sources[3:], out)
    assert result.updated and result.added == 4 and result.total == 8
    assert [s for s in result.skipped if "already" in s[1]] == [
        (str(sources[3]), "already in the file-set")
    ]
    for path, data in before.items():
        assert path.read_bytes() == data
    assert len(_records(out / "DICOMDIR")) == 2 + 2 + 4 + 8


async def test_keep_syntax_skips_and_errors(tmp_path: Path) -> None:
    sources = _corpus(tmp_path / "in")
    junk = tmp_path / "in" / "README"
    junk.write_text("not dicom")
    out = tmp_path / "cd"
    result = await make_dicomdir_async([tmp_path / "in"], out, keep_syntax=True)
    assert result.converted == 0 and result.added == len(sources)
    assert any("not DICOM" in reason for _, reason in result.skipped)
    with pytest.raises(DicomdirError, match="nothing to add"):
        make_dicomdir([junk], tmp_path / "empty")
    with pytest.raises(DicomdirError, match="16 characters"):
        make_dicomdir(sources, tmp_path / "x", fileset_id="A" * 17)


def test_file_id_rule() -> None:
    assert valid_file_id(["PT000000", "IM_1"])
    assert not valid_file_id(["image001.dcm"])
    assert not valid_file_id(["TOOLONGNAME"])
    assert not valid_file_id([])


def test_update_of_a_dcmmkdir_file_set_moves_none_of_its_files(
    tmp_path: Path,
) -> None:
    """A file-set written by another tool keeps its file IDs: the new
    instances go beside them (pydicom's FileSet.write alone would move every
    file into its own PT/ST/SE/IM layout)."""
    sources = _corpus(tmp_path / "in")
    explicit, implicit = sources[0::4] + sources[1::4], sources[2::4] + sources[3::4]
    out = tmp_path / "cd"
    for n, source in enumerate(explicit):
        (out / "DATA").mkdir(parents=True, exist_ok=True)
        (out / "DATA" / f"IMG{n}").write_bytes(source.read_bytes())
    subprocess.run(
        [require("dcmmkdir"), "+r", "-Pgp", "DATA"],
        cwd=out,
        check=True,
        capture_output=True,
    )
    before = {p: p.read_bytes() for p in (out / "DATA").iterdir()}
    # A stray file where pydicom would put the first new instance.
    stray = out / "PT000000" / "ST000000" / "SE000000" / "IM000002"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not in the file-set")
    result = make_dicomdir(implicit, out)
    assert result.updated and (result.added, result.converted, result.total) == (
        4,
        4,
        8,
    )
    for path, data in before.items():
        assert path.read_bytes() == data
    assert stray.read_bytes() == b"not in the file-set"
    ids = [str(r[2]) for r in _records(out / "DICOMDIR") if r[2]]
    assert sum(i.startswith("DATA/") for i in ids) == 4 and len(set(ids)) == 8
    assert all(valid_file_id(i.split("/")) for i in ids)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    reference = tmp_path / "DICOMDIR.dcmtk"
    stray.unlink()
    subprocess.run(
        [require("dcmmkdir"), "+r", "+id", str(out), "+D", str(reference), *folders],
        check=True,
        capture_output=True,
        cwd=out,
    )
    assert _records(out / "DICOMDIR") == _records(reference)
    check = subprocess.run(
        [require("dciodvfy"), str(out / "DICOMDIR")], capture_output=True, text=True
    )
    assert "Error" not in check.stdout + check.stderr
