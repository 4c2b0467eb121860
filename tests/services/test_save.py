"""Lossless editing and atomic saves, with dcmdump and dciodvfy as the oracles."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.data import get_charset_files, get_testdata_files

from dcmtui.services.dataset import parse
from dcmtui.services.edit import Document, EditRefused, open_document
from dcmtui.services.save import (
    FileChangedOnDisk,
    SaveError,
    save_document,
    sweep_stale,
)
from dcmtui.services.values import ValueRefused
from tests.factories import write_dicom
from tests.peers import require


def _testdata(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert isinstance(path, str)
    return Path(path)


def _copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copy(_testdata(name), dest)
    return dest


def _dump(path: Path) -> list[str]:
    run = subprocess.run(
        [require("dcmdump"), "-q", "+L", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def _changed_lines(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    import difflib

    out = []
    for line in difflib.unified_diff(before, after, lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        out.append((line[0], line[1:].split(" #")[0].strip()))
    return out


def test_no_edit_save_is_byte_identical_or_refused(tmp_path: Path) -> None:
    """Every file of pydicom's test data and pydicom-data."""
    saved = refused = 0
    files = [Path(f) for f in get_testdata_files() if Path(f).is_file()]
    assert any("data_store" in str(f) for f in files), "pip install pydicom-data"
    for i, source in enumerate(files):
        target = tmp_path / f"{i}-{source.name}"
        shutil.copy(source, target)
        original = target.read_bytes()
        try:
            doc = open_document(target)
        except Exception:
            continue  # not DICOM at all (README, json, ...)
        try:
            save_document(doc)
            saved += 1
        except SaveError as exc:
            refused += 1
            assert "damaged" in str(exc)
        assert target.read_bytes() == original, source.name
        assert not list(tmp_path.glob(".*.tmp"))
    assert saved > 200 and refused < 10


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",  # explicit LE, private blocks
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "rtplan.dcm",  # nested sequences
        "JPEG2000.dcm",  # encapsulated fragments
        "explicit_VR-UN.dcm",
        "image_dfl.dcm" if False else "liver.dcm",
    ],
)
def test_one_edit_changes_one_line(name: str, tmp_path: Path) -> None:
    path = _copy(name, tmp_path)
    before = _dump(path)
    doc = open_document(path)
    target = next(
        e
        for e in doc.current.data
        if e.tag > 0x00080005 and e.vr in ("PN", "LO", "SH", "DA")
    )
    new = {"PN": "EDITED^NAME", "DA": "20200202"}.get(target.vr, "EDITED")
    doc.set_value(target, new)
    save_document(doc)
    changes = _changed_lines(before, _dump(path))
    removed = [c for c in changes if c[0] == "-"]
    added = [c for c in changes if c[0] == "+"]
    tag = f"({target.tag >> 16:04x},{target.tag & 0xFFFF:04x})"
    assert len(removed) == len(added) >= 1
    for _, line in removed + added:
        ok = line.startswith(tag) or ",0000)" in line[:12] or "Sequence" in line
        assert ok, (name, line)
    assert any(line.startswith(tag) and new in line for _, line in added)


def test_edit_inside_sequences_fixes_enclosing_lengths(tmp_path: Path) -> None:
    path = _copy("rtplan.dcm", tmp_path)
    doc = open_document(path)
    beams = next(e for e in doc.current.data if e.tag == 0x300A00B0)
    assert beams.items
    control = next(e for e in beams.items[0].elems if e.tag == 0x300A0111)
    assert control.items
    name = next(e for e in control.items[0].elems if e.vr == "CS")
    doc.set_value(name, "LONGER_VALUE")
    with pytest.raises(EditRefused, match="implicit VR"):
        doc.insert(doc_item(doc), 0x300A0116, "DS", "12.5")  # an SQ in the dictionary
    doc.insert(doc_item(doc), 0x300A0118, "CS", "IN")
    save_document(doc)
    after = _dump(path)  # dcmdump reads the new lengths
    assert any("LONGER_VALUE" in line for line in after)
    assert any("(300a,0118) CS [IN]" in line for line in after)


def doc_item(doc: Document):  # type: ignore[no-untyped-def]
    """The first control point item of the first beam, as the file is now."""
    beams = next(e for e in doc.current.data if e.tag == 0x300A00B0)
    assert beams.items
    control = next(e for e in beams.items[0].elems if e.tag == 0x300A0111)
    assert control.items
    return control.items[0]


