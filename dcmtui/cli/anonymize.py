"""``dcmtui anonymize``: the PS3.15 Annex E basic profile, with its retain
options, in place or into a folder, or as a dry run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings

_KEEPS = (
    ("dates", "retain full dates and times (Longitudinal Temporal Information)"),
    ("device", "retain device identity (station, serial numbers)"),
    ("uids", "retain UIDs (otherwise remapped, consistently across the run)"),
    ("patient", "retain patient characteristics (sex, age, size, weight...)"),
    ("institution", "retain institution identity"),
    ("private", "keep private attributes (removed by the basic profile)"),
)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="write the de-identified files into DIR (default: in place)",
    )
    parser.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="list every attribute that would change; write nothing",
    )
    for name, text in _KEEPS:
        parser.add_argument(f"--keep-{name}", action="store_true", help=text)
    parser.add_argument(
        "--salt",
        metavar="TEXT",
        help="secret that fixes the new UIDs (same salt, same UIDs in every run); "
        "default: random for each run",
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.anonymize import anonymize_iter
    from dcmtui.services.text import visible

    keep = frozenset(name for name, _ in _KEEPS if getattr(args, f"keep_{name}"))
    failed = 0
    for result in anonymize_iter(
        args.files, args.output, keep, args.salt, dry_run=args.dry_run
    ):
        if not result.ok:
            failed += 1
            print(f"dcmtui: error: {visible(result.message)}", file=sys.stderr)
            continue
        if args.dry_run:
            print(f"{visible(result.source)}: {len(result.changes)} changes")
            for change in result.changes:
                print(f"  {visible(change.line())}")
        else:
            print(f"{visible(result.target)}: {len(result.changes)} attributes changed")
    return 1 if failed else 0


COMMANDS: dict[str, Command] = {
    "anonymize": Command(
        help="de-identify files (PS3.15 Annex E basic profile, retain options)",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui anonymize study/*.dcm -o anon/\n"
        "  dcmtui anonymize CT1.dcm --dry-run\n"
        "  dcmtui anonymize *.dcm -o out/ --keep-dates --keep-patient",
    ),
}
