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
