"""`dcmtui index`, `--version`, `--help`, and errors, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import write_dicom


def dcmtui(*args: str, drop_root: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dcmtui ARGS`` as a user would (no special privileges)."""
    cmd = [sys.executable, "-m", "dcmtui", *args]
    if drop_root and os.geteuid() == 0:
        # root ignores file modes; drop the capabilities that let it
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_index_json_counts(tmp_path: Path) -> None:
    for n in range(4):
        write_dicom(
            tmp_path / "d" / f"s{n % 2}" / f"{n}.dcm",
            PatientID=f"P{n % 2}",
            StudyInstanceUID=f"1.2.3.{n % 2}",
        )
    (tmp_path / "d" / "readme.txt").write_text("hello")
    first = dcmtui("index", str(tmp_path / "d"), "--json")
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert {k: counts[k] for k in ("files", "dicom", "damaged", "other", "read")} == {
        "files": 5,
        "dicom": 4,
        "damaged": 0,
        "other": 1,
        "read": 5,
    }
    assert (counts["patients"], counts["studies"], counts["series"]) == (2, 2, 4)
    assert counts["seconds"] >= 0
    again = json.loads(dcmtui("index", str(tmp_path / "d"), "--json").stdout)
    assert again["read"] == 0 and again["dicom"] == 4


def test_index_text_output(tmp_path: Path) -> None:
    write_dicom(tmp_path / "d" / "a.dcm")
    out = dcmtui("index", str(tmp_path / "d"))
    assert out.returncode == 0
    assert "1 files, 1 DICOM, 0 damaged, 0 not DICOM; 1 patients" in out.stdout


def test_unreadable_folder_and_file_are_counted_warnings(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write_dicom(root / "ok" / "a.dcm")
    write_dicom(root / "locked" / "b.dcm")
    secret = write_dicom(root / "ok" / "secret.dcm")
    os.chmod(secret, 0)
    os.chmod(root / "locked", 0)
    try:
        out = dcmtui("index", str(root), "--json", "--warnings", drop_root=True)
    finally:
        os.chmod(root / "locked", 0o755)
        os.chmod(secret, 0o644)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts["dicom"] == 1 and counts["warnings"] == 2
    assert f"{root / 'locked'}: permission denied" in out.stderr
    assert f"{secret}: permission denied" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_path_is_one_line_error(tmp_path: Path) -> None:
    out = dcmtui("index", str(tmp_path / "missing"))
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        == f"dcmtui: error: {tmp_path / 'missing'}: no such file or folder"
    )


def test_bad_config_is_one_line_error(isolated_dirs: Path, tmp_path: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text("colour = 'red'\n")
    out = dcmtui("index", str(tmp_path))
    assert out.returncode == 1
    assert "unknown key 'colour'" in out.stderr
    assert str(isolated_dirs / "config" / "config.toml") in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_version_and_help() -> None:
    from dcmtui import __version__

    version = dcmtui("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"dcmtui {__version__}"
    helptext = dcmtui("--help").stdout
    assert "--demo" in helptext and "index" in helptext
    index_help = dcmtui("index", "--help")
    assert index_help.returncode == 0 and "examples:" in index_help.stdout


def test_logs_go_to_the_log_folder(isolated_dirs: Path, tmp_path: Path) -> None:
    """The index goes to the data folder; the log folder is made, its file
    only at the first record (a short command that logs nothing writes none:
    tests/test_logs.py)."""
    write_dicom(tmp_path / "d" / "a.dcm")
    out = dcmtui("index", str(tmp_path / "d"))
    assert out.returncode == 0
    assert (isolated_dirs / "log").is_dir()
    assert (isolated_dirs / "data" / "index.sqlite").exists()


@pytest.mark.parametrize("env", ["DCMTUI_DATA_DIR"])
def test_data_dir_override(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, str(tmp_path / "elsewhere"))
    write_dicom(tmp_path / "d" / "a.dcm")
    assert dcmtui("index", str(tmp_path / "d")).returncode == 0
    assert (tmp_path / "elsewhere" / "index.sqlite").exists()
