"""Pixel data as pictures: one frame decoded, through the modality and VOI
transforms, to an 8-bit grey or RGB array.

Window presets come from the file (Window Center/Width with their
explanations, each item of a VOI LUT Sequence) plus the frame's full range.
Compressed transfer syntaxes decode with whatever pydicom plugin is
installed; when none is, :class:`PixelError` names the package to install.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from dcmtui.services.errors import DcmtuiError, FileReadError

CODEC_HINT = "pip install 'dcmtui[codecs]'"

# Which pydicom plugin package decodes which family of transfer syntaxes.
_PACKAGES: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.5", "pylibjpeg-libjpeg"),  # JPEG baseline/extended
    ("1.2.840.10008.1.2.4.7", "pylibjpeg-libjpeg"),  # JPEG lossless
    ("1.2.840.10008.1.2.4.8", "pylibjpeg-libjpeg"),  # JPEG-LS
    ("1.2.840.10008.1.2.4.9", "pylibjpeg-openjpeg"),  # JPEG 2000
    ("1.2.840.10008.1.2.4.20", "pylibjpeg-openjpeg"),  # HTJ2K
    ("1.2.840.10008.1.2.5", "pylibjpeg-rle"),  # RLE (numpy decodes it too)
)


class PixelError(DcmtuiError):
    """Pixel data that cannot be shown or converted; the message says why."""


def codec_package(transfer_syntax: str) -> str | None:
    """The pip package that adds a codec for ``transfer_syntax``, if any.

    Args:
        transfer_syntax: A transfer syntax UID.

    Returns:
        The package name, or None for a syntax that needs no codec.
    """
    for prefix, package in _PACKAGES:
        if transfer_syntax.startswith(prefix):
            return package
    return None


def missing_codec_message(transfer_syntax: str) -> str:
    """A sentence saying that no installed codec handles ``transfer_syntax``."""
    uid = UID(transfer_syntax)
    package = codec_package(transfer_syntax) or "a pydicom pixel data plugin"
    return (
        f"cannot decode {uid.name}: no codec is installed; install {package} "
        f"({CODEC_HINT})"
    )


@dataclass(frozen=True)
class Window:
    """A VOI transform the user can choose."""

    name: str
    """Shown to the user: the file's explanation, or what the preset is."""
    center: float
    width: float
    lut_index: int | None = None
    """Index into the VOI LUT Sequence, for a LUT preset."""

    def moved(self, d_center: float, d_width: float) -> Window:
        """This window with its center and width shifted (a manual window)."""
        return Window("manual", self.center + d_center, max(1.0, self.width + d_width))


@dataclass(frozen=True)
class ImageInfo:
    """What a preview needs to know about a file's pixel data."""

    rows: int
    columns: int
    frames: int
    samples: int
    photometric: str
    bits_stored: int
    transfer_syntax: str
    presets: tuple[Window, ...] = field(default=())
    """Windows from the file (center/width, VOI LUT); empty for colour."""

    @property
    def is_colour(self) -> bool:
        """True for RGB, YBR and palette colour images."""
        return self.samples > 1 or self.photometric == "PALETTE COLOR"


def _number(value: Any, index: int) -> float | None:
    if value is None:
        return None
    try:
        items = (
            list(value)
            if not isinstance(value, str | bytes) and hasattr(value, "__iter__")
            else [value]
        )
        return float(items[min(index, len(items) - 1)])
    except (TypeError, ValueError, IndexError):
        return None


