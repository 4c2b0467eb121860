"""Batch modify from the Files screen's marks, driven with Pilot."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from dcmtui.screens.batch import BatchModifyScreen
from tests.factories import write_dicom
from tests.ui.helpers import make_app, wait_scanned


async def test_batch_modify_marked_files(tmp_path: Path) -> None:
    root = tmp_path / "files"
    paths = [write_dicom(root / f"{n}.dcm", PatientName=f"P{n}") for n in range(3)]
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("b")  # nothing marked: a warning, no screen
        assert app.screen is screen
        screen.table.marks.update(str(p) for p in paths[:2])
        await pilot.press("b")
        await pilot.pause()
        batch = app.screen
        assert isinstance(batch, BatchModifyScreen)
        batch.query_one("#path", Input).value = "PatientName"
        batch.query_one("#value", Input).value = "ANON^YMOUS"
        await pilot.pause()
        assert not batch.query_one("#run").disabled
        await pilot.click("#run")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = batch.query_one(DataTable)
        assert table.row_count == 2
        assert [str(table.get_row_at(i)[1]) for i in range(2)] == ["ok", "ok"]
        assert all(b"ANON^YMOUS" in p.read_bytes() for p in paths[:2])
        assert b"ANON^YMOUS" not in paths[2].read_bytes()
        batch.query_one("#path", Input).value = "(0010"
        await pilot.pause()
        assert batch.query_one("#run").disabled
