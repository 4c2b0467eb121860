"""Convert and anonymize screens, opened from the Files screen."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.uid import RLELossless
from textual.widgets import Checkbox, Input, Select, Static

from dcmtui.screens.convert import AnonymizeScreen, ConvertScreen, _JobScreen
from tests.factories import write_dicom
from tests.ui.helpers import make_app, wait_scanned


def _summary(screen: _JobScreen) -> str:
    return str(screen.query_one("#summary", Static).render())


async def _wait_summary(pilot: object, screen: _JobScreen) -> str:
    for _ in range(200):
        await pilot.pause(0.02)  # type: ignore[attr-defined]
        if text := _summary(screen):
            return text
    raise AssertionError("the job did not finish")


async def test_convert_the_marks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_dicom(root / "a.dcm", uid_seed="a")
    write_dicom(root / "b.dcm", uid_seed="b")
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        files = await wait_scanned(pilot)
        files.table.focus()
        await pilot.press("space", "space", "c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConvertScreen) and len(screen.paths) == 2
        screen.query_one("#syntax", Select).value = "rle"
        screen.query_one("#output", Input).value = str(tmp_path / "out")
        await pilot.press("ctrl+r")
        text = await _wait_summary(pilot, screen)
        assert text.startswith("2 converted") and "0 failed" in text
        assert screen.results.row_count == 2
        for name in ("a.dcm", "b.dcm"):
            ds = pydicom.dcmread(tmp_path / "out" / name)
            assert ds.file_meta.TransferSyntaxUID == RLELossless


async def test_anonymize_dry_run_then_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    path = write_dicom(root / "a.dcm")
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AnonymizeScreen) and screen.paths == [str(path)]
        screen.query_one("#keep-dates", Checkbox).value = True
        screen.query_one("#output", Input).value = str(tmp_path / "anon")
        await pilot.press("ctrl+d")
        text = await _wait_summary(pilot, screen)
        assert "dry run" in text and screen.results.row_count > 5
        assert not (tmp_path / "anon").exists()
        screen.query_one("#summary", Static).update("")
        await pilot.press("ctrl+r")
        text = await _wait_summary(pilot, screen)
        assert text.startswith("1 de-identified")
        ds = pydicom.dcmread(tmp_path / "anon" / "a.dcm")
        assert ds.PatientName == "" and ds.StudyDate == "20240102"
        await pilot.press("escape")
        assert not isinstance(app.screen, AnonymizeScreen)


async def test_mkdicomdir_for_the_marks(tmp_path: Path) -> None:
    from dcmtui.screens.convert import MkDicomdirScreen

    root = tmp_path / "root"
    write_dicom(root / "a.dcm", uid_seed="a", StudyID="1")
    write_dicom(root / "b.dcm", uid_seed="b", StudyID="1", InstanceNumber=2)
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        files = await wait_scanned(pilot)
        files.table.focus()
        await pilot.press("space", "space", "k")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MkDicomdirScreen)
        # The folder gets the width; the file-set ID (16 characters) a little.
        output, fileset_id = (
            screen.query_one("#output", Input),
            screen.query_one("#fileset-id", Input),
        )
        assert output.size.width > 60 and 16 < fileset_id.size.width < 40
        output.value = str(tmp_path / "cd")
        await pilot.press("ctrl+r")
        text = await _wait_summary(pilot, screen)
        assert "created: 2 added" in text
        assert (tmp_path / "cd" / "DICOMDIR").exists()
