"""The Files screen, driven with Pilot as a user would."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import ContentSwitcher, Input, OptionList, Tree

from dcmtui.models import FileRecord
from dcmtui.screens.browser import FilesScreen
from dcmtui.screens.dicomdir import DicomdirScreen
from dcmtui.screens.dump import DumpScreen
from dcmtui.screens.modals import HelpScreen
from dcmtui.services.fastread import read_record
from dcmtui.widgets.folder_tree import FolderTree
from dcmtui.widgets.scan_status import ScanStatus
from dcmtui.widgets.tag_table import TagTable
from tests.factories import write_dicom
from tests.ui.helpers import make_app, plain, wait_scanned, wait_until

HOSTILE = "EVIL\x1b[31m[bold]RED[/bold]\nX\x00Y"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """3 patients, 4 series, 9 files, nested; one damaged; one not DICOM."""
    root = tmp_path / "corpus"
    spec = [
        ("SMITH^ANN", "P1", "1.2.3.1", "1.2.3.1.1", "CT", 3),
        ("SMITH^ANN", "P1", "1.2.3.1", "1.2.3.1.2", "CT", 2),
        ("JONES^BOB", "P2", "1.2.3.2", "1.2.3.2.1", "MR", 2),
        ("ADAMS^CY", "P3", "1.2.3.3", "1.2.3.3.1", "US", 1),
    ]
    for name, pid, study, series, mod, count in spec:
        for n in range(count):
            write_dicom(
                root / pid / series / f"{n}.dcm",
                PatientName=name,
                PatientID=pid,
                StudyInstanceUID=study,
                SeriesInstanceUID=series,
                Modality=mod,
                InstanceNumber=n + 1,
            )
    broken = root / "P3" / "broken.dcm"
    data = write_dicom(broken, PatientName="ADAMS^CY", PatientID="P3").read_bytes()
    broken.write_bytes(data[:-50])
    (root / "notes.txt").write_text("hello")
    return root


async def test_index_shows_rows_and_counts(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        assert screen.table.row_count == 9
        progress = screen.progress
        assert progress is not None
        assert (progress.dicom, progress.damaged, progress.other) == (8, 1, 1)
        status = str(screen.query_one("#scan-counters").render())
        assert "10 files seen" in status and "1 damaged" in status
        assert "1 not DICOM" in status
        damaged = [r for r in screen.table.records.values() if r.reason]
        assert len(damaged) == 1 and "truncated" in damaged[0].reason


async def test_filter_matches_any_column(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("slash")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"jones")
        assert screen.table.row_count == 2
        assert {r.patient_name for r in screen.table.visible_records()} == {"JONES^BOB"}
        await pilot.press("escape")
        assert screen.table.row_count == 9
        await pilot.press("slash", *"us", "enter")  # modality column
        assert {r.modality for r in screen.table.visible_records()} == {"US"}
        assert screen.table.has_focus


async def test_sort_by_column_and_reverse(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("s")  # first column: patient
        names = [r.patient_name for r in screen.table.visible_records()]
        assert names == sorted(names) and names[0] == "ADAMS^CY"
        first_row = screen.table.get_row_at(0)
        assert first_row[1].plain == "ADAMS^CY"
        await pilot.press("S")
        assert screen.table.get_row_at(0)[1].plain == "SMITH^ANN"
        screen.table.sort_column("inst")
        await pilot.pause()
        numbers = [r.instance_number for r in screen.table.visible_records()]
        assert numbers == sorted(numbers, key=lambda n: (n is None, n or 0))


async def test_marks_file_series_study_and_clear(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        screen.table.sort_column("patient")  # ADAMS (2 files), JONES (2), SMITH (5)
        screen.table.move_cursor(row=0)
        await pilot.press("space")
        assert len(screen.table.marks) == 1
        assert screen.table.get_row_at(0)[0].plain == "●"
        assert screen.table.cursor_row == 1  # moved down after marking
        marks = str(screen.query_one("#scan-marks").render())
        assert marks.startswith("● 1 marked")
        await pilot.press("U")
        assert not screen.table.marks
        screen.table.move_cursor(row=4)  # a SMITH file
        await pilot.press("m")
        series = screen.table.current_record
        assert series is not None
        assert screen.table.marks == {
            r.path
            for r in screen.table.records.values()
            if r.series_uid == series.series_uid
        }
        await pilot.press("M")
        assert len(screen.table.marks) == 5
        total = sum(screen.table.records[p].size for p in screen.table.marks)
        assert screen.query_one(ScanStatus).marks == (5, total)
        await pilot.press("M")  # all marked: unmark the study
        assert not screen.table.marks


async def test_enter_opens_the_file_read_only(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        screen.table.sort_column("patient")
        screen.table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DumpScreen))
        table = app.screen.query_one(TagTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        names = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        assert "PatientName" in names and "TransferSyntaxUID" in names
        await pilot.press("escape")
        assert isinstance(app.screen, FilesScreen)


async def test_damaged_file_opens_with_a_banner(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        path = next(p for p, r in screen.table.records.items() if r.reason)
        screen.table.move_cursor(row=screen.table.get_row_index(path))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DumpScreen))
        banner = app.screen.query_one("#banner")
        await wait_until(pilot, lambda: banner.display)
        assert "Damaged file, read-only" in str(banner.render()) or "damaged" in str(
            banner.render()
        )


async def test_hierarchy_view_with_counts_and_marks(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("v")
        assert screen.query_one(ContentSwitcher).current == "hierarchy"
        tree = screen.hierarchy
        labels = [plain(n.label) for n in tree.root.children]
        smith = next(label for label in labels if label.startswith("SMITH^ANN"))
        assert "1 study, 2 series, 5 instances" in smith
        adams = next(label for label in labels if label.startswith("ADAMS^CY"))
        assert "2 instances" in adams
        tree.focus()
        smith_node = next(
            n for n in tree.root.children if plain(n.label).startswith("SMITH")
        )
        tree.move_cursor(smith_node)
        await pilot.press("space")
        assert len(screen.table.marks) == 5
        assert "● 5 marked" in plain(smith_node.label)
        await pilot.press("v")
        assert screen.query_one(ContentSwitcher).current == "folders-view"


async def test_hierarchy_instances_open(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("v")
        tree = screen.hierarchy
        jones = next(
            n for n in tree.root.children if plain(n.label).startswith("JONES")
        )
        series = jones.children[0].children[0]
        jones.children[0].expand()
        await pilot.pause()
        tree.move_cursor(series)
        await pilot.press("space")  # marks the series' 2 files
        assert len(screen.table.marks) == 2
        await pilot.press("enter")  # expands the series, loading its instances
        await wait_until(pilot, lambda: len(series.children) == 2)
        instances = series.children
        assert [plain(n.label).split()[2] for n in instances] == ["1", "2"]
        assert all(plain(n.label).startswith("●") for n in instances)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DumpScreen))


async def test_folder_tree_filters_table(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        folders = screen.query_one(FolderTree)
        p1 = next(n for n in folders.root.children if n.data == str(corpus / "P1"))
        assert plain(p1.label) == "P1 (5)"
        folders.focus()
        folders.move_cursor(p1)
        await pilot.press("enter")
        assert screen.table.row_count == 5
        assert all(r.patient_id == "P1" for r in screen.table.visible_records())
        folders.focus()
        folders.move_cursor(folders.root)
        await pilot.press("enter")
        assert screen.table.row_count == 9


async def test_cancel_scan_keeps_keyboard_live(corpus: Path) -> None:
    gate = threading.Event()

    def slow(path: str, size: int, mtime_ns: int) -> FileRecord:
        gate.wait(0.4)  # a slow disk
        return read_record(path, size, mtime_ns)

    app = make_app(corpus, reader=slow)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, FilesScreen)
        await wait_until(pilot, lambda: screen.table.row_count >= 1)
        assert screen.scanning
        started = time.monotonic()
        await pilot.press("slash", "x")  # the keyboard answers while scanning
        assert screen.query_one("#filter", Input).value == "x"
        assert time.monotonic() - started < 2
        await pilot.press("escape")  # closes the filter
        await pilot.press("x")  # cancels the scan
        await wait_until(pilot, lambda: not screen.scanning)
        assert screen.progress is not None and screen.progress.cancelled
        assert 1 <= screen.table.row_count < 9
        assert "cancelled" in str(screen.query_one("#scan-counters").render())


async def test_reopen_shows_known_rows_without_reading(corpus: Path) -> None:
    async with make_app(corpus).run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)

    def must_not_read(path: str, size: int, mtime_ns: int) -> FileRecord:
        raise AssertionError(f"{path} read again")

    app = make_app(corpus, reader=must_not_read)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        assert screen.table.row_count == 9
        assert screen.progress is not None and screen.progress.read == 0


async def test_hostile_values_show_literally(tmp_path: Path) -> None:
    write_dicom(
        tmp_path / "h" / "x.dcm", PatientName=HOSTILE, SeriesDescription="[b]hi"
    )
    app = make_app(tmp_path / "h")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        row = screen.table.get_row_at(0)
        assert row[1].plain == "EVIL␛[31m[bold]RED[/bold]␊X␀Y"
        assert row[6].plain == "[b]hi"
        assert not row[1].spans  # no style came from the data
        await pilot.press("v")
        label = plain(screen.hierarchy.root.children[0].label)
        assert label.startswith("EVIL␛[31m[bold]RED[/bold]␊X␀Y")


async def test_dicomdir_opens_as_hierarchy(tmp_path: Path) -> None:
    import shutil

    src = Path(get_testdata_file("DICOMDIR")).parent  # type: ignore[arg-type]
    root = tmp_path / "media"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("DICOMDIR-*", "TINY*"))
    app = make_app(root / "DICOMDIR")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DicomdirScreen))
        assert isinstance(app.screen, DicomdirScreen)
        tree = app.screen.query_one(Tree)
        await wait_until(pilot, lambda: "31 instances" in plain(tree.root.label))
        patients = [plain(n.label) for n in tree.root.children]
        assert patients[0].startswith("Patient Doe^Archibald 77654033")
        leaf = tree.root.children[0].children[0].children[0].children[0]
        tree.move_cursor(leaf)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DumpScreen))


async def test_help_lists_every_key_and_modes(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[3] for row in app.screen.rows}
        assert {
            "files.mark",
            "files.filter",
            "files.view",
            "files.mark-series",
            "files.mark-study",
            "files.sort",
            "app.quit",
            "app.help",
            "app.mode-files",
        } <= ids
        await pilot.press("escape")
        assert isinstance(app.screen, FilesScreen)
        await pilot.press("1")
        assert app.current_mode == "files"


async def test_keymap_from_config(corpus: Path, isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        '[keymap]\n"files.filter" = "ctrl+f"\n'
    )
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        await pilot.press("ctrl+f")
        assert screen.query_one("#filter", Input).has_focus


async def test_q_quits(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def _run_command(pilot: Pilot[None], name: str) -> None:
    """Open the command palette, type ``name`` and run the first match, once
    the palette has found it (the search runs in the background)."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*name)
    options = pilot.app.screen.query_one(OptionList)

    def found() -> bool:
        return (
            options.option_count > 0
            and name.lower() in str(options.get_option_at_index(0).prompt).lower()
        )

    await wait_until(pilot, found)
    await pilot.press("enter")


