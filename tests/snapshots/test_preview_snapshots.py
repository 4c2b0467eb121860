"""SVG snapshot of the preview screen on a known image."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from textual.pilot import Pilot
from textual.widgets import Static

from dcmtui.screens.preview import PreviewScreen
from tests.imaging import write_image
from tests.snapshots.corpus import FIXED_ROOT
from tests.ui.helpers import make_app

SnapCompare = Callable[..., bool]
SIZE = (120, 36)


def _known_image(root: Path) -> Path:
    """A 12-bit ring on a ramp, with a window preset: the same on every run."""
    y, x = np.mgrid[0:128, 0:128]
    radius = np.hypot(x - 64, y - 64)
    img = (x * 32).astype(np.uint16)
    img[(radius > 30) & (radius < 40)] = 4000
    return write_image(
        root / "known.dcm",
        img,
        seed="preview-snapshot",
        WindowCenter=2048,
        WindowWidth=4096,
        WindowCenterWidthExplanation="ALL",
    )


class TestPreviewScreen:
    def test_known_image(self, snap_compare: SnapCompare) -> None:
        root = FIXED_ROOT / "snap-preview"
        shutil.rmtree(root, ignore_errors=True)
        path = _known_image(root)
        app = make_app(root)

        async def before(pilot: Pilot[Any]) -> None:
            screen = PreviewScreen(app.services, path)
            await app.push_screen(screen)
            for _ in range(100):
                await pilot.pause(0.02)
                running = [w for w in app.workers if w.node is screen and w.is_running]
                if screen.view.cells and not running:
                    break
            assert screen.query_one("#message", Static).display is False
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=before)
