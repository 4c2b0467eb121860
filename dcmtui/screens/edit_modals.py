"""Modals of the Dataset screen: edit a value, insert an element, confirm, show text.

Input is checked as it is typed (:func:`dcmtui.services.values.validate`); a
value that does not fit its VR or VM shows the reason and cannot be submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from dcmtui.services.text import visible

_CSS = """
{name} {{
    align: center middle;
    & > Vertical {{
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }}
    & .title {{ text-style: bold; padding-bottom: 1; }}
    & .reason {{ color: $error; height: auto; }}
    & .reason.-ok {{ color: $success; }}
    & Horizontal {{ height: auto; align-horizontal: right; }}
    & Button {{ margin-left: 1; }}
}}
"""


class EditValueModal(ModalScreen[str | None]):
    """Edit one value; live VR/VM check; returns the text or None."""

    DEFAULT_CSS = _CSS.format(name="EditValueModal")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Keep the old value",
            id="edit-value.cancel",
        ),
    ]

    def __init__(self, title: str, initial: str, check: Callable[[str], str]) -> None:
        """Args: title (tag, VR, name), initial value, and a check giving the
        reason a text is refused ("" when it is fine)."""
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.title_text)), classes="title")
            yield Input(self.initial, id="value", select_on_focus=False)
            yield Static("", id="reason", classes="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="apply", variant="primary")

    def on_mount(self) -> None:
        self._update(self.initial)

    def _update(self, text: str) -> str:
        why = self.check(text)
        reason = self.query_one("#reason", Static)
        reason.update(Text(visible(why) if why else "✓ valid"))
        reason.set_class(not why, "-ok")
        self.query_one("#apply", Button).disabled = bool(why)
        return why

    @on(Input.Changed, "#value")
    def _changed(self, event: Input.Changed) -> None:
        self._update(event.value)

    @on(Input.Submitted, "#value")
    def _submitted(self, event: Input.Submitted) -> None:
        if not self._update(event.value):
            self.dismiss(event.value)

    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        value = self.query_one("#value", Input).value
        if not self._update(value):
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class NewElement:
    """What the insert modal returns."""

    tag: int
    vr: str
    value: str


class InsertModal(ModalScreen[NewElement | None]):
    """Insert an element: tag or keyword, VR (from the dictionary), value."""

    DEFAULT_CSS = _CSS.format(name="InsertModal")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Insert nothing",
            id="insert.cancel",
        ),
    ]

    def __init__(
        self,
        where: str,
        lookup: Callable[[str], tuple[int | None, str, str]],
        check: Callable[[int, str, str], str],
    ) -> None:
        """Args: where (the container, in words); lookup(text) → (tag, VR
        from the dictionary or "", reason); check(tag, vr, value) → reason."""
        super().__init__()
        self.where = where
        self.lookup = lookup
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text(f"Insert an element in {visible(self.where)}"), classes="title"
            )
            yield Label("Tag (0010,0021) or keyword")
            yield Input(id="tag")
            yield Label("VR (from the dictionary; asked for private tags)")
            yield Input(id="vr", max_length=2)
            yield Label("Value")
            yield Input(id="value")
            yield Static("", id="reason", classes="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Insert", id="apply", variant="primary")

    def on_mount(self) -> None:
        self._update()

    def _result(self) -> tuple[NewElement | None, str]:
        tag_text = self.query_one("#tag", Input).value
        vr = self.query_one("#vr", Input).value.strip().upper()
        value = self.query_one("#value", Input).value
        tag, _, why = self.lookup(tag_text)
        if tag is None:
            return None, why or "type a tag such as (0010,0021) or a keyword"
        if len(vr) != 2:
            return None, "give the VR (two letters)"
        if why := self.check(tag, vr, value):
            return None, why
        return NewElement(tag, vr, value), ""

    def _update(self) -> NewElement | None:
        result, why = self._result()
        reason = self.query_one("#reason", Static)
        reason.update(Text(visible(why) if why else "✓ valid"))
        reason.set_class(not why, "-ok")
        self.query_one("#apply", Button).disabled = result is None
        return result

    @on(Input.Changed, "#tag")
    def _tag_changed(self, event: Input.Changed) -> None:
        tag, vr, _ = self.lookup(event.value)
        if tag is not None and vr:
            self.query_one("#vr", Input).value = vr
        self._update()

    @on(Input.Changed, "#vr,#value")
    def _changed(self) -> None:
        self._update()

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        if (result := self._update()) is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question."""

    DEFAULT_CSS = _CSS.format(name="ConfirmModal")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,n", "dismiss(False)", "No", tooltip="Answer no", id="confirm.no"
        ),
        Binding("y", "dismiss(True)", "Yes", tooltip="Answer yes", id="confirm.yes"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.question)), classes="title")
            with Horizontal():
                yield Button(f"{self.no} (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class TextModal(ModalScreen[None]):
    """Show some lines (the diff of pending changes, a dcmodify command)."""

    DEFAULT_CSS = (
        _CSS.format(name="TextModal")
        + """
    TextModal VerticalScroll { height: auto; max-height: 30; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,enter", "dismiss(None)", "Close", tooltip="Close", id="text.close"
        ),
    ]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            with VerticalScroll():
                for line in self.lines or ["(nothing)"]:
                    yield Static(Text(visible(line)), classes="line")


class PathModal(ModalScreen[str | None]):
    """Ask for a path (save as)."""

    DEFAULT_CSS = _CSS.format(name="PathModal")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape", "dismiss(None)", "Cancel", tooltip="Do not save", id="path.cancel"
        ),
    ]

    def __init__(self, title: str, initial: str) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield Input(self.initial, id="path")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
