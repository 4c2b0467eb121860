"""Half-block cells (from services/render.py) drawn as a Textual widget."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from dcmtui.services.render import RGB, Cell


@lru_cache(maxsize=65536)
def _style(fg: RGB, bg: RGB) -> Style:
    return Style(color=Color.from_rgb(*fg), bgcolor=Color.from_rgb(*bg))


class HalfBlockImage:
    """A Rich renderable of half-block cells, centred in ``width`` columns."""

    def __init__(self, cells: list[list[Cell]], width: int, height: int) -> None:
        self.cells = cells
        self.width = width
        self.height = height

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> RenderResult:
        width = min(self.width, options.max_width)
        image_w = len(self.cells[0]) if self.cells else 0
        left = max(0, (width - image_w) // 2)
        top = max(0, (self.height - len(self.cells)) // 2)
        blank = Segment(" " * width)
        for _ in range(top):
            yield blank
            yield Segment.line()
        for row in self.cells:
            if left:
                yield Segment(" " * left)
            for char, fg, bg in row[: width - left]:
                yield Segment(char, _style(fg, bg))
            right = width - left - min(len(row), width - left)
            if right > 0:
                yield Segment(" " * right)
            yield Segment.line()


class ImageView(Widget, can_focus=True):
    """Shows a picture made of half-block cells; says when its size changes
    so that the screen can render the picture again for the new size."""

    DEFAULT_CSS = """
    ImageView {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        &:focus { background: $surface; }
    }
    """

    cells: reactive[list[list[Cell]]] = reactive(list, layout=False)
    """Rows of (char, fg, bg) cells; set by the screen."""

    @dataclass
    class Resized(Message):
        """The view has a new size in cells."""

        view: ImageView
        size: Size

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(self, event.size))

    def render(self) -> HalfBlockImage:
        return HalfBlockImage(self.cells, self.size.width, self.size.height)


class PreviewPane(Vertical):
    """A small preview beside the files table: the picture and one line
    about it. The Files screen fills it (see screens/preview.py)."""

    DEFAULT_CSS = """
    PreviewPane {
        width: 40%;
        border-left: solid $panel;
        & ImageView { height: 1fr; }
        & #pane-info { height: auto; max-height: 3; color: $text-muted; padding: 0 1; }
    }
    """

    def compose(self) -> ComposeResult:
        view = ImageView(id="pane-image")
        view.can_focus = False  # the table keeps the keyboard
        yield view
        yield Static("", id="pane-info")

    @property
    def view(self) -> ImageView:
        """The picture."""
        return self.query_one(ImageView)

    def show(self, cells: list[list[Cell]], info: str) -> None:
        """Show a picture (cells) and a line (already made visible)."""
        self.view.cells = cells
        self.view.refresh()
        self.query_one("#pane-info", Static).update(Text(info))
