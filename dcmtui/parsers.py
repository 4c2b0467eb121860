"""The argparse classes of the command line (``dcmtui.cli``), apart so that it
imports argparse only when it builds a parser (a quick command whose
arguments are plain may not need one at all)."""

from __future__ import annotations

import argparse
import sys


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter without ``import shutil`` (argparse makes one for
    every ``add_argument``, and shutil brings zlib, bz2 and lzma): the width
    is found the way ``shutil.get_terminal_size`` finds it."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            import os

            try:
                columns = int(os.environ["COLUMNS"])
            except (KeyError, ValueError):
                columns = 0
            if columns <= 0:
                try:
                    columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
                except (AttributeError, ValueError, OSError):
                    columns = 0
            width = (columns or 80) - 2
        super().__init__(prog, indent_increment, max_help_position, width)


class MainParser(argparse.ArgumentParser):
    """The top-level parser: its epilog lists every command, which means
    importing every command module, so it is made only when help is shown
    (``dcmtui --version`` and ``dcmtui PATH`` import none of them)."""

    def format_help(self) -> str:
        if self.epilog is None:
            from dcmtui.cli import _commands

            commands = "\n".join(
                f"  {name:<10} {cmd.help}" for name, cmd in _commands().items()
            )
            self.epilog = (
                f"commands (dcmtui COMMAND --help):\n{commands}\n\n"
                "examples:\n  dcmtui --demo\n  dcmtui /srv/dicom\n"
                "  dcmtui index /srv/dicom"
            )
        return super().format_help()
