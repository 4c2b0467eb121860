"""Every command's ``--help`` ends with examples, and the examples parse."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dcmtui.cli import _command_parser, _commands, main


def example_lines(name: str) -> list[list[str]]:
    """The example command lines of ``name``'s epilog, as argument lists."""
    lines = []
    for line in _commands()[name].epilog.splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] != ["dcmtui", name]:
            continue
        for stop in (">", "|"):
            if stop in words:
                words = words[: words.index(stop)]
        lines.append(words[2:])
    return lines


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_examples_that_parse(name: str) -> None:
    epilog = _commands()[name].epilog
    assert "example" in epilog, f"dcmtui {name} --help has no examples"
    examples = example_lines(name)
    assert examples, f"no 'dcmtui {name} ...' line in the examples"
    parser = _command_parser(name, _commands()[name])
    for args in examples:
        parser.parse_args(args)  # SystemExit (a failed test) if it does not parse


@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_shows_the_examples(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: dcmtui {name}")
    first = next(
        line for line in _commands()[name].epilog.splitlines() if "dcmtui" in line
    )
    assert first in out


def test_command_map_matches_the_modules() -> None:
    """Every module's COMMANDS is in COMMAND_MODULES under that module, and
    nothing else is (a command missing from the map cannot be run)."""
    import importlib
    import pkgutil

    import dcmtui.cli
    from dcmtui.cli import COMMAND_MODULES

    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(dcmtui.cli.__path__):
        module = importlib.import_module(f"dcmtui.cli.{info.name}")
        for name in getattr(module, "COMMANDS", {}):
            found[name] = info.name
    assert found == COMMAND_MODULES


def test_a_command_imports_only_its_module() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from dcmtui.cli import main\n"
        "try:\n"
        "    main(['index', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('loaded:' + ','.join(sorted(\n"
        "    m for m in sys.modules if m.startswith('dcmtui.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "loaded:dcmtui.cli.index"


README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    """The text of the README's ``## title`` section."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_readme_shows_every_screenshot() -> None:
    text = README.read_text()
    shots = sorted((README.parent / "screenshots").glob("*.svg"))
    assert shots
    missing = [p.name for p in shots if f"(screenshots/{p.name})" not in text]
    assert not missing, f"screenshots not shown in README.md: {missing}"


def test_readme_lists_every_command() -> None:
    table = _section("Headless commands")
    missing = [name for name in _commands() if f"`dcmtui {name}" not in table]
    missing = [name for name in missing if f"`{name} " not in table]
    assert not missing, f"commands missing from README's table: {missing}"


def test_coming_from_dcmtk_names_every_dcmtk_tool_we_test_against() -> None:
    from tests.peers import PACKAGES

    table = _section("Coming from DCMTK")
    tools = [name for name, package in PACKAGES.items() if package == "dcmtk"]
    missing = [name for name in tools if f"`{name}`" not in table]
    assert not missing, f"DCMTK tools missing from 'Coming from DCMTK': {missing}"
