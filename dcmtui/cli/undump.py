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


def _configure_edit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the DICOM file")
    parser.add_argument("-y", "--yes", action="store_true", help="save without asking")
    parser.add_argument("--backup", action="store_true", help="keep FILE.bak")
    parser.add_argument(
        "--editor", default="", help="editor command (default: $VISUAL, $EDITOR, vi)"
    )


def _ask(question: str) -> bool:
    """A yes/no question on the terminal; end of input is no."""
    print(question, end="", flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _run_edit(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.dump_text import (
        DumpTextError,
        apply_text,
        document_text,
        parse_text,
        run_editor,
    )
    from dcmtui.services.edit import EditRefused, open_document
    from dcmtui.services.save import save_document
    from dcmtui.services.text import visible
    from dcmtui.services.values import ValueRefused

    doc = open_document(args.file)
    try:
        if why := doc.readonly_reason:
            raise EditRefused(f"{args.file}: {why}")
        text = document_text(doc)
        while True:
            text = run_editor(text, args.file.name, args.editor)
            try:
                changes = apply_text(doc, parse_text(text))
                break
            except (DumpTextError, EditRefused, ValueRefused) as exc:
                print(f"dcmtui: error: {visible(str(exc))}", file=sys.stderr)
                if not _ask("Edit again? [y/N] "):
                    print("nothing saved")
                    return 1
        if not changes:
            print(f"{visible(str(args.file))}: no changes")
            return 0
        for change in changes:
            print(visible(change.describe()))
        count = f"{len(changes)} change(s)"
        if not args.yes and not _ask(
            f"Save {count} to {visible(str(args.file))}? [y/N] "
        ):
            print("nothing saved")
            return 1
        save_document(doc, backup=args.backup)
    finally:
        doc.original.close()
        doc.current.close()
    print(f"{visible(str(args.file))}: {count} saved")
    return 0


COMMANDS: dict[str, Command] = {
    "edit": Command(
        help="edit a file as text in $EDITOR; what changed is saved as ordinary edits",
        configure=_configure_edit,
        run=_run_edit,
        epilog="The text is that of 'dcmtui dump --editable'. The changes are shown, "
        "then saved\n(after a yes) with the same checks and lossless save as the "
        "Dataset screen.\n\nexamples:\n"
        "  dcmtui edit image.dcm\n"
        "  EDITOR=nano dcmtui edit image.dcm --backup\n"
        "  dcmtui edit image.dcm --editor 'code --wait'",
    ),
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
