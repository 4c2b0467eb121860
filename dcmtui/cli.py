"""Command line: ``dcmtui [PATH]`` opens the app; ``dcmtui COMMAND ...`` runs a
headless command over the same services.

Imports are lazy so that ``--version`` and ``--help`` answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dcmtui import __version__
from dcmtui.config import Settings, load_settings
from dcmtui.services.errors import DcmtuiError

if TYPE_CHECKING:
    from dcmtui.models import IndexSummary, ScanWarning

PROG = "dcmtui"


@dataclass(frozen=True)
class Command:
    """A headless subcommand."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]
    epilog: str = ""


# -- dcmtui index -------------------------------------------------------------


def _configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="folder or file to index")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument(
        "--warnings", action="store_true", help="list every warning on stderr"
    )


def _run_index(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.files import Indexer, resolve_root
    from dcmtui.services.text import visible

    root = resolve_root(args.path)
    indexer = Indexer(
        settings.index_path,
        follow_symlinks=settings.follow_symlinks,
        show_hidden=settings.show_hidden,
    )

    async def run() -> tuple[IndexSummary, list[ScanWarning]]:
        last = None
        async for progress in indexer.scan(root):
            last = progress
        assert last is not None
        return await indexer.summary(root, last), list(last.warnings)

    summary, warnings = asyncio.run(run())
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        s = summary
        print(
            f"{s.root}: {s.files} files, {s.dicom} DICOM, {s.damaged} damaged, "
            f"{s.other} not DICOM; {s.patients} patients, {s.studies} studies, "
            f"{s.series} series; {s.warnings} warnings; read {s.read} in "
            f"{s.seconds:.2f} s"
        )
    shown = warnings if args.warnings else warnings[:5]
    for warning in shown:
        print(f"warning: {visible(warning.path)}: {warning.reason}", file=sys.stderr)
    if len(warnings) > len(shown):
        print(
            f"warning: {len(warnings) - len(shown)} more (use --warnings)",
            file=sys.stderr,
        )
    return 0


COMMANDS: dict[str, Command] = {
    "index": Command(
        help="index a folder (or file) into the SQLite index and print the counts",
        configure=_configure_index,
        run=_run_index,
        epilog="examples:\n  dcmtui index /srv/dicom\n  dcmtui index . --json",
    ),
}


def _main_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:<10} {cmd.help}" for name, cmd in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The DICOM Toolkit in the terminal.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"commands (dcmtui COMMAND --help):\n{commands}\n\n"
        "examples:\n  dcmtui --demo\n  dcmtui /srv/dicom\n  dcmtui index /srv/dicom",
    )
    parser.add_argument(
        "path", nargs="?", type=Path, default=None,
        help="folder or file to open (default: the current folder)",
    )
    parser.add_argument(
        "--demo", action="store_true",
        help="open the embedded demo workspace (sample files from pydicom)",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _command_parser(name: str, command: Command) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {name}",
        description=command.help,
        epilog=command.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.configure(parser)
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dcmtui`` console script.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, non-zero with a one-line reason otherwise.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in COMMANDS:
            command = COMMANDS[argv[0]]
            args = _command_parser(argv[0], command).parse_args(argv[1:])
            settings = _startup()
            return command.run(args, settings)
        args = _main_parser().parse_args(argv)
        settings = _startup()
        return _run_app(args, settings)
    except DcmtuiError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


def _startup() -> Settings:
    from dcmtui.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_dir, settings.log_level)
    return settings


def _run_app(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.files import resolve_root

    if args.demo:
        from dcmtui.services.demo import make_demo

        root = make_demo(settings.data_dir)
    else:
        root = resolve_root(args.path or Path.cwd())
    from dcmtui.app import DcmtuiApp

    app = DcmtuiApp(settings, root=root)
    app.run()
    return app.return_code or 0
