"""``dcmtui anonymize``: dry run lists, -o writes a folder, in place without."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from dcmtui.cli import main
from tests.factories import write_dicom


def test_dry_run_lists_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dicom(tmp_path / "a.dcm", PatientName="EVIL\x1b[31m^NAME")
    data = path.read_bytes()
    assert main(["anonymize", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert path.read_bytes() == data
    assert "(0010,0010) PatientName: Z" in out and "changes" in out
    assert "\x1b" not in out  # values shown through visible()


def test_folder_in_place_and_keep_flags(tmp_path: Path) -> None:
    a = write_dicom(tmp_path / "a.dcm", uid_seed="a")
    b = write_dicom(
        tmp_path / "b.dcm",
        uid_seed="b",
        StudyInstanceUID=pydicom.dcmread(a).StudyInstanceUID,
    )
    out = tmp_path / "out"
    assert main(["anonymize", str(a), str(b), "-o", str(out), "--keep-dates"]) == 0
    new_a, new_b = pydicom.dcmread(out / "a.dcm"), pydicom.dcmread(out / "b.dcm")
    assert new_a.StudyInstanceUID == new_b.StudyInstanceUID
    assert new_a.StudyDate == "20240102" and new_a.PatientName == ""
    assert main(["anonymize", str(a)]) == 0
    assert pydicom.dcmread(a).PatientName == ""


def test_failure_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"junk")
    assert main(["anonymize", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dcmtui: error:") and err.count("\n") == 1
