"""``dcmtui echo|send|find|move|get``: the network client without the screens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from dcmtui.cli import Command
from dcmtui.config import Settings

if TYPE_CHECKING:
    from dcmtui.models import Node
    from dcmtui.services.scu import Scu


def _node_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("node", help="a name from the address book, or AET@HOST:PORT")
    parser.add_argument(
        "-aet", "--calling-ae", default="", help="our AE title (default: DCMTUI)"
    )
    parser.add_argument(
        "-to",
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the node (default 10)",
    )
    parser.add_argument(
        "--dcmtk",
        action="store_true",
        help="print the equivalent DCMTK command line on stderr first",
    )


def _setup(args: argparse.Namespace, settings: Settings) -> tuple[Node, Scu]:
    from dataclasses import replace

    from dcmtui.services.nodes import NodeBook, check_ae_title
    from dcmtui.services.scu import Scu

    node = NodeBook.in_folder(settings.config_dir).resolve(args.node)
    if args.calling_ae:
        node = replace(node, calling_ae=check_ae_title(args.calling_ae))
    return node, Scu(timeout=args.timeout)


def _show_dcmtk(args: argparse.Namespace, line: str) -> None:
    if args.dcmtk:
        print(f"# {line}", file=sys.stderr)


def _configure_echo(parser: argparse.ArgumentParser) -> None:
    _node_args(parser)
    parser.add_argument(
        "-r", "--repeat", type=int, default=1, help="echo N times (default 1)"
    )


def _run_echo(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.text import visible

    node, scu = _setup(args, settings)
    _show_dcmtk(args, dcmtk_cmd.echoscu(node, scu.calling_for(node)))
    failed = 0
    for _ in range(max(1, args.repeat)):
        result = asyncio.run(scu.echo(node))
        if result.ok:
            print(f"{visible(node.address)}: C-ECHO OK in {result.ms:.1f} ms")
        else:
            failed += 1
            print(f"dcmtui: error: {visible(result.detail)}", file=sys.stderr)
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "echo": Command(
        help="C-ECHO a node: is it there, does it answer, how fast",
        configure=_configure_echo,
        run=_run_echo,
        epilog="examples:\n  dcmtui echo PACS\n  dcmtui echo ORTHANC@10.0.0.7:4242",
    ),
}