async def test_command_palette_switches_mode_and_opens_help(corpus: Path) -> None:
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await _run_command(pilot, "Help: list every key")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("3")
        await wait_until(pilot, lambda: app.current_mode == "nodes")
        await _run_command(pilot, "Files mode")
        await wait_until(pilot, lambda: app.current_mode == "files")
        assert isinstance(app.screen, FilesScreen)


async def test_single_file_root(corpus: Path) -> None:
    one = corpus / "P2" / "1.2.3.2.1" / "0.dcm"
    app = make_app(one)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        assert screen.table.row_count == 1
        assert screen.table.current_record is not None
        assert screen.table.current_record.patient_name == "JONES^BOB"
        assert screen.progress is not None and screen.progress.seen == 1


async def test_warnings_are_listed(corpus: Path) -> None:
    import os

    os.symlink(corpus / "nowhere.dcm", corpus / "dangling.dcm")
    os.symlink(corpus / "P1", corpus / "P1" / "loop")
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_scanned(pilot)
        assert "2 warnings (w)" in str(screen.query_one("#scan-counters").render())
        await pilot.press("w")
        from dcmtui.screens.modals import WarningsScreen

        assert isinstance(app.screen, WarningsScreen)
        assert sorted(reason for _, reason in app.screen.warnings) == [
            "broken symbolic link",
            "symbolic link loop (already indexed)",
        ]
        await pilot.press("escape")
        assert isinstance(app.screen, FilesScreen)


