"""The indexer service: walking, reading, SQLite, re-scans, warnings."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dcmtui.models import FileKind, FileRecord, ScanProgress
from dcmtui.services.fastread import read_record
from dcmtui.services.files import Index, resolve_root
from tests.factories import write_dicom

HOSTILE = "EVIL\x1b[31m^[bold]x[/bold]\nline\x00nul"


def scan(index: Index, root: Path, **kwargs: object) -> ScanProgress:
    last = None
    for progress in index.scan(root, **kwargs):  # type: ignore[arg-type]
        last = progress
    assert last is not None and last.done
    return last


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two patients, three series, nested folders, one damaged, one text file."""
    root = tmp_path / "data"
    study = "1.2.3.4.100"
    for n in range(3):
        write_dicom(
            root / "p1" / "s1" / f"a{n}.dcm",
            PatientName="SMITH^ANN",
            PatientID="P1",
            StudyInstanceUID=study,
            SeriesInstanceUID="1.2.3.4.101",
            InstanceNumber=n + 1,
        )
    write_dicom(
        root / "p1" / "s2" / "b.dcm",
        implicit=True,
        PatientName="SMITH^ANN",
        PatientID="P1",
        StudyInstanceUID=study,
        SeriesInstanceUID="1.2.3.4.102",
        Modality="MR",
        SeriesNumber=2,
    )
    write_dicom(
        root / "p2" / "deep" / "er" / "c.dcm",
        PatientName="JONES^BOB",
        PatientID="P2",
        Modality="US",
        StudyInstanceUID="1.2.3.4.200",
    )
    whole = write_dicom(
        root / "p2" / "broken.dcm",
        PatientName="JONES^BOB",
        PatientID="P2",
        StudyInstanceUID="1.2.3.4.200",
    )
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) - 40])  # pixel data cut short
    (root / "notes.txt").write_text("not DICOM\n")
    (root / "empty.dcm").write_bytes(b"")
    return root


def test_first_scan_counts_and_records(tree: Path, tmp_path: Path) -> None:
    index = Index(tmp_path / "index.sqlite")
    progress = scan(index, tree)
    assert (progress.seen, progress.dicom, progress.damaged, progress.other) == (
        8,
        5,
        1,
        2,
    )
    assert progress.read == 8 and not progress.warnings
    records = {Path(r.path).name: r for r in index.records(str(tree))}
    assert set(records) == {
        "a0.dcm",
        "a1.dcm",
        "a2.dcm",
        "b.dcm",
        "c.dcm",
        "broken.dcm",
    }
    b = records["b.dcm"]
    assert (b.patient_name, b.patient_id, b.modality, b.series_number) == (
        "SMITH^ANN",
        "P1",
        "MR",
        2,
    )
    assert b.transfer_syntax_uid == "1.2.840.10008.1.2"
    assert records["a2.dcm"].instance_number == 3
    assert records["broken.dcm"].kind is FileKind.DAMAGED
    assert "truncated" in records["broken.dcm"].reason
    counts = index.counts(str(tree))
    assert (counts["patients"], counts["studies"], counts["series"]) == (2, 2, 4)


def test_rescan_reads_only_changed_files(tree: Path, tmp_path: Path) -> None:
    index = Index(tmp_path / "index.sqlite")
    scan(index, tree)
    again = scan(index, tree)
    assert again.read == 0 and again.seen == 8 and again.dicom == 5
    changed = tree / "p1" / "s1" / "a0.dcm"
    write_dicom(changed, PatientName="NEW^NAME", PatientID="P9")
    os.utime(changed, ns=(1, 1_000_000_000))
    (tree / "p2" / "deep" / "er" / "c.dcm").unlink()
    third = scan(index, tree)
    assert third.read == 1 and third.removed == 1
    names = {r.patient_name for r in index.records(str(tree))}
    assert "NEW^NAME" in names
    assert not any(r.path.endswith("c.dcm") for r in index.records(str(tree)))


def test_unchanged_files_are_not_opened(tree: Path, tmp_path: Path) -> None:
    index = Index(tmp_path / "index.sqlite")
    scan(index, tree)

    def must_not_read(path: str, size: int, mtime_ns: int) -> FileRecord:
        raise AssertionError(f"{path} was read again")

    assert scan(index, tree, reader=must_not_read).read == 0


def test_symlink_loop_is_a_warning(tree: Path, tmp_path: Path) -> None:
    os.symlink(tree / "p1", tree / "p1" / "s1" / "loop")
    progress = scan(Index(tmp_path / "i.sqlite"), tree)
    assert progress.dicom == 5
    assert [w.reason for w in progress.warnings] == [
        "symbolic link loop (already indexed)"
    ]


