"""The diff screen: D in the Files screen with two marks."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from dcmtui.screens.diff import DiffScreen
from tests.factories import write_dicom
from tests.ui.helpers import make_app, wait_scanned, wait_until


async def test_two_marks_open_the_diff(tmp_path: Path) -> None:
    write_dicom(tmp_path / "a.dcm", uid_seed="s")
    write_dicom(tmp_path / "b.dcm", uid_seed="s", PatientName="ROE^JANE")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        files = await wait_scanned(pilot)
        files.table.focus()
        await pilot.press("D")
        assert not isinstance(app.screen, DiffScreen)  # no marks yet
        await pilot.press("space", "space", "D")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await wait_until(pilot, lambda: screen.rows)
        assert [r.keyword for r in screen.rows] == ["PatientName"]
        summary = str(screen.query_one("#summary", Static).render())
        assert "1 changed" in summary
        # the counts first: long paths must not push them off the line
        assert summary.index("1 changed") + len("1 changed") < 118
        await pilot.press("s")
        await wait_until(pilot, lambda: len(screen.rows) > 1)
        assert screen.table.row_count == len(screen.rows) > 10
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)


async def test_unsaved_edits_against_the_file_on_disk(tmp_path: Path) -> None:
    from dcmtui.screens.dump import DumpScreen
    from dcmtui.screens.edit_modals import EditValueModal

    path = write_dicom(tmp_path / "a.dcm", uid_seed="s")
    original = path.read_bytes()
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = DumpScreen(app.services, path, None)
        await app.push_screen(screen)
        for _ in range(100):
            await app.workers.wait_for_complete()
            if screen.view is not None:
                break
        await pilot.press("equals_sign")
        await pilot.pause()
        assert app.screen is screen  # nothing to compare yet
        await pilot.press("slash", *"StudyDate", "enter")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditValueModal)
        await pilot.press(*["backspace"] * 10, *"20240229", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("equals_sign")
        await pilot.pause()
        diff = app.screen
        assert isinstance(diff, DiffScreen) and diff.edited is not None
        await wait_until(pilot, lambda: diff.rows)
        assert [(r.keyword, r.a, r.b) for r in diff.rows] == [
            ("StudyDate", "20240102", "20240229")
        ]
        assert path.read_bytes() == original  # nothing was saved


async def test_long_values_leave_b_in_view(tmp_path: Path) -> None:
    """Side by side: a long value in A is cut so that B stays on screen, and
    the cut follows the width of the terminal."""
    long_a, long_b = "A" * 110, "B" * 110
    write_dicom(tmp_path / "a.dcm", uid_seed="s", ImageComments=long_a)
    write_dicom(tmp_path / "b.dcm", uid_seed="s", ImageComments=long_b)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = DiffScreen(app.services, tmp_path / "a.dcm", tmp_path / "b.dcm")
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.rows)
        await pilot.pause()

        def widths() -> int:
            table = screen.table
            return sum(c.get_render_width(table) for c in table.columns.values())

        assert widths() <= screen.table.size.width
        a, b = (str(c) for c in screen.table.get_row_at(0)[4:])
        assert a.startswith("AAAA") and b.startswith("BBBB") and a.endswith("…")
        detail = str(screen.query_one("#detail", Static).render())
        assert f"A: {long_a}" in detail and f"B: {long_b}" in detail  # all of it
        await pilot.resize_terminal(200, 36)
        await pilot.pause()
        await pilot.pause()
        assert widths() <= screen.table.size.width
        wider = str(screen.table.get_row_at(0)[4])
        assert len(wider) > len(a)
