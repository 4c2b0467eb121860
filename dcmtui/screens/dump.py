"""The Dataset screen: a file's elements (read-only until the editor lands)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from dcmtui.models import FileKind, FileRecord
from dcmtui.services.text import visible
from dcmtui.widgets.tag_table import TagTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services


class DumpScreen(Screen[None]):
    """dcmdump as a table, pushed from the Files screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,backspace",
            "app.pop_screen",
            "Back",
            tooltip="Back to the Files screen",
            id="dump.back",
        ),
    ]

    def __init__(
        self, services: Services, path: Path, record: FileRecord | None
    ) -> None:
        super().__init__()
        self.services = services
        self.path = path
        self.record = record

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner", markup=False)
        yield TagTable(id="elements")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Dataset (read-only)"
        self.sub_title = visible(str(self.path))
        banner = self.query_one("#banner", Static)
        banner.display = False
        if self.record is not None and self.record.kind is FileKind.DAMAGED:
            self._show_banner(f"Damaged file, read-only: {self.record.reason}")
        self.query_one(TagTable).focus()
        self.load()

    def _show_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(visible(text))
        banner.display = True

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        """Read the file's elements in a thread and show them."""
        from dcmtui.services.elements import read_elements

        rows, warning = await read_elements(self.path)
        self.query_one(TagTable).show(rows)
        if warning:
            self._show_banner(warning)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self._show_banner(f"Cannot open: {event.worker.error}")
            self.notify(visible(str(event.worker.error)), severity="error", timeout=8)
