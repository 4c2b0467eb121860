"""``dcmtui store import|delete|check|info`` and ``dcmtui worklist add|list``:
the store of the query/retrieve server, and its worklist, without the screen."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="copy (or reference) a folder into the store")
    imp.add_argument("folder", type=Path, help="folder (or file) to import")
    imp.add_argument(
        "--in-place",
        action="store_true",
        help="reference the files where they are instead of copying them",
    )
    imp.add_argument("--json", action="store_true", help="print the counts as JSON")
    delete = sub.add_parser(
        "delete", help="delete a patient, study or series (files and index)"
    )
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--patient", default="", metavar="ID", help="Patient ID")
    which.add_argument("--study", default="", metavar="UID", help="Study UID")
    which.add_argument("--series", default="", metavar="UID", help="Series UID")
    delete.add_argument("--json", action="store_true", help="print the counts as JSON")
    check = sub.add_parser(
        "check", help="reconcile the index with the files of the store"
    )
    check.add_argument("--json", action="store_true", help="print the counts as JSON")
    info = sub.add_parser("info", help="where the store is, its size and quota")
    info.add_argument("--json", action="store_true", help="print as JSON")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.store_admin import StoreAdmin
    from dcmtui.services.text import visible

    admin = StoreAdmin(settings)
    if args.action == "import":
        result = admin.import_folder(args.folder, in_place=args.in_place)
        if args.json:
            print(json.dumps(asdict(result)))
        elif result.in_place:
            print(
                f"referenced {result.added} DICOM files in place under "
                f"{visible(str(args.folder))}; {result.skipped} skipped"
            )
        else:
            print(
                f"imported {result.added} files ({result.nbytes / 1e6:.1f} MB) into "
                f"{visible(str(admin.root))}; {result.duplicates} already there, "
                f"{result.kept} kept beside a different object with the same UID, "
                f"{result.skipped} not DICOM or damaged, {result.refused} refused"
            )
        for problem in result.problems:
            print(f"dcmtui: warning: {visible(problem)}", file=_stderr())
        return 1 if result.refused else 0
    if args.action == "delete":
        deleted = admin.delete(
            patient_id=args.patient, study_uid=args.study, series_uid=args.series
        )
        if args.json:
            print(json.dumps(asdict(deleted)))
        else:
            print(
                f"deleted {deleted.deleted} files ({deleted.nbytes / 1e6:.1f} MB)"
                + (
                    f"; {deleted.forgotten} files referenced in place left on "
                    "disk, removed from the index"
                    if deleted.forgotten
                    else ""
                )
            )
        return 0
    if args.action == "check":
        checked = admin.check()
        if args.json:
            print(json.dumps(asdict(checked)))
        else:
            print(
                f"{checked.files} files: {checked.added} (re)indexed, "
                f"{checked.removed} index rows of missing files removed, "
                f"{checked.damaged} damaged, {checked.duplicates} SOP Instance UIDs "
                "held by more than one file"
            )
            for warning in checked.warnings[:20]:
                print(f"dcmtui: warning: {visible(warning)}", file=_stderr())
        return 0
    used = admin.used_bytes()
    referenced = admin.roots()[1:]
    values: dict[str, Any] = {
        "store": str(admin.root),
        "referenced": referenced,
        "used_bytes": used,
        "quota_bytes": admin.quota,
    }
    if args.json:
        print(json.dumps(values))
    else:
        quota = f" of a {admin.quota / 1e6:.1f} MB quota" if admin.quota else ""
        print(f"store {visible(str(admin.root))}: {used / 1e6:.1f} MB used{quota}")
        for folder in referenced:
            print(f"referenced in place: {visible(str(folder))}")
    return 0


def _stderr() -> TextIO:
    return sys.stderr


def _configure_worklist(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add a worklist item (a DICOM JSON file)")
    add.add_argument("--patient-name", required=True, help="e.g. DOE^JOHN")
    add.add_argument("--patient-id", required=True)
    add.add_argument("--accession", default="", help="Accession Number")
    add.add_argument("--modality", default="", help="e.g. CT")
    add.add_argument("--station", default="", help="Scheduled Station AE Title")
    add.add_argument("--date", default="", help="start date, YYYYMMDD")
    add.add_argument("--time", default="", help="start time, HHMMSS")
    add.add_argument("--description", default="", help="procedure description")
    listing = sub.add_parser("list", help="list the worklist items")
    listing.add_argument("--json", action="store_true", help="print JSON lines")


def _worklist_folder(settings: Settings) -> Path:
    folder = settings.qr.worklist_dir
    return Path(folder).expanduser() if folder else settings.data_dir / "worklist"


def _run_worklist(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.text import visible
    from dcmtui.services.worklist import Worklist

    worklist = Worklist(_worklist_folder(settings))
    if args.action == "add":
        values: dict[str, Any] = {
            "PatientName": args.patient_name,
            "PatientID": args.patient_id,
        }
        if args.accession:
            values["AccessionNumber"] = args.accession
        if args.description:
            values["RequestedProcedureDescription"] = args.description
        step = {
            key: value
            for key, value in (
                ("Modality", args.modality),
                ("ScheduledStationAETitle", args.station),
                ("ScheduledProcedureStepStartDate", args.date),
                ("ScheduledProcedureStepStartTime", args.time),
                ("ScheduledProcedureStepDescription", args.description),
            )
            if value
        }
        path = worklist.add(values, step)
        print(f"added {visible(str(path))}")
        return 0
    for path, item in worklist.items():
        steps = list(item.get("ScheduledProcedureStepSequence", []) or [])
        first = steps[0] if steps else None
        row = {
            "file": path.name,
            "patient_name": str(item.get("PatientName", "") or ""),
            "patient_id": str(item.get("PatientID", "") or ""),
            "accession": str(item.get("AccessionNumber", "") or ""),
            "modality": str(first.get("Modality", "") or "") if first else "",
            "station": str(first.get("ScheduledStationAETitle", "") or "")
            if first
            else "",
        }
        if args.json:
            print(json.dumps(row))
        else:
            print("  ".join(visible(value) for value in row.values()))
    return 0


COMMANDS: dict[str, Command] = {
    "store": Command(
        help="the query/retrieve store: import, delete, check, info",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui store import /media/cd --in-place\n"
        "  dcmtui store delete --study 1.2.3.4\n  dcmtui store check",
    ),
    "worklist": Command(
        help="modality worklist items answered by the receiver: add, list",
        configure=_configure_worklist,
        run=_run_worklist,
        epilog="example:\n  dcmtui worklist add --patient-name DOE^JOHN "
        "--patient-id 42 --modality CT --station CT1",
    ),
}
