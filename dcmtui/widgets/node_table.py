"""The address book as a table, with the last C-ECHO of each node."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from dcmtui.models import EchoResult, Node
from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

COLUMNS = (
    "Name",
    "AE title",
    "Host",
    "Port",
    "TLS",
    "Retrieve",
    "Echo",
    "ms",
    "When",
    "Notes",
)


def _when(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


class NodeTable(FitTable):
    """One row per node; ``show`` fills it, ``set_echo`` updates one row."""

    DEFAULT_CSS = """
    NodeTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="node-table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="node-table.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.nodes: dict[str, Node] = {}
        self.echoes: dict[str, EchoResult] = {}
        self.pending: set[str] = set()

    def on_mount(self) -> None:
        widths = {"Echo": 6, "ms": 7, "When": 8, "TLS": 3, "Retrieve": 8}
        for column in COLUMNS:
            self.add_column(column, key=column, width=widths.get(column))

    def _cells(self, node: Node) -> list[Text]:
        echo = self.echoes.get(node.name)
        if node.name in self.pending:
            outcome, ms, when = Text("…", style="italic"), Text(""), Text("")
        elif echo is None:
            outcome, ms, when = Text("—", style="dim"), Text(""), Text("")
        else:
            outcome = (
                Text("OK", style="bold green")
                if echo.ok
                else Text("FAILED", style="bold red")
            )
            ms = Text(f"{echo.ms:.1f}" if echo.ok else "", justify="right")
            when = Text(_when(echo.when))
        return [
            Text(visible(node.name), style="bold"),
            Text(visible(node.ae_title)),
            Text(visible(node.host)),
            Text(str(node.port), justify="right"),
            Text("TLS" if node.tls else ""),
            Text(node.retrieve),
            outcome,
            ms,
            when,
            Text(visible(node.notes)),
        ]

    def show(self, nodes: Sequence[Node]) -> None:
        """Replace the rows by ``nodes``, keeping the cursor on the same node."""
        current = self.current
        self.clear()
        self.nodes = {n.name: n for n in nodes}
        for node in nodes:
            self.add_row(*self._cells(node), key=node.name)
        if current is not None and current.name in self.nodes:
            self.move_cursor(row=self.get_row_index(current.name))

    def refresh_node(self, name: str) -> None:
        """Redraw the row of ``name`` (its echo changed)."""
        node = self.nodes.get(name)
        if node is None:
            return
        for column, cell in zip(COLUMNS, self._cells(node), strict=True):
            self.update_cell(name, column, cell)

    def set_echo(self, result: EchoResult) -> None:
        """Record the result of a C-ECHO and redraw its row."""
        self.pending.discard(result.node)
        self.echoes[result.node] = result
        self.refresh_node(result.node)

    def set_pending(self, name: str) -> None:
        """Show that a C-ECHO of ``name`` runs."""
        self.pending.add(name)
        self.refresh_node(name)

    @property
    def current(self) -> Node | None:
        """The node under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.nodes.get(str(key))
