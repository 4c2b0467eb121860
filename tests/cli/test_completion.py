"""``dcmtui completion bash|zsh``: the scripts load in a real shell and complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dcmtui.cli import _commands, main
from dcmtui.cli.completion import bash_script, zsh_script
from tests.peers import require


def complete_bash(words: list[str], cwd: Path | None = None) -> list[str]:
    """What bash offers for the last of ``words`` (after ``dcmtui``)."""
    script = bash_script()
    line = ["dcmtui", *words]
    quoted = " ".join(f"'{w}'" for w in line)
    program = (
        f'dcmtui() {{ "{sys.executable}" -m dcmtui "$@"; }}\n'
        f"{script}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(line) - 1}\n"
        "_dcmtui\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
    )
    assert out.returncode == 0 and not out.stderr, out.stderr
    return [w for w in out.stdout.splitlines() if w]


def test_bash_script_loads_and_registers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert script == bash_script()
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"{script}\ncomplete -p dcmtui"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert "-F _dcmtui dcmtui" in out.stdout


def test_bash_completes_every_command_name(tmp_path: Path) -> None:
    offered = complete_bash([""], cwd=tmp_path)
    assert set(_commands()) <= set(offered)
    expected = sorted(name for name in _commands() if name.startswith("mo"))
    assert sorted(complete_bash(["mo"], cwd=tmp_path)) == expected
    assert "modify" in expected
    assert complete_bash(["--de"], cwd=tmp_path) == ["--demo"]


def test_bash_completes_options_choices_and_files(tmp_path: Path) -> None:
    (tmp_path / "scan.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    assert complete_bash(["dump", "--js"], cwd=tmp_path) == ["--json"]
    assert complete_bash(["dump", "sc"], cwd=tmp_path) == ["scan.dcm"]
    assert complete_bash(["nodes", ""], cwd=tmp_path) == ["list", "add", "remove"]
    assert complete_bash(["nodes", "add", "--retrieve", "C-"], cwd=tmp_path) == [
        "C-MOVE",
        "C-GET",
    ]
    assert "--calling-ae" in complete_bash(["nodes", "add", "--ca"], cwd=tmp_path)
    # A value after an option that takes one is not taken for the command.
    words = ["listen", "--port", "104", "--la"]
    assert complete_bash(words, cwd=tmp_path) == ["--layout"]
    # A node name is free text: no file names offered.
    assert complete_bash(["echo", "sc"], cwd=tmp_path) == []
    assert complete_bash(["completion", ""], cwd=tmp_path) == ["bash", "zsh"]


def test_zsh_script_is_valid_and_registers() -> None:
    script = zsh_script()
    assert script.startswith("#compdef dcmtui\n")
    for name in _commands():
        assert f"'{name}:" in script
    zsh = require("zsh")  # a skip, or under CI a failure, when missing
    checked = subprocess.run(
        [zsh, "-n"], input=script, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    loaded = subprocess.run(
        [
            zsh,
            "-f",
            "-c",
            'autoload -Uz compinit; compinit -u -D; eval "$(cat)"; '
            "print -r -- $_comps[dcmtui]",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "_dcmtui"


def test_completion_command_as_a_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dcmtui", "completion", "fish"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_node_names_complete_from_the_address_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nodes", "add", "PACS1", "PACS1@127.0.0.1:104"]) == 0
    assert main(["nodes", "add", "ORTHANC", "ORTHANC@127.0.0.1:4242"]) == 0
    capsys.readouterr()
    assert main(["completion", "--node-names"]) == 0
    assert sorted(capsys.readouterr().out.split()) == ["ORTHANC", "PACS1"]
    assert sorted(complete_bash(["echo", ""], cwd=tmp_path)) == ["ORTHANC", "PACS1"]
    assert complete_bash(["send", "PA"], cwd=tmp_path) == ["PACS1"]
    (tmp_path / "study").mkdir()
    # After the node come paths.
    assert complete_bash(["send", "PACS1", "st"], cwd=tmp_path) == ["study"]
    assert complete_bash(["find", "--dcmtk", "OR"], cwd=tmp_path) == ["ORTHANC"]
