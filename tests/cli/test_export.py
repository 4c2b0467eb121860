"""``dcmtui export``: json/xml to stdout or files, png, dicom from json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dcmtui.cli import main
from tests.imaging import gradient, write_image


def test_json_to_stdout_and_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_image(tmp_path / "a.dcm")
    assert main(["export", str(source), "--to", "json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["00100010"]["Value"][0]["Alphabetic"] == "PIXEL^TEST"
    (tmp_path / "a.json").write_text(json.dumps(model))
    out = tmp_path / "back.dcm"
    assert (
        main(["export", str(tmp_path / "a.json"), "--to", "dicom", "-o", str(out)]) == 0
    )
    assert np.array_equal(pydicom.dcmread(out).pixel_array, gradient())


def test_xml_and_png_into_a_folder(tmp_path: Path) -> None:
    a = write_image(tmp_path / "a.dcm", seed="a")
    b = write_image(tmp_path / "b.dcm", gradient(frames=2), seed="b")
    out = tmp_path / "out"
    assert main(["export", str(a), str(b), "--to", "xml", "-o", str(out)]) == 0
    assert (out / "a.xml").read_text().startswith("<?xml")
    assert (
        main(
            ["export", str(b), "--to", "png", "--frame", "2", "-o", str(out / "b2.png")]
        )
        == 0
    )
    assert (out / "b2.png").read_bytes()[:4] == b"\x89PNG"


def test_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_image(tmp_path / "a.dcm")
    assert (
        main(
            [
                "export",
                str(source),
                "--to",
                "png",
                "--frame",
                "9",
                "-o",
                str(tmp_path / "x.png"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("dcmtui: error:") and "no frame 9" in err
    assert main(["export", str(source), str(source), "--to", "png"]) == 1
    assert "needs -o DIR" in capsys.readouterr().err
