"""The byte-range parser and its dcmdump-like text, with dcmdump as the oracle."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset

from dcmtui.services.dataset import parse
from dcmtui.services.dataset_view import DatasetView, dump_lines
from tests.factories import write_dicom
from tests.peers import require

LINE = re.compile(
    r"^(\s*)\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w|\?\?) .*?#\s*(\d+|u/l), *(\d+) "
)
SAME = {"xs": {"US", "SS"}, "ox": {"OB", "OW"}, "up": {"UL"}, "??": {"UN", "SQ"}}


def _rows(lines: list[str]) -> list[Row]:
    out = []
    for line in lines:
        if m := LINE.match(line):
            out.append((len(m[1]), m[2], m[3], m[4], m[5], m[6]))
    return out


Row = tuple[int, str, str, str, str, str]


def _same(ours: Row, theirs: Row) -> bool:
    vr_ok = ours[3] == theirs[3] or ours[3] in SAME.get(theirs[3], set())
    if theirs[1:3] == ("0028", "0106"):  # dcmdump picks US/SS by pixel sign
        vr_ok = True
    return vr_ok and ours[:3] == theirs[:3] and ours[4:] == theirs[4:]


def get_testdata_file(name: str) -> str:
    """The path of one of pydicom's test files."""
    from pydicom.data import get_testdata_file as find

    path = find(name)
    assert isinstance(path, str)
    return path


def _files() -> list[str]:
    return [f for f in get_testdata_files() if Path(f).is_file()]


def test_dump_matches_dcmdump_over_pydicom_test_files() -> None:
    dcmdump = require("dcmdump")
    compared = mismatched = 0
    for name in _files():
        run = subprocess.run(
            [dcmdump, "-q", "+L", name],
            capture_output=True,
            text=True,
            errors="replace",
        )
        if run.returncode or "\r" in run.stdout or "<" in run.stdout:
            continue  # dcmdump rejects it, or multi-line values break lines
        theirs = _rows(run.stdout.splitlines())
        ours = _rows(list(dump_lines(parse(Path(name)))))
        compared += 1
        if len(ours) != len(theirs) or not all(map(_same, ours, theirs)):
            mismatched += 1
    assert compared > 150
    # Known: private sequences of implicit files that DCMTK shows as bytes.
    assert mismatched <= 5, mismatched


def test_dump_line_format(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", PatientName="DOE^JOHN")
    lines = list(dump_lines(parse(path)))
    line = next(x for x in lines if x.startswith("(0010,0010)"))
    assert line.startswith("(0010,0010) PN [DOE^JOHN]")
    assert line.endswith("#   8, 1 PatientName")
    assert line.index("#") == 56


def test_sequences_items_and_private_names() -> None:
    parsed = parse(Path(get_testdata_file("CT_small.dcm")))
    view = DatasetView(parsed)
    rows = [view.row(i) for i in range(len(view))]
    private = next(r for r in rows if r.tag == 0x00091001)
    assert private.private and private.creator == "GEMS_IDEN_01"
    assert private.keyword == "Full fidelity"
    seq = next(r for r in rows if r.tag == 0x00101002)
    assert seq.expandable and seq.value == "2 items"
    item = rows[seq.index + 1]
    assert item.kind == "item" and item.depth == 1
    assert rows[0].meta and rows[0].tag == 0x00020000
    pixels = next(r for r in rows if r.tag == 0x7FE00010)
    assert pixels.value.startswith("128 x 128 x 1 frame, 16 bits")
    assert "native" in pixels.value


def test_find_toggle_and_collapse() -> None:
    parsed = parse(Path(get_testdata_file("CT_small.dcm")))
    view = DatasetView(parsed)
    total = len(view)
    by_tag = view.find("(0010,0010)", 0)
    assert by_tag is not None and view.row(by_tag).tag == 0x00100010
    by_keyword = view.find("PatientName", 0)
    assert by_keyword == by_tag
    by_text = view.find("compressedsamples", 0)
    assert by_text == by_tag
    back = view.find("PatientID", by_tag, backward=True)
    assert back is not None and view.row(back).tag == 0x00100020
    view.collapse_all()
    assert len(view) < total
    found = view.find("ABCD1234", 0)  # inside a collapsed sequence
    assert found is not None and view.row(found).tag == 0x00100020
    view.expand_all()
    assert len(view) == total
    view.show_private = False
    view.show_meta = False
    view.refresh()
    assert all(
        not view.row(i).private and not view.row(i).meta for i in range(len(view))
    )


def test_charset_decoded_text(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", SpecificCharacterSet="ISO_IR 192", PatientName="Ωmega^Ängel"
    )
    view = DatasetView(parse(path))
    i = view.find("(0010,0010)", 0)
    assert i is not None and view.row(i).value == "Ωmega^Ängel"


def test_damaged_files_are_marked_not_fatal(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm")
    data = path.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:-40])
    parsed = parse(cut)
    assert "declares" in parsed.damaged
    assert any(e.tag == 0x00100010 for e in parsed.data)


