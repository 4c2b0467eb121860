"""``dcmtui dump --editable`` and ``dcmtui undump``: the dcmdump/dump2dcm round trip.

The oracle is the file itself (byte equality) and DCMTK's dcmdump.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pydicom.data import get_charset_files, get_testdata_file, get_testdata_files

from dcmtui.cli import main
from dcmtui.services.dump_text import (
    DumpTextError,
    apply_text,
    build,
    document_text,
    parse_text,
    to_text,
)
from dcmtui.services.edit import open_document
from dcmtui.services.errors import FileReadError
from dcmtui.services.values import ValueRefused
from tests.factories import write_dicom
from tests.peers import require

REFUSED = {
    # damaged files are read-only, a deflated data set is not re-deflated
    "emri_small_jpeg_2k_lossless_too_short.dcm",
    "MR_truncated.dcm",
    "SC_rgb_jpeg.dcm",
    "image_dfl.dcm",
    "rtplan_truncated.dcm",
}
SAMPLES = [
    "rtplan.dcm",  # implicit VR, nested sequences of defined length
    "CT_small.dcm",  # explicit VR little endian, private tags
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "JPEG2000.dcm",  # encapsulated pixel data
    "chrH31.dcm",  # ISO 2022 Japanese person names
    "chrX1.dcm",  # UTF-8
    "SC_rgb_small_odd.dcm",
    "waveform_ecg.dcm",
]


def sample(name: str) -> Path:
    found = get_testdata_file(name)
    if found is None:
        found = next(iter(get_charset_files(name)), None)
    assert found is not None, name
    return Path(str(found))


def dcmdump(path: Path) -> list[str]:
    out = subprocess.run(
        [require("dcmdump"), "+L", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def dump_editable(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["dump", "--editable", str(path)]) == 0
    return capsys.readouterr().out


def test_text_gives_back_every_pydicom_test_file_byte_for_byte() -> None:
    found = [*get_testdata_files("*"), *get_charset_files("*.dcm")]
    files = [Path(f) for f in found if Path(f).is_file()]
    small = [f for f in files if f.stat().st_size <= 1_000_000]
    large = sorted((f for f in files if f.stat().st_size > 1_000_000), key=str)[:2]
    done, refused = 0, []
    for path in small + large:
        try:
            text = to_text(path)
        except FileReadError:
            continue  # not DICOM at all
        except DumpTextError:
            refused.append(path.name)
            continue
        assert build(parse_text(text)) == path.read_bytes(), path.name
        done += 1
    assert set(refused) <= REFUSED, refused
    assert done >= 120


@pytest.mark.parametrize("name", SAMPLES)
def test_cli_round_trip_is_the_same_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = sample(name)
    text = tmp_path / "f.txt"
    text.write_text(dump_editable(source, capsys))
    out = tmp_path / "out.dcm"
    assert main(["undump", str(text), "-o", str(out)]) == 0
    assert out.read_bytes() == source.read_bytes()
    assert dcmdump(out) == dcmdump(source)


def test_text_reads_like_dcmdump(capsys: pytest.CaptureFixture[str]) -> None:
    text = dump_editable(sample("rtplan.dcm"), capsys)
    lines = text.splitlines()
    assert lines[0] == "# dcmtui editable dump, format 1"
    assert "%preamble zeros" in lines
    assert "%encoding 1.2.840.10008.1.2" in lines
    assert any(line.startswith("(0010,0010) PN [Last^First^mid^pre]") for line in lines)
    assert any(line.startswith("(0008,0018) UI [1.2.777.777.77.7") for line in lines)
    assert any(line.startswith("(300a,0010) SQ defined") for line in lines)
    assert "  (fffe,e000) item defined" in lines
    assert any(line.startswith("(0002,0000) UL auto") for line in lines)


def test_unchanged_text_applied_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    before = target.stat()
    text = tmp_path / "a.txt"
    text.write_text(dump_editable(target, capsys))
    assert main(["undump", str(text), "--apply-to", str(target)]) == 0
    assert "no changes" in capsys.readouterr().out
    after = target.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert target.read_bytes() == sample("CT_small.dcm").read_bytes()


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_apply_makes_ordinary_edits_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plan.dcm"
    shutil.copy(sample("rtplan.dcm"), target)
    text = dump_editable(target, capsys)
    lines = text.splitlines()
    name_line = next(line for line in lines if line.startswith("(0010,0010)"))
    text = _edit(text, name_line, "(0010,0010) PN [DOE^JANE]")
    inst_line = next(line for line in lines if line.startswith("(0008,0080)"))
    text = _edit(text, inst_line + "\n", "")  # erase InstitutionName
    text = _edit(
        text,
        "(0010,0040) CS [O]",
        "(0010,0040) CS [F]\n(0010,1030) DS [71.5]",  # modify, then insert
    )
    # Inside a sequence: the first DoseReferenceNumber of the first item.
    number = next(line for line in lines if line.startswith("    (300a,0012) IS"))
    text = _edit(text, number, "    (300a,0012) IS [9]")
    edited = tmp_path / "plan.txt"
    edited.write_text(text)
    assert main(["undump", str(edited), "--apply-to", str(target), "--backup"]) == 0
    out = capsys.readouterr().out
    assert "~ (0010,0010): 'Last^First^mid^pre' → 'DOE^JANE'" in out
    assert "- (0008,0080)" in out
    assert "+ (0010,1030) = '71.5'" in out
    assert "~ (300A,0010)[0].(300A,0012)" in out
    assert "5 change(s) saved" in out
    assert (tmp_path / "plan.dcm.bak").read_bytes() == sample("rtplan.dcm").read_bytes()
    old, new = dcmdump(sample("rtplan.dcm")), dcmdump(target)
    removed = [line for line in old if line not in new]
    added = [line for line in new if line not in old]
    assert any("PatientName" in line for line in removed)
    assert any("[DOE^JANE]" in line for line in added)
    assert any("InstitutionName" in line for line in removed)
    assert any("PatientWeight" in line and "71.5" in line for line in added)
    assert any("PatientSex" in line and "[F]" in line for line in added)
    assert any("DoseReferenceNumber" in line and "[9]" in line for line in added)
    # The text of the edited file is the edited text (comments aside).
    again = dump_editable(target, capsys)
    assert _values(again) == _values(text)


def _values(text: str) -> list[str]:
    return [
        line.split("#")[0].rstrip().replace(" auto", "")
        for line in text.splitlines()
        if line.startswith(("(", " "))
    ]


def test_items_added_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write_dicom(tmp_path / "seq.dcm")
    text = dump_editable(target, capsys)
    assert "(0008,1110)" not in text.upper()
    insert = (
        "(0008,1110) SQ defined\n"
        "  (fffe,e000) item defined\n"
        "    (0008,1150) UI [1.2.840.10008.3.1.2.3.1]\n"
        "    (0008,1155) UI [1.2.3.4]\n"
        "  (fffe,e00d) end item\n"
        "  (fffe,e000) item defined\n"
        "    (0008,1155) UI [1.2.3.5]\n"
        "  (fffe,e00d) end item\n"
        "(fffe,e0dd) end sequence\n"
    )
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("(0010,"))
    edited = "".join([*lines[:at], insert, *lines[at:]])
    path = tmp_path / "seq.txt"
    path.write_text(edited)
    assert main(["undump", str(path), "--apply-to", str(target)]) == 0
    out = capsys.readouterr().out
    assert "+ (0008,1110)" in out and "+ (0008,1110)[1] (new item)" in out
    shown = "\n".join(dcmdump(target))
    assert "ReferencedStudySequence" in shown and "[1.2.3.5]" in shown
    # Now remove the second item.
    text = dump_editable(target, capsys)
    start = text.index("  (fffe,e000) item defined\n    (0008,1155) UI [1.2.3.5]")
    end = text.index("(fffe,e00d) end item\n", start) + len("(fffe,e00d) end item\n")
    path.write_text(text[:start] + text[end:])
    assert main(["undump", str(path), "--apply-to", str(target)]) == 0
    assert "- (0008,1110)[1]" in capsys.readouterr().out
    shown = "\n".join(dcmdump(target))
    assert "[1.2.3.4]" in shown and "[1.2.3.5]" not in shown


def test_invalid_value_is_refused_and_file_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("rtplan.dcm"), target)
    text = dump_editable(target, capsys)
    path = tmp_path / "a.txt"
    path.write_text(
        _edit(text, "(0008,0020) DA [20030716]", "(0008,0020) DA [16.7.2003]")
    )
    assert main(["undump", str(path), "--apply-to", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dcmtui: error: line ") and "DA holds at most" in err
    assert target.read_bytes() == sample("rtplan.dcm").read_bytes()


def test_binary_edits_need_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    text = dump_editable(target, capsys)
    pixel = next(line for line in text.splitlines() if line.startswith("(7fe0,0010)"))
    changed = pixel.replace("hex:", "hex:0000", 1)
    changed = changed[
        : changed.index("hex:") + 4 + len(pixel.split("hex:")[1].split()[0])
    ]
    path = tmp_path / "a.txt"
    path.write_text(text.replace(pixel, changed))
    assert main(["undump", str(path), "--apply-to", str(target)]) == 1
    assert "binary" in capsys.readouterr().err
    assert target.read_bytes() == sample("CT_small.dcm").read_bytes()
    out = tmp_path / "new.dcm"
    assert main(["undump", str(path), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert len(data) == target.stat().st_size
    assert data != target.read_bytes()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("(0010,0010) PN [A\n", "line 1: a text value needs its closing ]"),
        ("(0008,1110) SQ defined\n", "line 1: this sequence has no end"),
        ("(0028,0010) US [12]\n", "line 1: US values are not [text]"),
        ("(0010,0010) PN A^B\n", "line 1: PN values stand between [ ]"),
        ("\n\n(0010,0010) XX [A]\n", "line 3: unknown VR 'XX'"),
        ("%preamble maybe\n", "line 1: %preamble is none, zeros"),
        ("(0028,0010) US 70000\n", "line 1: US is between 0 and 65535"),
        ("(0028,0010) US 1\\x\n", "line 1: 'x' is not an integer"),
        ("(fffe,e000) item defined\n", "line 1: an item outside a sequence"),
    ],
)
def test_text_errors_name_the_line(
    text: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("%preamble zeros\n" * 0 + text)
    out = tmp_path / "out.dcm"
    assert main(["undump", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dcmtui: error: {reason}"), err
    assert not out.exists()


def test_hostile_values_are_json_strings_and_printable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dicom(tmp_path / "evil.dcm", PatientName="EVIL\x1b[31m^X\nY")
    text = dump_editable(path, capsys)
    assert "\x1b" not in text
    assert all(line.isprintable() for line in text.splitlines())
    assert '(0010,0010) PN json:"EVIL\\u001b[31m^X\\nY"' in text
    out = tmp_path / "back.dcm"
    (tmp_path / "evil.txt").write_text(text)
    assert main(["undump", str(tmp_path / "evil.txt"), "-o", str(out)]) == 0
    assert out.read_bytes() == path.read_bytes()


def test_dump_editable_one_file_and_refuses_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sample("CT_small.dcm")
    assert main(["dump", "--editable", str(a), str(a)]) == 2
    assert "one file at a time" in capsys.readouterr().err
    assert main(["dump", "--editable", str(sample("MR_truncated.dcm"))]) == 1
    assert "damaged" in capsys.readouterr().err


def test_undump_reads_standard_input(tmp_path: Path) -> None:
    source = sample("CT_small.dcm")
    text = subprocess.run(
        ["python", "-m", "dcmtui", "dump", "--editable", str(source)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    out = tmp_path / "x.dcm"
    done = subprocess.run(
        ["python", "-m", "dcmtui", "undump", "-", "-o", str(out)],
        input=text,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == source.read_bytes()


def test_document_text_round_trip_for_the_editor(tmp_path: Path) -> None:
    """What the Dataset screen's $EDITOR key needs: text of a document, edits back."""
    path = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), path)
    doc = open_document(path)
    text = document_text(doc)
    assert apply_text(doc, parse_text(text)) == []
    assert not doc.dirty
    line = next(x for x in text.splitlines() if x.startswith("(0010,0020)"))
    changes = apply_text(doc, parse_text(text.replace(line, "(0010,0020) LO [NEW-ID]")))
    assert [c.kind for c in changes] == ["modify"] and doc.dirty
    assert doc.undo() and not doc.dirty


