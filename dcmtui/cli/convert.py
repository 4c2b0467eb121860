"""``dcmtui convert``: transfer syntax conversion, like dcmconv, dcmdjpeg,
dcmcjpeg and dcmcrle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    from dcmtui.services.convert import SYNTAX_NAMES

    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--to",
        required=True,
        metavar="TS",
        help=f"transfer syntax: {', '.join(SYNTAX_NAMES)}, or a UID",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="write the converted files into DIR (default: convert in place)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print failures only"
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.convert import convert_iter, parse_syntax
    from dcmtui.services.text import visible

    syntax = parse_syntax(args.to)
    failed = 0
    for result in convert_iter(args.files, syntax, args.output):
        if not result.ok:
            failed += 1
            print(f"dcmtui: error: {visible(result.message)}", file=sys.stderr)
        elif not args.quiet:
            print(f"{visible(result.target)}: {result.message}")
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "convert": Command(
        help="convert files to another transfer syntax (like dcmconv, dcmdjpeg)",
        configure=_configure,
        run=_run,
        epilog="transfer syntaxes:\n"
        "  implicit, explicit, big, deflated: the pixel data is copied, never decoded\n"
        "  rle, j2k, jpls: lossless encoding; jpeg: baseline, lossy, 8-bit (Pillow)\n"
        "  any compressed source decodes where a codec is installed\n"
        "  (pip install 'dcmtui[codecs]')\n\n"
        "examples:\n  dcmtui convert CT*.dcm --to implicit -o out/\n"
        "  dcmtui convert us.dcm --to explicit -o decoded/\n"
        "  dcmtui convert big.dcm --to 1.2.840.10008.1.2.5",
    ),
}
