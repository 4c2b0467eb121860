"""``dcmtui modify``: dcmodify's edits, lossless, with a .bak by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dcmtui.cli import Command
from dcmtui.config import Settings

if TYPE_CHECKING:
    from dcmtui.services.edit import Document


class _Op(argparse.Action):
    """Keep -m/-i/-e/-ma/-ea in the order given, as dcmodify does."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        ops = getattr(namespace, "ops", None) or []
        ops.append((self.const, str(values)))
        namespace.ops = ops


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    for flags, op, meta, text in (
        (("-m", "--modify"), "modify", "PATH=VALUE", "modify an existing element"),
        (
            ("-i", "--insert"),
            "insert",
            "PATH=VALUE",
            "insert (or overwrite) an element",
        ),
        (("-e", "--erase"), "erase", "PATH", "erase an element or an item"),
        (("-ma", "--modify-all"), "modify-all", "TAG=VALUE", "modify every TAG"),
        (("-ea", "--erase-all"), "erase-all", "TAG", "erase every TAG"),
    ):
        parser.add_argument(*flags, action=_Op, const=op, metavar=meta, help=text)
    parser.add_argument(
        "-gst",
        "--gen-stud-uid",
        action="store_true",
        help="generate a new Study Instance UID",
    )
    parser.add_argument(
        "-gse",
        "--gen-ser-uid",
        action="store_true",
        help="generate a new Series Instance UID",
    )
    parser.add_argument(
        "-gin",
        "--gen-inst-uid",
        action="store_true",
        help="generate a new SOP Instance UID (meta follows)",
    )
    parser.add_argument(
        "-nb", "--no-backup", action="store_true", help="do not keep FILE.bak"
    )
    parser.add_argument(
        "-nrc",
        "--no-reserv-check",
        action="store_true",
        help="insert private tags without a private creator",
    )
    parser.add_argument(
        "-imt",
        "--ignore-missing-tags",
        action="store_true",
        help="treat 'tag not found' (-m, -e, -ea) as success",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite a file that changed on disk meanwhile",
    )
    parser.set_defaults(ops=[])


def _edit(doc: Document, args: argparse.Namespace) -> int:
    """Apply every operation of the command line; returns the change count."""
    from dcmtui.services.tagpath import TagPathError, apply

    count = 0
    for op, text in args.ops:
        if op == "insert" and "=" not in text and text.rstrip().endswith("]"):
            path, value = text, None  # a new item, as dcmodify -i "(0008,1110)[1]"
        elif op in ("modify", "insert", "modify-all"):
            if "=" not in text:
                raise TagPathError(f"{text!r}: expected PATH=VALUE")
            path, value = text.split("=", 1)
        else:
            path, value = text, None
        try:
            count += len(
                apply(doc, op, path, value, check_reservation=not args.no_reserv_check)
            )
        except TagPathError as exc:
            if not (args.ignore_missing_tags and str(exc).endswith("tag not found")):
                raise
    if args.gen_stud_uid or args.gen_ser_uid or args.gen_inst_uid:
        from pydicom.uid import generate_uid

        for flag, keyword in (
            (args.gen_stud_uid, "StudyInstanceUID"),
            (args.gen_ser_uid, "SeriesInstanceUID"),
            (args.gen_inst_uid, "SOPInstanceUID"),
        ):
            if flag:
                count += len(apply(doc, "insert", keyword, str(generate_uid())))
    return count


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.edit import open_document
    from dcmtui.services.errors import DcmtuiError
    from dcmtui.services.save import save_document
    from dcmtui.services.text import visible

    if not args.ops and not (
        args.gen_stud_uid or args.gen_ser_uid or args.gen_inst_uid
    ):
        print(
            "dcmtui: error: nothing to do (give -m, -i, -e, -ma, -ea or -g...)",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for path in args.files:
        try:
            doc = open_document(path)
            if why := doc.readonly_reason:
                raise DcmtuiError(why)
            _edit(doc, args)
            save_document(doc, backup=not args.no_backup, force=args.force)
        except DcmtuiError as exc:
            message = str(exc)
            if str(path) not in message:
                message = f"{path}: {message}"
            print(f"dcmtui: error: {visible(message)}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "modify": Command(
        help="modify, insert or erase elements like dcmodify, keeping every other byte",
        configure=_configure,
        run=_run,
        epilog=(
            "examples:\n"
            "  dcmtui modify -m PatientName=DOE^JANE a.dcm\n"
            "  dcmtui modify -i '(0040,0275)[0].(0040,0009)=SPS1' a.dcm\n"
            "  dcmtui modify -i '(0008,1110)[1]' a.dcm\n"
            "  dcmtui modify -e '(0010,1002)[*].(0010,0022)' -nb *.dcm\n"
            "  dcmtui modify -gin a.dcm"
        ),
    ),
}
