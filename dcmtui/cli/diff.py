"""``dcmtui diff A B``: two DICOM files compared element by element.

Exit code as diff(1): 0 the same, 1 different, 2 trouble.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, metavar="A")
    parser.add_argument("b", type=Path, metavar="B")
    parser.add_argument("--all", action="store_true", help="list equal elements too")
    parser.add_argument(
        "--no-meta", action="store_true", help="leave the file meta group out"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object a line")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.diff import SAME, diff_files
    from dcmtui.services.errors import DcmtuiError
    from dcmtui.services.text import visible

    try:
        rows = diff_files(args.a, args.b, meta=not args.no_meta, same=args.all)
    except DcmtuiError as exc:
        print(f"dcmtui: error: {visible(str(exc))}", file=sys.stderr)
        return 2
    for row in rows:
        if args.json:
            print(json.dumps(asdict(row), ensure_ascii=False))
            continue
        name = f"{row.path} {row.keyword}".strip()
        if row.status == "only-a":
            text = f"< {name} {row.vr} [{row.a}]"
        elif row.status == "only-b":
            text = f"> {name} {row.vr} [{row.b}]"
        elif row.status == SAME:
            text = f"  {name} {row.vr} [{row.a}]"
        else:
            text = f"~ {name} {row.vr} [{row.a}] -> [{row.b}]"
        print(visible(text))
    return 1 if any(row.status != SAME for row in rows) else 0


COMMANDS: dict[str, Command] = {
    "diff": Command(
        help="compare two DICOM files element by element",
        configure=_configure,
        run=_run,
        epilog="lines: ~ changed, < only in A, > only in B; exit 0 same, 1 "
        "different, 2 trouble\n\nexamples:\n  dcmtui diff before.dcm after.dcm\n"
        "  dcmtui diff a.dcm b.dcm --no-meta --json",
    ),
}
