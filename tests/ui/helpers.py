"""Helpers for Pilot tests of the app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.pilot import Pilot

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.browser import FilesScreen
from dcmtui.services.container import Services
from dcmtui.services.files import Indexer, Reader


def make_app(root: Path, reader: Reader | None = None) -> DcmtuiApp:
    """The app on ``root`` with isolated settings; ``reader`` replaces the
    indexer's file reader (to slow it down, or to check what is read)."""
    settings = load_settings()
    services = Services(settings)
    if reader is not None:
        services.indexer = Indexer(settings.index_path, reader=reader)
    return DcmtuiApp(settings, root=root, services=services)


async def wait_scanned(pilot: Pilot[None], seconds: float = 20) -> FilesScreen:
    """Wait until the Files screen's scan has finished; return the screen."""
    for _ in range(int(seconds / 0.05)):
        await pilot.pause(0.05)
        screen = pilot.app.screen
        if not isinstance(screen, FilesScreen) or screen.progress is None:
            continue
        if screen.progress.done and not screen.scanning:
            await pilot.pause()
            return screen
    raise AssertionError("the scan did not finish")


def plain(label: str | Text) -> str:
    """The text of a tree label, without styles."""
    return label if isinstance(label, str) else label.plain


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], object], seconds: float = 20
) -> None:
    """Pause until ``condition()`` is true (the app keeps running meanwhile);
    fail after ``seconds``. Tests wait on what they need, never on a fixed
    sleep, so a slow or loaded machine cannot fail them."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    if not condition():
        raise AssertionError(f"still false after {seconds} s: {condition}")
