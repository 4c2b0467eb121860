"""A file's elements as a tree-table that draws only the rows on screen.

The table asks its source for a row only when that row is drawn, so a file of
20,000 elements costs one walk over its headers and the decoding of one
screenful of values. Tag, VR, VM, length, name and value; sequences and items
are indented below their element, with a marker to expand or collapse them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dcmtui.services.text import visible

if TYPE_CHECKING:
    from dcmtui.services.dataset_view import TagRow


class RowSource(Protocol):
    """What the table shows: a length and a row per index."""

    def __len__(self) -> int: ...

    def row(self, index: int) -> TagRow: ...


_TAG_W, _VR_W, _VM_W, _LEN_W, _NAME_W = 11, 2, 3, 7, 26
_MAX_INDENT = 4
"""Nesting levels drawn as indentation; deeper rows show their depth as a number."""
_LEAD_W = 2 + 2 * _MAX_INDENT + _TAG_W
"""The tree column: indentation, marker and tag; the same width on every row."""


def header_text() -> Text:
    """The column titles, aligned with the rows."""
    return Text(
        f"{'  Tag':<{_LEAD_W}} {'VR':<{_VR_W}} {'VM':>{_VM_W}} {'Length':>{_LEN_W}} "
        f"{'Name':<{_NAME_W}} Value",
        style="bold",
        no_wrap=True,
    )


class TagTable(ScrollView, can_focus=True):
    """Elements of one data set; items of sequences indented below them."""

    DEFAULT_CSS = """
    TagTable {
        height: 1fr;
        background: $surface;
        & > .tag-table--cursor { background: $accent 40%; }
        &:focus > .tag-table--cursor { background: $accent; color: $text; }
        & > .tag-table--private { color: $warning; }
        & > .tag-table--item { color: $text-muted; }
        & > .tag-table--meta { color: $success; }
        & > .tag-table--edited { text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tag-table--cursor",
        "tag-table--private",
        "tag-table--item",
        "tag-table--meta",
        "tag-table--edited",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up,k",
            "cursor(-1)",
            "Up",
            show=False,
            tooltip="Previous row",
            id="tag-table.up",
        ),
        Binding(
            "down,j",
            "cursor(1)",
            "Down",
            show=False,
            tooltip="Next row",
            id="tag-table.down",
        ),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            show=False,
            tooltip="One screen up",
            id="tag-table.page-up",
        ),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            show=False,
            tooltip="One screen down",
            id="tag-table.page-down",
        ),
        Binding(
            "home",
            "jump(0)",
            "First",
            show=False,
            tooltip="First row",
            id="tag-table.first",
        ),
        Binding(
            "end",
            "jump(-1)",
            "Last",
            show=False,
            tooltip="Last row",
            id="tag-table.last",
        ),
    ]

    cursor: reactive[int] = reactive(0)
    """Index of the highlighted row."""

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another row."""

        index: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TagTable.Highlighted)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source: RowSource | None = None
        self.edited: set[int] = set()
        """Tags with pending edits (drawn in bold)."""

    def set_source(self, source: RowSource | None, cursor: int | None = None) -> None:
        """Show ``source`` (after a load, an edit, a toggle)."""
        self.source = source
        count = len(source) if source is not None else 0
        self.virtual_size = Size(0, count)
        target = self.cursor if cursor is None else cursor
        self.cursor = max(0, min(target, count - 1))
        self.scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.cursor))

    @property
    def row_count(self) -> int:
        """Rows there are to show."""
        return len(self.source) if self.source is not None else 0

    def current(self) -> TagRow | None:
        """The row under the cursor."""
        if self.source is None or not self.row_count:
            return None
        return self.source.row(self.cursor)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        self.post_message(self.Highlighted(new))

    def scroll_to_cursor(self) -> None:
        """Scroll so that the cursor row is visible."""
        height = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        """Move the cursor by ``step`` rows."""
        if self.row_count:
            self.cursor = max(0, min(self.row_count - 1, self.cursor + step))
            self.scroll_to_cursor()

    def action_page(self, direction: int) -> None:
        """Move the cursor by one screen."""
        self.action_cursor(direction * max(1, self.scrollable_content_region.height))

    def action_jump(self, index: int) -> None:
        """Go to the first (0) or last (-1) row."""
        if self.row_count:
            self.cursor = index % self.row_count
            self.scroll_to_cursor()

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int) and self.row_count:
            self.cursor = max(0, min(self.row_count - 1, self.scroll_offset.y + y))

    def on_resize(self) -> None:
        self.virtual_size = Size(0, self.row_count)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if self.source is None or index >= self.row_count:
            return Strip.blank(width, self.rich_style)
        row = self.source.row(index)
        text = self._line(row)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("tag-table--cursor"))
        segments = list(text.render(self.app.console))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, self.rich_style)

    def _line(self, row: TagRow) -> Text:
        style = Style()
        if row.kind != "element":
            style = self.get_component_rich_style("tag-table--item")
        elif row.meta:
            style = self.get_component_rich_style("tag-table--meta")
        elif row.private:
            style = self.get_component_rich_style("tag-table--private")
        if row.kind == "element" and row.tag in self.edited:
            style += self.get_component_rich_style("tag-table--edited")
        marker = ("▾ " if row.expanded else "▸ ") if row.expandable else "  "
        indent = "  " * min(row.depth, _MAX_INDENT)
        if row.depth > _MAX_INDENT:
            indent = f"{row.depth:>{2 * _MAX_INDENT - 1}} "
        length = "u/l" if row.length is None else f"{row.length:,}"
        tag = row.tag_text if row.kind == "element" else ""
        name = visible(row.keyword)
        if row.private and row.creator:
            name = f"{name} [{visible(row.creator)}]"
        text = Text(no_wrap=True, overflow="ellipsis", style=style)
        lead = indent + marker + (tag if tag else row.keyword)
        text.append(f"{lead:<{_LEAD_W}}")
        if row.kind == "element":
            name_cell = f"{name:<{_NAME_W}}"[:_NAME_W]
            text.append(
                f" {row.vr:<{_VR_W}} {row.vm:>{_VM_W}} {length:>{_LEN_W}} {name_cell} "
            )
        else:
            text.append(
                f" {'':<{_VR_W}} {'':>{_VM_W}} {length:>{_LEN_W}} {'':<{_NAME_W}} "
            )
        text.append(visible(row.value))
        return text

    def get_row_at(self, index: int) -> list[Text]:
        """Cells of one row (tag, VR, name, value), as DataTable gives them."""
        assert self.source is not None
        row = self.source.row(index)
        return [
            Text(row.tag_text),
            Text(row.vr),
            Text(visible(row.keyword)),
            Text(visible(row.value)),
        ]

    def render_lines_plain(self) -> list[str]:
        """The rows on screen as plain text (for tests)."""
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        out: list[str] = []
        for index in range(top, min(self.row_count, top + height)):
            assert self.source is not None
            out.append(self._line(self.source.row(index)).plain)
        return out
