"""The preview screen: keys for window, presets, frames, fit; errors shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.content import Content
from textual.notifications import Notification
from textual.widgets import Static

from dcmtui.screens.preview import PreviewScreen, render_cells
from dcmtui.services.pixels import PixelError, missing_codec_message, open_pixels
from dcmtui.services.render import HALF_BLOCK
from tests.factories import write_dicom
from tests.imaging import gradient, write_image
from tests.ui.helpers import make_app, wait_scanned, wait_until


def _busy(screen: PreviewScreen) -> bool:
    return any(w.is_running for w in screen.app.workers if w.node is screen)


async def _ready(pilot: object, screen: PreviewScreen) -> None:
    for _ in range(100):
        await pilot.pause(0.02)  # type: ignore[attr-defined]
        if screen.view.cells and not _busy(screen):
            return
        if screen.query_one("#message", Static).display:
            return
    raise AssertionError("the preview did not draw")


def _info(screen: PreviewScreen) -> str:
    return str(screen.query_one("#info", Static).render())


async def test_keys_step_frames_and_move_the_window(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "mf.dcm",
        gradient(frames=3),
        WindowCenter=[1000, 3000],
        WindowWidth=[400, 800],
        WindowCenterWidthExplanation=["SOFT", "BONE"],
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, path)
        await app.push_screen(screen)
        await _ready(pilot, screen)
        assert "frame 1/3" in _info(screen) and "SOFT" in _info(screen)
        first = screen.view.cells
        await pilot.press("n", "n", "n")
        await _ready(pilot, screen)
        assert screen.frame == 2 and "frame 3/3" in _info(screen)
        assert screen.view.cells != first
        await pilot.press("b")
        assert screen.frame == 1
        await pilot.press("w")
        await _ready(pilot, screen)
        assert screen.window is not None and screen.window.name == "BONE"
        await pilot.press("up")
        assert screen.window.center == 3000 + 800 / 20
        await pilot.press("right")
        assert screen.window.width == 800 + 80
        await pilot.press("a")
        assert screen.window.name == "full range"
        await pilot.press("f")
        await _ready(pilot, screen)
        assert not screen.fit and "1:1" in _info(screen)
        await pilot.press("i")
        await _ready(pilot, screen)
        assert "inverted" in _info(screen)
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)


async def test_a_file_without_pixels_shows_why(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "np.dcm", pixels=False)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, path)
        await app.push_screen(screen)
        await _ready(pilot, screen)
        message = screen.query_one("#message", Static)
        assert message.display and "no pixel data" in str(message.render())


def test_render_cells_fits_or_crops(tmp_path: Path) -> None:
    source = open_pixels(write_image(tmp_path / "g.dcm", gradient(200, 100)))
    fitted = render_cells(source, 0, None, 80, 20)
    assert len(fitted) == 20 and len(fitted[0]) == 20  # 40x20 px -> 20 cols
    one = render_cells(source, 0, None, 80, 20, fit=False)
    assert len(one) == 20 and len(one[0]) == 80
    assert all(cell[0] == HALF_BLOCK for row in one for cell in row)
    inverted = render_cells(source, 0, None, 80, 20, invert=True)
    assert np.array_equal(
        255 - np.array([[c[1] for c in r] for r in fitted]),
        np.array([[c[1] for c in r] for r in inverted]),
    )


async def test_p_in_the_files_screen_previews_the_cursor_row(tmp_path: Path) -> None:
    write_image(tmp_path / "only.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_scanned(pilot)
        await pilot.press("p")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        assert screen.path == tmp_path / "only.dcm"
        await _ready(pilot, screen)
        assert screen.view.cells


def test_terminal_detection_from_the_environment() -> None:
    from dcmtui.widgets.graphics import terminal_may_draw_images

    assert terminal_may_draw_images({"TERM": "xterm-kitty"})
    assert terminal_may_draw_images({"KITTY_WINDOW_ID": "1", "TERM": "xterm"})
    assert terminal_may_draw_images({"TERM_PROGRAM": "WezTerm"})
    assert terminal_may_draw_images({"TERM": "foot"})
    assert not terminal_may_draw_images({"TERM": "xterm-256color"})
    assert not terminal_may_draw_images({"TERM": "foot", "DCMTUI_GRAPHICS": "off"})
    assert terminal_may_draw_images({"TERM": "screen", "DCMTUI_GRAPHICS": "on"})


async def test_graphics_protocol_widget_gets_the_windowed_frame(tmp_path: Path) -> None:
    """With a textual-image widget (here its half-cell one: no Kitty or Sixel
    terminal in a test), the preview hands it the windowed frame at full
    resolution; g switches to half blocks and back."""
    widget = pytest.importorskip("textual_image.widget")
    path = write_image(tmp_path / "g.dcm", gradient(40, 60))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, path, graphics=widget.HalfcellImage)
        await app.push_screen(screen)
        await wait_until(
            pilot, lambda: not _busy(screen) and "terminal graphics" in _info(screen)
        )
        image = screen.query_one("#graphics").image  # type: ignore[attr-defined]
        assert image.size == (60, 40)
        expected = open_pixels(path).display(0)
        assert np.array_equal(np.asarray(image), expected)
        assert not screen.view.display
        await pilot.press("g")
        await _ready(pilot, screen)
        assert screen.view.display and screen.view.cells
        assert "terminal graphics" not in _info(screen)


async def test_g_without_graphics_says_why(tmp_path: Path) -> None:
    path = write_image(tmp_path / "g.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, path)
        await app.push_screen(screen)
        await _ready(pilot, screen)
        await pilot.press("g")
        await pilot.pause()
        assert not screen.use_graphics
        assert any("dcmtui[graphics]" in _shown(n) for n in app._notifications)


def _shown(notification: Notification) -> str:
    """A toast's text as Textual draws it (markup parsed when it is on)."""
    message = notification.message
    content = Content.from_markup(message) if notification.markup else Content(message)
    return content.plain


