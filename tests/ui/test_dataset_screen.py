"""The Dataset screen, driven with Pilot as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dcmtui.app import DcmtuiApp
from dcmtui.screens.dump import DumpScreen
from dcmtui.screens.edit_modals import (
    ConfirmModal,
    EditValueModal,
    InsertModal,
    TextModal,
)
from dcmtui.widgets.tag_table import TagTable
from tests.factories import write_dicom
from tests.ui.helpers import make_app, wait_until

HOSTILE = "EVIL\x1b[31m[bold]RED[/bold]\nX\x00Y"


def _sample(path: Path) -> Path:
    item = Dataset()
    item.PatientID = "OTHER1"
    item.TypeOfPatientID = "TEXT"
    return write_dicom(
        path,
        uid_seed="dataset-screen",
        PatientName="DOE^JOHN",
        OtherPatientIDsSequence=[item],
    )


async def _open(app: DcmtuiApp, path: Path) -> DumpScreen:
    screen = DumpScreen(app.services, path, None)
    await app.push_screen(screen)
    for _ in range(100):
        await app.workers.wait_for_complete()
        if screen.view is not None:
            break
    return screen


def _rows(table: TagTable) -> list[str]:
    return [
        table.get_row_at(i)[0].plain + " " + table.get_row_at(i)[2].plain
        for i in range(table.row_count)
    ]


async def _find(pilot: object, screen: DumpScreen, text: str) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await pilot.press("slash")
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def test_rows_tree_toggles_and_detail(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        table = screen.table
        rows = _rows(table)
        assert rows[0].startswith("(0002,0000)")
        assert any("PatientName" in r for r in rows)
        total = table.row_count
        await _find(pilot, screen, "OtherPatientIDsSequence")
        assert table.current() is not None and table.current().tag == 0x00101002  # type: ignore[union-attr]
        await pilot.press("space")  # collapse the sequence
        assert table.row_count == total - 3
        await pilot.press("space")
        assert table.row_count == total
        await pilot.press("minus")
        assert table.row_count < total
        await pilot.press("plus")
        assert table.row_count == total
        await pilot.press("m")
        assert not any(r.startswith("(0002,") for r in _rows(table))
        await pilot.press("m", "g")
        assert not any(r.startswith("(0002,0000)") for r in _rows(table))
        await _find(pilot, screen, "(0010,0010)")
        detail = str(screen.query_one("#detail").render())
        assert "PatientName" in detail and "DOE^JOHN" in detail


async def test_find_next_previous_and_text(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        table = screen.table
        await _find(pilot, screen, "PatientID")
        first = table.cursor
        await pilot.press("n")
        second = table.cursor
        assert second != first
        assert {table.current().tag for _ in (0,)} == {0x00100020}  # type: ignore[union-attr]
        await pilot.press("N")
        assert table.cursor == first
        await _find(pilot, screen, "other1")  # text in a value, any case
        assert table.get_row_at(table.cursor)[3].plain == "OTHER1"


async def test_edit_with_live_validation_undo_redo_and_save(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    original = path.read_bytes()
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "StudyDate")
        await pilot.press("e")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, EditValueModal)
        await pilot.press(*["backspace"] * 10, *"2024-01")
        reason = str(modal.query_one("#reason").render())
        assert "DA holds" in reason or "YYYYMMDD" in reason
        assert modal.query_one("#apply").disabled
        await pilot.press("enter")  # refused: the modal stays
        assert app.screen is modal
        await pilot.press(*["backspace"] * 10, *"20240229", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.doc is not None and screen.doc.dirty
        assert screen.table.get_row_at(screen.table.cursor)[3].plain == "20240229"
        await pilot.press("D")
        assert isinstance(app.screen, TextModal)
        await pilot.press("escape")
        await pilot.press("c")
        assert isinstance(app.screen, TextModal)
        lines = [str(w.render()) for w in app.screen.query(".line")]
        assert lines == ["dcmodify -m '(0008,0020)=20240229' FILE"]
        await pilot.press("escape")
        await pilot.press("u")
        assert not screen.doc.dirty
        await pilot.press("U")
        assert screen.doc.dirty
        assert path.read_bytes() == original
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.doc.dirty
        assert b"20240229" in path.read_bytes()
        assert (tmp_path / "a.dcm.bak").read_bytes() == original


async def test_insert_delete_items_and_leave_asks(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "PatientName")
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, InsertModal)
        await pilot.press(*"IssuerOfPatientID")
        await pilot.pause()
        assert app.screen.query_one("#vr").value == "LO"  # type: ignore[attr-defined]
        await pilot.press("tab", "tab", *"HOSPITAL", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("IssuerOfPatientID" in r for r in _rows(screen.table))
        await _find(pilot, screen, "OtherPatientIDsSequence")
        before = screen.table.row_count
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.table.row_count == before + 1
        await pilot.press("c")  # the dcmodify line of each edit, the new item too
        assert isinstance(app.screen, TextModal)
        lines = [str(w.render()) for w in app.screen.query(".line")]
        assert lines == [
            "dcmodify -i '(0010,0021)=HOSPITAL' FILE",
            "dcmodify -i '(0010,1002)[1]' FILE",
        ]
        await pilot.press("escape")
        await pilot.press("down", "d")  # remove the first item: asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.table.row_count == before - 2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)  # unsaved changes
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, DumpScreen)


async def test_charset_refusal_is_shown(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "PatientName")
        await pilot.press("e")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, EditValueModal)
        modal.query_one("#value").value = "王^小明"  # type: ignore[attr-defined]
        await pilot.pause()
        assert "character set" in str(modal.query_one("#reason").render())
        assert modal.query_one("#apply").disabled


async def test_damaged_file_read_only_banner(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    path.write_bytes(path.read_bytes()[:-30])
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        banner = screen.query_one("#banner")
        assert banner.display and "read-only" in str(banner.render())
        await _find(pilot, screen, "PatientName")
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is screen  # no edit modal


async def test_file_changed_on_disk_asks(tmp_path: Path) -> None:
    path = _sample(tmp_path / "a.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "PatientName")
        await pilot.press("e", *["backspace"] * 10, *"NEW", "enter")
        await app.workers.wait_for_complete()
        theirs = write_dicom(tmp_path / "other.dcm", PatientName="THEIRS").read_bytes()
        path.write_bytes(theirs)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await app.workers.wait_for_complete()
        assert path.read_bytes() == theirs


async def test_hostile_values_shown_literally(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", PatientName=HOSTILE)
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "(0010,0010)")
        value = screen.table.get_row_at(screen.table.cursor)[3].plain
        assert "\x1b" not in value and "\n" not in value
        assert "[bold]RED[/bold]" in value and "␛" in value


@pytest.mark.parametrize("size", [20000])
async def test_big_file_opens_and_scrolls(size: int, tmp_path: Path) -> None:
    from tests.services.test_dataset import big_dataset

    path = big_dataset(tmp_path / "big.dcm", size)
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        assert screen.table.row_count > size
        await pilot.press("end")
        assert screen.table.cursor == screen.table.row_count - 1


async def test_save_as_and_deflated_read_only(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    path = _sample(tmp_path / "a.dcm")
    original = path.read_bytes()
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "PatientName")
        await pilot.press("e", *["backspace"] * 10, *"COPY", "enter")
        await app.workers.wait_for_complete()
        await pilot.press("S")
        await pilot.pause()
        target = tmp_path / "copy.dcm"
        app.screen.query_one("#path").value = str(target)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert path.read_bytes() == original
        assert b"COPY" in target.read_bytes()
        app.pop_screen()
        deflated = Path(str(get_testdata_file("image_dfl.dcm")))
        screen = await _open(app, deflated)
        banner = screen.query_one("#banner")
        assert banner.display and "deflated" in str(banner.render()).lower()


async def test_quit_asks_when_edits_are_unsaved(tmp_path: Path) -> None:
    from dcmtui.screens.edit_modals import ConfirmModal

    path = _sample(tmp_path / "a.dcm")
    original = path.read_bytes()
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await _find(pilot, screen, "StudyDate")
        await pilot.press("e")
        await pilot.pause()
        await pilot.press(*["backspace"] * 10, *"20240229", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.doc is not None and screen.doc.dirty
        await pilot.press("3")  # another mode: the edited screen stays in its stack
        await pilot.pause()
        assert app.current_mode == "nodes"
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "1 file has unsaved changes" in app.screen.question
        await pilot.press("n")  # stay
        await pilot.pause()
        assert app.is_running and screen.doc.dirty
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
    assert path.read_bytes() == original


def _editor(folder: Path, name: str, sed: str) -> str:
    """An $EDITOR that applies one sed expression to the file it is given."""
    script = folder / f"{name}.sh"
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(0o755)
    return str(script)


async def test_edit_as_text_in_editor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E: the data set as text in $EDITOR; changes come back as ordinary,
    checked, undoable edits, listed before anything is saved."""
    from dcmtui.screens.edit_modals import TextModal

    path = _sample(tmp_path / "a.dcm")
    original = path.read_bytes()
    monkeypatch.setenv("VISUAL", _editor(tmp_path, "rename", "s/DOE^JOHN/ROE^JANE/"))
    app = make_app(tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await _open(app, path)
        await pilot.press("E")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.doc is not None and screen.doc.dirty
        assert isinstance(app.screen, TextModal)  # the pending changes, shown
        assert [c.path for c in screen.doc.changes] == ["(0010,0010)"]
        assert path.read_bytes() == original  # nothing saved yet
        await pilot.press("escape", "ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.doc.dirty
        saved = path.read_bytes()
        assert b"ROE^JANE" in saved and b"DOE^JOHN" not in saved
        assert len(saved) == len(original)

        # a value the VR refuses: nothing changes, the reason is shown, and
        # "Discard" (n) drops the text
        bad = _editor(tmp_path, "bad-date", "s/\\[20240102\\]/[2024-01-02]/")
        monkeypatch.setenv("VISUAL", bad)
        app.clear_notifications()
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "DA holds at most 8" in app.screen.question
        assert not screen.doc.dirty
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1, messages  # the reason names the text's line
        assert messages[0].startswith("line ") and "DA holds at most 8" in messages[0]
        await pilot.press("n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen and not screen.doc.dirty

        # "Edit again" (y) reopens the user's own text, not a fresh dump: the
        # name changed in the first round comes back with the date fixed.
        both = _editor(
            tmp_path, "both", "s/ROE^JANE/DOE^JIM/;s/\\[20240102\\]/[2024-01-02]/"
        )
        monkeypatch.setenv("VISUAL", both)
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        fix = _editor(tmp_path, "fix", "s/\\[2024-01-02\\]/[20240103]/")
        monkeypatch.setenv("VISUAL", fix)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        assert sorted(c.path for c in screen.doc.changes) == [
            "(0008,0020)",
            "(0010,0010)",
        ]
        await pilot.press("escape", "u", "u")
        await pilot.pause()
        assert not screen.doc.dirty

        # only comments changed: no edit, no diff
        monkeypatch.setenv("VISUAL", _editor(tmp_path, "comment", "1s/$/ (seen)/"))
        app.clear_notifications()
        await pilot.press("E")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen and not screen.doc.dirty
        assert [n.message for n in app._notifications] == [
            "The text describes no change."
        ]
    assert path.read_bytes() == saved
