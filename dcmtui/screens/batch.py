"""Batch modify: one change to every file marked in the Files screen.

The user picks the operation (modify, insert, erase, and their "every
occurrence" forms), a dcmodify tag path and a value; the screen runs
:func:`dcmtui.services.batch.modify_files` and lists a result per file as it
goes, with a progress bar. Files that cannot take the change are left as they
were, with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    ProgressBar,
    Select,
    Static,
)
from textual.worker import Worker, WorkerState

from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

OPERATIONS = [
    ("modify (-m): change an existing element", "modify"),
    ("insert (-i): insert or overwrite", "insert"),
    ("erase (-e): erase an element or item", "erase"),
    ("modify all (-ma): every occurrence of a tag", "modify-all"),
    ("erase all (-ea): every occurrence of a tag", "erase-all"),
]


class BatchModifyScreen(Screen[None]):
    """Apply one change to many files, with a result per file."""

    DEFAULT_CSS = """
    BatchModifyScreen {
        & #form { height: auto; padding: 0 1; }
        & #form Horizontal { height: auto; }
        & #path { width: 1fr; }
        & #value { width: 1fr; }
        & #check { color: $error; height: 1; padding: 0 1; }
        & #check.-ok { color: $success; }
        & DataTable { height: 1fr; }
        & ProgressBar { padding: 0 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "app.pop_screen",
            "Back",
            tooltip="Back to the Files screen",
            id="batch.back",
        ),
    ]

    def __init__(self, services: Services, paths: list[str]) -> None:
        super().__init__()
        self.services = services
        self.paths = paths
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="form"):
            yield Static(Text(f"{len(self.paths)} marked file(s)"), id="count")
            yield Select(OPERATIONS, value="modify", allow_blank=False, id="op")
            with Horizontal():
                yield Input(
                    placeholder="tag path: PatientName, (0010,0010), "
                    "(0040,0275)[*].(0040,0009)",
                    id="path",
                )
                yield Input(placeholder="value", id="value")
            with Horizontal():
                yield Checkbox("keep NAME.bak", value=True, id="backup")
                yield Button("Apply to every file", id="run", variant="warning")
        yield Static("", id="check")
        yield ProgressBar(total=len(self.paths) or 1, show_eta=False, id="progress")
        yield FitTable(id="results", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Batch modify"
        table = self.query_one(DataTable)
        table.add_column("File", key="file")
        table.add_column("Result", key="result")
        table.add_column("Detail", key="detail")
        self.query_one("#path", Input).focus()
        self._check()

    def _operation(self) -> tuple[str, str, str | None, str]:
        """(op, path, value, reason it cannot run)."""
        from dcmtui.services.tagpath import TagPathError, parse_path

        op = str(self.query_one("#op", Select).value)
        path = self.query_one("#path", Input).value.strip()
        value: str | None = self.query_one("#value", Input).value
        if op in ("erase", "erase-all"):
            value = None
        if not path:
            return op, path, value, "give a tag path"
        try:
            steps = parse_path(path)
        except TagPathError as exc:
            return op, path, value, str(exc)
        if op.endswith("-all") and (len(steps) != 1 or steps[0].index is not None):
            return op, path, value, "the 'all' forms take a single tag"
        return op, path, value, ""

    @on(Input.Changed)
    @on(Select.Changed)
    def _check(self) -> None:
        *_, why = self._operation()
        check = self.query_one("#check", Static)
        check.update(Text(visible(why) if why else "ready"))
        check.set_class(not why, "-ok")
        self.query_one("#run", Button).disabled = bool(why) or self.running

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        op, path, value, why = self._operation()
        if why or self.running:
            return
        self.run_batch(op, path, value, self.query_one("#backup", Checkbox).value)

    @work(exclusive=True, group="batch", exit_on_error=False)
    async def run_batch(
        self, op: str, path: str, value: str | None, backup: bool
    ) -> None:
        """Apply the change to every marked file, showing each result."""
        from dcmtui.services.batch import Operation, modify_files

        self.running = True
        self._check()
        table = self.query_one(DataTable)
        table.clear()
        bar = self.query_one(ProgressBar)
        bar.update(total=len(self.paths), progress=0)
        ok = failed = 0
        operation = Operation(op, path, value)
        paths = [Path(p) for p in self.paths]
        try:
            async for result in modify_files(paths, [operation], backup=backup):
                ok += result.ok
                failed += not result.ok
                table.add_row(
                    Text(visible(result.path)),
                    Text(
                        "ok" if result.ok else "refused",
                        style="green" if result.ok else "red",
                    ),
                    Text(visible(result.detail)),
                )
                bar.update(progress=result.done)
        finally:
            self.running = False
            self._check()
        self.query_one("#count", Static).update(
            Text(f"{len(self.paths)} file(s): {ok} changed, {failed} left as they were")
        )

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(visible(str(event.worker.error)), severity="error", timeout=8)
