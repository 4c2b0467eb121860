"""`dcmtui index` re-opening an unchanged folder from its snapshot.

The quick path must print exactly what the full scan prints, and must step
aside whenever anything changed: a file's size or mtime, a file added or
removed, the settings, config.toml, the index itself, or the snapshot.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from dcmtui.cli import main
from dcmtui.models import IndexSummary, ScanProgress
from dcmtui.services import index_snapshot
from tests.cli.test_imports import imported
from tests.factories import write_dicom


class Spy:
    """Records what each re-open returned: Hit or None."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[index_snapshot.Hit | None] = []
        real = index_snapshot.reopen

        def spy(root: str, data_dir: str, config_dir: str) -> index_snapshot.Hit | None:
            result = real(root, data_dir, config_dir)
            self.results.append(result)
            return result

        monkeypatch.setattr(index_snapshot, "reopen", spy)

    def hit(self) -> bool:
        """Whether the last run came from the snapshot."""
        return self.results[-1] is not None


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two patients over two folders, and a text file."""
    root = tmp_path / "d"
    for n in range(4):
        write_dicom(
            root / f"s{n % 2}" / f"{n}.dcm",
            PatientID=f"P{n % 2}",
            StudyInstanceUID=f"1.2.3.{n % 2}",
            SeriesInstanceUID=f"1.2.3.{n % 2}.{n}",
        )
    (root / "readme.txt").write_text("hello")
    return root


def index(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[dict[str, object], str]:
    """``dcmtui index ARGS --json`` in this process: the counts and stderr."""
    assert main(["index", *args, "--json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def same(counts: dict[str, object]) -> dict[str, object]:
    """The counts without the time they took."""
    return {k: v for k, v in counts.items() if k != "seconds"}


def test_hit_prints_what_the_full_scan_prints(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = index(capsys, str(folder))
    assert not spy.hit() and first["read"] == 5
    again, _ = index(capsys, str(folder))
    assert spy.hit()
    assert same(again) == same(first) | {"read": 0}
    assert isinstance(again["seconds"], float) and again["seconds"] >= 0
    # the full scan, with the snapshot gone, says the same
    os.unlink(index_snapshot.snapshot_path(data_dir(), str(folder)))
    full, _ = index(capsys, str(folder))
    assert not spy.hit() and same(full) == same(again)


def test_hit_text_output_matches_full_scan(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(folder)]) == 0
    first = capsys.readouterr().out
    assert main(["index", str(folder)]) == 0
    full = capsys.readouterr().out  # snapshot written by the first run: a hit
    assert spy.hit()
    os.unlink(index_snapshot.snapshot_path(data_dir(), str(folder)))
    assert main(["index", str(folder)]) == 0
    assert not spy.hit()
    again = capsys.readouterr().out
    seconds = re.compile(r"in \d+\.\d\d s$")
    assert seconds.sub("", full.strip()) == seconds.sub("", again.strip())
    assert "read 5 in" in first and "read 0 in" in full
    assert full.startswith(f"{folder}: 5 files, 4 DICOM, 0 damaged, 1 not DICOM;")


def data_dir() -> str:
    return os.environ["DCMTUI_DATA_DIR"]


def changed(
    capsys: pytest.CaptureFixture[str], spy: Spy, folder: Path
) -> dict[str, object]:
    """Index ``folder`` after a change: the full scan runs, and then the next
    re-open is a hit again with the same counts."""
    counts, _ = index(capsys, str(folder))
    assert not spy.hit(), "a change was taken for a hit"
    again, _ = index(capsys, str(folder))
    assert spy.hit(), "the full scan wrote no snapshot"
    assert same(again) == same(counts) | {"read": 0}
    return counts


def test_file_grown_is_read_again(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    st = os.stat(folder / "readme.txt")
    with open(folder / "readme.txt", "a") as f:
        f.write("!")
    os.utime(folder / "readme.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    counts = changed(capsys, spy, folder)
    assert (counts["read"], counts["files"]) == (1, 5)


def test_mtime_changed_is_read_again(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    st = os.stat(folder / "s0" / "0.dcm")
    os.utime(folder / "s0" / "0.dcm", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    counts = changed(capsys, spy, folder)
    assert (counts["read"], counts["dicom"]) == (1, 4)


def test_file_added_and_removed(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    write_dicom(folder / "s1" / "new.dcm", PatientID="P9")
    counts = changed(capsys, spy, folder)
    assert (counts["read"], counts["dicom"], counts["patients"]) == (1, 5, 3)
    (folder / "s0" / "0.dcm").unlink()
    (folder / "s1" / "new.dcm").unlink()
    counts = changed(capsys, spy, folder)
    assert (counts["read"], counts["dicom"], counts["files"]) == (0, 3, 4)
    assert counts["patients"] == 2


def test_file_replaced_by_folder_of_same_name(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    (folder / "readme.txt").unlink()
    write_dicom(folder / "readme.txt" / "x.dcm")
    counts = changed(capsys, spy, folder)
    assert (counts["files"], counts["dicom"], counts["other"]) == (5, 5, 0)


def test_settings_change_falls_back(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str], isolated_dirs: Path
) -> None:
    write_dicom(folder / ".hidden" / "h.dcm")
    index(capsys, str(folder))
    config = isolated_dirs / "config" / "config.toml"
    config.write_text("show_hidden = true\n")
    counts = changed(capsys, spy, folder)
    assert (counts["dicom"], counts["read"]) == (5, 1)
    # bytes that give the same settings: still not trusted blindly
    config.write_text("# a comment\nshow_hidden = true\n")
    counts = changed(capsys, spy, folder)
    assert (counts["dicom"], counts["read"]) == (5, 0)
    config.unlink()
    counts = changed(capsys, spy, folder)
    assert counts["dicom"] == 4


def test_bad_config_is_reported_not_skipped(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str], isolated_dirs: Path
) -> None:
    index(capsys, str(folder))
    (isolated_dirs / "config" / "config.toml").write_text("colour = 'red'\n")
    assert main(["index", str(folder)]) == 1
    assert "unknown key 'colour'" in capsys.readouterr().err


def test_deleted_index_falls_back(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        Path(data_dir(), name).unlink(missing_ok=True)
    counts = changed(capsys, spy, folder)
    assert counts["read"] == 5


def test_cleared_index_falls_back(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    index(capsys, str(folder))
    con = sqlite3.connect(Path(data_dir(), "index.sqlite"))
    try:
        with con:
            con.execute("DELETE FROM files WHERE path LIKE '%/s1/%'")
    finally:
        con.close()
    counts = changed(capsys, spy, folder)
    assert (counts["read"], counts["dicom"]) == (2, 4)


def test_rows_dropped_by_a_scan_of_the_parent(
    tmp_path: Path,
    spy: Spy,
    capsys: pytest.CaptureFixture[str],
    isolated_dirs: Path,
) -> None:
    """Another root's scan with other settings drops rows below ours."""
    sub = tmp_path / "top" / "sub"
    write_dicom(sub / "a.dcm")
    write_dicom(sub / ".h.dcm")
    config = isolated_dirs / "config" / "config.toml"
    config.write_text("show_hidden = true\n")
    assert index(capsys, str(sub))[0]["files"] == 2
    config.write_text("show_hidden = false\n")
    assert index(capsys, str(sub.parent))[0]["files"] == 1  # drops .h.dcm's row
    config.write_text("show_hidden = true\n")
    counts, _ = index(capsys, str(sub))
    assert not spy.hit() and (counts["files"], counts["read"]) == (2, 1)


