"""Export: Native DICOM XML beside DCMTK's dcm2xml, DICOM JSON back to
DICOM (ours and DCMTK's dcm2json), a frame to PNG."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dcmtui.services.export import (
    ExportError,
    export_file,
    export_one,
    frame_to_png,
    json_to_dicom,
    png_bytes,
    xml_text,
)
from dcmtui.services.pixels import open_pixels
from tests.imaging import gradient, write_image
from tests.peers import require


def _data(name: str) -> Path:
    return Path(str(get_testdata_file(name)))


Row = tuple[object, ...]


def _rows(xml: str) -> list[Row]:
    """Every attribute of a Native DICOM Model document, flattened."""
    rows: list[Row] = []

    def walk(node: ET.Element, depth: int) -> None:
        for attr in node.findall("DicomAttribute"):
            values: list[object] = []
            for child in attr:
                if child.tag == "Item":
                    rows.append((depth, attr.get("tag"), "item"))
                    walk(child, depth + 1)
                elif child.tag == "PersonName":
                    values.append(ET.tostring(child, encoding="unicode"))
                elif child.tag == "InlineBinary":
                    data = base64.b64decode(child.text or "")
                    if attr.get("vr") == "OW":  # see test docstring
                        data = np.frombuffer(data, "<u2").tobytes()
                    values.append(("InlineBinary", len(data)))
                elif attr.get("vr") in ("FL", "FD"):  # same number, any text
                    number = float(child.text or "nan")
                    values.append((child.tag, float(np.float32(number))))
                else:
                    values.append((child.tag, (child.text or "").strip()))
            rows.append(
                (
                    depth,
                    attr.get("tag"),
                    attr.get("vr"),
                    attr.get("privateCreator"),
                    tuple(values),
                )
            )

    walk(ET.fromstring(xml), 0)
    return rows


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "SC_rgb.dcm", "rtplan.dcm"]
)
def test_xml_matches_dcm2xml(name: str) -> None:
    """Same attributes, tags, VRs, private creators, values and person name
    parts as ``dcm2xml -nat +Eb``. (DCMTK 3.6.7 writes OW InlineBinary in big
    endian byte order; PS3.18 F.2.7 and PS3.5 say little endian, which we
    write: binary values are compared by length.)"""
    path = _data(name)
    theirs = subprocess.run(
        [require("dcm2xml"), "-nat", "+Eb", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert _rows(xml_text(path)) == _rows(theirs)


def test_xml_keywords_and_escaping(tmp_path: Path) -> None:
    path = write_image(tmp_path / "x.dcm", ImageComments="a < b & c > d")
    xml = xml_text(path)
    root = ET.fromstring(xml)  # well formed
    attr = root.find("DicomAttribute[@keyword='ImageComments']")
    assert attr is not None and attr.findtext("Value") == "a < b & c > d"
    name = "DicomAttribute[@tag='00100010']/PersonName/Alphabetic/FamilyName"
    assert root.findtext(name) == "PIXEL"


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtplan.dcm"])
def test_json_round_trip(tmp_path: Path, name: str) -> None:
    path = _data(name)
    (text,) = [export_file(path, "json", None)[1]]
    (tmp_path / "a.json").write_text(text)
    back = json_to_dicom(tmp_path / "a.json", tmp_path / "back.dcm")
    original, rebuilt = pydicom.dcmread(path), pydicom.dcmread(back)
    assert rebuilt.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    for elem in original:
        if elem.tag.element == 0:
            continue
        assert elem.tag in rebuilt, elem
        assert rebuilt[elem.tag].value == elem.value, elem  # DS compared as numbers
    subprocess.run(
        [require("dcmdump"), "-q", str(back)], check=True, capture_output=True
    )


def test_dcm2json_output_imports(tmp_path: Path) -> None:
    source = write_image(tmp_path / "src.dcm", gradient(frames=2))
    dcm2json = require("dcm2json")
    out = subprocess.run(
        [dcm2json, str(source)], capture_output=True, check=True
    ).stdout
    (tmp_path / "t.json").write_bytes(out)
    back = json_to_dicom(tmp_path / "t.json", tmp_path / "back.dcm")
    assert np.array_equal(pydicom.dcmread(back).pixel_array, gradient(frames=2))
    dump = [require("dcmdump"), "-q"]
    a = subprocess.run([*dump, str(source)], capture_output=True, check=True).stdout
    b = subprocess.run([*dump, str(back)], capture_output=True, check=True).stdout
    strip = lambda d: [x for x in d.splitlines() if not x.startswith(b"(0002")]  # noqa: E731
    assert strip(a) == strip(b)


def test_bad_json(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[1, 2]")
    with pytest.raises(ExportError, match="not a DICOM JSON object"):
        json_to_dicom(tmp_path / "a.json", tmp_path / "o.dcm")
    (tmp_path / "b.json").write_text(json.dumps({"00100010": {"vr": "PN"}}))
    with pytest.raises(ExportError, match="SOPClassUID"):
        json_to_dicom(tmp_path / "b.json", tmp_path / "o.dcm")
    assert not (tmp_path / "o.dcm").exists()


def _read_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, _depth, colour = struct.unpack(">IIBB", header[:10])
    channels = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, -1)
    assert (raw[:, 0] == 0).all()  # filter type none
    img = raw[:, 1:].reshape(height, width, channels)
    return img[:, :, 0] if channels == 1 else img


def test_png_of_a_frame(tmp_path: Path) -> None:
    source = write_image(tmp_path / "mf.dcm", gradient(frames=3))
    out = frame_to_png(source, tmp_path / "f2.png", frame=2)
    expected = open_pixels(source).display(2)
    assert np.array_equal(_read_png(out.read_bytes()), expected)
    rgb = open_pixels(_data("SC_rgb.dcm")).display(0)
    assert np.array_equal(_read_png(png_bytes(rgb)), rgb)
    with pytest.raises(ExportError):
        png_bytes(np.zeros((2, 2), np.uint16))


async def test_export_one_and_errors(tmp_path: Path) -> None:
    source = write_image(tmp_path / "a.dcm")
    written, _ = await export_one(source, "xml", tmp_path / "a.xml")
    assert written is not None and written.read_text().startswith("<?xml")
    with pytest.raises(ExportError, match="unknown format"):
        export_file(source, "tiff", None)
    with pytest.raises(ExportError, match="needs an output"):
        export_file(source, "png", None)


def test_xml_binary_values_are_little_endian_from_a_big_endian_file(
    tmp_path: Path,
) -> None:
    """PS3.19: InlineBinary holds little endian bytes, whatever the file's
    transfer syntax; a big endian file gives the same XML as its little
    endian twin."""
    from pydicom.uid import ExplicitVRBigEndian

    from dcmtui.services.convert import convert_file
    from dcmtui.services.export import xml_text
    from tests.imaging import gradient, write_image

    little = write_image(tmp_path / "little.dcm", gradient(frames=2))
    big = tmp_path / "big.dcm"
    convert_file(little, big, ExplicitVRBigEndian)
    assert xml_text(big) == xml_text(little)