def test_dciodvfy_reports_no_new_error(tmp_path: Path) -> None:
    dciodvfy = require("dciodvfy")
    path = _copy("CT_small.dcm", tmp_path)

    def errors() -> set[str]:
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True)
        return {x for x in (run.stdout + run.stderr).splitlines() if "Error" in x}

    before = errors()
    doc = open_document(path)
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    doc.set_value(pn, "NEW^NAME")
    sop = next(e for e in doc.current.data if e.tag == 0x00080018)
    doc.set_value(sop, "1.2.826.0.1.3680043.10.1453.99")
    save_document(doc)
    assert errors() <= before
    meta = {e.tag: e for e in parse(path).meta}
    raw = path.read_bytes()
    uid = meta[0x00020003]
    assert raw[uid.vstart : uid.end] == b"1.2.826.0.1.3680043.10.1453.99"


def test_deflated_and_damaged_are_read_only(tmp_path: Path) -> None:
    deflated = _copy("image_dfl.dcm", tmp_path)
    doc = open_document(deflated)
    assert "deflated" in doc.readonly_reason
    elem = next(e for e in doc.current.data if e.vr == "PN")
    with pytest.raises(EditRefused):
        doc.set_value(elem, "X")
    original = deflated.read_bytes()
    save_document(doc)  # no edit: the bytes are copied as they are
    assert deflated.read_bytes() == original
    truncated = _copy("rtplan_truncated.dcm", tmp_path)
    doc = open_document(truncated)
    assert doc.readonly_reason.startswith("damaged")
    with pytest.raises(SaveError, match="damaged"):
        save_document(doc)


def test_charset_refusal_and_iso2022(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "latin.dcm", PatientName="MÜLLER^HANS")
    doc = open_document(path)
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    with pytest.raises(ValueRefused, match="character set"):
        doc.set_value(pn, "王^小明")
    doc.set_value(pn, "MÜLLER^JÖRG")
    save_document(doc)
    assert "MÜLLER^JÖRG".encode("latin-1") in path.read_bytes()
    # ISO 2022 (Japanese): other elements keep their escape sequences.
    source = next(Path(f) for f in get_charset_files() if f.endswith("chrH31.dcm"))
    jp = tmp_path / "jp.dcm"
    shutil.copy(source, jp)
    raw_pn = next(e for e in parse(jp).data if e.tag == 0x00100010)
    pn_bytes = jp.read_bytes()[raw_pn.vstart : raw_pn.end]
    assert b"\x1b$B" in pn_bytes
    doc = open_document(jp)
    target = next(e for e in doc.current.data if e.tag == 0x00100020)
    doc.set_value(target, "NEWID")
    save_document(doc)
    new_pn = next(e for e in parse(jp).data if e.tag == 0x00100010)
    assert jp.read_bytes()[new_pn.vstart : new_pn.end] == pn_bytes


def test_file_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm")
    doc = open_document(path)
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    doc.set_value(pn, "NEW^NAME")
    time.sleep(0.01)
    other = write_dicom(tmp_path / "b.dcm", PatientName="OTHER")
    os.replace(other, path)
    theirs = path.read_bytes()
    with pytest.raises(FileChangedOnDisk):
        save_document(doc)
    assert path.read_bytes() == theirs
    save_document(doc, force=True)
    assert b"NEW^NAME" in path.read_bytes()


