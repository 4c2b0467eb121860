"""A quick path's answer ends the process at once (cli.run), with all of its
output and its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dcmtui.cli import main
from tests.factories import write_dicom
from tests.netpeers import free_port


def dcmtui(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dcmtui", *argv], capture_output=True, timeout=60
    )


def test_quick_dump_writes_everything_through_a_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A long dump ends with os._exit: flushed first, nothing cut off."""
    path = write_dicom(tmp_path / "a.dcm", ImageComments="x" * 10000)
    assert main(["dump", str(path)]) == 0
    expected = capsys.readouterr().out
    proc = dcmtui("dump", str(path))
    assert proc.returncode == 0
    assert proc.stdout.decode() == expected
    assert len(expected) > 10000


def test_quick_failure_keeps_its_exit_code() -> None:
    proc = dcmtui("echo", f"X@127.0.0.1:{free_port()}", "-to", "2")
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("dcmtui: error:")


def test_index_reopen_as_a_process(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    for n in range(3):
        write_dicom(folder / f"{n}.dcm")
    first = dcmtui("index", str(folder))
    again = dcmtui("index", str(folder))  # the quick re-open
    assert first.returncode == again.returncode == 0
    assert b"3 DICOM" in again.stdout and b"read 0 in" in again.stdout


def test_send_ends_at_once_with_its_summary(tmp_path: Path) -> None:
    """``send`` leaves nothing running or open: its process ends with
    os._exit too, summary printed, journal removed, log flushed."""
    from tests.netpeers import start_storescp

    peer = start_storescp(tmp_path / "in")
    files = [write_dicom(tmp_path / "src" / f"{n}.dcm") for n in range(3)]
    try:
        proc = dcmtui("send", f"STORESCP@127.0.0.1:{peer.port}", *map(str, files))
    finally:
        peer.stop()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-1].startswith("3 sent")
    assert len(list((tmp_path / "in").iterdir())) == 3
