"""The Files screen: the index of a folder, as a folder tree beside a table or
as Patient > Study > Series > Instance."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Input
from textual.worker import Worker, WorkerState

from dcmtui.models import AssocEvent, FileKind, FileRecord, ScanProgress
from dcmtui.screens.optional import optional_feature
from dcmtui.services.text import visible
from dcmtui.widgets.file_table import FileTable
from dcmtui.widgets.folder_tree import FolderTree
from dcmtui.widgets.hierarchy_tree import HierarchyTree
from dcmtui.widgets.scan_status import ScanStatus

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_STEP_ROWS = 500
"""Known rows added at a time when a folder is opened again (a step takes
about 50 ms; the first is more than a screenful)."""
_STORE_TICK = 0.5
"""Seconds between looks at the index while the receiver stores objects."""
_STORE_TICKS_AFTER = 3
"""Looks after the last stored object (the receiver indexes in batches)."""
_STEP_PAUSE = 0.02
"""Pause between steps, long enough for the screen to draw (60 Hz)."""


class FilesScreen(Screen[None]):
    """Browse the DICOM files below a folder (or one file)."""

    scanning: reactive[bool] = reactive(False, bindings=True)
    """True while the scan worker runs (shows the Stop scan key)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter rows by any column",
            id="files.filter",
        ),
        Binding(
            "v",
            "toggle_view",
            "View",
            tooltip="Switch between folders+table and Patient>Study>Series",
            id="files.view",
        ),
        Binding(
            "x",
            "cancel_scan",
            "Stop scan",
            tooltip="Cancel the running scan",
            id="files.cancel-scan",
        ),
        Binding(
            "r",
            "rescan",
            "Rescan",
            tooltip="Scan the folder again",
            id="files.rescan",
            show=False,
        ),
        Binding(
            "w",
            "warnings",
            "Warnings",
            tooltip="List what the scan could not read",
            id="files.warnings",
            show=False,
        ),
        Binding(
            "escape",
            "escape",
            "Clear filter",
            show=False,
            tooltip="Close the filter, or stop the scan",
            id="files.escape",
        ),
        Binding(
            "t",
            "send_marks",
            "Send",
            tooltip="Send the marked files to a node",
            id="files.send",
        ),
        Binding(
            "b",
            "batch_modify",
            "Batch modify",
            tooltip="Apply one change to every marked file",
            id="files.batch-modify",
            show=False,
        ),
        Binding(
            "p",
            "preview",
            "Preview",
            tooltip="Show the image of the file under the cursor",
            id="files.preview",
            show=False,
        ),
        Binding(
            "P",
            "toggle_preview_pane",
            "Preview pane",
            tooltip="Show or hide a preview of the cursor's file beside the table",
            id="files.preview-pane",
            show=False,
        ),
        Binding(
            "c",
            "convert",
            "Convert",
            tooltip="Convert the marked files (or this one) to another transfer syntax",
            id="files.convert",
            show=False,
        ),
        Binding(
            "a",
            "anonymize",
            "Anonymize",
            tooltip="De-identify the marked files (or this one)",
            id="files.anonymize",
            show=False,
        ),
        Binding(
            "D",
            "diff",
            "Diff",
            tooltip="Compare the two marked files element by element",
            id="files.diff",
            show=False,
        ),
        Binding(
            "k",
            "mkdicomdir",
            "DICOMDIR",
            tooltip="Make or update a DICOMDIR file-set from the marked files",
            id="files.mkdicomdir",
            show=False,
        ),
    ]

    def __init__(self, services: Services, root: Path) -> None:
        super().__init__()
        self.services = services
        self.root = root
        self.progress: ScanProgress | None = None

    @property
    def table(self) -> FileTable:
        """The files table."""
        return self.query_one(FileTable)

    @property
    def hierarchy(self) -> HierarchyTree:
        """The Patient > Study > Series > Instance tree."""
        return self.query_one(HierarchyTree)

    def compose(self) -> ComposeResult:
        yield Header()
        yield ScanStatus()
        with ContentSwitcher(initial="folders-view", id="views"):
            with Horizontal(id="folders-view"):
                yield FolderTree(str(self.root), id="folders")
                yield FileTable(id="files")
            yield HierarchyTree(id="hierarchy")
        yield Input(
            placeholder="filter: text in any column (enter to keep, escape to clear)",
            id="filter",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Files"
        self.sub_title = visible(str(self.root))
        self.query_one("#filter", Input).display = False
        self.table.focus()
        if self.root.is_file() and self._is_dicomdir_name(self.root):
            self.app.call_later(self.open_path, str(self.root))
        self.load_and_scan()
        # objects the receiver stores show up here as they arrive (it indexes
        # them as it goes: no rescan needed)
        self._store_ticks = 0
        self.services.events.add_sink(self._on_event)
        self.set_interval(_STORE_TICK, self._store_tick)

    @staticmethod
    def _is_dicomdir_name(path: Path) -> bool:
        return path.name.upper() == "DICOMDIR"

    # -- scanning ------------------------------------------------------------

    @work(exclusive=True, group="scan", exit_on_error=False)
    async def load_and_scan(self) -> None:
        """Show what the index knows at once, then bring it up to date."""
        indexer = self.services.indexer
        known = await indexer.known(self.root)
        await self._add_in_steps(known)
        self.scanning = True
        try:
            async for progress in indexer.scan(self.root):
                self.progress = progress
                self.query_one(ScanStatus).progress = progress
                if progress.batch:
                    self._add(progress.batch)
                if progress.done and not progress.cancelled and progress.removed:
                    await self._drop_missing()
        finally:
            self.scanning = False
        if self.table.sort_by is not None:
            self.table.rebuild()
        self._refresh_hierarchy()

    def _watches_store(self) -> bool:
        """True when the root holds the receiver's store, or lies inside it."""
        store = os.path.realpath(self.services.scp.store.root)
        root = str(self.root)
        return (
            store == root
            or store.startswith(root.rstrip("/") + "/")
            or root.startswith(store + "/")
        )

    def _on_event(self, event: AssocEvent) -> None:
        # an EventBus sink: called in the receiver's thread, so it only notes
        # that objects arrived; the interval timer does the work
        if event.kind == "c-store" and event.direction == "in" and event.status == 0:
            self._store_ticks = _STORE_TICKS_AFTER

    def on_unmount(self) -> None:
        self.services.events.remove_sink(self._on_event)

    async def _store_tick(self) -> None:
        # the receiver writes the index in batches: look a few times after
        # the last object arrived, so that none is missed
        if self._store_ticks <= 0 or self.scanning or not self._watches_store():
            return
        self._store_ticks -= 1
        shown = self.table.records
        records = await self.services.indexer.known(self.root)
        self._add([r for r in records if r.path not in shown])

    async def _add_in_steps(self, records: list[FileRecord]) -> None:
        """Show a screenful at once, then the rest in steps that let the
        screen draw and the keyboard answer in between."""
        for start in range(0, len(records), _STEP_ROWS):
            self._add(records[start : start + _STEP_ROWS])
            await asyncio.sleep(_STEP_PAUSE)

    async def _drop_missing(self) -> None:
        current = {r.path for r in await self.services.indexer.known(self.root)}
        gone = [p for p in self.table.records if p not in current]
        self.table.remove_paths(gone)
        self.query_one(FolderTree).remove_paths(gone)

    def _add(self, records: list[FileRecord]) -> None:
        shown = [
            r
            for r in records
            if r.kind is not FileKind.OTHER or r.path in self.table.records
        ]
        if not shown:
            return
        self.table.add_records(shown)
        self.query_one(FolderTree).add_records(shown)
        if self.query_one(ContentSwitcher).current == "hierarchy":
            self._refresh_hierarchy()

    def _refresh_hierarchy(self) -> None:
        self.hierarchy.show(self.table.records, self.table.marks)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error", timeout=8)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_scan":
            return self.scanning
        return True

    def action_cancel_scan(self) -> None:
        if self.scanning:
            self.workers.cancel_group(self, "scan")
            if self.progress is not None:  # the worker will not see the last one
                self.progress.cancelled = True
                self.query_one(ScanStatus).progress = self.progress
            self.notify("Scan cancelled; the files read so far are kept.")

    def action_warnings(self) -> None:
        from dcmtui.screens.modals import WarningsScreen

        warnings = self.progress.warnings if self.progress else []
        if not warnings:
            self.notify("The last scan had no warnings.", timeout=3)
            return
        self.app.push_screen(
            WarningsScreen([(visible(w.path), visible(w.reason)) for w in warnings])
        )

    def action_send_marks(self) -> None:
        """Send the marked files to a node of the address book (asks which)."""
        from dcmtui.screens.send import pick_and_send

        self.run_worker(
            pick_and_send(self, self.services, sorted(self.table.marks)),
            group="send",
            exit_on_error=False,
        )

    def action_batch_modify(self) -> None:
        """Apply one change (modify, insert, erase) to every marked file."""
        from dcmtui.screens.batch import BatchModifyScreen

        if not self.table.marks:
            self.notify("Mark files first (space, m, M)", severity="warning")
            return
        self.app.push_screen(BatchModifyScreen(self.services, sorted(self.table.marks)))

    @optional_feature
    def action_toggle_preview_pane(self) -> None:
        """Show or hide the preview pane beside the files table."""
        from dcmtui.screens.preview import toggle_preview_pane

        folders = self.query_one("#folders-view", Horizontal)
        toggle_preview_pane(self, folders, self.table.current_path)

    @on(FileTable.RowHighlighted)
    def _preview_pane_follows(self) -> None:
        if self.query("#preview-pane"):  # nothing to import or do without it
            from dcmtui.screens.preview import follow_preview_pane

            follow_preview_pane(self, self.table.current_path)

    @optional_feature
    def action_preview(self) -> None:
        """Open the image preview of the file under the cursor."""
        from dcmtui.screens.preview import PreviewScreen

        if (path := self.table.current_path) is None:
            self.notify("No file under the cursor.", severity="warning", timeout=3)
            return
        self.app.push_screen(PreviewScreen(self.services, Path(path)))

    def _marks_or_cursor(self) -> list[str]:
        """The marked files, or the file under the cursor when none is marked."""
        if self.table.marks:
            return sorted(self.table.marks)
        path = self.table.current_path
        return [path] if path else []

    @optional_feature
    def action_convert(self) -> None:
        """Convert the marked files (or the cursor's) to another syntax."""
        from dcmtui.screens.convert import ConvertScreen

        if paths := self._marks_or_cursor():
            self.app.push_screen(ConvertScreen(self.services, paths))

    @optional_feature
    def action_anonymize(self) -> None:
        """De-identify the marked files (or the cursor's)."""
        from dcmtui.screens.convert import AnonymizeScreen

        if paths := self._marks_or_cursor():
            self.app.push_screen(AnonymizeScreen(self.services, paths))

    @optional_feature
    def action_mkdicomdir(self) -> None:
        """Copy the marked files (or the cursor's) into a DICOMDIR file-set."""
        from dcmtui.screens.convert import MkDicomdirScreen

        if paths := self._marks_or_cursor():
            self.app.push_screen(MkDicomdirScreen(self.services, paths))

    @optional_feature
    def action_diff(self) -> None:
        """Compare the two marked files element by element."""
        from dcmtui.screens.diff import DiffScreen

        marks = sorted(self.table.marks)
        if len(marks) != 2:
            self.notify("Mark exactly two files to compare them.", timeout=3)
            return
        self.app.push_screen(DiffScreen(self.services, Path(marks[0]), Path(marks[1])))

    def action_rescan(self) -> None:
        self.load_and_scan()

    # -- views, filter, marks ------------------------------------------------

    def action_toggle_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        if switcher.current == "folders-view":
            self._refresh_hierarchy()
            switcher.current = "hierarchy"
            self.hierarchy.focus()
        else:
            switcher.current = "folders-view"
            self.table.focus()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_escape(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display:
            field.value = ""
            field.display = False
            self.table.filter_text = ""
            self.table.focus()
        elif self.scanning:
            self.action_cancel_scan()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value.strip()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    @on(FolderTree.FolderSelected)
    def _folder_selected(self, event: FolderTree.FolderSelected) -> None:
        self.table.folder = None if event.path == str(self.root) else event.path
        self.table.focus()

    @on(FileTable.MarksChanged)
    def _marks_changed(self, event: FileTable.MarksChanged) -> None:
        self.query_one(ScanStatus).marks = (event.count, event.size)
        if self.query_one(ContentSwitcher).current == "hierarchy":
            self.hierarchy.refresh_marks(self.table.marks)

    @on(HierarchyTree.MarkRequested)
    def _mark_from_tree(self, event: HierarchyTree.MarkRequested) -> None:
        marks = self.table.marks
        self.table.set_marks(event.paths, not all(p in marks for p in event.paths))

    # -- opening -------------------------------------------------------------

    @on(FileTable.OpenRequested)
    def _open_record(self, event: FileTable.OpenRequested) -> None:
        self.open_path(event.record.path)

    @on(HierarchyTree.OpenRequested)
    def _open_from_tree(self, event: HierarchyTree.OpenRequested) -> None:
        self.open_path(event.path)

    def open_path(self, path: str) -> None:
        """Open a file: a DICOMDIR as its hierarchy, anything else as its elements."""
        from dcmtui.screens.dicomdir import DicomdirScreen
        from dcmtui.screens.dump import DumpScreen

        record = self.table.records.get(path)
        is_dicomdir = (
            record.kind is FileKind.DICOMDIR
            if record
            else self._is_dicomdir_name(Path(path))
        )
        if is_dicomdir:
            self.app.push_screen(DicomdirScreen(self.services, Path(path)))
        else:
            self.app.push_screen(DumpScreen(self.services, Path(path), record))
