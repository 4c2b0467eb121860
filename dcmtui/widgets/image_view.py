"""Half-block cells (from services/render.py) drawn as a Textual widget."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

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
