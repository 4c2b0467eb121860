"""Transfer syntax conversion, like dcmconv, dcmdjpeg, dcmcjpeg and dcmcrle.

Native to native (implicit, explicit, big endian, deflated) re-encodes the
data set and never decodes the pixel data: when the pixel data is the last
element, as it nearly always is, its bytes are copied from the source file in
chunks (swapped for a change of byte order), so a file of any size converts
in bounded memory. Compressed sources are decoded with pydicom's installed
plugins; compressed targets are encoded where an encoder is installed
(RLE always; JPEG 2000 with pylibjpeg-openjpeg; JPEG-LS with pyjpegls).

Output is written to a temporary file next to the destination and renamed
when complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.errors import DcmtuiError, FileReadError
from dcmtui.services.pixels import CODEC_HINT, missing_codec_message

CHUNK = 8 * 1024 * 1024

SYNTAX_NAMES: dict[str, UID] = {
    "implicit": ImplicitVRLittleEndian,
    "explicit": ExplicitVRLittleEndian,
    "big": ExplicitVRBigEndian,
    "deflated": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
    "j2k": JPEG2000Lossless,
    "jpls": JPEGLSLossless,
    "jpeg": JPEGBaseline8Bit,
}
"""Short names accepted by ``--to`` (a UID works too)."""

_NATIVE = {
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
}
_SWAP_WIDTH = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


class ConvertError(DcmtuiError):
    """A conversion that cannot be done; the message says why."""


@dataclass(frozen=True)
class ConvertResult:
    """The outcome of converting one file."""

    source: str
    target: str
    """Where the output went ("" when it failed)."""
    ok: bool
    message: str
    """What was done, or why it failed."""
    streamed: bool = False
    """True when the pixel data was copied without being read into memory."""


def parse_syntax(text: str) -> UID:
    """A transfer syntax from a short name (``implicit``...) or a UID.

    Raises:
        ConvertError: Unknown name, or a UID that is not a transfer syntax.
    """
    key = text.strip().lower()
    if key in SYNTAX_NAMES:
        return SYNTAX_NAMES[key]
    uid = UID(text.strip()) if re.fullmatch(r"[0-9.]{1,64}", text.strip()) else None
    if uid is None or not uid.is_valid or not uid.is_transfer_syntax:
        names = ", ".join(SYNTAX_NAMES)
        raise ConvertError(
            f"unknown transfer syntax {text!r}: use one of {names} or a "
            "transfer syntax UID"
        )
    return uid


def _read(path: Path, **kwargs: object) -> FileDataset:
    try:
        return dcmread(path, **kwargs)  # type: ignore[arg-type]
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise FileReadError(path, str(exc).splitlines()[0] or "unreadable") from exc


def _syntax_of(ds: Dataset, path: Path) -> UID:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if not uid:
        raise FileReadError(path, "no transfer syntax in the file meta header")
    return UID(str(uid))


@dataclass(frozen=True)
class _PixelSpan:
    """Where the native pixel data element lies in the source file."""

    offset: int
    """Start of the element's value."""
    length: int
    vr: str


