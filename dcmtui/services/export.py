"""Export and import: the DICOM JSON model (PS3.18 Annex F), the Native
DICOM Model XML (PS3.19 Annex A), DICOM from JSON, and a frame as PNG.

JSON comes from :func:`dcmtui.services.dataset_json.to_json` (the one the
``dump --json`` command prints); the XML is built from that same JSON model,
so both say the same thing. PNG is written with zlib and struct: 8-bit grey
or RGB, the frame windowed as the preview shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from dcmtui.services.dataset_json import to_json
from dcmtui.services.errors import DcmtuiError, FileReadError
from dcmtui.services.pixels import Window, open_pixels

_PN_PARTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


class ExportError(DcmtuiError):
    """An export or import that cannot be done; the message says why."""


def _atomic_write(target: Path, write: Callable[[Any], None], binary: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".export-", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(
            fd, "wb" if binary else "w", encoding=None if binary else "utf-8"
        ) as out:
            write(out)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- JSON ------------------------------------------------------------------


def json_text(path: Path) -> str:
    """The DICOM JSON model of a file, as text (blocking)."""
    return json.dumps(to_json(path), indent=2, ensure_ascii=False)


# -- XML -------------------------------------------------------------------

_BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


def _keyword(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or ""


def _person_name(value: Any, number: int) -> list[str]:
    lines = [f'<PersonName number="{number}">']
    components = getattr(value, "components", None) or (str(value),)
    for group, text in zip(_PN_GROUPS, components, strict=False):
        if not text:
            continue
        lines.append(f"<{group}>")
        for part, component in zip(_PN_PARTS, str(text).split("^"), strict=False):
            if component:
                lines.append(f"<{part}>{escape(_clean(component))}</{part}>")
        lines.append(f"</{group}>")
    lines.append("</PersonName>")
    return lines


def _clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot hold (kept visible)."""
    return "".join(
        c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text
    )


def _values(elem: Any) -> list[Any]:
    value = elem.value
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _value_text(vr: str, value: Any) -> str:
    if vr == "AT":
        return f"{int(value):08X}"
    if vr in ("FL", "FD"):  # shortest text that reads back to the same number
        number = np.float32(value) if vr == "FL" else float(value)
        text = str(number)
        return text[:-2] if text.endswith(".0") else text
    return _clean(str(value))


_SWAP_WIDTH = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def _little_endian(data: bytes, vr: str, big: bool) -> bytes:
    """Binary value bytes as little endian (PS3.19 InlineBinary), from a big
    endian file's bytes when ``big``."""
    width = _SWAP_WIDTH.get(vr, 0) if big else 0
    if not width or len(data) % width:
        return data
    return np.frombuffer(data, f">u{width}").astype(f"<u{width}").tobytes()


def _xml_attributes(ds: Any, big: bool = False) -> list[str]:
    import base64

    lines: list[str] = []
    for elem in ds:
        tag = int(elem.tag)
        group, number = tag >> 16, tag & 0xFFFF
        if number == 0 or group == 0x0002:
            continue  # group lengths and the meta group are not part of it
        vr = str(elem.VR)
        head = f'<DicomAttribute tag="{tag:08X}" vr="{vr}"'
        if group % 2 and number > 0xFF:
            creator = ds.get((group << 16) | (number >> 8))
            if creator is not None and creator.value:
                head = (
                    f'<DicomAttribute tag="{group:04X}00{number & 0xFF:02X}" '
                    f'vr="{vr}" privateCreator={quoteattr(str(creator.value))}'
                )
        elif not group % 2 and (keyword := _keyword(tag)):
            head += f' keyword="{keyword}"'
        lines.append(head + ">")
        if vr == "SQ":
            for index, item in enumerate(elem.value or [], start=1):
                lines.append(f'<Item number="{index}">')
                lines.extend(_xml_attributes(item, big))
                lines.append("</Item>")
        elif vr in _BINARY:
            if elem.value:
                data = _little_endian(bytes(elem.value), vr, big)
                lines.append(
                    f"<InlineBinary>{base64.b64encode(data).decode()}</InlineBinary>"
                )
        else:
            for index, value in enumerate(_values(elem), start=1):
                if vr == "PN":
                    lines.extend(_person_name(value, index))
                else:
                    text = escape(_value_text(vr, value))
                    lines.append(f'<Value number="{index}">{text}</Value>')
        lines.append("</DicomAttribute>")
    return lines


