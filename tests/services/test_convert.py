"""Transfer syntax conversion beside DCMTK's dcmconv, dcmcrle/dcmdrle,
dcmcjpeg/dcmdjpeg and dcmcjpls/dcmdjpls: pixel values equal, dcmdump equal
where it should be, and no new dciodvfy errors in what we write."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from dcmtui.services.convert import (
    ConvertError,
    convert_file,
    convert_files,
    convert_iter,
    parse_syntax,
)
from dcmtui.services.errors import FileReadError
from tests.imaging import gradient, write_image
from tests.peers import require


def _pixels(path: Path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


def _dump(path: Path) -> list[str]:
    """dcmdump of the data set, without the meta group (which names the
    writing program) and the pixel data's own encoding line."""
    out = subprocess.run(
        [require("dcmdump"), "-q", "+L", str(path)],
        capture_output=True,
        check=True,
    ).stdout.decode("latin-1")
    return [
        line
        for line in out.splitlines()
        if line.startswith("(") and not line.startswith("(0002,")
    ]


def _errors(path: Path) -> set[str]:
    out = subprocess.run(
        [require("dciodvfy"), str(path)], capture_output=True, text=True
    )
    return {
        re.sub(r"\s+", " ", line)
        for line in (out.stdout + out.stderr).splitlines()
        if line.startswith("Error")
    }


def _dcmtk(tool: str, *args: str) -> None:
    subprocess.run([require(tool), *args], check=True, capture_output=True)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_image(
        tmp_path / "src.dcm",
        gradient(frames=3),
        WindowCenter=2048,
        WindowWidth=4096,
        ImageComments="ÄÖÜ",
        SpecificCharacterSet="ISO_IR 100",
    )


@pytest.mark.parametrize(
    ("name", "flag", "syntax"),
    [
        ("implicit", "+ti", ImplicitVRLittleEndian),
        ("explicit", "+te", ExplicitVRLittleEndian),
        ("big", "+tb", ExplicitVRBigEndian),
        ("deflated", "+td", DeflatedExplicitVRLittleEndian),
    ],
)
def test_native_syntaxes_match_dcmconv(
    tmp_path: Path, source: Path, name: str, flag: str, syntax: str
) -> None:
    ours, theirs = tmp_path / f"ours_{name}.dcm", tmp_path / f"dcmconv_{name}.dcm"
    result = convert_file(source, ours, parse_syntax(name))
    _dcmtk("dcmconv", flag, str(source), str(theirs))
    assert result.ok and result.streamed == (name != "deflated")
    assert str(pydicom.dcmread(ours).file_meta.TransferSyntaxUID) == syntax
    assert np.array_equal(_pixels(ours), _pixels(source))
    assert _dump(ours) == _dump(theirs)
    if syntax == DeflatedExplicitVRLittleEndian:  # dciodvfy cannot inflate
        ours = Path(
            convert_file(ours, tmp_path / "i.dcm", ExplicitVRLittleEndian).target
        )
    assert _errors(ours) <= _errors(source)


def test_round_trip_through_big_endian_is_byte_identical_data(
    tmp_path: Path, source: Path
) -> None:
    big = convert_file(source, tmp_path / "b.dcm", ExplicitVRBigEndian)
    back = convert_file(Path(big.target), tmp_path / "l.dcm", ExplicitVRLittleEndian)
    assert _dump(Path(back.target)) == _dump(source)
    raw_src = pydicom.dcmread(source).PixelData
    raw_big = pydicom.dcmread(big.target).PixelData
    assert raw_big != raw_src  # swapped on disk
    assert pydicom.dcmread(back.target).PixelData == raw_src


def test_elements_after_the_pixel_data_are_kept(tmp_path: Path) -> None:
    path = write_image(tmp_path / "trail.dcm")
    ds = pydicom.dcmread(path)
    ds.add_new(0x7FE10010, "LO", "TRAILER")
    ds.add_new(0x7FE11001, "OB", b"\x01\x02")
    ds.save_as(path)
    result = convert_file(path, tmp_path / "out.dcm", ImplicitVRLittleEndian)
    _dcmtk("dcmconv", "+ti", str(path), str(tmp_path / "k.dcm"))
    assert not result.streamed
    assert _dump(tmp_path / "out.dcm") == _dump(tmp_path / "k.dcm")