async def test_a_missing_codec_names_the_package_in_the_toast_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package to install is in brackets (``dcmtui[codecs]``), which a
    toast that parsed markup would swallow."""
    message = missing_codec_message("1.2.840.10008.1.2.4.90")

    async def no_codec(path: Path) -> object:
        raise PixelError(message)

    monkeypatch.setattr("dcmtui.screens.preview.load_pixels", no_codec)
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, tmp_path / "[red]j2k.dcm")
        await app.push_screen(screen)
        await _ready(pilot, screen)
        shown = [_shown(n) for n in app._notifications]
        assert any("dcmtui[codecs]" in text for text in shown), shown
        assert "dcmtui[codecs]" in str(screen.query_one("#message", Static).render())


async def test_s_saves_the_frame_as_shown(tmp_path: Path) -> None:
    path = write_image(tmp_path / "mf.dcm", gradient(frames=2))
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = PreviewScreen(app.services, path)
        await app.push_screen(screen)
        await _ready(pilot, screen)
        await pilot.press("n", "i")
        await _ready(pilot, screen)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")
        out = tmp_path / "mf-frame2.png"
        await wait_until(pilot, lambda: out.exists())
        data = out.read_bytes()
        assert data[:4] == b"\x89PNG"
        from tests.services.test_export import _read_png

        expected = 255 - open_pixels(path).display(1)
        assert np.array_equal(_read_png(data), expected)


async def test_preview_pane_in_the_files_screen(tmp_path: Path) -> None:
    write_image(tmp_path / "a.dcm", seed="a")
    write_image(tmp_path / "b.dcm", gradient(frames=3), seed="b")
    write_dicom(tmp_path / "c.dcm", pixels=False)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        files = await wait_scanned(pilot)
        files.table.focus()
        files.table.move_cursor(row=0)
        await pilot.press("P")

        async def pane_text(expect: str) -> str:
            for _ in range(150):
                await pilot.pause(0.02)
                text = str(files.query_one("#pane-info", Static).render())
                if expect in text:
                    return text
            raise AssertionError(f"pane never showed {expect!r}: {text!r}")

        first = Path(files.table.current_path or "").name
        await pane_text(first)
        assert files.query_one("#pane-image").cells  # type: ignore[attr-defined]
        seen = {first}
        for _ in range(2):
            await pilot.press("down")
            name = Path(files.table.current_path or "").name
            seen.add(name)
            text = await pane_text(name if name != "c.dcm" else "no pixel data")
            if name == "b.dcm":
                assert "3 frames" in text
        assert seen == {"a.dcm", "b.dcm", "c.dcm"}
        await pilot.press("P")
        await pilot.pause()
        assert not files.query("#preview-pane")


async def test_p_in_the_dataset_screen_previews_the_file(tmp_path: Path) -> None:
    from dcmtui.screens.dump import DumpScreen

    write_image(tmp_path / "only.dcm")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        files = await wait_scanned(pilot)
        files.open_path(str(tmp_path / "only.dcm"))
        await wait_until(pilot, lambda: isinstance(app.screen, DumpScreen))
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        await _ready(pilot, screen)
        assert screen.view.cells
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DumpScreen)
