"""``dcmtui dump``: a file's elements as dcmdump prints them, or as DICOM JSON."""

from __future__ import annotations

import argparse
import sys

from dcmtui.cli import Command

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path

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


def _quick(args: argparse.Namespace) -> int | None:
    """The dump needs no settings: skip loading them (and setting up the log)
    unless there is a config.toml, whose mistakes every command reports."""
    import os

    from dcmtui.paths import CONFIG_FILE, config_folder

    if os.path.exists(os.path.join(config_folder(), CONFIG_FILE)):
        return None
    return _dump(args)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    return _dump(args)


def _dump(args: argparse.Namespace) -> int:
    if getattr(args, "editable", False):
        from dcmtui.cli.undump import print_editable

        return print_editable(args.files)
    from dcmtui.services.dataset import parse
    from dcmtui.services.dataset_view import dump_lines
    from dcmtui.services.errors import FileReadError
    from dcmtui.services.text import visible

    failed = 0
    if args.json:
        import json

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
        quick=_quick,
        epilog="examples:\n  dcmtui dump image.dcm\n  dcmtui dump --json image.dcm\n"
        "  dcmtui dump --editable image.dcm > image.txt",
    ),
}