def test_a_tag_twice_is_refused_as_an_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    text = dump_editable(target, capsys)
    line = next(x for x in text.splitlines() if x.startswith("(0010,0020)"))
    path = tmp_path / "a.txt"
    path.write_text(text.replace(line, line + "\n" + line))
    assert main(["undump", str(path), "--apply-to", str(target)]) == 1
    assert "(0010,0020) is there twice" in capsys.readouterr().err
    assert target.read_bytes() == sample("CT_small.dcm").read_bytes()


def test_multi_line_text_is_editable_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dicom(tmp_path / "c.dcm", ImageComments="first line\r\nsecond # line")
    original = path.read_bytes()
    text = dump_editable(path, capsys)
    line = next(x for x in text.splitlines() if x.startswith("(0020,4000)"))
    assert line.startswith('(0020,4000) LT json:"first line\\r\\nsecond # line"')
    edited = text.replace(line, '(0020,4000) LT json:"first line\\r\\nthird line"')
    (tmp_path / "c.txt").write_text(edited)
    assert main(["undump", str(tmp_path / "c.txt"), "--apply-to", str(path)]) == 0
    assert "third line" in capsys.readouterr().out
    assert b"first line\r\nthird line" in path.read_bytes()
    (tmp_path / "c.txt").write_text(text)
    assert (
        main(["undump", str(tmp_path / "c.txt"), "-o", str(tmp_path / "back.dcm")]) == 0
    )
    assert (tmp_path / "back.dcm").read_bytes() == original
    bad = text.replace(line, '(0020,4000) LT json:"unterminated')
    (tmp_path / "c.txt").write_text(bad)
    assert main(["undump", str(tmp_path / "c.txt"), "-o", str(tmp_path / "x.dcm")]) == 1
    assert "json: is followed by a string" in capsys.readouterr().err


