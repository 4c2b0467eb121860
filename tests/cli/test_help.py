"""Every command's ``--help`` ends with examples, and the examples parse."""

from __future__ import annotations

import shlex

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
