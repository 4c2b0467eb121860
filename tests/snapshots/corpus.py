"""A fixed corpus for snapshots and screenshots: same paths, UIDs and bytes
on every run, so that the pictures change only when the screen does."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from textual.pilot import Pilot

from dcmtui.screens.browser import FilesScreen
from dcmtui.widgets.scan_status import ScanStatus
from tests.factories import write_dicom
from tests.ui.helpers import wait_scanned

FIXED_ROOT = Path("/tmp/dcmtui-fixed")

_PATIENTS = [
    ("SMITH^ANN", "P001", "19600101", "CT", "CHEST", ["AXIAL 5mm", "CORONAL MPR"], 4),
    ("JONES^BOB", "P002", "19750505", "MR", "BRAIN", ["T1 SAG", "T2 AX", "FLAIR"], 3),
    ("MÜLLER^JÜRGEN", "P003", "19811224", "US", "ABDOMEN", ["LIVER"], 2),
    ("EVIL\x1b[31m[bold]NAME", "P004", "19900101", "OT", "[red]MARKUP", ["SC"], 1),
]


def make_fixed_corpus(name: str) -> Path:
    """(Re)create ``/tmp/dcmtui-fixed/<name>`` with 4 patients, 7 series."""
    root = FIXED_ROOT / name
    shutil.rmtree(root, ignore_errors=True)
    for p, (patient, pid, birth, modality, study, series_list, count) in enumerate(
        _PATIENTS
    ):
        for s, series in enumerate(series_list):
            for n in range(count):
                write_dicom(
                    root / pid / f"series{s + 1}" / f"IM{n + 1:04d}.dcm",
                    uid_seed=f"{pid}-{s}-{n}",
                    PatientName=patient,
                    PatientID=pid,
                    PatientBirthDate=birth,
                    Modality=modality,
                    StudyDescription=study,
                    StudyDate=f"2024010{p + 1}",
                    StudyInstanceUID=f"1.2.826.0.1.3680043.10.1453.{p + 1}",
                    SeriesInstanceUID=f"1.2.826.0.1.3680043.10.1453.{p + 1}.{s + 1}",
                    SeriesDescription=series,
                    SeriesNumber=s + 1,
                    InstanceNumber=n + 1,
                    implicit=(p % 2 == 1),
                )
    broken = root / "P001" / "broken.dcm"
    data = write_dicom(
        broken, uid_seed="broken", PatientName="SMITH^ANN", PatientID="P001"
    ).read_bytes()
    broken.write_bytes(data[:-60])
    (root / "README.txt").write_text("not DICOM\n")
    return root


async def settle_scan(pilot: Pilot[None]) -> FilesScreen:
    """Wait for the scan, then pin the elapsed time so pictures are stable."""
    screen = await wait_scanned(pilot)
    status = screen.query_one(ScanStatus)
    assert screen.progress is not None
    status.progress = replace(screen.progress, elapsed=0.42, read=screen.progress.seen)
    screen.table.move_cursor(row=0)
    await pilot.pause()
    return screen
