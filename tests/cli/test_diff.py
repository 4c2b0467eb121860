"""``dcmtui diff``: lines and exit codes like diff(1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcmtui.cli import main
from tests.factories import write_dicom


def test_diff_lines_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_dicom(tmp_path / "a.dcm", uid_seed="s")
    b = write_dicom(tmp_path / "b.dcm", uid_seed="s", PatientName="EVIL\x1b[2J")
    assert main(["diff", str(a), str(a)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "~ (0010,0010) PatientName PN [DOE^JOHN] -> [EVIL␛[2J]" in out
    assert main(["diff", str(a), str(b), "--json", "--no-meta"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        {
            "path": "(0010,0010)",
            "keyword": "PatientName",
            "vr": "PN",
            "status": "changed",
            "a": "DOE^JOHN",
            "b": "EVIL\x1b[2J",
            "depth": 0,
        }
    ]


def test_trouble_is_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_dicom(tmp_path / "a.dcm")
    assert main(["diff", str(a), str(tmp_path / "missing.dcm")]) == 2
    assert capsys.readouterr().err.startswith("dcmtui: error:")
