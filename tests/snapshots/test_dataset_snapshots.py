"""SVG snapshots of the Dataset screen's main states, on fixed files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from textual.pilot import Pilot

from dcmtui.screens.dump import DumpScreen
from tests.factories import write_dicom
from tests.snapshots.corpus import FIXED_ROOT
from tests.ui.helpers import make_app, wait_until

SnapCompare = Callable[..., bool]
SIZE = (120, 36)


def _fixed(name: str, *, damaged: bool = False) -> Path:
    folder = FIXED_ROOT / name
    shutil.rmtree(folder, ignore_errors=True)
    item = Dataset()
    item.PatientID = "OTHER-1"
    item.TypeOfPatientID = "TEXT"
    path = write_dicom(
        folder / "image.dcm",
        uid_seed=name,
        PatientName="EVIL\x1b[31m[bold]NAME",
        OtherPatientIDsSequence=[item],
    )
    if damaged:
        path.write_bytes(path.read_bytes()[:-40])
    return path


def _opener(path: Path, *keys: str) -> Callable[[Pilot[Any]], Any]:
    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        screen = DumpScreen(app.services, path, None)  # type: ignore[attr-defined]
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.view is not None)
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.1)

    return before


class TestDatasetScreen:
    def test_table_and_detail(self, snap_compare: SnapCompare) -> None:
        path = _fixed("snap-dataset")
        app = make_app(path.parent)
        keys = ("slash", *"PatientName", "enter")
        assert snap_compare(app, terminal_size=SIZE, run_before=_opener(path, *keys))

    def test_collapsed(self, snap_compare: SnapCompare) -> None:
        path = _fixed("snap-collapsed")
        app = make_app(path.parent)
        assert snap_compare(
            app, terminal_size=SIZE, run_before=_opener(path, "m", "minus")
        )

    def test_edit_refused(self, snap_compare: SnapCompare) -> None:
        path = _fixed("snap-edit")
        app = make_app(path.parent)
        keys = ("slash", *"StudyDate", "enter", "e", "end", "3", "2")
        assert snap_compare(app, terminal_size=SIZE, run_before=_opener(path, *keys))

    def test_damaged_banner(self, snap_compare: SnapCompare) -> None:
        path = _fixed("snap-damaged", damaged=True)
        app = make_app(path.parent)
        assert snap_compare(app, terminal_size=SIZE, run_before=_opener(path))
