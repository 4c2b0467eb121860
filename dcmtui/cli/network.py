"""``dcmtui echo|send|find|move|get``: the network client without the screens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dcmtui.cli import Command
from dcmtui.config import Settings

if TYPE_CHECKING:
    from dcmtui.models import Node, SendProgress
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


def _configure_send(parser: argparse.ArgumentParser) -> None:
    _node_args(parser)
    parser.add_argument("paths", nargs="+", type=Path, help="files and folders")
    parser.add_argument(
        "-r", "--recurse", action="store_true", help="descend into sub-folders"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="pre-flight: say which files the node accepts, send nothing",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="send everything again, even what an interrupted send delivered",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print failures and the summary only"
    )


def _run_send(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.scu_send import Sender, human_rate, journal_folder
    from dcmtui.services.text import visible

    node, scu = _setup(args, settings)
    _show_dcmtk(
        args,
        dcmtk_cmd.storescu(
            node, scu.calling_for(node), [str(p) for p in args.paths], args.recurse
        ),
    )
    sender = Sender(scu, journal_folder(settings.data_dir))
    if args.check:
        statuses = sender.check_sync(node, args.paths, args.recurse)
        refused = skipped = 0
        for status in statuses:
            refused += status.state in ("refused", "failed")
            skipped += status.state == "skipped"
            print(f"{status.state:<8} {visible(status.path)}: {visible(status.detail)}")
        total = len(statuses) - skipped
        print(
            f"{total - refused} of {total} files would be accepted"
            + (f" ({skipped} skipped: not DICOM)" if skipped else "")
        )
        return 1 if refused else 0

    async def run() -> SendProgress | None:
        last = None
        async for progress in sender.send(
            node, args.paths, recursive=args.recurse, resume=not args.no_resume
        ):
            last = progress
            status = progress.last
            if status is None or progress.done:
                continue
            if status.state == "failed" or not args.quiet:
                detail = f": {visible(status.detail)}" if status.detail else ""
                print(f"{status.state:<9} {visible(status.path)}{detail}", flush=True)
        return last

    last = asyncio.run(run())
    assert last is not None
    print(
        f"{last.sent} sent ({last.converted} converted, {last.warnings} with "
        f"warnings), {last.skipped} skipped (sent before, or not DICOM), "
        f"{last.failed} failed; "
        f"{human_rate(last)} in {last.elapsed:.2f} s"
    )
    return 1 if last.failed else 0


COMMANDS: dict[str, Command] = {
    "echo": Command(
        help="C-ECHO a node: is it there, does it answer, how fast",
        configure=_configure_echo,
        run=_run_echo,
        epilog="examples:\n  dcmtui echo PACS\n  dcmtui echo ORTHANC@10.0.0.7:4242",
    ),
    "send": Command(
        help="send files to a node (C-STORE), converting where the node must have it",
        configure=_configure_send,
        run=_run_send,
        epilog="examples:\n  dcmtui send PACS study/ -r\n"
        "  dcmtui send PACS a.dcm b.dcm --check",
    ),
}
