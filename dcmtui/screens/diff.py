"""Diff: two files side by side, element by element.

Pushed from the Files screen (``D`` with two files marked) as
``DiffScreen(services, a, b)``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from dcmtui.services.diff import CHANGED, ONLY_A, ONLY_B, SAME, DiffRow
from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_STYLE = {CHANGED: "yellow", ONLY_A: "red", ONLY_B: "green", SAME: ""}
_MARK = {CHANGED: "~", ONLY_A: "<", ONLY_B: ">", SAME: " "}


def _b(key: str, action: str, text: str, tip: str, name: str) -> Binding:
    return Binding(key, action, text, tooltip=tip, id=f"diff.{name}")


class DiffScreen(Screen[None]):
    """Two files compared element by element."""

    DEFAULT_CSS = """
    DiffScreen {
        & #summary { height: 1; padding: 0 1; color: $text-muted; }
        & DataTable { height: 1fr; }
        & #detail { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        _b("escape,backspace", "back", "Back", "Back to the Files screen", "back"),
        _b("s", "toggle_same", "Same", "Show or hide the equal elements", "same"),
        _b("g", "toggle_meta", "Meta", "Show or hide the file meta group", "meta"),
    ]

    show_same: reactive[bool] = reactive(False)
    """List the equal elements too."""
    show_meta: reactive[bool] = reactive(True)
    """Compare the file meta groups."""

    def __init__(
        self,
        services: Services | None,
        a: Path,
        b: Path,
        edited: bytes | None = None,
    ) -> None:
        """Compare ``a`` with ``b``, or ``a`` on disk with ``edited``.

        Args:
            services: The app's services.
            a: The first file.
            b: The second file (the same as ``a`` for unsaved edits).
            edited: The bytes of ``a`` as edited but not saved, if any.
        """
        super().__init__()
        self.services = services
        self.a = a
        self.b = b
        self.edited = edited
        self.rows: list[DiffRow] = []
        self._filled_for = 0

    @property
    def table(self) -> DataTable[Text]:
        """The differences."""
        return self.query_one(DataTable)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary")
        yield FitTable(cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Diff"
        other = "unsaved edits" if self.edited is not None else self.b.name
        self.sub_title = visible(f"{self.a.name} <> {other}")
        self.table.add_columns(" ", "Tag", "Name", "VR", "A", "B")
        self.load()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(
                visible(str(event.worker.error)),
                severity="error",
                timeout=8,
                markup=False,
            )
            self.query_one("#summary", Static).update(
                Text(visible(str(event.worker.error)))
            )

    @work(exclusive=True, group="diff", exit_on_error=False)
    async def load(self) -> None:
        """Compare the files in a thread and show the rows."""
        from dcmtui.services.diff import diff_file_and_bytes, diff_files_async

        if self.edited is not None:
            self.rows = await asyncio.to_thread(
                diff_file_and_bytes,
                self.a,
                self.edited,
                meta=self.show_meta,
                same=self.show_same,
            )
        else:
            self.rows = await diff_files_async(
                self.a, self.b, meta=self.show_meta, same=self.show_same
            )
        self._fill()
        counts = {s: sum(r.status == s for r in self.rows) for s in _MARK}
        text = (
            f"{counts[CHANGED]} changed, {counts[ONLY_A]} only in A, "
            f"{counts[ONLY_B]} only in B"
        )
        if not any(counts[s] for s in (CHANGED, ONLY_A, ONLY_B)):
            text = "The files have the same elements and values."
        self.query_one("#summary", Static).update(
            Text(visible(f"{text}  ·  A: {self.a}  B: {self._b_name()}"))
        )

    def _fill(self) -> None:
        """The rows, each value cut to half the width the other columns
        leave, so that A and B stay side by side in the pane."""
        table = self.table
        table.clear()
        tags = [
            Text("  " * row.depth + visible(row.path.rsplit(".", 1)[-1]))
            for row in self.rows
        ]
        names = [Text(visible(row.keyword)) for row in self.rows]
        used = sum(
            max([len(label), *(t.cell_len for t in column)])
            for label, column in (("Tag", tags), ("Name", names))
        )
        # Mark and VR columns, cell padding (2 a column), the scrollbar.
        room = (table.size.width or self.app.size.width) - used - 1 - 2 - 6 * 2 - 2
        half = max(12, room // 2)
        for row, tag, name in zip(self.rows, tags, names, strict=True):
            style = _STYLE[row.status]
            a = Text(visible(row.a), style=style)
            b = Text(visible(row.b), style=style)
            a.truncate(half, overflow="ellipsis")
            b.truncate(half, overflow="ellipsis")
            table.add_row(
                Text(_MARK[row.status], style=style), tag, name, Text(row.vr), a, b
            )
        self._filled_for = table.size.width

    @on(DataTable.RowHighlighted)
    def _show_detail(self, event: DataTable.RowHighlighted) -> None:
        """The whole of both values of the row under the cursor (the table
        may have cut them)."""
        lines: list[str] = []
        if 0 <= event.cursor_row < len(self.rows):
            row = self.rows[event.cursor_row]
            lines = [f"{row.path} {row.keyword}", f"A: {row.a}", f"B: {row.b}"]
        text = "\n".join(visible(line) for line in lines)
        self.query_one("#detail", Static).update(Text(text))

    def on_resize(self) -> None:
        if self.rows and self.table.size.width != self._filled_for:
            self._fill()

    def _b_name(self) -> str:
        return "unsaved edits" if self.edited is not None else str(self.b)

    def action_toggle_same(self) -> None:
        self.show_same = not self.show_same

    def action_toggle_meta(self) -> None:
        self.show_meta = not self.show_meta

    def _changed(self) -> None:
        if self.is_mounted:
            self.load()

    watch_show_same = watch_show_meta = _changed

    def action_back(self) -> None:
        self.app.pop_screen()
