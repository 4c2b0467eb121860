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


@pytest.mark.parametrize("editable", [False, True], ids=["dump", "editable"])
def test_a_reader_that_goes_away_gets_no_traceback(
    tmp_path: Path, editable: bool
) -> None:
    """``dcmtui dump FILE | head``: the pipe closes while the dump is written
    (more than the pipe holds): no traceback."""
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    path = write_dicom(tmp_path / "long.dcm")
    ds = pydicom.dcmread(path)
    items = []
    for n in range(3000):
        item = Dataset()
        item.PatientID = f"P{n}"
        item.IssuerOfPatientID = "x" * 40
        items.append(item)
    ds.OtherPatientIDsSequence = Sequence(items)
    ds.save_as(path)
    argv = ["dump", *(["--editable"] if editable else []), str(path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmtui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read().decode()
    # 141 (SIGPIPE's) when a write met the closed pipe; 0 when the pipe closed
    # during the last write, which then reports what it wrote as done.
    assert proc.wait(timeout=60) in (0, 141)
    assert err == ""


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
