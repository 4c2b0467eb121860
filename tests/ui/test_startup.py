"""What the app does for speed at start-up, checked in a fresh interpreter
(the test process has imported everything already)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, gc, sys
from pathlib import Path
from dcmtui.app import PRELOAD, DcmtuiApp, tune_gc
from dcmtui.config import load_settings

tune_gc()
assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > 0

async def main() -> None:
    app = DcmtuiApp(load_settings(), root=Path(sys.argv[1]))
    async with app.run_test(size=(100, 30)) as pilot:
        assert not any(name in sys.modules for name in PRELOAD), "imported early"
        for _ in range(400):
            await pilot.pause(0.05)
            if all(name in sys.modules for name in PRELOAD):
                print("preloaded")
                return

asyncio.run(main())
"""


def test_the_dataset_screen_is_imported_in_the_background(tmp_path: Path) -> None:
    """Enter on a file must not pay for importing the Dataset screen: the app
    imports it after start-up; and the collector is tuned once."""
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "preloaded"
