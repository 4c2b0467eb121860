"""``dcmtui export``: DICOM JSON (PS3.18 F), Native DICOM Model XML
(PS3.19), a frame as PNG, or DICOM made from a JSON file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings

_SUFFIX = {"json": ".json", "xml": ".xml", "png": ".png", "dicom": ".dcm"}


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--to",
        required=True,
        choices=sorted(_SUFFIX),
        help="json, xml, png (a frame), or dicom (FILE is a DICOM JSON file)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="output file, or a folder for several files (json/xml: default stdout)",
    )
    parser.add_argument(
        "--frame", type=int, default=1, metavar="N", help="png: frame number (from 1)"
    )


def _target(source: Path, fmt: str, output: Path | None, many: bool) -> Path | None:
    if output is None:
        return None
    if many or output.is_dir() or str(output).endswith(("/", "\\")):
        return output / (source.stem + _SUFFIX[fmt])
    return output


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.errors import DcmtuiError
    from dcmtui.services.export import export_file
    from dcmtui.services.text import visible

    many = len(args.files) > 1
    if many and args.output is None and args.to in ("png", "dicom"):
        raise DcmtuiError(f"--to {args.to} with several files needs -o DIR")
    failed = 0
    for source in args.files:
        target = _target(source, args.to, args.output, many)
        try:
            written, text = export_file(source, args.to, target, args.frame - 1)
        except DcmtuiError as exc:
            failed += 1
            print(f"dcmtui: error: {visible(str(exc))}", file=sys.stderr)
            continue
        if written is None:
            sys.stdout.write(text)
        elif sys.stdout.isatty() or many:
            print(f"{visible(str(written))}", file=sys.stderr)
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "export": Command(
        help="export as DICOM JSON, Native DICOM XML or PNG; or DICOM from JSON",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui export CT1.dcm --to json > CT1.json\n"
        "  dcmtui export *.dcm --to xml -o xml/\n"
        "  dcmtui export MR.dcm --to png --frame 3 -o mr3.png\n"
        "  dcmtui export CT1.json --to dicom -o CT1.dcm",
    ),
}