def test_receiver_upsert_invalidates(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    from dcmtui.services.fastread import read_record
    from dcmtui.services.files import Index

    index(capsys, str(folder))
    other = write_dicom(folder.parent / "elsewhere" / "x.dcm")
    st = other.stat()
    Index(Path(data_dir(), "index.sqlite")).upsert(
        [read_record(str(other), st.st_size, st.st_mtime_ns)]
    )
    index(capsys, str(folder))
    assert not spy.hit()


@pytest.mark.parametrize(
    "damage",
    [b"", b"garbage", b"\xe9\x01\x02", "marshal-other-tuple", "truncated"],
)
def test_corrupt_snapshot_falls_back(
    folder: Path,
    spy: Spy,
    capsys: pytest.CaptureFixture[str],
    damage: bytes | str,
) -> None:
    import marshal

    first, _ = index(capsys, str(folder))
    path = Path(index_snapshot.snapshot_path(data_dir(), str(folder)))
    data = path.read_bytes()
    if damage == "marshal-other-tuple":
        path.write_bytes(marshal.dumps((1, 2, 3)))
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        assert isinstance(damage, bytes)
        path.write_bytes(damage)
    counts = changed(capsys, spy, folder)
    assert same(counts) == same(first) | {"read": 0}


def test_snapshot_of_another_root_is_not_used(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hash collision (or a copied file) names another root: a miss."""
    index(capsys, str(folder / "s0"))
    index(capsys, str(folder))
    Path(index_snapshot.snapshot_path(data_dir(), str(folder / "s1"))).write_bytes(
        Path(index_snapshot.snapshot_path(data_dir(), str(folder))).read_bytes()
    )
    counts, _ = index(capsys, str(folder / "s1"))
    assert not spy.hit() and counts["files"] == 2


def test_walk_warnings_are_kept_on_a_hit(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    os.symlink(folder / "s0", folder / "s0" / "loop")
    os.symlink(folder / "nowhere.dcm", folder / "dangling.dcm")
    for n in range(6):
        os.symlink(folder / f"gone{n}", folder / "s1" / f"z{n}.dcm")
    assert main(["index", str(folder)]) == 0
    full = capsys.readouterr()
    assert main(["index", str(folder)]) == 0
    hit = capsys.readouterr()
    assert spy.hit()
    assert hit.err == full.err
    assert "broken symbolic link" in hit.err and "3 more (use --warnings)" in hit.err
    assert "; 8 warnings; read 0 in" in hit.out
    assert main(["index", str(folder), "--warnings"]) == 0
    assert spy.hit()
    every = capsys.readouterr().err.splitlines()
    assert len(every) == 8
    assert any("symbolic link loop (already indexed)" in line for line in every)


def test_new_warning_alone_falls_back(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same files, one more warning (a link that leads nowhere): the full
    scan reports it."""
    index(capsys, str(folder))
    os.symlink(folder / "nowhere", folder / "s0" / "dangling.dcm")
    assert main(["index", str(folder)]) == 0
    out = capsys.readouterr()
    assert not spy.hit()
    assert "; 1 warnings;" in out.out and "broken symbolic link" in out.err


def test_single_file_root(
    folder: Path, spy: Spy, capsys: pytest.CaptureFixture[str]
) -> None:
    one = folder / "s0" / "0.dcm"
    first, _ = index(capsys, str(one))
    again, _ = index(capsys, str(one))
    assert spy.hit() and same(again) == same(first) | {"read": 0}
    os.utime(one, ns=(1, 2))
    assert changed(capsys, spy, one)["read"] == 1


def test_relative_path_and_argument_order(
    folder: Path,
    spy: Spy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index(capsys, str(folder))
    monkeypatch.chdir(folder)
    assert main(["index", "--json", "."]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert spy.hit() and counts["root"] == str(folder)


def test_missing_path_still_one_line_error(tmp_path: Path, spy: Spy) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dcmtui", "index", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.strip().startswith("dcmtui: error: ")


def test_reopen_imports_no_sqlite_settings_or_logging(folder: Path) -> None:
    imported(["index", str(folder)])  # the full scan saves the snapshot
    mods = imported(["index", str(folder), "--json"])
    forbidden = {
        "sqlite3",
        "_sqlite3",
        "argparse",
        "logging",
        "dataclasses",
        "json",
        "dcmtui.config",
        "dcmtui.logs",
        "dcmtui.models",
        "dcmtui.services.files",
    }
    assert not mods & forbidden, sorted(mods & forbidden)
    assert "dcmtui.services.index_snapshot" in mods


def test_read_warning_writes_no_snapshot(
    folder: Path, isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that could not be read is tried again by every scan (here it
    still has its old row: it changed, then could not be read)."""
    index(capsys, str(folder))
    secret = folder / "s0" / "0.dcm"
    with open(secret, "ab") as f:
        f.write(b"\0\0")
    os.chmod(secret, 0)
    cmd = [sys.executable, "-m", "dcmtui", "index", str(folder), "--json"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    try:
        for _ in range(2):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert f"{secret}: permission denied" in out.stderr
            assert json.loads(out.stdout)["warnings"] == 1
            snap = index_snapshot.snapshot_path(
                str(isolated_dirs / "data"), str(folder)
            )
            assert not os.path.exists(snap)
    finally:
        os.chmod(secret, 0o644)


def test_row_written_by_another_writer_meanwhile_saves_no_snapshot(
    folder: Path,
    spy: Spy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receiver storing below the root while it is scanned leaves a row the
    walk did not see: the counts may change with the next scan, so no
    snapshot vouches for them."""
    from dcmtui.services.fastread import read_record
    from dcmtui.services.files import Index

    stored = write_dicom(folder.parent / "incoming.dcm")
    st = stored.stat()
    record = read_record(str(stored), st.st_size, st.st_mtime_ns)
    real = Index.summary_and_rows

    def meanwhile(
        self: Index, root: Path, progress: ScanProgress
    ) -> tuple[IndexSummary, int]:
        self.upsert([replace(record, path=f"{root}/x.dcm")])
        return real(self, root, progress)

    monkeypatch.setattr(Index, "summary_and_rows", meanwhile)
    index(capsys, str(folder))
    assert not os.path.exists(index_snapshot.snapshot_path(data_dir(), str(folder)))
    monkeypatch.setattr(Index, "summary_and_rows", real)
    counts, _ = index(capsys, str(folder))
    assert not spy.hit() and counts["files"] == 5  # the stray row is gone
