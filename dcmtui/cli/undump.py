"""``dcmtui undump``: editable text (``dcmtui dump --editable``) back to DICOM.

Like DCMTK's dump2dcm: ``-o FILE`` writes the file the text describes, byte
for byte (a text that was not changed gives back the very file it came from).
``--apply-to FILE`` instead makes the differences between FILE and the text as
ordinary edits, with the Dataset screen's checks and its lossless save.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings


def print_editable(files: list[Path]) -> int:
    """``dcmtui dump --editable FILE``: the text form on stdout."""
    from dcmtui.services.dump_text import to_text

    if len(files) != 1:
        print("dcmtui: error: --editable dumps one file at a time", file=sys.stderr)
        return 2
    sys.stdout.write(to_text(files[0]))
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", type=Path, metavar="TEXT", help="the text (- for standard input)"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write a new DICOM file"
    )
    target.add_argument(
        "--apply-to",
        type=Path,
        metavar="FILE",
        help="edit FILE so that it matches the text (only what differs changes)",
    )
    parser.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="with --apply-to: list the changes, save nothing",
    )
    parser.add_argument(
        "--backup", action="store_true", help="with --apply-to: keep FILE.bak"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --apply-to: save even if FILE changed on disk meanwhile",
    )


def _read(path: Path) -> str:
    from dcmtui.services.errors import DcmtuiError

    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DcmtuiError(f"{path} is not UTF-8 text") from exc
    except OSError as exc:
        raise DcmtuiError(f"cannot read {path}: {exc.strerror}") from exc


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.dump_text import apply_text, build_checked, parse_text
    from dcmtui.services.save import atomic_write
    from dcmtui.services.text import visible

    edited = parse_text(_read(args.text))
    if args.output is not None:
        data = build_checked(edited, args.output)
        atomic_write(args.output, data)
        print(f"{visible(str(args.output))}: {len(data):,} bytes written")
        return 0
    from dcmtui.services.edit import open_document
    from dcmtui.services.save import save_document

    doc = open_document(args.apply_to)
    try:
        changes = apply_text(doc, edited)
        for change in changes:
            print(visible(change.describe()))
        if not changes:
            print(f"{visible(str(args.apply_to))}: no changes")
            return 0
        if args.dry_run:
            print(f"{len(changes)} change(s), not saved (--dry-run)")
            return 0
        save_document(doc, backup=args.backup, force=args.force)
    finally:
        doc.original.close()
        doc.current.close()
    print(f"{visible(str(args.apply_to))}: {len(changes)} change(s) saved")
    return 0


COMMANDS: dict[str, Command] = {
    "undump": Command(
        help="turn the text of 'dump --editable' back into DICOM (like dump2dcm)",
        configure=_configure,
        run=_run,
        epilog="examples:\n"
        "  dcmtui dump --editable image.dcm > image.txt\n"
        "  dcmtui undump image.txt -o copy.dcm\n"
        "  dcmtui undump image.txt --apply-to image.dcm --dry-run\n"
        "  dcmtui undump image.txt --apply-to image.dcm --backup",
    ),
}
