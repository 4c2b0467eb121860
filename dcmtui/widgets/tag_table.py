"""A file's elements as a table: tag, VR, name, value (read-only for now)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from dcmtui.models import ElementRow
from dcmtui.services.text import visible


class TagTable(DataTable[Text]):
    """Elements of one data set; items of sequences indented below them."""

    DEFAULT_CSS = """
    TagTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_column("Tag", key="tag")
        self.add_column("VR", key="vr")
        self.add_column("Name", key="name")
        self.add_column("Value", key="value")

    def show(self, rows: Iterable[ElementRow]) -> None:
        """Replace the rows."""
        self.clear()
        for row in rows:
            indent = "  " * row.depth
            private = row.tag[1:5] != "FFFE" and int(row.tag[1:5], 16) % 2 == 1
            self.add_row(
                Text(
                    indent + row.tag, style="dim" if row.tag.startswith("(FFFE") else ""
                ),
                Text(row.vr),
                Text(visible(row.name), style="italic" if private else ""),
                Text(visible(row.value)),
            )