def _pixel_span(path: Path, syntax: UID) -> tuple[FileDataset, _PixelSpan | None]:
    """The data set before the pixel data, and where the pixel data is, when
    it is the last element of a native (not deflated) file."""
    with open(path, "rb") as fp:
        try:
            ds = dcmread(fp, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise FileReadError(path, str(exc).splitlines()[0]) from exc
        start = fp.tell()
        size = os.fstat(fp.fileno()).st_size
        head = fp.read(12)
    if len(head) < 8 or syntax == DeflatedExplicitVRLittleEndian:
        return ds, None
    little = syntax != ExplicitVRBigEndian
    order = "<" if little else ">"
    group, elem = struct.unpack(order + "HH", head[:4])
    if (group, elem) != (0x7FE0, 0x0010):
        return ds, None
    if syntax == ImplicitVRLittleEndian:
        (length,) = struct.unpack("<I", head[4:8])
        bits = int(ds.get("BitsAllocated") or 16)
        vr, value_at = ("OW" if bits > 8 else "OB"), start + 8
    else:
        vr = head[4:6].decode("ascii", "replace")
        if len(head) < 12 or vr not in ("OB", "OW"):
            return ds, None
        (length,) = struct.unpack(order + "I", head[8:12])
        value_at = start + 12
    if length == 0xFFFFFFFF or value_at + length != size:
        return ds, None  # encapsulated, or elements after the pixel data
    return ds, _PixelSpan(value_at, length, vr)


def _encoding(syntax: UID) -> tuple[bool, bool]:
    """(implicit_vr, little_endian) of a transfer syntax."""
    return syntax.is_implicit_VR, syntax.is_little_endian


def _load_all(ds: Dataset) -> None:
    """Turn every raw element into a decoded one (so that it re-encodes)."""
    for _ in ds.iterall():
        pass


def _swap_values(ds: Dataset) -> None:
    """Byte-swap the raw values of OW/OL/OF/OD/OV elements, at every depth,
    for a change of byte order (pydicom writes these bytes as they are)."""
    for elem in ds.iterall():
        width = _SWAP_WIDTH.get(str(elem.VR))
        if elem.tag == 0x7FE00010:
            bits = int(ds.get("BitsAllocated") or 8)
            width = bits // 8 if bits > 8 else 0
        if width and isinstance(elem.value, bytes) and len(elem.value) % width == 0:
            dtype = np.dtype(f"u{width}")
            elem.value = np.frombuffer(elem.value, dtype).byteswap().tobytes()


def _write_dataset(ds: FileDataset, syntax: UID, out: BinaryIO) -> None:
    """Write ``ds`` (preamble, meta, data set) encoded in ``syntax``."""
    ds.file_meta.TransferSyntaxUID = syntax
    implicit, little = _encoding(syntax)
    if little:
        dcmwrite(out, ds, enforce_file_format=True)
    else:
        if ds.preamble is None:
            ds.preamble = b"\0" * 128
        dcmwrite(
            out, ds, implicit_vr=implicit, little_endian=little, force_encoding=True
        )


def _stream_native(
    source: Path, ds: FileDataset, span: _PixelSpan, src: UID, dst: UID, out: BinaryIO
) -> None:
    """Header through pydicom, then the pixel data copied in chunks."""
    _load_all(ds)
    swap_header = src.is_little_endian != dst.is_little_endian
    if swap_header:
        _swap_values(ds)
    _write_dataset(ds, dst, out)
    implicit, little = _encoding(dst)
    order = "<" if little else ">"
    bits = int(ds.get("BitsAllocated") or 8)
    vr = span.vr if bits > 8 or span.vr == "OB" else "OB"
    if implicit:
        out.write(struct.pack(order + "HHI", 0x7FE0, 0x0010, span.length))
    else:
        out.write(struct.pack(order + "HH", 0x7FE0, 0x0010) + vr.encode())
        out.write(struct.pack(order + "HI", 0, span.length))
    width = bits // 8 if swap_header and bits > 8 and vr == "OW" else 0
    dtype = np.dtype(f"u{width}") if width else None
    if dtype is None and _copy_range(source, span, out):
        return
    with open(source, "rb") as fp:
        fp.seek(span.offset)
        left = span.length
        while left:
            chunk = fp.read(min(CHUNK - CHUNK % 8, left))
            if not chunk:
                raise FileReadError(source, "the file ended inside the pixel data")
            left -= len(chunk)
            if dtype is not None:
                chunk = np.frombuffer(chunk, dtype).byteswap().tobytes()
            out.write(chunk)


def _copy_range(source: Path, span: _PixelSpan, out: BinaryIO) -> bool:
    """Copy the pixel data in the kernel (copy_file_range), where it can."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return False
    out.flush()
    with open(source, "rb") as fp:
        src_fd, dst_fd = fp.fileno(), out.fileno()
        offset, left = span.offset, span.length
        try:
            while left:
                done = copy(src_fd, dst_fd, min(left, 1 << 30), offset)
                if done <= 0:
                    raise FileReadError(source, "the file ended inside the pixel data")
                offset += done
                left -= done
        except OSError:
            if left != span.length:
                raise
            return False  # not supported across these file systems: copy by hand
    out.seek(0, os.SEEK_END)
    return True


def _convert_in_memory(ds: FileDataset, src: UID, dst: UID) -> FileDataset:
    """Decode or encode the pixel data as needed, in memory."""
    has_pixels = "PixelData" in ds
    if src.is_compressed and has_pixels:
        try:
            ds.decompress(generate_instance_uid=False)
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            from pydicom.pixels import get_decoder

            try:
                available = get_decoder(src).is_available
            except NotImplementedError:
                available = False
            if not available:
                raise ConvertError(missing_codec_message(src)) from exc
            raise ConvertError(f"cannot decode the pixel data: {reason}") from exc
        src = UID(str(ds.file_meta.TransferSyntaxUID))
    if dst.is_compressed:
        if not has_pixels:
            raise ConvertError(f"{dst.name} needs pixel data; this file has none")
        _encode(ds, dst)
        return ds
    _load_all(ds)
    if src.is_little_endian != dst.is_little_endian:
        _swap_values(ds)
    return ds


def _encode(ds: FileDataset, dst: UID) -> None:
    from pydicom.pixels import get_encoder

    if dst == JPEGBaseline8Bit:
        _encode_jpeg_baseline(ds)
        return
    try:
        encoder = get_encoder(dst)
    except NotImplementedError as exc:
        raise ConvertError(f"no encoder for {dst.name} in pydicom") from exc
    if not encoder.is_available:
        missing = "; ".join(encoder.missing_dependencies) or "a plugin"
        raise ConvertError(
            f"cannot encode {dst.name}: no encoder is installed ({missing}; "
            f"{CODEC_HINT})"
        )
    kwargs: dict[str, object] = {}
    if dst == JPEG2000Lossless:
        kwargs["j2k_cr"] = [1]  # lossless
    try:
        ds.compress(
            dst,
            encoding_plugin="",
            generate_instance_uid=False,
            **kwargs,  # type: ignore[arg-type]
        )
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConvertError(f"cannot encode {dst.name}: {reason}") from exc


JPEG_QUALITY = 90


def _encode_jpeg_baseline(ds: FileDataset) -> None:
    """JPEG baseline (lossy, 8-bit) with Pillow, which pydicom lacks: each
    frame encoded, colour as YBR_FULL_422; the object gets the lossy
    compression attributes and a new SOP Instance UID, as PS3.3 C.7.6.1.1.5
    asks of an image that lost information."""
    try:
        from PIL import Image as PILImage
    except ImportError as exc:
        raise ConvertError(
            "cannot encode JPEG Baseline: Pillow is not installed "
            "(pip install 'dcmtui[graphics]' or pip install pillow)"
        ) from exc
    import io

    from pydicom.encaps import encapsulate
    from pydicom.uid import generate_uid

    samples = int(ds.get("SamplesPerPixel", 1))
    if int(ds.get("BitsAllocated", 0)) != 8 or samples not in (1, 3):
        raise ConvertError(
            "JPEG Baseline holds 8-bit grey or colour images only; use j2k or "
            "jpls for this one"
        )
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if samples == 1 and photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ConvertError(f"JPEG Baseline cannot hold {photometric} pixel data")
    arr = ds.pixel_array  # colour comes out as RGB
    frames = int(ds.get("NumberOfFrames") or 1)
    if frames == 1:
        arr = arr[None, ...]
    encoded = []
    for frame in arr:
        buffer = io.BytesIO()
        mode = "RGB" if samples == 3 else "L"
        options: dict[str, object] = {"quality": JPEG_QUALITY}
        if samples == 3:
            options["subsampling"] = 1  # 4:2:2, as YBR_FULL_422 says
        PILImage.fromarray(np.ascontiguousarray(frame), mode).save(
            buffer, "JPEG", **options
        )
        encoded.append(buffer.getvalue())
    raw = arr.nbytes
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    if samples == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PlanarConfiguration = 0
    ds.LossyImageCompression = "01"
    ratio = raw / max(1, sum(len(f) for f in encoded))
    ds.LossyImageCompressionRatio = f"{ratio:.2f}"[:16]
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def convert_file(source: Path, target: Path, syntax: UID) -> ConvertResult:
    """Convert one file to ``syntax`` (blocking).

    Args:
        source: A DICOM file.
        target: Where to write (may be ``source`` itself).
        syntax: The transfer syntax to write.

    Returns:
        The result; failures raise instead.

    Raises:
        FileReadError: The source is not DICOM.
        ConvertError: The conversion cannot be done here (with the reason).
    """
    head = _read(source, stop_before_pixels=True)
    src = _syntax_of(head, source)
    if not syntax.is_transfer_syntax:
        raise ConvertError(f"{syntax} is not a transfer syntax")
    span: _PixelSpan | None = None
    ds: FileDataset
    if src in _NATIVE and syntax in _NATIVE - {DeflatedExplicitVRLittleEndian}:
        ds, span = _pixel_span(source, src)
    if span is None:
        ds = _read(source)
        ds = _convert_in_memory(ds, src, syntax)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".convert-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        mode = (target if target.exists() else source).stat().st_mode & 0o777
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as out:
            if span is not None:
                _stream_native(source, ds, span, src, syntax, out)
            else:
                _write_dataset(ds, syntax, out)
            out.flush()
            if target.exists():  # replacing a file: make the new one durable
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return ConvertResult(
        str(source),
        str(target),
        True,
        f"{src.name} -> {syntax.name}",
        streamed=span is not None,
    )


def output_paths(sources: Sequence[Path], out_dir: Path | None) -> list[Path]:
    """Where each source goes: ``out_dir/<name>``, or in place without one.

    Raises:
        ConvertError: Two sources would land on the same name.
    """
    if out_dir is None:
        return list(sources)
    targets = [out_dir / path.name for path in sources]
    seen: dict[Path, Path] = {}
    for source, target in zip(sources, targets, strict=True):
        if target in seen:
            raise ConvertError(
                f"{seen[target]} and {source} would both be written to {target}"
            )
        seen[target] = source
    return targets


def convert_iter(
    sources: Sequence[Path], syntax: UID, out_dir: Path | None
) -> Iterator[ConvertResult]:
    """Convert files one by one (blocking); a failure is a result, not a stop."""
    for source, target in zip(sources, output_paths(sources, out_dir), strict=True):
        try:
            yield convert_file(source, target, syntax)
        except DcmtuiError as exc:
            yield ConvertResult(str(source), "", False, str(exc))
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            yield ConvertResult(
                str(source), "", False, f"{source}: {type(exc).__name__}: {exc}"
            )


async def convert_files(
    sources: Sequence[Path], syntax: UID, out_dir: Path | None
) -> AsyncIterator[ConvertResult]:
    """Convert files in a thread, yielding a result per file."""
    async for result in iterate_in_thread(
        lambda: convert_iter(sources, syntax, out_dir)
    ):
        yield result


async def convert_one(source: Path, target: Path, syntax: UID) -> ConvertResult:
    """Convert one file in a thread."""
    return await asyncio.to_thread(convert_file, source, target, syntax)
