"""``dcmtui echo``: exit codes and messages against a real storescp."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmtui.cli import main
from tests.netpeers import free_port, start_storescp


def test_echo_by_name_and_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = start_storescp(tmp_path / "in")
    try:
        assert main(["nodes", "add", "local", f"STORESCP@127.0.0.1:{peer.port}"]) == 0
        assert main(["echo", "local", "--dcmtk"]) == 0
        captured = capsys.readouterr()
        assert "C-ECHO OK in" in captured.out
        assert (
            f"# echoscu -aet DCMTUI -aec STORESCP 127.0.0.1 {peer.port}" in captured.err
        )
        assert main(["echo", f"STORESCP@127.0.0.1:{peer.port}"]) == 0
    finally:
        peer.stop()


def test_echo_failure_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["echo", f"X@127.0.0.1:{free_port()}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dcmtui: error: ") and err.count("\n") == 1
    assert "connection refused" in err
    assert main(["echo", "unknown-node"]) == 1
    assert "no node named 'unknown-node'" in capsys.readouterr().err


def test_send_check_and_send(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.factories import write_dicom

    for i in range(3):
        write_dicom(tmp_path / "src" / "sub" / f"{i}.dcm")
    (tmp_path / "src" / "notes.txt").write_text("not dicom")
    peer = start_storescp(tmp_path / "in")
    address = f"STORESCP@127.0.0.1:{peer.port}"
    try:
        assert main(["send", address, str(tmp_path / "src"), "-r", "--check"]) == 0
        out = capsys.readouterr().out
        assert "3 of 3 files would be accepted (1 skipped: not DICOM)" in out
        assert "accepted as Explicit VR Little Endian" in out
        assert not any((tmp_path / "in").iterdir())
        assert main(["send", address, str(tmp_path / "src"), "-r", "-q"]) == 0
        out = capsys.readouterr().out
        assert "3 sent (0 converted, 0 with warnings), 1 skipped" in out
        assert len(list((tmp_path / "in").iterdir())) == 3
        assert main(["send", address, str(tmp_path / "src" / "notes.txt")]) == 1
        assert "not a DICOM file" in capsys.readouterr().out
    finally:
        peer.stop()


def test_find_move_get(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.factories import write_dicom
    from tests.netpeers import load_dcmqrscp, start_dcmqrscp

    dest = start_storescp(tmp_path / "dest", aet="DEST")
    qr = start_dcmqrscp(tmp_path / "qr", hosts={"DEST": ("127.0.0.1", dest.port)})
    try:
        files = [
            write_dicom(
                tmp_path / "src" / f"{i}.dcm",
                uid_seed="one",
                InstanceNumber=i,
                SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.9.{i}",
            )
            for i in range(2)
        ]
        load_dcmqrscp(qr, files)
        node = f"QRSCP@127.0.0.1:{qr.port}"
        assert main(["find", node, "-k", "PatientName=DOE*", "--json", "--dcmtk"]) == 0
        captured = capsys.readouterr()
        (match,) = [json.loads(line) for line in captured.out.splitlines()]
        assert match["PatientID"] == "PID1"
        assert "# findscu -aet DCMTUI -aec QRSCP -S -k QueryRetrieveLevel=STUDY" in (
            captured.err
        )
        assert "1 matches" in captured.err
        uid = match["StudyInstanceUID"]
        assert (
            main(["move", node, "--dest", "DEST", "-k", f"StudyInstanceUID={uid}"]) == 0
        )
        assert "completed 2, failed 0" in capsys.readouterr().out
        assert len(list((tmp_path / "dest").iterdir())) == 2
        assert (
            main(["move", node, "--dest", "NOWHERE", "-k", f"StudyInstanceUID={uid}"])
            == 1
        )
        assert "destination unknown (0xA801)" in capsys.readouterr().err
        out_dir = tmp_path / "got"
        assert (
            main(
                ["get", node, "-k", f"StudyInstanceUID={uid}", "-o", str(out_dir), "-q"]
            )
            == 0
        )
        assert len(list(out_dir.glob("*.dcm"))) == 2
        assert main(["get", node, "-k", f"StudyInstanceUID={uid}", "-q"]) == 0
        assert "2 new in the store" in capsys.readouterr().out
        assert main(["get", node, "-k", f"StudyInstanceUID={uid}", "-q"]) == 0
        assert "0 new in the store" in capsys.readouterr().out  # duplicates
        assert main(["find", node, "-k", "Bogus=1"]) == 1
        assert "unknown key 'Bogus'" in capsys.readouterr().err
    finally:
        qr.stop()
        dest.stop()