async def test_missing_numpy_is_a_message_not_a_crash(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The single-file bundle has no numpy: preview says what to install."""
    import sys

    for name in list(sys.modules):
        if name.startswith(
            (
                "numpy",
                "dcmtui.screens.preview",
                "dcmtui.services.pixels",
                "dcmtui.services.render",
                "dcmtui.widgets.image_view",
            )
        ):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    app = make_app(corpus)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, FilesScreen) and app.is_running
        messages = [n.message for n in app._notifications]
        assert any("needs numpy" in m and "pip install numpy" in m for m in messages)


async def test_demo_starts_a_receiver_and_a_loopback_node(isolated_dirs: Path) -> None:
    """--demo: sample files, a receiver on a free port, a node pointing at it,
    and the demo files answered by the query/retrieve server."""
    from dataclasses import replace

    from dcmtui.app import DcmtuiApp
    from dcmtui.config import load_settings
    from dcmtui.services.container import Services
    from dcmtui.services.demo import make_demo, serve_demo

    settings = load_settings()
    settings = replace(settings, receiver=replace(settings.receiver, bind="127.0.0.1"))
    demo = make_demo(settings.data_dir)
    serve_demo(settings, demo)
    app = DcmtuiApp(settings, root=demo, services=Services(settings))
    app.demo = True
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_scanned(pilot)
        await wait_until(pilot, lambda: app.services.nodes.get("loopback") is not None)
        node = app.services.nodes.get("loopback")
        assert node is not None and app.services.scp.running
        assert (node.host, node.port) == ("127.0.0.1", app.services.scp.port)
        assert (await app.services.scu.echo(node)).ok
        from dcmtui.services.scu_qr import Retriever

        retriever = Retriever(app.services.scu)
        found = [
            r async for r in retriever.find(node, "STUDY", [("PatientID", "77654033")])
        ]
        assert len(found) == 2  # Doe^Archibald's two studies in the DICOMDIR set
        assert all(r.values.get("PatientID") == "77654033" for r in found)
        await pilot.press("q")
    assert not app.services.scp.running
