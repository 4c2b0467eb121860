"""Image preview: one frame of a file's pixel data drawn with half blocks.

Pushed from the Files screen (``p`` on a row) and the Dataset screen with
``PreviewScreen(services, path)``. Keys set the window (level and width, the
file's presets, full range), step through frames and switch between fitting
the pane and one pixel per half cell.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from dcmtui.services.pixels import PixelSource, Window, load_pixels
from dcmtui.services.render import Cell, half_blocks
from dcmtui.services.text import visible
from dcmtui.widgets.graphics import graphics_widget
from dcmtui.widgets.image_view import ImageView

if TYPE_CHECKING:
    from dcmtui.services.container import Services


def _b(
    key: str, action: str, text: str, tip: str, name: str, show: bool = True
) -> Binding:
    return Binding(key, action, text, tooltip=tip, id=f"preview.{name}", show=show)


def frame_picture(
    source: PixelSource, frame: int, window: Window | None, invert: bool = False
) -> np.ndarray:
    """A frame windowed to 8 bits (blocking), inverted on request."""
    img = source.display(frame, window)
    return 255 - img if invert else img


def render_cells(
    source: PixelSource,
    frame: int,
    window: Window | None,
    cols: int,
    rows: int,
    fit: bool = True,
    invert: bool = False,
) -> list[list[Cell]]:
    """A frame as half-block cells for a pane of ``cols`` x ``rows`` (blocking).

    Args:
        source: The file's pixel data.
        frame: 0-based frame number.
        window: The window (None: the file's default).
        cols: Cells across.
        rows: Cells down.
        fit: Scale to the pane; otherwise one pixel per half cell, centred
            and cropped.
        invert: Show the negative.

    Returns:
        Rows of cells.
    """
    img = frame_picture(source, frame, window, invert)
    if not fit:
        height, width = img.shape[:2]
        top = max(0, (height - 2 * rows) // 2)
        left = max(0, (width - cols) // 2)
        img = np.ascontiguousarray(img[top : top + 2 * rows, left : left + cols])
        height, width = img.shape[:2]
        return half_blocks(img, width, (height + 1) // 2)
    return half_blocks(img, cols, rows)


class PreviewScreen(Screen[None]):
    """One frame of a file's pixel data, window/levelled, in the terminal."""

    DEFAULT_CSS = """
    PreviewScreen {
        & #image { height: 1fr; }
        & #message { height: auto; padding: 0 1; color: $error; }
        & #info { height: 1; padding: 0 1; color: $text-muted; }
        & #graphics { height: 1fr; width: auto; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        _b("escape,backspace", "back", "Back", "Close the preview", "back"),
        _b("up", "level(1)", "Level+", "Raise the window level", "level-up", False),
        _b("down", "level(-1)", "Level-", "Lower the level", "level-down", False),
        _b("right", "width(1)", "Width+", "Widen the window", "width-up", False),
        _b("left", "width(-1)", "Width-", "Narrow the window", "width-down", False),
        _b("w", "preset", "Preset", "Next window preset of the file", "preset"),
        _b(
            "a",
            "full_range",
            "Full range",
            "Window over every value",
            "full-range",
            False,
        ),
        _b("n,pagedown", "frame(1)", "Next frame", "Next frame", "next-frame"),
        _b(
            "b,pageup", "frame(-1)", "Prev frame", "Previous frame", "prev-frame", False
        ),
        _b("home", "first_frame", "First", "First frame", "first-frame", False),
        _b("end", "last_frame", "Last", "Last frame", "last-frame", False),
        _b("f", "fit", "Fit/1:1", "Fit the pane or one pixel per half cell", "fit"),
        _b("i", "invert", "Invert", "Show the negative", "invert"),
        _b(
            "s", "save_png", "Save PNG", "Save this frame, as shown, as PNG", "save-png"
        ),
        _b(
            "g",
            "toggle_graphics",
            "Graphics",
            "Switch between the terminal's graphics protocol and half blocks",
            "graphics",
            False,
        ),
    ]

    frame: reactive[int] = reactive(0)
    """The frame shown (0-based)."""
    window: reactive[Window | None] = reactive(None)
    """The window shown (None: the file's default)."""
    fit: reactive[bool] = reactive(True)
    """Scale to the pane (else one pixel per half cell)."""
    invert: reactive[bool] = reactive(False)
    """Show the negative."""

    def __init__(
        self, services: Services | None, path: Path, graphics: Any | None = None
    ) -> None:
        """Preview ``path``.

        Args:
            services: The app's services.
            path: The DICOM file.
            graphics: A textual-image widget class to draw with the terminal's
                graphics protocol (default: the one this terminal has, if any).
        """
        super().__init__()
        self.services = services
        self.path = path
        self.source: PixelSource | None = None
        self._preset = 0
        self.graphics = graphics if graphics is not None else graphics_widget()
        self.use_graphics = self.graphics is not None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ImageView(id="image")
        if self.graphics is not None:
            yield self.graphics(id="graphics")
        yield Static("", id="message")
        yield Static("", id="info")
        yield Footer()

    @property
    def view(self) -> ImageView:
        """The picture."""
        return self.query_one(ImageView)

    def on_mount(self) -> None:
        self.title = "Preview"
        self.sub_title = visible(str(self.path))
        self.query_one("#message", Static).display = False
        self._show_mode()
        self.view.focus()
        self.load()

    def _show_mode(self) -> None:
        self.view.display = not self.use_graphics
        if self.graphics is not None:
            self.query_one("#graphics").display = self.use_graphics

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            message = str(event.worker.error)
            self._show_message(message)
            self.notify(visible(message), severity="error", timeout=8, markup=False)

    def _show_message(self, message: str) -> None:
        widget = self.query_one("#message", Static)
        widget.update(Text(visible(message)))
        widget.display = True

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        """Read the file in a thread, then draw its first frame."""
        self.source = await load_pixels(self.path)
        self._show_info()
        self.redraw()

    @on(ImageView.Resized)
    def _resized(self) -> None:
        if self.source is not None:
            self.redraw()

    @work(exclusive=True, group="render", exit_on_error=False)
    async def redraw(self) -> None:
        """Decode and render the current frame for the view's size."""
        source = self.source
        if source is None:
            return
        if self.use_graphics:
            from PIL import Image as PILImage

            img = await asyncio.to_thread(
                frame_picture, source, self.frame, self.window, self.invert
            )
            widget: Any = self.query_one("#graphics")
            widget.image = PILImage.fromarray(img)
            self.query_one("#message", Static).display = False
            self._show_info()
            return
        size = self.view.size
        cells = await asyncio.to_thread(
            render_cells,
            source,
            self.frame,
            self.window,
            max(1, size.width),
            max(1, size.height),
            self.fit,
            self.invert,
        )
        self.query_one("#message", Static).display = False
        self.view.cells = cells
        self.view.refresh()
        self._show_info()

    def _show_info(self) -> None:
        source = self.source
        if source is None:
            return
        info = source.info
        parts = [f"frame {self.frame + 1}/{info.frames}"]
        if info.is_colour:
            parts.append(f"{info.photometric} (no window)")
        else:
            window = self.window or (info.presets[0] if info.presets else None)
            if window is None:
                parts.append("window: full range")
            elif window.lut_index is not None:
                parts.append(f"VOI LUT: {window.name}")
            else:
                parts.append(f"C {window.center:g} W {window.width:g} ({window.name})")
        parts.append(f"{info.columns}x{info.rows}")
        if not info.is_colour:
            parts.append(info.photometric)
        parts.append("fit" if self.fit else "1:1")
        if self.use_graphics:
            parts.append("terminal graphics")
        if self.invert:
            parts.append("inverted")
        self.query_one("#info", Static).update(Text(visible(" · ".join(parts))))

    # -- actions -------------------------------------------------------------

    def _current_window(self) -> Window | None:
        source = self.source
        if source is None or source.info.is_colour:
            return None
        window = self.window or source.default_window(self.frame)
        if window.lut_index is not None:  # a LUT has no center/width to move
            window = source.full_range(self.frame)
        return window

    def action_level(self, direction: int) -> None:
        if (window := self._current_window()) is not None:
            self.window = window.moved(direction * max(1.0, window.width / 20), 0)

    def action_width(self, direction: int) -> None:
        if (window := self._current_window()) is not None:
            self.window = window.moved(0, direction * max(1.0, window.width / 10))

    def action_preset(self) -> None:
        source = self.source
        if source is None or source.info.is_colour:
            return
        presets = source.info.presets
        if not presets:
            self.notify("This file has no window presets; a = full range.", timeout=3)
            self.window = source.full_range(self.frame)
            return
        self._preset = (self._preset + 1) % len(presets)
        self.window = presets[self._preset]

    def action_full_range(self) -> None:
        if self.source is not None and not self.source.info.is_colour:
            self.window = self.source.full_range(self.frame)

    def _set_frame(self, frame: int) -> None:
        if self.source is not None:
            self.frame = max(0, min(self.source.info.frames - 1, frame))

    def action_frame(self, step: int) -> None:
        self._set_frame(self.frame + step)

    def action_first_frame(self) -> None:
        self._set_frame(0)

    def action_last_frame(self) -> None:
        if self.source is not None:
            self._set_frame(self.source.info.frames - 1)

    def action_fit(self) -> None:
        self.fit = not self.fit

    def action_save_png(self) -> None:
        if self.source is not None:
            self.save_png()

    @work(exclusive=True, group="save-png", exit_on_error=False)
    async def save_png(self) -> None:
        """Ask where, then write the frame as shown (window, invert) as PNG."""
        from dcmtui.screens.edit_modals import PathModal
        from dcmtui.services.export import write_png

        source = self.source
        if source is None:
            return
        initial = str(
            self.path.with_name(f"{self.path.stem}-frame{self.frame + 1}.png")
        )
        answer = await self.app.push_screen_wait(PathModal("Save PNG as", initial))
        if not answer:
            return
        img = await asyncio.to_thread(
            frame_picture, source, self.frame, self.window, self.invert
        )
        target = await asyncio.to_thread(write_png, img, Path(answer))
        self.notify(f"Saved {visible(str(target))}", timeout=4, markup=False)

    def action_toggle_graphics(self) -> None:
        if self.graphics is None:
            self.notify(
                "This terminal has no graphics protocol dcmtui can use (Kitty or "
                "Sixel, with pip install 'dcmtui[graphics]'); half blocks it is.",
                timeout=4,
                markup=False,
            )
            return
        self.use_graphics = not self.use_graphics
        self._show_mode()
        self.redraw()

    def action_invert(self) -> None:
        self.invert = not self.invert

    def action_back(self) -> None:
        self.app.pop_screen()

    def _changed(self) -> None:
        if self.source is not None and self.is_mounted:
            self.redraw()

    watch_frame = watch_window = watch_fit = watch_invert = _changed


# -- the preview pane of the Files screen ----------------------------------

PANE_ID = "preview-pane"


def toggle_preview_pane(
    screen: Screen[Any], container: Widget, path: str | None
) -> None:
    """Show or hide the preview pane in ``container`` (the Files screen's
    folders+table row), and preview ``path`` in it."""
    from dcmtui.widgets.image_view import PreviewPane

    found = screen.query(f"#{PANE_ID}")
    if found:
        found.remove()
        return
    container.mount(PreviewPane(id=PANE_ID))
    if path:
        screen.call_after_refresh(follow_preview_pane, screen, path)


def follow_preview_pane(screen: Screen[Any], path: str | None) -> None:
    """Preview ``path`` in the pane, when the pane is open (cheap otherwise)."""
    if path is None or not screen.query(f"#{PANE_ID}"):
        return
    screen.run_worker(
        _fill_pane(screen, Path(path)),
        group="preview-pane",
        exclusive=True,
        exit_on_error=False,
    )


async def _fill_pane(screen: Screen[Any], path: Path) -> None:
    from dcmtui.services.errors import DcmtuiError
    from dcmtui.widgets.image_view import PreviewPane

    await asyncio.sleep(0.08)  # the cursor may move on: draw where it stops
    pane = screen.query_one(f"#{PANE_ID}", PreviewPane)
    size = pane.view.size
    try:
        source = await load_pixels(path)
        cells = await asyncio.to_thread(
            render_cells, source, 0, None, max(1, size.width), max(1, size.height)
        )
    except DcmtuiError as exc:
        pane.show([], visible(str(exc)))
        return
    info = source.info
    frames = f", {info.frames} frames" if info.frames > 1 else ""
    pane.show(
        cells,
        visible(f"{path.name}: {info.columns}x{info.rows} {info.photometric}{frames}"),
    )
