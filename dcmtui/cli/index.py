"""``dcmtui index``: the indexing service without the screen.

Re-opening an unchanged folder takes a quick path (:func:`_quick`) before the
settings, logging and argparse are loaded: the last full scan of the folder
saved a snapshot of what it walked (dcmtui.services.index_snapshot); when the
walk, config.toml and the index are all as they were, the summary is printed
from it without opening SQLite. Anything else runs the full scan (:func:`_run`),
which saves a new snapshot.
"""

from __future__ import annotations

import sys

from dcmtui.cli import Command

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import argparse

    from dcmtui.config import Settings
    from dcmtui.models import IndexSummary


class _Args:
    """The arguments the parser would set, read without argparse."""

    __slots__ = ("json", "path", "warnings")

    def __init__(self, path: str, json: bool, warnings: bool) -> None:
        self.path = path
        self.json = json
        self.warnings = warnings


def _quick_args(argv: list[str]) -> _Args | None:
    """``PATH [--json] [--warnings]`` in any order; None for anything else
    (help, abbreviations, a path that starts with ``-``...: argparse reads it)."""
    paths = [a for a in argv if a not in ("--json", "--warnings")]
    if len(paths) != 1 or not paths[0] or paths[0].startswith("-"):
        return None
    return _Args(paths[0], "--json" in argv, "--warnings" in argv)


def _configure(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path

    parser.add_argument("path", type=Path, help="folder or file to index")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument(
        "--warnings", action="store_true", help="list every warning on stderr"
    )


def _quick(args: argparse.Namespace | _Args) -> int | None:
    """Re-open an unchanged folder from its snapshot; None when anything
    changed (or is in doubt), for the full scan to run."""
    import os

    from dcmtui.paths import config_folder, folder
    from dcmtui.services.index_snapshot import reopen

    path = os.fspath(args.path)
    if path.startswith("~"):  # pathlib's expansion rules, not os.path's
        return None
    try:
        root = os.path.realpath(path, strict=True)
    except (OSError, ValueError):
        return None
    hit = reopen(root, folder("DCMTUI_DATA_DIR", "data"), config_folder())
    if hit is None:
        return None
    if args.json:
        print(f"{hit.json_head}{round(hit.seconds, 3)!r}}}")
    else:
        print(f"{hit.text_head}{round(hit.seconds, 3):.2f} s")
    _print_warnings(hit.warnings, args.warnings)
    return 0


def _text_head(s: IndexSummary) -> str:
    """The text summary up to its seconds."""
    return (
        f"{s.root}: {s.files} files, {s.dicom} DICOM, {s.damaged} damaged, "
        f"{s.other} not DICOM; {s.patients} patients, {s.studies} studies, "
        f"{s.series} series; {s.warnings} warnings; read {s.read} in "
    )


def _print_warnings(warnings: list[tuple[str, str]], every: bool) -> None:
    """Warnings on stderr: the first five, or ``every`` one."""
    if not warnings:
        return
    from dcmtui.services.text import visible

    shown = warnings if every else warnings[:5]
    for path, reason in shown:
        print(f"warning: {visible(path)}: {reason}", file=sys.stderr)
    if len(warnings) > len(shown):
        print(
            f"warning: {len(warnings) - len(shown)} more (use --warnings)",
            file=sys.stderr,
        )


def _run(args: argparse.Namespace | _Args, settings: Settings) -> int:
    import json
    from collections import deque
    from dataclasses import asdict, replace
    from pathlib import Path

    from dcmtui.services import index_snapshot
    from dcmtui.services.files import Index, resolve_root

    root = resolve_root(Path(args.path))
    data_dir = str(settings.data_dir)
    index_snapshot.forget(data_dir, str(root))  # stale from here on
    try:
        config = index_snapshot.read_config(str(settings.config_dir))
    except OSError:
        config = None
    log = index_snapshot.WalkLog()
    index = Index(settings.index_path)
    # The blocking core of the service the Files screen runs in a thread:
    # no screen to keep live here, so no thread and no event loop.
    progress = deque(
        index.scan(
            root,
            follow_symlinks=settings.follow_symlinks,
            show_hidden=settings.show_hidden,
            log=log,
        ),
        maxlen=1,
    )[0]
    summary, rows = index.summary_and_rows(root, progress)
    warnings = [(w.path, w.reason) for w in progress.warnings]
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print(f"{_text_head(summary)}{summary.seconds:.2f} s")
    _print_warnings(warnings, args.warnings)
    # Every warning came from the walk (none from reading a file, which the
    # next scan would try again), and the index holds a row for each file
    # seen and no other (no other writer came in between): the next re-open
    # may come from a snapshot.
    if warnings == log.warnings and not progress.cancelled and rows == progress.seen:
        again = replace(summary, read=0, seconds=0.0)
        json_head = json.dumps(asdict(again))
        if json_head.endswith("0.0}") and _same_settings(settings, config):
            index_snapshot.save(
                data_dir,
                str(root),
                follow=settings.follow_symlinks,
                hidden=settings.show_hidden,
                config=config,
                log=log,
                json_head=json_head.removesuffix("0.0}"),
                text_head=_text_head(again),
            )
    return 0


def _same_settings(settings: Settings, config: bytes | None) -> bool:
    """Whether ``config`` (config.toml's bytes, read after the settings were
    loaded) still gives the settings the scan walked with; a snapshot ties
    these bytes to them."""
    from dcmtui.config import load_settings
    from dcmtui.services import index_snapshot
    from dcmtui.services.errors import DcmtuiError

    try:
        now = load_settings()
        if index_snapshot.read_config(str(settings.config_dir)) != config:
            return False
    except (DcmtuiError, OSError):
        return False
    return (now.follow_symlinks, now.show_hidden, now.data_dir) == (
        settings.follow_symlinks,
        settings.show_hidden,
        settings.data_dir,
    )


COMMANDS: dict[str, Command] = {
    "index": Command(
        help="index a folder (or file) into the SQLite index and print the counts",
        configure=_configure,
        run=_run,
        quick=_quick,
        quick_args=_quick_args,
        epilog="examples:\n  dcmtui index /srv/dicom\n  dcmtui index . --json",
    ),
}
