"""The PACS screen (mode 6): worklist items added and deleted in the app and
answered to DCMTK findscu -W; store import and check."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, Input

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.pacs import ImportModal, PacsScreen, WorklistItemModal
from dcmtui.services.store_admin import StoreAdmin
from dcmtui.services.worklist import Worklist
from tests.factories import write_dicom
from tests.ui.helpers import wait_until


def make_app(tmp_path: Path) -> DcmtuiApp:
    (tmp_path / "root").mkdir(exist_ok=True)
    return DcmtuiApp(load_settings(), root=tmp_path / "root")


def worklist() -> Worklist:
    return Worklist(load_settings().data_dir / "worklist")


async def test_add_and_delete_a_worklist_item(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PacsScreen)
        await pilot.press("a")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, WorklistItemModal)
        modal.query_one("#wl-PatientName", Input).value = "DOE^JOHN"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is modal  # refused: no patient ID
        modal.query_one("#wl-PatientID", Input).value = "42"
        modal.query_one("#wl-Modality", Input).value = "CT"
        modal.query_one("#wl-ScheduledStationAETitle", Input).value = "CT1"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_until(pilot, lambda: screen.table.row_count == 1)
        (item,) = [i for _, i in worklist().items()]
        assert str(item.PatientName) == "DOE^JOHN"
        assert item.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "CT1"
        await pilot.press("d")
        await wait_until(pilot, lambda: screen.table.row_count == 0)
    assert list(worklist().items()) == []


async def test_import_a_folder_and_check_the_store(tmp_path: Path) -> None:
    for n in range(3):
        write_dicom(tmp_path / "src" / f"{n}.dcm", PatientID="P1")
    app = make_app(tmp_path)
    notes: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PacsScreen)
        original = app.notify

        def record(message: str, **kwargs: object) -> None:
            notes.append(message)
            original(message, **kwargs)  # type: ignore[arg-type]

        app.notify = record  # type: ignore[method-assign]
        screen.notify = record  # type: ignore[method-assign]
        await pilot.press("i")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ImportModal)
        modal.query_one("#import-path", Input).value = str(tmp_path / "src")
        modal.query_one("#import-in-place", Checkbox).value = False
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("copied" in n for n in notes))
        assert any("3 files copied" in n for n in notes), notes
        summary = str(screen.query_one("#pacs-summary").render())
        assert "used" in summary
        await pilot.press("c")
        await wait_until(pilot, lambda: any("Store checked" in n for n in notes))
        assert any("Store checked: 3 files" in n for n in notes), notes
    assert StoreAdmin(load_settings()).used_bytes() > 0
