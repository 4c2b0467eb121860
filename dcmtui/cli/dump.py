"""``dcmtui dump``: a file's elements as dcmdump prints them, or as DICOM JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the DICOM JSON model (PS3.18 Annex F) instead of text",
    )
    parser.add_argument(
        "--editable",
        action="store_true",
        help="print every byte as text to edit and turn back (dcmtui undump)",
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "editable", False):
        from dcmtui.cli.undump import print_editable

        return print_editable(args.files)
    from dcmtui.services.dataset import parse
    from dcmtui.services.dataset_view import dump_lines
    from dcmtui.services.errors import FileReadError
    from dcmtui.services.text import visible

    failed = 0
    if args.json:
        from dcmtui.services.dataset_json import to_json

        results = []
        for path in args.files:
            try:
                results.append(to_json(path))
            except FileReadError as exc:
                print(f"dcmtui: error: {visible(str(exc))}", file=sys.stderr)
                failed += 1
        if results:
            print(json.dumps(results[0] if len(args.files) == 1 else results))
        return 1 if failed else 0
    out = sys.stdout
    for path in args.files:
        try:
            parsed = parse(path)
        except FileReadError as exc:
            print(f"dcmtui: error: {visible(str(exc))}", file=sys.stderr)
            failed += 1
            continue
        try:
            out.write("\n".join(visible(line) for line in dump_lines(parsed)))
            out.write("\n")
        finally:
            parsed.close()
        if parsed.damaged:
            print(
                f"dcmtui: error: {visible(str(path))}: damaged: {parsed.damaged}",
                file=sys.stderr,
            )
            failed += 1
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "dump": Command(
        help="print a file's elements like dcmdump (or --json)",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui dump image.dcm\n  dcmtui dump --json image.dcm\n"
        "  dcmtui dump --editable image.dcm > image.txt",
    ),
}
