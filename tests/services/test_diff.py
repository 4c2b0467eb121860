"""Diff of two files: changed, only in A, only in B, inside sequences."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmtui.services.diff import (
    CHANGED,
    ONLY_A,
    ONLY_B,
    SAME,
    diff_files,
    diff_files_async,
)
from dcmtui.services.errors import FileReadError
from tests.factories import write_dicom


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    a = write_dicom(
        tmp_path / "a.dcm", uid_seed="x", ReferencedImageSequence=Sequence([item])
    )
    b = tmp_path / "b.dcm"
    ds = pydicom.dcmread(a)
    ds.PatientName = "ROE^JANE"
    del ds.AccessionNumber
    ds.OperatorsName = "OP"
    ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.4"
    extra = Dataset()
    extra.ReferencedSOPInstanceUID = "9.9"
    ds.ReferencedImageSequence.append(extra)
    ds.PixelData = bytes(128)
    ds.save_as(b)
    return a, b


def test_differences(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    rows = {r.path: r for r in diff_files(a, b)}
    assert rows["(0010,0010)"].status == CHANGED
    assert (rows["(0010,0010)"].a, rows["(0010,0010)"].b) == ("DOE^JOHN", "ROE^JANE")
    assert rows["(0008,0050)"].status == ONLY_A
    assert rows["(0008,1070)"].status == ONLY_B
    assert rows["(0008,1140)"].status == CHANGED
    assert rows["(0008,1140)[0].(0008,1155)"].status == CHANGED
    assert rows["(0008,1140)[1]"].status == ONLY_B
    assert rows["(7FE0,0010)"].status == CHANGED
    assert "128 bytes" in rows["(7FE0,0010)"].a
    assert "(0010,0020)" not in rows  # equal: left out by default


def test_same_file_and_all_rows(tmp_path: Path) -> None:
    a = write_dicom(tmp_path / "a.dcm")
    assert diff_files(a, a) == []
    rows = diff_files(a, a, same=True)
    assert rows and all(r.status == SAME for r in rows)
    assert any(r.path == "(0002,0010)" for r in rows)
    assert not any(
        r.path.startswith("(0002") for r in diff_files(a, a, meta=False, same=True)
    )


async def test_async_and_errors(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    assert await diff_files_async(a, b)
    junk = tmp_path / "junk"
    junk.write_bytes(b"junk")
    with pytest.raises(FileReadError):
        diff_files(a, junk)


def test_file_against_edited_bytes(tmp_path: Path) -> None:
    from dcmtui.services.diff import diff_file_and_bytes

    a, b = _pair(tmp_path)
    rows = diff_file_and_bytes(a, b.read_bytes())
    assert rows == diff_files(a, b)
    with pytest.raises(FileReadError, match="edited data"):
        diff_file_and_bytes(a, b"\x00" * 10)
