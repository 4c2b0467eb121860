"""dcmtui modify against real dcmodify: same results, nothing else changed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dcmtui.cli import main
from tests.factories import write_dicom
from tests.peers import require


def _testdata(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert isinstance(path, str)
    return Path(path)


def _dump(path: Path) -> list[str]:
    run = subprocess.run(
        [require("dcmdump"), "-q", "+L", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    assert run.returncode == 0, run.stderr
    # dcmodify rewrites the meta group (implementation UID) and drops
    # trailing padding; everything else must be equal.
    return [
        x
        for x in run.stdout.splitlines()
        if not x.startswith(("(0002,", "(fffc,fffc)"))
    ]


OPS = [
    ["-m", "PatientName=NEW^NAME"],
    ["-m", "(0010,0020)=ID 2", "-i", "(0010,0021)=ISSUER"],
    ["-i", "(0010,1002)[1].(0010,0021)=ISS", "-e", "(0010,1002)[0]"],
    ["-i", "(0008,1111)[0].(0008,1150)=1.2.3"],
    ["-e", "(0010,1002)[*].(0010,0022)"],
    ["-ma", "(0010,0020)=ALL"],
    ["-ea", "(0010,0022)"],
    ["-e", "PatientBirthDate", "-m", "StudyDate=20010101"],
    ["-i", "(0018,6011)[2].(0018,6012)=1"],  # items 0-2 created, as dcmodify does
    ["-ma", "PatientID=X", "-ea", "(0010,0022)", "-e", "(0010,1002)[1]"],
    ["-i", "(0010,1002)[2]"],  # a path ending with an item: a new empty item
    ["-i", "(0008,1111)[1]"],  # the sequence and items 0-1 created
    ["-i", "(0010,1002)[0].(0008,1111)[0]"],
]


@pytest.mark.parametrize("ops", OPS, ids=[" ".join(o) for o in OPS])
def test_same_as_dcmodify(ops: list[str], tmp_path: Path) -> None:
    dcmodify = require("dcmodify")
    ours, theirs = tmp_path / "ours.dcm", tmp_path / "theirs.dcm"
    shutil.copy(_testdata("CT_small.dcm"), ours)
    shutil.copy(_testdata("CT_small.dcm"), theirs)
    run = subprocess.run([dcmodify, *ops, str(theirs)], capture_output=True)
    assert run.returncode == 0, run.stderr
    assert main(["modify", *ops, str(ours)]) == 0
    assert _dump(ours) == _dump(theirs)
    assert (tmp_path / "ours.dcm.bak").read_bytes() == _testdata(
        "CT_small.dcm"
    ).read_bytes()


def test_implicit_file_same_as_dcmodify(tmp_path: Path) -> None:
    dcmodify = require("dcmodify")
    ours, theirs = tmp_path / "ours.dcm", tmp_path / "theirs.dcm"
    for p in (ours, theirs):
        shutil.copy(_testdata("MR_small_implicit.dcm"), p)
    ops = ["-m", "PatientName=X^Y", "-i", "(0008,0050)=ACC"]
    assert subprocess.run([dcmodify, "-nb", *ops, str(theirs)]).returncode == 0
    assert main(["modify", "-nb", *ops, str(ours)]) == 0
    assert _dump(ours) == _dump(theirs)
    assert not (tmp_path / "ours.dcm.bak").exists()


def test_gen_uids_update_meta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dcmtui.services.dataset import parse
    from dcmtui.services.dataset_view import decode

    path = write_dicom(tmp_path / "a.dcm")
    assert main(["modify", "-nb", "-gin", "-gse", "-gst", str(path)]) == 0
    parsed = parse(path)
    data = {e.tag: decode(parsed, e)[0][0] for e in parsed.data}
    meta = {e.tag: decode(parsed, e)[0][0] for e in parsed.meta}
    assert data[0x00080018] == meta[0x00020003]
    old = parse(path)  # unchanged reading
    assert old.transfer_syntax == "1.2.840.10008.1.2.1"


def test_failures_exit_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dicom(tmp_path / "a.dcm")
    original = path.read_bytes()
    for ops, why in (
        (["-m", "AccessionNumberX=1"], "unknown keyword"),
        (["-m", "(0040,0275)[0].(0040,0009)=X"], "tag not found"),
        (["-m", "StudyDate=2024"], "YYYYMMDD"),
        (["-m", "PatientName=王"], "character set"),
        (["-i", "(0009,1001)=X"], "private creator"),
        (["-m", "PatientName"], "PATH=VALUE"),
        (["-ea", "(0099,0099)"], "tag not found"),
    ):
        assert main(["modify", *ops, str(path)]) == 1
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1, err
        assert path.read_bytes() == original
        assert not (tmp_path / "a.dcm.bak").exists()


def test_ignore_missing_tags(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm")
    ops = ["-nb", "-e", "(0010,1000)", "-m", "PatientName=X^Y"]
    assert main(["modify", *ops, str(path)]) == 1
    assert main(["modify", "-imt", *ops, str(path)]) == 0
    assert b"X^Y" in path.read_bytes()