SED_NAME = "sed -i 's/^(0010,0010) PN \\[[^]]*\\]/(0010,0010) PN [EDITED^X]/'"


def test_edit_in_the_editor_shows_and_saves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["edit", str(target), "--editor", SED_NAME, "--backup"]) == 0
    out = capsys.readouterr().out
    assert "~ (0010,0010): 'CompressedSamples^CT1' → 'EDITED^X'" in out
    assert "Save 1 change(s)" in out and "1 change(s) saved" in out
    assert "[EDITED^X]" in "\n".join(dcmdump(target))
    assert (tmp_path / "a.dcm.bak").read_bytes() == sample("CT_small.dcm").read_bytes()
    old, new = dcmdump(sample("CT_small.dcm")), dcmdump(target)
    assert [line for line in new if line not in old] == [
        line for line in new if "PatientName" in line
    ]


def test_edit_answer_no_or_no_change_keeps_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    before = target.stat().st_mtime_ns
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["edit", str(target), "--editor", SED_NAME]) == 1
    assert "nothing saved" in capsys.readouterr().out
    assert main(["edit", str(target), "--editor", "true"]) == 0
    assert "no changes" in capsys.readouterr().out
    assert main(["edit", str(target), "--editor", "false"]) == 1
    assert "ended with status 1" in capsys.readouterr().err
    assert target.stat().st_mtime_ns == before
    assert target.read_bytes() == sample("CT_small.dcm").read_bytes()