def test_rle_against_dcmcrle_and_dcmdrle(tmp_path: Path, source: Path) -> None:
    ours = tmp_path / "ours_rle.dcm"
    convert_file(source, ours, RLELossless)
    _dcmtk("dcmdrle", str(ours), str(tmp_path / "dcmdrle.dcm"))
    assert np.array_equal(_pixels(tmp_path / "dcmdrle.dcm"), _pixels(source))
    assert _errors(ours) <= _errors(source)
    _dcmtk("dcmcrle", str(source), str(tmp_path / "dcmcrle.dcm"))
    decoded = tmp_path / "decoded.dcm"
    convert_file(tmp_path / "dcmcrle.dcm", decoded, ExplicitVRLittleEndian)
    assert np.array_equal(_pixels(decoded), _pixels(source))
    _dcmtk("dcmdrle", str(tmp_path / "dcmcrle.dcm"), str(tmp_path / "k.dcm"))
    assert _dump(decoded) == _dump(tmp_path / "k.dcm")


def test_rgb_through_rle(tmp_path: Path) -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = np.arange(48, dtype=np.uint8)[None, :] * 5
    rgb[..., 2] = 200
    path = write_image(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    convert_file(path, tmp_path / "rle.dcm", RLELossless)
    _dcmtk("dcmdrle", str(tmp_path / "rle.dcm"), str(tmp_path / "k.dcm"))
    assert np.array_equal(_pixels(tmp_path / "k.dcm"), rgb)
    assert np.array_equal(_pixels(tmp_path / "rle.dcm"), rgb)


def test_jpeg_lossless_decodes_as_dcmdjpeg_does(tmp_path: Path, source: Path) -> None:
    jpeg = tmp_path / "jpeg.dcm"
    _dcmtk("dcmcjpeg", "+e1", str(source), str(jpeg))  # lossless, SV1
    ours = tmp_path / "ours.dcm"
    result = convert_file(jpeg, ours, ExplicitVRLittleEndian)
    _dcmtk("dcmdjpeg", str(jpeg), str(tmp_path / "k.dcm"))
    assert result.ok and np.array_equal(_pixels(ours), _pixels(source))
    assert np.array_equal(_pixels(ours), _pixels(tmp_path / "k.dcm"))
    assert _dump(ours) == _dump(tmp_path / "k.dcm")


def test_jpeg_ls_both_ways_with_dcmtk(tmp_path: Path, source: Path) -> None:
    theirs = tmp_path / "jls.dcm"
    _dcmtk("dcmcjpls", str(source), str(theirs))
    ours = tmp_path / "ours.dcm"
    convert_file(theirs, ours, ExplicitVRLittleEndian)
    assert np.array_equal(_pixels(ours), _pixels(source))
    encoded = tmp_path / "ours_jls.dcm"
    convert_file(source, encoded, JPEGLSLossless)
    _dcmtk("dcmdjpls", str(encoded), str(tmp_path / "k.dcm"))
    assert np.array_equal(_pixels(tmp_path / "k.dcm"), _pixels(source))
    assert _errors(encoded) <= _errors(source)


def test_jpeg_2000_lossless_round_trip(tmp_path: Path, source: Path) -> None:
    j2k = convert_file(source, tmp_path / "j2k.dcm", JPEG2000Lossless)
    back = convert_file(Path(j2k.target), tmp_path / "back.dcm", ImplicitVRLittleEndian)
    assert np.array_equal(_pixels(Path(back.target)), _pixels(source))
    assert _errors(Path(j2k.target)) <= _errors(source)
    sop = pydicom.dcmread(back.target).SOPInstanceUID
    assert sop == pydicom.dcmread(source).SOPInstanceUID  # lossless: same UID


def test_no_encoder_is_a_clear_error(tmp_path: Path, source: Path) -> None:
    with pytest.raises(ConvertError, match="no encoder for JPEG Lossless"):
        convert_file(source, tmp_path / "x.dcm", JPEGLosslessSV1)
    with pytest.raises(ConvertError, match="8-bit"):
        convert_file(source, tmp_path / "x.dcm", JPEGBaseline8Bit)
    assert not (tmp_path / "x.dcm").exists()
    assert not list(tmp_path.glob(".convert-*"))


def test_parse_syntax_names_and_uids() -> None:
    assert parse_syntax("implicit") == ImplicitVRLittleEndian
    assert parse_syntax("1.2.840.10008.1.2.5") == RLELossless
    with pytest.raises(ConvertError, match="unknown transfer syntax"):
        parse_syntax("jpeg-xl-ultra")
    with pytest.raises(ConvertError):
        parse_syntax("1.2.840.10008.5.1.4.1.1.2")  # a SOP class, not a syntax


async def test_many_files_report_each_and_go_on(tmp_path: Path, source: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"nothing")
    results = [
        r
        async for r in convert_files(
            [source, junk], ImplicitVRLittleEndian, tmp_path / "o"
        )
    ]
    assert [r.ok for r in results] == [True, False]
    assert "junk.dcm" in results[1].message
    assert (tmp_path / "o" / "src.dcm").exists()


def test_in_place_and_name_clashes(tmp_path: Path, source: Path) -> None:
    [result] = list(convert_iter([source], ImplicitVRLittleEndian, None))
    assert result.target == str(source)
    ts = pydicom.dcmread(source).file_meta.TransferSyntaxUID
    assert ts == ImplicitVRLittleEndian
    other = write_image(tmp_path / "sub" / "src.dcm")
    with pytest.raises(ConvertError, match="both be written"):
        list(convert_iter([source, other], ImplicitVRLittleEndian, tmp_path / "o"))


def test_not_dicom(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"x" * 200)
    with pytest.raises(FileReadError):
        convert_file(junk, tmp_path / "o.dcm", ImplicitVRLittleEndian)


@pytest.mark.parametrize(("name", "flag"), [("big", "+tb"), ("implicit", "+ti")])
def test_8_bit_rgb_matches_dcmconv(tmp_path: Path, name: str, flag: str) -> None:
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[..., 1] = np.arange(24, dtype=np.uint8)[None, :] * 10
    source = write_image(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    ours, theirs = tmp_path / "ours.dcm", tmp_path / "theirs.dcm"
    assert convert_file(source, ours, parse_syntax(name)).streamed
    _dcmtk("dcmconv", flag, str(source), str(theirs))
    assert np.array_equal(_pixels(ours), rgb)
    assert _dump(ours) == _dump(theirs)


def test_jpeg_baseline_with_pillow_decodes_in_dcmdjpeg(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = np.arange(48, dtype=np.uint8)[None, :] * 5
    rgb[..., 2] = 200
    source = write_image(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    ours = tmp_path / "jpeg.dcm"
    convert_file(source, ours, JPEGBaseline8Bit)
    _dcmtk("dcmdjpeg", str(ours), str(tmp_path / "k.dcm"))
    theirs = _pixels(tmp_path / "k.dcm").astype(int)
    assert np.abs(theirs - rgb).mean() < 2  # lossy, but the same picture
    assert np.abs(_pixels(ours).astype(int) - theirs).max() <= 3
    ds = pydicom.dcmread(ours)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert ds.LossyImageCompression == "01"
    assert ds.LossyImageCompressionMethod == "ISO_10918_1"
    assert ds.SOPInstanceUID != pydicom.dcmread(source).SOPInstanceUID  # lossy
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert _errors(ours) <= _errors(source)
    grey = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    source = write_image(tmp_path / "g.dcm", grey)
    convert_file(source, tmp_path / "g_jpeg.dcm", JPEGBaseline8Bit)
    _dcmtk("dcmdjpeg", str(tmp_path / "g_jpeg.dcm"), str(tmp_path / "g_k.dcm"))
    assert np.abs(_pixels(tmp_path / "g_k.dcm").astype(int) - grey).mean() < 2
