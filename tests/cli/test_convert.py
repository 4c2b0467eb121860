"""``dcmtui convert``: files in, converted files out, one line each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian, RLELossless

from dcmtui.cli import main
from tests.imaging import gradient, write_image


def test_convert_to_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_image(tmp_path / "a.dcm", gradient(frames=2), seed="a")
    b = write_image(tmp_path / "b.dcm", seed="b")
    out = tmp_path / "out"
    assert main(["convert", str(a), str(b), "--to", "rle", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "RLE Lossless" in lines[0]
    for src in (a, b):
        converted = pydicom.dcmread(out / src.name)
        assert converted.file_meta.TransferSyntaxUID == RLELossless
        assert np.array_equal(converted.pixel_array, pydicom.dcmread(src).pixel_array)


def test_in_place_by_uid(tmp_path: Path) -> None:
    a = write_image(tmp_path / "a.dcm")
    assert main(["convert", str(a), "--to", "1.2.840.10008.1.2", "-q"]) == 0
    assert pydicom.dcmread(a).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian


def test_failures_exit_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"junk")
    good = write_image(tmp_path / "good.dcm")
    code = main(
        ["convert", str(junk), str(good), "--to", "implicit", "-o", str(tmp_path / "o")]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("dcmtui: error:")
    assert "Traceback" not in captured.err
    assert (tmp_path / "o" / "good.dcm").exists()


def test_unknown_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_image(tmp_path / "a.dcm")
    assert main(["convert", str(a), "--to", "webp"]) == 1
    assert "unknown transfer syntax" in capsys.readouterr().err
