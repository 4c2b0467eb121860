"""``dcmtui index``: the indexing service without the screen."""

from __future__ import annotations

import argparse
import sys
from collections import deque

from dcmtui.cli import Command

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path

    parser.add_argument("path", type=Path, help="folder or file to index")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument(
        "--warnings", action="store_true", help="list every warning on stderr"
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.files import Index, resolve_root
    from dcmtui.services.text import visible

    root = resolve_root(args.path)
    index = Index(settings.index_path)
    # The blocking core of the service the Files screen runs in a thread:
    # no screen to keep live here, so no thread and no event loop.
    progress = deque(
        index.scan(
            root,
            follow_symlinks=settings.follow_symlinks,
            show_hidden=settings.show_hidden,
        ),
        maxlen=1,
    )[0]
    summary, warnings = index.summary(root, progress), progress.warnings
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps(asdict(summary)))
    else:
        s = summary
        print(
            f"{s.root}: {s.files} files, {s.dicom} DICOM, {s.damaged} damaged, "
            f"{s.other} not DICOM; {s.patients} patients, {s.studies} studies, "
            f"{s.series} series; {s.warnings} warnings; read {s.read} in "
            f"{s.seconds:.2f} s"
        )
    shown = warnings if args.warnings else warnings[:5]
    for warning in shown:
        print(f"warning: {visible(warning.path)}: {warning.reason}", file=sys.stderr)
    if len(warnings) > len(shown):
        print(
            f"warning: {len(warnings) - len(shown)} more (use --warnings)",
            file=sys.stderr,
        )
    return 0


COMMANDS: dict[str, Command] = {
    "index": Command(
        help="index a folder (or file) into the SQLite index and print the counts",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui index /srv/dicom\n  dcmtui index . --json",
    ),
}
