"""``dcmtui mkdicomdir``: make or update a DICOMDIR file-set, like dcmmkdir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", type=Path, metavar="PATH", help="files and folders"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="DIR",
        help="the file-set folder (its DICOMDIR is updated when there is one)",
    )
    parser.add_argument(
        "--fileset-id", default="", metavar="ID", help="File-set ID of a new DICOMDIR"
    )
    parser.add_argument(
        "--keep-syntax",
        action="store_true",
        help="copy files in their own transfer syntax (default: explicit VR LE, "
        "as the general-purpose profile wants)",
    )
    parser.add_argument(
        "--invent",
        action="store_true",
        help="fill in record keys a file lacks (Study ID, Instance Number...) in "
        "its copy, like dcmmkdir +I",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.mkdicomdir import make_dicomdir
    from dcmtui.services.text import visible

    result = make_dicomdir(
        args.sources,
        args.output,
        fileset_id=args.fileset_id,
        keep_syntax=args.keep_syntax,
        invent=args.invent,
    )
    for path, reason in result.skipped:
        print(f"warning: {visible(path)}: {visible(reason)}", file=sys.stderr)
    if not args.quiet:
        verb = "updated" if result.updated else "created"
        print(
            f"{visible(str(Path(result.root) / 'DICOMDIR'))}: {verb}; {result.added} "
            f"added ({result.converted} converted to explicit VR little endian), "
            f"{result.invented} with invented keys, {len(result.skipped)} skipped, "
            f"{result.total} in the file-set"
        )
    return 0


COMMANDS: dict[str, Command] = {
    "mkdicomdir": Command(
        help="create or update a DICOMDIR file-set from files and folders",
        configure=_configure,
        run=_run,
        epilog="files are copied into DIR as PT000000/ST000000/SE000000/IM000000\n\n"
        "examples:\n  dcmtui mkdicomdir /srv/dicom/study1 -o /media/cd\n"
        "  dcmtui mkdicomdir new/*.dcm -o /media/cd   # adds to its DICOMDIR",
    ),
}