def dataset_to_xml(ds: Any) -> str:
    """A data set as Native DICOM Model XML (PS3.19 Annex A).

    Values are written as they are in the file (DS and IS keep their text);
    binary values are base64 (InlineBinary) of the little endian bytes.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<NativeDicomModel xml:space="preserve">',
        *_xml_attributes(ds, _read_big_endian(ds)),
        "</NativeDicomModel>",
    ]
    return "\n".join(lines) + "\n"


def _read_big_endian(ds: Any) -> bool:
    """True when ``ds`` was read from a big endian file (its binary values
    hold the file's bytes)."""
    return getattr(ds, "original_encoding", (None, True))[1] is False


def xml_text(path: Path) -> str:
    """The Native DICOM Model XML of a file (blocking)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise FileReadError(path, str(exc).splitlines()[0] or "unreadable") from exc
    return dataset_to_xml(ds)


# -- JSON back to DICOM ----------------------------------------------------


def json_to_dicom(source: Path, target: Path) -> Path:
    """Write the DICOM file that a DICOM JSON model describes (blocking).

    The data set is written in Explicit VR Little Endian with a file meta
    group made from its SOP Class and Instance UIDs.

    Raises:
        ExportError: Not a JSON object of the DICOM JSON model.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    try:
        model = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExportError(f"{source}: not JSON ({exc})") from exc
    if isinstance(model, list) and len(model) == 1:
        model = model[0]  # a QIDO/WADO-style array of one
    if not isinstance(model, dict):
        raise ExportError(f"{source}: not a DICOM JSON object")
    model = {k: v for k, v in model.items() if not k.upper().startswith("0002")}
    try:
        ds = Dataset.from_json(model)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ExportError(f"{source}: not the DICOM JSON model ({exc})") from exc
    for keyword in ("SOPClassUID", "SOPInstanceUID"):
        if keyword not in ds:
            raise ExportError(f"{source}: no {keyword}, so no DICOM file can be made")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    _atomic_write(
        target, lambda out: ds.save_as(out, enforce_file_format=True), binary=True
    )
    return target


# -- PNG -------------------------------------------------------------------


def png_bytes(img: np.ndarray) -> bytes:
    """An 8-bit grey (h, w) or RGB (h, w, 3) array as a PNG file."""
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ExportError("PNG export needs an 8-bit grey or RGB picture")
    height, width = img.shape[:2]
    colour = 2 if img.ndim == 3 else 0
    rows = np.ascontiguousarray(img).reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def write_png(img: np.ndarray, target: Path) -> Path:
    """Write a picture as PNG, atomically (blocking); ``~`` is expanded."""
    target = target.expanduser()
    data = png_bytes(img)
    _atomic_write(target, lambda out: out.write(data), binary=True)
    return target


def frame_to_png(
    source: Path, target: Path, frame: int = 0, window: Window | None = None
) -> Path:
    """Write one frame as PNG, windowed like the preview (blocking).

    Args:
        source: A DICOM file with pixel data.
        target: The PNG file to write.
        frame: 0-based frame number.
        window: The window (default: the file's first preset, else full range).
    """
    img = open_pixels(source).display(frame, window)
    data = png_bytes(img)
    _atomic_write(target, lambda out: out.write(data), binary=True)
    return target


# -- one entry point for the command and the screen -------------------------

FORMATS = ("json", "xml", "png", "dicom")


def export_file(
    source: Path, fmt: str, target: Path | None, frame: int = 0
) -> tuple[Path | None, str]:
    """Export ``source`` as ``fmt`` (blocking).

    Args:
        source: A DICOM file (a JSON file for ``dicom``).
        fmt: One of :data:`FORMATS`.
        target: The output file; None gives the text back (json, xml).
        frame: For png: the 0-based frame.

    Returns:
        (the file written or None, the text when not written).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "dicom":
        if target is None:
            raise ExportError("JSON to DICOM needs an output file (-o)")
        return json_to_dicom(source, target), ""
    if fmt == "png":
        if target is None:
            raise ExportError("PNG export needs an output file or folder (-o)")
        return frame_to_png(source, target, frame), ""
    text = json_text(source) if fmt == "json" else xml_text(source)
    if target is None:
        return None, text
    _atomic_write(target, lambda out: out.write(text), binary=False)
    return target, ""


async def export_one(
    source: Path, fmt: str, target: Path | None, frame: int = 0
) -> tuple[Path | None, str]:
    """:func:`export_file` in a thread."""
    return await asyncio.to_thread(export_file, source, fmt, target, frame)