def _frame_group(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The first item of a functional group macro for frame ``index`` of an
    enhanced multi-frame object (per-frame first, then shared), if any."""
    for sequence, position in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(sequence)
        if not groups or position >= len(groups):
            continue
        macro = groups[position].get(keyword)
        if macro:
            return macro[0]
    return None


def _presets(ds: Dataset) -> tuple[Window, ...]:
    presets: list[Window] = []
    windows = ds
    if "WindowCenter" not in ds:
        voi = _frame_group(ds, 0, "FrameVOILUTSequence")
        if voi is not None and "WindowCenter" in voi:
            windows = voi
    centers, widths = windows.get("WindowCenter"), windows.get("WindowWidth")
    if centers is not None and widths is not None:
        count = (
            len(centers)
            if hasattr(centers, "__len__") and not isinstance(centers, str)
            else 1
        )
        names = windows.get("WindowCenterWidthExplanation")
        for i in range(count):
            center, width = _number(centers, i), _number(widths, i)
            if center is None or width is None or width < 1:
                continue
            name = f"window {i + 1}"
            if names:
                name = str(_listed(names, i)) or name
            presets.append(Window(name, center, width))
    for i, item in enumerate(ds.get("VOILUTSequence") or []):
        name = str(item.get("LUTExplanation") or f"VOI LUT {i + 1}")
        presets.append(Window(name, 0.0, 1.0, lut_index=i))
    return tuple(presets)


def _listed(value: Any, index: int) -> Any:
    if isinstance(value, str) or not hasattr(value, "__len__"):
        return value
    return value[min(index, len(value) - 1)] if len(value) else ""


def image_info(ds: Dataset) -> ImageInfo:
    """Describe the pixel data of a data set.

    Args:
        ds: A data set read with its file meta.

    Returns:
        The image's geometry, colour model and window presets.

    Raises:
        PixelError: The data set has no pixel data or no usable geometry.
    """
    if (
        "PixelData" not in ds
        and "FloatPixelData" not in ds
        and ("DoubleFloatPixelData" not in ds)
    ):
        raise PixelError("this file has no pixel data")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1))
        frames = int(ds.get("NumberOfFrames") or 1)
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    except (AttributeError, TypeError, ValueError) as exc:
        raise PixelError(f"the image geometry is missing or wrong ({exc})") from exc
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    presets = () if samples > 1 or photometric == "PALETTE COLOR" else _presets(ds)
    return ImageInfo(
        rows, columns, max(1, frames), samples, photometric, bits, syntax, presets
    )


class PixelSource:
    """The pixel data of one file, decoded a frame at a time."""

    def __init__(self, ds: Dataset, path: Path | None = None) -> None:
        """Wrap a data set read with its pixel data.

        Args:
            ds: The data set (with ``file_meta``).
            path: Where it came from, for messages.
        """
        self.ds = ds
        self.path = path
        self.info = image_info(ds)
        self._frames: dict[int, np.ndarray] = {}

    def frame(self, index: int) -> np.ndarray:
        """Decode one frame (cached): modality values for grey images, 8-bit
        RGB for colour ones.

        Args:
            index: 0-based frame number.

        Returns:
            A float32 (rows, columns) array, or uint8 (rows, columns, 3).

        Raises:
            PixelError: No codec for the transfer syntax, or damaged data.
        """
        if not 0 <= index < self.info.frames:
            raise PixelError(f"no frame {index + 1} (of {self.info.frames})")
        cached = self._frames.get(index)
        if cached is None:
            cached = self._decode(index)
            if len(self._frames) > 8:
                self._frames.pop(next(iter(self._frames)))
            self._frames[index] = cached
        return cached

    def _decode(self, index: int) -> np.ndarray:
        from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array
        from pydicom.pixels.decoders.base import get_decoder

        syntax = self.info.transfer_syntax
        if syntax:
            try:
                decoder = get_decoder(UID(syntax))
            except NotImplementedError as exc:
                raise PixelError(
                    f"no decoder for transfer syntax {UID(syntax).name}"
                ) from exc
            if not decoder.is_available:
                raise PixelError(missing_codec_message(syntax))
        try:
            arr = pixel_array(self.ds, index=index if self.info.frames > 1 else None)
        except (RuntimeError, NotImplementedError) as exc:
            name = UID(syntax).name if syntax else "native"
            raise PixelError(
                f"the installed codecs could not decode this {name} pixel data "
                f"({_reason(exc)})"
            ) from exc
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise PixelError(f"damaged pixel data ({_first_line(exc)})") from exc
        info = self.info
        if info.photometric == "PALETTE COLOR":
            try:
                rgb = apply_color_lut(arr, self.ds)
            except (ValueError, AttributeError, KeyError) as exc:
                raise PixelError(f"bad palette ({_first_line(exc)})") from exc
            return _to_uint8(rgb, 16 if rgb.dtype.itemsize > 1 else 8)
        if info.samples > 1:
            return _to_uint8(arr, info.bits_stored)
        rescale = _frame_group(self.ds, index, "PixelValueTransformationSequence")
        if rescale is not None and "RescaleSlope" in rescale:
            slope = float(rescale.get("RescaleSlope") or 1)
            intercept = float(rescale.get("RescaleIntercept") or 0)
            return (arr.astype(np.float32) * slope + intercept).astype(np.float32)
        try:
            values = apply_modality_lut(arr, self.ds)
        except (ValueError, AttributeError, KeyError, TypeError):
            values = arr
        return np.asarray(values, dtype=np.float32)

    def default_window(self, index: int = 0) -> Window:
        """The first preset of the file, or the frame's full range."""
        if self.info.presets:
            return self.info.presets[0]
        return self.full_range(index)

    def full_range(self, index: int = 0) -> Window:
        """A window covering every value of a frame."""
        values = self.frame(index)
        if values.ndim == 3:
            return Window("full range", 127.5, 256.0)
        low, high = float(values.min()), float(values.max())
        return Window("full range", (low + high + 1) / 2, max(1.0, high - low + 1))

    def display(self, index: int, window: Window | None = None) -> np.ndarray:
        """A frame as 8-bit grey (rows, columns) or RGB (rows, columns, 3).

        Args:
            index: 0-based frame number.
            window: The VOI transform for grey images (default: the file's
                first preset, else the full range).

        Returns:
            A uint8 array ready to draw.
        """
        values = self.frame(index)
        if values.ndim == 3:
            return values
        window = window or self.default_window(index)
        if window.lut_index is not None:
            grey = self._voi_lut(values, window.lut_index)
        else:
            grey = apply_window(values, window.center, window.width)
        if self.info.photometric == "MONOCHROME1":
            grey = 255 - grey
        return grey

    def _voi_lut(self, values: np.ndarray, index: int) -> np.ndarray:
        from pydicom.pixels import apply_voi_lut

        item = self.ds.VOILUTSequence[index]
        try:
            out = apply_voi_lut(values.astype(np.int64), self.ds, index=index)
            data = np.asarray(item.LUTData, dtype=np.float64).ravel()
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise PixelError(f"bad VOI LUT ({_first_line(exc)})") from exc
        low, high = float(data.min()), float(data.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        return np.clip((out - low) * scale, 0, 255).astype(np.uint8)


def apply_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """The linear VOI function of PS3.3 C.11.2.1.2.1, to 0..255.

    Args:
        values: Modality values.
        center: Window Center.
        width: Window Width (at least 1).

    Returns:
        A uint8 array of the same shape.
    """
    if width <= 1:
        return np.where(values > center - 0.5, 255, 0).astype(np.uint8)
    scaled = (values - (center - 0.5)) / (width - 1) + 0.5
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    shift = max(0, bits - 8)
    return np.clip(arr.astype(np.int64) >> shift, 0, 255).astype(np.uint8)


def _reason(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_pixels(path: Path) -> PixelSource:
    """Read a file and wrap its pixel data (blocking).

    Args:
        path: A DICOM file.

    Returns:
        A source of frames.

    Raises:
        FileReadError: Not readable as DICOM.
        PixelError: No pixel data.
    """
    try:
        ds = dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise FileReadError(path, _first_line(exc)) from exc
    return PixelSource(ds, path)


async def load_pixels(path: Path) -> PixelSource:
    """Read a file and wrap its pixel data, in a thread."""
    return await asyncio.to_thread(open_pixels, path)