def test_backup_and_save_as_keep_mode(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm")
    path.chmod(0o640)
    original = path.read_bytes()
    doc = open_document(path)
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    doc.set_value(pn, "NEW^NAME")
    other = save_document(doc, tmp_path / "copy.dcm")
    assert path.read_bytes() == original
    assert (other.stat().st_mode & 0o777) == 0o640
    save_document(doc, backup=True)
    assert (tmp_path / "a.dcm.bak").read_bytes() == original
    assert (path.stat().st_mode & 0o777) == 0o640


_SAVE_SCRIPT = """
import os, sys, time, resource, signal
from pathlib import Path
from dcmtui.services.edit import open_document
from dcmtui.services.save import save_document
path = Path(sys.argv[1])
doc = open_document(path)
pn = next(e for e in doc.current.data if e.tag == 0x00100010)
doc.set_value(pn, "NEW^NAME")
mode = sys.argv[2]
if mode == "full":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
elif mode == "kill":
    real = os.replace
    def slow(a, b):
        print("ready", flush=True)
        time.sleep(60)
    os.replace = slow
elif mode == "nobody":
    os.setgid(65534); os.setuid(65534)
try:
    save_document(doc)
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize("mode", ["full", "nobody"])
def test_failed_save_leaves_original_and_no_temp(mode: str, tmp_path: Path) -> None:
    import tempfile

    # Outside pytest's private (0700) folder, so that "nobody" can read it.
    folder = Path(tempfile.mkdtemp(prefix="dcmtui-ro-"))
    folder.chmod(0o755)
    try:
        _failed_save(mode, folder)
    finally:
        shutil.rmtree(folder)


def _failed_save(mode: str, folder: Path) -> None:
    path = write_dicom(folder / "a.dcm")
    path.chmod(0o644)
    original = path.read_bytes()
    if mode == "nobody" and os.geteuid() != 0:
        folder.chmod(0o555)
    run = subprocess.run(
        [sys.executable, "-c", _SAVE_SCRIPT, str(path), mode],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "SaveError" in run.stdout, run.stdout + run.stderr
    assert path.read_bytes() == original
    assert sorted(p.name for p in folder.iterdir()) == ["a.dcm"]


def test_killed_mid_save_leaves_original_and_next_save_sweeps(tmp_path: Path) -> None:
    tmp_path = tmp_path / "work"
    path = write_dicom(tmp_path / "a.dcm")
    original = path.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SAVE_SCRIPT, str(path), "kill"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert path.read_bytes() == original
    assert len(list(tmp_path.glob(".a.dcm.dcmtui-*.tmp"))) == 1
    removed = sweep_stale(path)
    assert len(removed) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dcm"]


def test_insert_delete_items_undo_redo(tmp_path: Path) -> None:
    path = _copy("CT_small.dcm", tmp_path)
    before = _dump(path)
    doc = open_document(path)
    seq = next(e for e in doc.current.data if e.tag == 0x00101002)
    doc.add_item(seq)
    seq = next(e for e in doc.current.data if e.tag == 0x00101002)
    assert seq.items is not None and len(seq.items) == 3
    doc.insert(seq.items[2], 0x00100020, "LO", "THIRD")
    seq = next(e for e in doc.current.data if e.tag == 0x00101002)
    assert seq.items is not None
    doc.delete(seq.items[0])
    with pytest.raises(EditRefused, match="private creator"):
        doc.insert(None, 0x00331001, "LO", "X")
    with pytest.raises(EditRefused, match="already there"):
        doc.insert(None, 0x00100010, "PN", "X")
    assert len(doc.changes) == 3
    assert doc.undo() and doc.undo() and doc.undo() and not doc.undo()
    assert doc.data() == path.read_bytes()
    assert doc.redo() and len(doc.changes) == 1
    save_document(doc)
    after = _dump(path)
    assert len(after) == len(before) + 2  # an empty item and its delimiter


def _large(path: Path, megabytes: int) -> Path:
    """A file with ``megabytes`` of native pixel data (memory-mapped when read)."""
    import struct

    rows = 512
    frames = megabytes * 2
    write_dicom(
        path,
        pixels=False,
        Rows=rows,
        Columns=rows,
        NumberOfFrames=frames,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=16,
        BitsStored=16,
        HighBit=15,
        PixelRepresentation=0,
    )
    size = rows * rows * 2 * frames
    with path.open("ab") as f:
        f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, size))
        f.write(bytes(range(256)) * (size // 256))
    return path


def test_large_mapped_file_edit_and_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dcmtui.services.edit as edit

    path = _large(tmp_path / "big.dcm", 40)
    before = _dump(path)
    doc = open_document(path)
    assert doc.original.mapped and not doc.readonly_reason
    pn = next(e for e in doc.current.data if e.tag == 0x00100010)
    doc.set_value(pn, "LARGE^EDIT")
    save_document(doc, backup=False)
    changes = _changed_lines(before, _dump(path))
    assert [line for _, line in changes if line.startswith("(0010,0010)")] == [
        "(0010,0010) PN [DOE^JOHN]",
        "(0010,0010) PN [LARGE^EDIT]",
    ]
    assert len(changes) == 2
    monkeypatch.setattr(edit, "MAX_EDIT_BYTES", 32 * 1024 * 1024)
    doc = open_document(path)
    assert "read-only" in doc.readonly_reason
    with pytest.raises(EditRefused):
        doc.set_value(next(e for e in doc.current.data if e.tag == 0x00100010), "X")


def test_the_edit_limit_follows_free_memory() -> None:
    """Files above 256 MB are editable when memory allows (the copy an edit
    makes takes at most an eighth of the memory free at start)."""
    import dcmtui.services.edit as edit

    free = edit._free_memory()
    assert free > 0  # Linux says
    assert edit.MAX_EDIT_BYTES >= 256 << 20
    assert edit.MAX_UNDO_BYTES >= 2 * edit.MAX_EDIT_BYTES
    if free >= 4 << 30:  # (measured again: free memory moves a little)
        assert edit.MAX_EDIT_BYTES > 400 << 20  # a 400 MB multi-frame file
