"""Preview a 512x512 frame: dcmtui's half-block rendering, beside DCMTK's
dcm2pnm (the same frame windowed to an 8-bit PGM file) as a yardstick.

Timed, medians of ``--reps`` runs, in this process (the screen's path):

- **open+render**: read the file, decode the frame, window it, fit it to a
  120x34 pane and build the half-block cells (what the preview screen does
  when it opens);
- **redraw**: a new window on the decoded frame, fitted and built again
  (what a window/level key costs);
- **widget segments**: the widget turning those cells into styled segments
  (what Textual then draws);
- **J2K open+render**: the same frame in JPEG 2000 lossless (needs the
  ``codecs`` extra);
- **dcm2pnm**: ``dcm2pnm +Wm FILE OUT.pgm`` as a process (includes its start).

Target: open+render < 100 ms.

Usage: ``python benchmarks/bench_preview.py [--reps 20] [--json]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _median_ms(run: Callable[[], object], reps: int) -> float:
    run()  # warm
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import numpy as np
    from pydicom import dcmread
    from pydicom.uid import JPEG2000Lossless

    from dcmtui.screens.preview import render_cells
    from dcmtui.services.pixels import Window, open_pixels
    from tests.imaging import write_image

    folder = Path(tempfile.mkdtemp(prefix="dcmtui-bench-preview-"))
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:512, 0:512]
    img = ((x + y) * 3 + rng.integers(0, 200, (512, 512))).astype(np.uint16)
    path = write_image(folder / "ct512.dcm", img, WindowCenter=1500, WindowWidth=2000)
    results: dict[str, float] = {}

    def open_render() -> object:
        return render_cells(open_pixels(path), 0, None, 120, 34)

    results["open+render ms"] = _median_ms(open_render, args.reps)
    source = open_pixels(path)
    source.frame(0)
    windows = iter(range(10**9))

    def redraw() -> object:
        return render_cells(source, 0, Window("m", 1000 + next(windows), 900), 120, 34)

    results["redraw ms"] = _median_ms(redraw, args.reps)
    import io

    from rich.console import Console

    from dcmtui.widgets.image_view import HalfBlockImage

    cells = render_cells(source, 0, None, 120, 34)
    console = Console(file=io.StringIO(), width=120, color_system="truecolor")

    def draw() -> object:
        return list(console.render(HalfBlockImage(cells, 120, 34)))

    results["widget segments ms"] = _median_ms(draw, args.reps)
    try:
        ds = dcmread(path)
        ds.compress(JPEG2000Lossless)
        j2k = folder / "ct512_j2k.dcm"
        ds.save_as(j2k)
        results["J2K open+render ms"] = _median_ms(
            lambda: render_cells(open_pixels(j2k), 0, None, 120, 34), args.reps
        )
    except Exception as exc:  # no encoder here: say so, keep the rest
        print(f"J2K skipped: {exc}", file=sys.stderr)
    if dcm2pnm := shutil.which("dcm2pnm"):
        out = folder / "out.pgm"
        results["dcm2pnm ms"] = _median_ms(
            lambda: subprocess.run([dcm2pnm, "+Wm", str(path), str(out)], check=True),
            max(5, args.reps // 2),
        )
        results["open+render / dcm2pnm"] = (
            results["open+render ms"] / results["dcm2pnm ms"]
        )
    shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name:<24} {value:8.2f}")
        verdict = "OK" if results["open+render ms"] < 100 else "SLOW"
        print(f"target open+render < 100 ms: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
