"""``dcmtui nodes``: list, add, remove."""

from __future__ import annotations

import json

import pytest

from dcmtui.cli import main


def test_add_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["nodes", "add", "pacs", "PACS1@10.0.0.5:104", "--retrieve", "C-GET"]) == 0
    )
    assert main(["nodes", "list", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    node = json.loads(out[-1])
    assert (node["name"], node["ae_title"], node["port"], node["retrieve"]) == (
        "pacs",
        "PACS1",
        104,
        "C-GET",
    )
    assert main(["nodes", "remove", "pacs"]) == 0
    assert main(["nodes", "list"]) == 0
    assert capsys.readouterr().out == "removed pacs\n"


def test_invalid_input_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes", "add", "x", "TOOLONGTITLEXXXXX@h:104"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "17 characters long" in err
    assert main(["nodes", "add", "x", "A@h:0"]) == 1
    assert "port 0 is out of range" in capsys.readouterr().err
    assert main(["nodes", "remove", "ghost"]) == 1
    assert "no node named 'ghost'" in capsys.readouterr().err