def test_broken_symlink_is_a_warning(tree: Path, tmp_path: Path) -> None:
    os.symlink(tree / "nowhere.dcm", tree / "dangling.dcm")
    progress = scan(Index(tmp_path / "i.sqlite"), tree)
    assert [(Path(w.path).name, w.reason) for w in progress.warnings] == [
        ("dangling.dcm", "broken symbolic link")
    ]


def test_file_that_vanishes_is_a_warning(tree: Path, tmp_path: Path) -> None:
    victim = str(tree / "p1" / "s1" / "a1.dcm")

    def vanishing(path: str, size: int, mtime_ns: int) -> FileRecord:
        if path == victim:
            os.unlink(path)
        return read_record(path, size, mtime_ns)

    progress = scan(Index(tmp_path / "i.sqlite"), tree, reader=vanishing)
    assert [(w.path, w.reason) for w in progress.warnings] == [
        (victim, "vanished during the scan")
    ]
    assert progress.dicom == 4


def test_reader_bug_marks_file_damaged_not_fatal(tree: Path, tmp_path: Path) -> None:
    def buggy(path: str, size: int, mtime_ns: int) -> FileRecord:
        if path.endswith("b.dcm"):
            raise ValueError("boom")
        return read_record(path, size, mtime_ns)

    progress = scan(Index(tmp_path / "i.sqlite"), tree, reader=buggy)
    assert progress.damaged == 2 and progress.seen == 8


def test_cancel_keeps_rows_and_stops(tree: Path, tmp_path: Path) -> None:
    index = Index(tmp_path / "i.sqlite")
    scan(index, tree)
    stop = threading.Event()
    calls = 0

    def slow(path: str, size: int, mtime_ns: int) -> FileRecord:
        nonlocal calls
        calls += 1
        stop.set()
        return read_record(path, size, mtime_ns)

    for f in tree.rglob("*.dcm"):
        os.utime(f, ns=(5, 5_000_000_000))  # everything looks changed
    last = list(index.scan(tree, stop=stop, reader=slow))[-1]
    assert last.cancelled and last.done and calls == 1
    assert last.removed == 0
    assert len(index.records(str(tree))) == 6  # nothing dropped by a cancelled scan


def test_single_file_root(tree: Path, tmp_path: Path) -> None:
    index = Index(tmp_path / "i.sqlite")
    one = tree / "p1" / "s2" / "b.dcm"
    progress = scan(index, one)
    assert (progress.seen, progress.dicom) == (1, 1)
    assert [r.path for r in index.records(str(one))] == [str(one)]


def test_hostile_values_are_kept_literally(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "d" / "x.dcm", PatientName=HOSTILE, SeriesDescription="[red]hi[/red]"
    )
    index = Index(tmp_path / "i.sqlite")
    scan(index, tmp_path / "d")
    (record,) = index.records(str(tmp_path / "d"))
    assert record.path == str(path)
    assert record.patient_name == HOSTILE
    assert record.series_description == "[red]hi[/red]"


def test_hidden_files_skipped_unless_asked(tree: Path, tmp_path: Path) -> None:
    write_dicom(tree / ".hidden" / "h.dcm")
    assert scan(Index(tmp_path / "a.sqlite"), tree).dicom == 5
    assert scan(Index(tmp_path / "b.sqlite"), tree, show_hidden=True).dicom == 6


def test_prefix_sibling_folders_do_not_mix(tmp_path: Path) -> None:
    """Rows of /x/data2 are not rows of /x/data."""
    write_dicom(tmp_path / "data" / "a.dcm")
    write_dicom(tmp_path / "data2" / "b.dcm")
    index = Index(tmp_path / "i.sqlite")
    scan(index, tmp_path / "data2")
    scan(index, tmp_path / "data")
    assert [Path(r.path).name for r in index.records(str(tmp_path / "data"))] == [
        "a.dcm"
    ]
    assert index.counts(str(tmp_path / "data"))["files"] == 1


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    from dcmtui.services.errors import ScanError

    with pytest.raises(ScanError, match="no such file or folder"):
        resolve_root(tmp_path / "nope")
    with pytest.raises(ScanError):
        list(Index(tmp_path / "i.sqlite").scan(tmp_path / "nope"))


async def test_async_indexer_streams_progress(tree: Path, tmp_path: Path) -> None:
    from dcmtui.services.files import Indexer

    indexer = Indexer(tmp_path / "i.sqlite")
    snapshots = [p async for p in indexer.scan(tree)]
    assert snapshots[-1].done
    assert sum(len(p.batch) for p in snapshots) == 8
    summary = await indexer.summary(tree, snapshots[-1])
    assert (summary.files, summary.dicom, summary.patients, summary.series) == (
        8,
        5,
        2,
        4,
    )
    known = await indexer.known(tree)
    assert len(known) == 6
