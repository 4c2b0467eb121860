"""Modal screens: help."""

from __future__ import annotations

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


class HelpScreen(ModalScreen[None]):
    """Every key of the current screen, the app and its widgets."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > Vertical {
            width: 90%; height: 85%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        & DataTable { height: 1fr; }
        & #help-title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark,f1",
            "dismiss(None)",
            "Close",
            tooltip="Close the help",
            id="help.close",
        ),
    ]

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Keys (remap any by its id in config.toml, [keymap] section) "
                "· ctrl+p: command palette · escape: close",
                id="help-title",
                markup=False,
            )
            yield DataTable[Text](cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        table.add_columns("Where", "Key", "What it does", "Id")
        for row in self.rows:
            table.add_row(*(Text(cell) for cell in row))
        table.focus()


class WarningsScreen(ModalScreen[None]):
    """What the last scan could not read: path and reason."""

    DEFAULT_CSS = """
    WarningsScreen {
        align: center middle;
        & > Vertical {
            width: 90%; height: 70%;
            border: round $warning; background: $surface; padding: 0 1;
        }
        & DataTable { height: 1fr; }
        & #warnings-title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,w",
            "dismiss(None)",
            "Close",
            tooltip="Close the list of warnings",
            id="warnings.close",
        ),
    ]

    def __init__(self, warnings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.warnings = warnings

    def compose(self) -> ComposeResult:
        with Vertical():
            count = len(self.warnings)
            yield Static(
                f"{count} warning{'s' * (count != 1)} from the last scan "
                "(escape: close)",
                id="warnings-title",
                markup=False,
            )
            yield DataTable[Text](cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        table.add_columns("Path", "Reason")
        for path, reason in self.warnings:
            table.add_row(Text(path), Text(reason))
        table.focus()