def test_edit_refused_value_then_give_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    bad = "sed -i 's/^(0008,0020) DA \\[[0-9]*\\]/(0008,0020) DA [yesterday]/'"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # end of input: no
    assert main(["edit", str(target), "--editor", bad]) == 1
    captured = capsys.readouterr()
    assert "dcmtui: error: line " in captured.err and "DA" in captured.err
    assert "nothing saved" in captured.out
    assert target.read_bytes() == sample("CT_small.dcm").read_bytes()


def test_apply_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.dcm"
    shutil.copy(sample("CT_small.dcm"), path)
    doc = open_document(path)
    text = document_text(doc)
    lines = text.splitlines()
    name = next(x for x in lines if x.startswith("(0010,0010)"))
    date = next(x for x in lines if x.startswith("(0008,0020)"))
    edited = text.replace(name, "(0010,0010) PN [OK^NAME]").replace(
        date, "(0008,0020) DA [not a date]"
    )
    with pytest.raises(ValueRefused):
        apply_text(doc, parse_text(edited))
    assert not doc.dirty
    assert doc.data() == path.read_bytes()


def test_a_file_too_large_for_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dcmtui.services.dump_text.MAX_TEXT_FILE", 1000)
    with pytest.raises(DumpTextError, match="too large to edit as text"):
        to_text(sample("CT_small.dcm"))
