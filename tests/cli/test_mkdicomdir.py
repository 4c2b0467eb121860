"""``dcmtui mkdicomdir``: create, then update."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmtui.cli import main
from tests.factories import write_dicom


def test_create_then_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_dicom(tmp_path / "in" / "a.dcm", uid_seed="a", InstanceNumber=1)
    b = write_dicom(tmp_path / "in2" / "b.dcm", uid_seed="b", InstanceNumber=2)
    out = tmp_path / "cd"
    assert main(["mkdicomdir", str(a.parent), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Study ID" in err and "--invent" in err
    assert main(["mkdicomdir", str(a.parent), "-o", str(out), "--invent"]) == 0
    assert "created; 1 added" in capsys.readouterr().out
    assert main(["mkdicomdir", str(b), "-o", str(out), "--invent"]) == 0
    assert "updated; 1 added" in capsys.readouterr().out
    assert (out / "DICOMDIR").exists()


def test_nothing_to_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk"
    junk.write_text("x")
    assert main(["mkdicomdir", str(junk), "-o", str(tmp_path / "cd")]) == 1
    err = capsys.readouterr().err
    assert "dcmtui: error:" in err and "nothing to add" in err
