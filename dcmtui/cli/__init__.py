"""Command line: ``dcmtui [PATH]`` opens the app; ``dcmtui COMMAND ...`` runs a
headless command over the same services.

Each module of this package holds the headless commands of one area and
exports them as ``COMMANDS``; ``_commands()`` gathers them. Imports of
pydicom and friends are lazy so that ``--version`` and ``--help`` answer at once.
"""

from __future__ import annotations

import sys

from dcmtui import __version__

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

    from dcmtui.config import Settings

PROG = "dcmtui"


class Command:
    """A headless subcommand.

    A plain class, not a dataclass: this module is on every command's start-up
    path, and ``import dataclasses`` costs several milliseconds.

    Attributes:
        help: One line for ``dcmtui --help``.
        configure: Adds the command's arguments to its parser.
        run: Runs the command with the parsed arguments and the settings.
        epilog: Examples shown by ``dcmtui COMMAND --help``.
        quick: Optional: runs the command before the settings are loaded and
            logging is set up, with only what it needs imported; returns None
            when it cannot do this invocation (then ``run`` does it).
        quick_args: Optional: reads plain arguments without argparse (an
            object with the attributes the parser would set), or None when
            they are anything but plain (then the parser reads them).
        exits_at_once: ``run`` leaves no thread running and no file open:
            the process may end with ``os._exit`` after it (``cli.run``).
    """

    __slots__ = (
        "configure",
        "epilog",
        "exits_at_once",
        "help",
        "quick",
        "quick_args",
        "run",
    )

    def __init__(
        self,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace, Settings], int],
        epilog: str = "",
        quick: Callable[[argparse.Namespace], int | None] | None = None,
        quick_args: Callable[[list[str]], Any] | None = None,
        exits_at_once: bool = False,
    ) -> None:
        self.help = help
        self.configure = configure
        self.run = run
        self.epilog = epilog
        self.quick = quick
        self.quick_args = quick_args
        self.exits_at_once = exits_at_once


COMMAND_MODULES: dict[str, str] = {
    "index": "index",
    "dump": "dump",
    "modify": "modify",
    "edit": "undump",
    "undump": "undump",
    "nodes": "nodes",
    "echo": "network",
    "send": "network",
    "find": "network",
    "move": "network",
    "get": "network",
    "listen": "listen",
    "monitor": "listen",
    "store": "store",
    "worklist": "store",
    "convert": "convert",
    "anonymize": "anonymize",
    "export": "export",
    "diff": "diff",
    "mkdicomdir": "mkdicomdir",
    "completion": "completion",
}
"""Each headless command and the module of this package that defines it, so
that running one command imports only its own module (start-up time is most
of a short command's time). tests/cli/test_help.py checks it against the
modules' ``COMMANDS``."""


def _command(name: str) -> Command:
    """The command called ``name``, importing only its module."""
    # __import__, not importlib.import_module: importlib is one more import
    module = __import__(f"dcmtui.cli.{COMMAND_MODULES[name]}", fromlist=["COMMANDS"])
    command: Command = module.COMMANDS[name]
    return command


def _commands() -> dict[str, Command]:
    """Every headless command, in the order ``--help`` lists them."""
    return {name: _command(name) for name in COMMAND_MODULES}


def _main_parser() -> argparse.ArgumentParser:
    from pathlib import Path

    from dcmtui.parsers import Formatter, MainParser

    parser = MainParser(
        prog=PROG,
        description="The DICOM Toolkit in the terminal.",
        formatter_class=Formatter,
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help="folder or file to open (default: the current folder)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the embedded demo workspace (sample files from pydicom)",
    )
    parser.add_argument(
        "--listen",
        nargs="?",
        type=int,
        const=-1,
        default=None,
        metavar="PORT",
        help="start the receiver at launch (default port: receiver.port)",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _command_parser(name: str, command: Command) -> argparse.ArgumentParser:
    import argparse

    from dcmtui.parsers import Formatter

    parser = argparse.ArgumentParser(
        prog=f"{PROG} {name}",
        description=command.help,
        epilog=command.epilog,
        formatter_class=Formatter,
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
    from dcmtui.startup import defer_inspect

    defer_inspect()
    try:
        if argv and argv[0] in COMMAND_MODULES:
            command = _command(argv[0])
            args = command.quick_args(argv[1:]) if command.quick_args else None
            if args is None:
                args = _command_parser(argv[0], command).parse_args(argv[1:])
            if command.quick is not None:
                code = command.quick(args)
                if code is not None:
                    _ANSWERED_QUICKLY.append(code)
                    return code
            settings = _startup(argv[0])
            code = command.run(args, settings)
            if command.exits_at_once:
                _ANSWERED_QUICKLY.append(code)
            return code
        args = _main_parser().parse_args(argv)
        settings = _startup("app")
        return _run_app(args, settings)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_gone()
    except Exception as exc:
        # imported here: errors.py brings pathlib, which a quick command
        # may not need at all
        from dcmtui.services.errors import DcmtuiError

        if isinstance(exc, DcmtuiError):
            return _fail(str(exc))
        raise


def _stdout_gone() -> int:
    """The reader of our output went away (``dcmtui dump FILE | head``):
    nothing more is written, no traceback is shown, and the exit code is that
    of a process ended by SIGPIPE, as DCMTK's tools end."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes there
    except OSError:
        pass
    return 128 + 13


_ANSWERED_QUICKLY: list[int] = []
"""Set by ``main`` when a command's quick path answered."""


def run() -> None:
    """The ``dcmtui`` console script and ``python -m dcmtui``: ``main``; after
    a quick path's answer, or a command that leaves no thread running and no
    file open (``Command.exits_at_once``), the process ends with ``os._exit``
    once the log and the output are flushed, skipping the interpreter's
    orderly shutdown: a few milliseconds of a short command's time spent on
    nothing.

    Raises:
        SystemExit: Always, with main's exit code (unless ``os._exit`` ended
            the process first).
    """
    code = main()
    from dcmtui.startup import save_dataclass_code

    save_dataclass_code()
    if _ANSWERED_QUICKLY:
        from dcmtui.startup import deferred

        if "logging" in sys.modules and not deferred("logging"):
            import logging

            logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            code = _stdout_gone()
        except OSError:  # the orderly way says what went wrong
            pass
        else:
            import os

            os._exit(code)
    raise SystemExit(code)


def _startup(kind: str) -> Settings:
    from dcmtui.startup import cache_dataclass_code

    cache_dataclass_code(kind)  # first: the quick paths make no dataclass
    from dcmtui.config import load_settings
    from dcmtui.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_dir, settings.log_level)
    return settings


def _run_app(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from dcmtui.services.files import resolve_root

    if args.demo:
        from dcmtui.services.demo import make_demo, serve_demo

        root = make_demo(settings.data_dir)
        serve_demo(settings, root)
    else:
        root = resolve_root(args.path or Path.cwd())
    from dcmtui.app import DcmtuiApp
    from dcmtui.widgets.graphics import prepare

    prepare()  # Kitty/Sixel previews: ask the terminal before Textual starts
    app = DcmtuiApp(settings, root=root)
    app.listen_port = getattr(args, "listen", None)
    app.demo = args.demo
    app.run()
    return app.return_code or 0
