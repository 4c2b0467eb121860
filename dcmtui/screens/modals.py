"""Modal screens: help, and the list of a scan's warnings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def binding_rows(screen: Screen[object]) -> list[tuple[str, str, str, str]]:
    """Every binding the app, ``screen`` and its widgets define.

    Returns:
        (where, keys, description, binding id) rows, without duplicates.
    """
    nodes: list[DOMNode] = [screen.app, screen, *screen.walk_children()]
    seen: set[tuple[str, str]] = set()
    rows: list[tuple[str, str, str, str]] = []
    for node in nodes:
        where = "app" if node is screen.app else type(node).__name__
        for key, bindings in node._bindings.key_to_bindings.items():
            for binding in bindings:
                if binding.system and not binding.description:
                    continue
                description = binding.tooltip or binding.description or binding.action
                if (where, binding.action) in seen and binding.id is None:
                    continue
                seen.add((where, binding.action))
                rows.append(
                    (
                        where,
                        screen.app.get_key_display(Binding(key, "")),
                        description,
                        binding.id or "",
                    )
                )
    return rows


class TableModal(ModalScreen[None]):
    """A title over a read-only table; escape closes it."""

    DEFAULT_CSS = """
    TableModal {
        align: center middle;
        & > Vertical {
            width: 90%; height: 85%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        & DataTable { height: 1fr; }
        & .title { text-style: bold; padding-bottom: 1; }
    }
    """
    TITLE_TEXT = ""
    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rows: Sequence[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def title_text(self) -> str:
        """The line above the table."""
        return self.TITLE_TEXT

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text(), classes="title", markup=False)
            yield DataTable[Text](cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        table.add_columns(*self.COLUMNS)
        for row in self.rows:
            table.add_row(*(Text(cell) for cell in row))
        table.focus()


class HelpScreen(TableModal):
    """Every key of the current screen, the app and its widgets."""

    TITLE_TEXT = (
        "Keys (remap any by its id in config.toml, [keymap] section) "
        "· ctrl+p: command palette · escape: close"
    )
    COLUMNS = ("Where", "Key", "What it does", "Id")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark,f1",
            "dismiss(None)",
            "Close",
            tooltip="Close the help",
            id="help.close",
        ),
    ]


class WarningsScreen(TableModal):
    """What the last scan could not read: path and reason."""

    DEFAULT_CSS = """
    WarningsScreen > Vertical { border: round $warning; height: 70%; }
    """
    COLUMNS = ("Path", "Reason")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,w",
            "dismiss(None)",
            "Close",
            tooltip="Close the list of warnings",
            id="warnings.close",
        ),
    ]

    @property
    def warnings(self) -> list[tuple[str, ...]]:
        """(path, reason) of each warning."""
        return self.rows

    def title_text(self) -> str:
        count = len(self.rows)
        return f"{count} warning{'s' * (count != 1)} from the last scan (escape: close)"
