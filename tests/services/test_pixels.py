"""Pixel data as pictures: windows, presets, frames, colour, codecs, cells."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from dcmtui.services.errors import FileReadError
from dcmtui.services.pixels import (
    PixelError,
    Window,
    apply_window,
    load_pixels,
    missing_codec_message,
    open_pixels,
)
from dcmtui.services.render import HALF_BLOCK, fit_size, half_blocks, resize
from tests.factories import write_dicom
from tests.imaging import gradient, write_image


def _data(name: str) -> Path:
    return Path(str(get_testdata_file(name)))


def test_window_follows_ps33_linear_function() -> None:
    values = np.array([0.0, 39.5, 40.0, 50.0, 60.0, 60.5, 100.0])
    out = apply_window(values, center=50.5, width=21)
    # Below c-0.5-(w-1)/2 = 40 -> 0; above c-0.5+(w-1)/2 = 60 -> 255.
    assert out[0] == 0 and out[1] == 0
    assert out[-1] == 255 and out[-2] == 255
    assert out[3] in (127, 128)
    assert list(out) == sorted(out)


def test_file_window_is_the_default_preset(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "w.dcm",
        WindowCenter=[1000, 3000],
        WindowWidth=[400, 800],
        WindowCenterWidthExplanation=["SOFT", "BONE"],
    )
    source = open_pixels(path)
    assert [w.name for w in source.info.presets] == ["SOFT", "BONE"]
    img = source.display(0)
    expected = apply_window(gradient().astype(np.float32), 1000, 400)
    assert np.array_equal(img, expected)
    bone = source.display(0, source.info.presets[1])
    assert not np.array_equal(img, bone)


def test_rescale_is_applied_before_the_window(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "r.dcm", RescaleSlope=2, RescaleIntercept=-1024, RescaleType="US"
    )
    source = open_pixels(path)
    values = source.frame(0)
    assert values.min() == -1024
    assert values.max() == 4095 * 2 - 1024
    full = source.full_range(0)
    assert full.center == pytest.approx((values.min() + values.max() + 1) / 2)


def test_no_preset_means_full_range(tmp_path: Path) -> None:
    source = open_pixels(write_image(tmp_path / "f.dcm"))
    img = source.display(0)
    assert img.min() == 0 and img.max() == 255


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    m2 = open_pixels(write_image(tmp_path / "m2.dcm")).display(0)
    m1 = open_pixels(
        write_image(tmp_path / "m1.dcm", photometric="MONOCHROME1")
    ).display(0)
    assert np.array_equal(m1, 255 - m2)


def test_frames_of_a_multiframe_object(tmp_path: Path) -> None:
    source = open_pixels(write_image(tmp_path / "mf.dcm", gradient(frames=5)))
    assert source.info.frames == 5
    assert source.frame(0)[0, 0] == 0
    assert source.frame(3)[0, 0] == 300
    with pytest.raises(PixelError, match="no frame 6"):
        source.frame(5)


def test_rgb_and_palette_and_ybr_are_colour(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 200
    source = open_pixels(write_image(tmp_path / "rgb.dcm", rgb, photometric="RGB"))
    assert source.info.is_colour
    img = source.display(0)
    assert img.shape == (16, 16, 3) and img[0, 0].tolist() == [200, 0, 0]
    palette = open_pixels(_data("OBXXXX1A.dcm"))
    assert palette.display(0).shape == (600, 800, 3)
    ybr = open_pixels(_data("SC_ybr_full_422_uncompressed.dcm"))
    ref = open_pixels(_data("SC_rgb.dcm")).display(0)
    # YBR 4:2:2 of the same picture: converted to RGB, close to the original.
    assert np.abs(ybr.display(0).astype(int) - ref.astype(int)).mean() < 8


def test_voi_lut_preset() -> None:
    source = open_pixels(_data("vlut_04.dcm"))
    lut = [w for w in source.info.presets if w.lut_index is not None]
    assert lut
    img = source.display(0, lut[0])
    assert img.dtype == np.uint8 and img.max() > img.min()


def test_compressed_decodes_with_the_installed_codec() -> None:
    source = open_pixels(_data("JPEG2000.dcm"))
    assert source.display(0).shape == (1024, 256)
    rle = open_pixels(_data("SC_rgb_rle.dcm"))
    plain = open_pixels(_data("SC_rgb.dcm"))
    assert np.array_equal(rle.display(0), plain.display(0))


def test_missing_codec_names_the_package() -> None:
    # A Python without the pylibjpeg plugins: the message names the package.
    code = (
        "import sys\n"
        "for name in ('pylibjpeg', 'openjpeg', 'libjpeg', 'rle', 'PIL', 'gdcm'):\n"
        "    sys.modules[name] = None\n"
        "from pathlib import Path\n"
        "from pydicom.data import get_testdata_file\n"
        "from dcmtui.services.pixels import PixelError, open_pixels\n"
        "try:\n"
        "    open_pixels(Path(get_testdata_file('JPEG2000.dcm'))).frame(0)\n"
        "except PixelError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pylibjpeg-openjpeg" in out and "dcmtui[codecs]" in out
    assert "JPEG 2000" in missing_codec_message("1.2.840.10008.1.2.4.90")


def test_no_pixel_data_and_not_dicom(tmp_path: Path) -> None:
    with pytest.raises(PixelError, match="no pixel data"):
        open_pixels(write_dicom(tmp_path / "np.dcm", pixels=False))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom at all")
    with pytest.raises(FileReadError):
        open_pixels(junk)


async def test_load_pixels_is_async(tmp_path: Path) -> None:
    source = await load_pixels(write_image(tmp_path / "a.dcm"))
    assert source.info.rows == 64


def test_window_moves_and_keeps_a_positive_width() -> None:
    window = Window("x", 100, 10).moved(5, -50)
    assert window.center == 105 and window.width == 1 and window.name == "manual"


# -- cells -----------------------------------------------------------------


def test_fit_size_keeps_the_aspect_ratio() -> None:
    assert fit_size(512, 512, 100, 30) == (60, 60)
    assert fit_size(512, 256, 100, 30) == (100, 50)
    assert fit_size(10, 10, 100, 30) == (60, 60)  # grows to fit
    assert fit_size(0, 10, 100, 30) == (1, 1)


def test_resize_averages_when_shrinking() -> None:
    img = np.array([[0, 100, 200, 255]], np.uint8)
    assert resize(img, 2, 1).tolist() == [[50, 228]]
    assert resize(img, 8, 1).tolist() == [[0, 0, 100, 100, 200, 200, 255, 255]]


def test_half_blocks_pair_rows_as_fg_and_bg() -> None:
    img = np.array([[10, 20], [30, 40], [50, 60]], np.uint8)
    cells = half_blocks(img, 2, 2)
    assert len(cells) == 2 and len(cells[0]) == 2
    assert cells[0][0] == (HALF_BLOCK, (10, 10, 10), (30, 30, 30))
    assert cells[1][1] == (HALF_BLOCK, (60, 60, 60), (0, 0, 0))  # padded row
    rgb = np.zeros((2, 1, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    assert half_blocks(rgb, 1, 1) == [[(HALF_BLOCK, (255, 0, 0), (0, 0, 0))]]


def test_enhanced_multiframe_functional_groups(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    def group(slope: float, intercept: float) -> Dataset:
        item = Dataset()
        transform = Dataset()
        transform.RescaleSlope = slope
        transform.RescaleIntercept = intercept
        transform.RescaleType = "HU"
        item.PixelValueTransformationSequence = Sequence([transform])
        return item

    shared = Dataset()
    voi = Dataset()
    voi.WindowCenter = 40
    voi.WindowWidth = 400
    voi.WindowCenterWidthExplanation = "BRAIN"
    shared.FrameVOILUTSequence = Sequence([voi])
    path = write_image(
        tmp_path / "enh.dcm",
        gradient(frames=2),
        PerFrameFunctionalGroupsSequence=Sequence([group(1, -1024), group(2, 0)]),
        SharedFunctionalGroupsSequence=Sequence([shared]),
    )
    source = open_pixels(path)
    assert source.frame(0)[0, 0] == -1024
    assert source.frame(1)[0, 0] == 200  # (0 + 100) * 2
    assert [(w.name, w.center, w.width) for w in source.info.presets] == [
        ("BRAIN", 40.0, 400.0)
    ]