def test_deep_nesting_is_damage_not_recursion(tmp_path: Path) -> None:
    ds = Dataset()
    inner = ds
    for _ in range(80):
        child = Dataset()
        inner.ReferencedSeriesSequence = [child]
        inner = child
    path = write_dicom(tmp_path / "deep.dcm", ReferencedSeriesSequence=[ds])
    parsed = parse(path)
    assert "nested deeper" in parsed.damaged


def test_huge_declared_length_is_damage(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", pixels=False)
    data = bytearray(path.read_bytes())
    at = data.index(b"\x10\x00\x10\x00PN")
    data[at + 6 : at + 8] = b"\xff\xff"
    path.write_bytes(bytes(data))
    assert "declares 65,535 bytes" in parse(path).damaged


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_bigendian.dcm"])
def test_cli_dump(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from dcmtui.cli import main

    assert main(["dump", get_testdata_file(name)]) == 0
    out = capsys.readouterr().out
    assert "(0010,0010) PN" in out and "# Dicom-Data-Set" in out


def test_cli_dump_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from dcmtui.cli import main

    assert main(["dump", "--json", get_testdata_file("CT_small.dcm")]) == 0
    data = json.loads(capsys.readouterr().out)
    name = {"Alphabetic": "CompressedSamples^CT1"}
    assert data["00100010"] == {"vr": "PN", "Value": [name]}


def test_cli_dump_fails_on_damage_and_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dcmtui.cli import main

    path = write_dicom(tmp_path / "a.dcm", PatientName="X\x1b[31mRED\n")
    assert main(["dump", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "␛[31mRED" in out
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:-30])
    assert main(["dump", str(cut)]) == 1
    assert "damaged" in capsys.readouterr().err
    assert main(["dump", str(tmp_path / "missing.dcm")]) == 1


def big_dataset(path: Path, elements: int) -> Path:
    """A file of about ``elements`` elements: nested sequences, private blocks."""
    items = []
    per_item = 20
    for i in range(max(1, elements // per_item)):
        item = Dataset()
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = f"1.2.3.{i}"
        inner = Dataset()
        inner.CodeValue = f"C{i}"
        inner.CodingSchemeDesignator = "DCM"
        inner.CodeMeaning = f"meaning {i}"
        item.ConceptNameCodeSequence = [inner]
        block = item.private_block(0x0029, "DCMTUI TEST", create=True)
        for n in range(per_item - 8):
            block.add_new(n, "LO", f"private {i}.{n}")
        items.append(item)
    return write_dicom(path, ReferencedImageSequence=items)


def test_decompression_bomb_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    import dcmtui.services.dataset as dataset

    path = write_dicom(tmp_path / "a.dcm", pixels=False)
    from pydicom import dcmread

    ds = dcmread(path)
    ds.EncapsulatedDocument = bytes(4 * 1024 * 1024)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size < 64 * 1024
    assert not parse(path).damaged
    monkeypatch.setattr(dataset, "MAX_INFLATED", 1024 * 1024)
    assert "inflates past" in parse(path).damaged


def test_iso2022_edit_keeps_escapes(tmp_path: Path) -> None:
    from pydicom.data import get_charset_files

    from dcmtui.services.edit import open_document

    source = next(Path(f) for f in get_charset_files() if f.endswith("chrH31.dcm"))
    path = tmp_path / "jp.dcm"
    path.write_bytes(source.read_bytes())
    doc = open_document(path)
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    doc.set_value(pn, "ヤマダ^タロウ=山田^太郎=やまだ^たろう")
    new = next(e for e in doc.current.data if e.tag == 0x00100010)
    raw = bytes(doc.current.buf[new.vstart : new.end])
    assert b"\x1b$B" in raw and b"\x1b(B" in raw
    view = DatasetView(doc.current)
    i = view.find("(0010,0010)", 0)
    assert (
        i is not None and view.row(i).value == "ヤマダ^タロウ=山田^太郎=やまだ^たろう"
    )


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "rtplan.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm"]
)
def test_corrupted_files_never_crash(name: str) -> None:
    """Flipped bytes and truncations: a reason, never an exception."""
    import contextlib
    import random

    from dcmtui.services.dataset import parse_bytes
    from dcmtui.services.edit import Document
    from dcmtui.services.errors import DcmtuiError, FileReadError

    rng = random.Random(name)
    data = Path(get_testdata_file(name)).read_bytes()
    for _ in range(60):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        if rng.random() < 0.3:
            b = b[: rng.randrange(len(b))]
        try:
            parsed = parse_bytes(Path(name), bytes(b), len(b), 0)
        except FileReadError:
            continue
        view = DatasetView(parsed)
        for i in range(min(len(view), 100)):
            view.row(i)
            view.full_value(i)
        list(dump_lines(parsed))
        doc = Document(parsed)
        target = next((e for e in parsed.data if e.vr in ("LO", "SH", "PN")), None)
        if target is not None:
            with contextlib.suppress(DcmtuiError):
                doc.set_value(target, "FUZZ")
