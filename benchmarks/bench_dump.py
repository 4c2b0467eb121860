"""Dump a big file: dcmtui against dcmdump, side by side.

Generates (once, cached) a file of about 20,000 elements (nested sequences,
private blocks) and a ~400 MB multi-frame file, then reports medians of
``--reps`` alternated runs:

- ``dcmdump FILE > /dev/null`` as a process, against ``dcmtui dump FILE``;
- the Dataset screen: from pushing the screen on the file (enter in the Files
  screen) to its first screen of rows, in a running app (``App.run_test``);
- keystrokes on that screen: page down, end, find (next match), collapse all,
  expand all, each timed as the action plus redrawing the rows on screen
  (Pilot's own per-key overhead, shown as a baseline, is larger than that);
- the 400 MB file: peak RSS (``ru_maxrss`` of the child, via ``os.wait4``) of
  ``dcmdump`` and of a child that opens it the way the screen does.

The interpreter's start-up (``python -c pass``), part of every ``dcmtui dump``,
is timed beside; ``--python`` runs dcmtui with another interpreter (a clean
venv's, whose start-up is shorter than a development install's), and
``--process-only`` leaves out the screen and memory figures.

Usage: ``python benchmarks/bench_dump.py [--reps 5] [--keep DIR] [--json]
[--python PYTHON] [--process-only]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def make_big(path: Path, elements: int = 20000) -> Path:
    """A file of about ``elements`` elements (cached)."""
    if path.exists():
        return path
    from tests.services.test_dataset import big_dataset

    path.parent.mkdir(parents=True, exist_ok=True)
    return big_dataset(path, elements)


def make_huge(path: Path, megabytes: int = 400) -> Path:
    """A multi-frame file with ``megabytes`` of native pixel data (cached)."""
    if path.exists():
        return path
    import struct

    from tests.factories import write_dicom

    frames = megabytes * 2  # 512 x 512 x 16 bits = 0.5 MB a frame
    path.parent.mkdir(parents=True, exist_ok=True)
    write_dicom(
        path,
        pixels=False,
        Rows=512,
        Columns=512,
        NumberOfFrames=frames,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=16,
        BitsStored=16,
        HighBit=15,
        PixelRepresentation=0,
    )
    size = 512 * 512 * 2 * frames
    with path.open("ab") as f:
        f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, size))
        chunk = bytes(range(256)) * 4096
        left = size
        while left:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
    return path


def run_process(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak MB of one child process, output to /dev/null."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{argv[0]} failed")
    return elapsed, usage.ru_maxrss / 1024


_OPEN_LIKE_SCREEN = """
import sys
from pathlib import Path
from dcmtui.services.edit import open_document
from dcmtui.services.dataset_view import DatasetView
doc = open_document(Path(sys.argv[1]))
view = DatasetView(doc.current)
rows = [view.row(i) for i in range(min(40, len(view)))]
print(rows[-1].value)
"""


async def screen_timings(path: Path) -> dict[str, float]:
    """Open the Dataset screen on ``path`` in a headless app; time keystrokes."""
    from dcmtui.app import DcmtuiApp, tune_gc
    from dcmtui.config import load_settings
    from dcmtui.screens.dump import DumpScreen
    from dcmtui.services.container import Services

    tune_gc()  # as DcmtuiApp.run does for the real app
    settings = load_settings()
    # An empty folder for the Files screen: the benchmark folder may hold other
    # benchmarks' corpora (10,000 files), whose indexing would be timed too.
    empty = Path(tempfile.mkdtemp(prefix="dcmtui-bench-dump-root-"))
    app = DcmtuiApp(settings, root=empty, services=Services(settings))
    out: dict[str, float] = {}
    async with app.run_test(size=(140, 40)) as pilot:
        # A person takes more than a second to reach a file and press enter;
        # meanwhile the app imports the Dataset screen (DcmtuiApp._preload).
        await pilot.pause(1.5)
        # The harness's own cost: an empty screen pushed and painted, and a
        # key that nothing is bound to.
        from textual.screen import Screen

        start = time.perf_counter()
        await app.push_screen(Screen())
        await pilot.pause(0)
        out["baseline: empty screen"] = time.perf_counter() - start
        t = time.perf_counter()
        await pilot.press("f19")
        out["baseline: unbound key"] = time.perf_counter() - t
        app.pop_screen()
        # Let the Files screen come back and settle, as it is when a person
        # presses enter on a file (else its redraw is timed with ours).
        await pilot.pause(0.5)
        start = time.perf_counter()
        screen = DumpScreen(app.services, path, None)
        await app.push_screen(screen)
        for _ in range(60_000):
            if screen.table.row_count:
                break
            await asyncio.sleep(0.001)
        await pilot.pause(0)  # let it paint
        out["first rows"] = time.perf_counter() - start
        await app.workers.wait_for_complete()  # the search index
        table = screen.table
        height = table.scrollable_content_region.height

        def redraw() -> None:
            # What the compositor asks of the table after a keystroke.
            for y in range(height):
                table.render_line(y)

        screen.query_text = "meaning 777"
        for name, action in (
            ("page down", lambda: table.action_page(1)),
            ("end", lambda: table.action_jump(-1)),
            ("home", lambda: table.action_jump(0)),
            ("find next", lambda: screen.action_find_next(False)),
            ("collapse all", screen.action_collapse_all),
            ("expand all", screen.action_expand_all),
            ("toggle one", screen.action_toggle_row),
        ):
            t = time.perf_counter()
            action()
            redraw()
            out[name] = time.perf_counter() - t
            await pilot.pause(0)
    shutil.rmtree(empty, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter to run dcmtui with"
    )
    parser.add_argument(
        "--process-only",
        action="store_true",
        help="only dcmdump against dcmtui dump as processes",
    )
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.gettempdir()) / "dcmtui-bench"
    big = make_big(folder / "big-20000.dcm")
    huge = make_huge(folder / "huge-400mb.dcm")
    os.environ.setdefault("DCMTUI_DATA_DIR", str(folder / "data"))
    os.environ.setdefault("DCMTUI_CONFIG_DIR", str(folder / "config"))
    os.environ.setdefault("DCMTUI_LOG_DIR", str(folder / "log"))

    dcmdump, dcmtui, floor = [], [], []
    run_process(["dcmdump", str(big)])  # warm the page cache
    for _ in range(args.reps):
        dcmdump.append(run_process(["dcmdump", str(big)])[0])
        dcmtui.append(run_process([args.python, "-m", "dcmtui", "dump", str(big)])[0])
        floor.append(run_process([args.python, "-c", "pass"])[0])
    if args.process_only:
        ratio = statistics.median(dcmtui) / statistics.median(dcmdump)
        print(
            f"dcmdump {statistics.median(dcmdump) * 1000:.1f} ms, dcmtui dump "
            f"{statistics.median(dcmtui) * 1000:.1f} ms: ratio {ratio:.2f} "
            f"(target <= 3); {args.python} -c pass "
            f"{statistics.median(floor) * 1000:.1f} ms"
        )
        return 0
    screens = [asyncio.run(screen_timings(big)) for _ in range(max(1, args.reps // 2))]
    keys = {k: statistics.median(s[k] for s in screens) for k in screens[0]}
    dd_huge = run_process(["dcmdump", str(huge)])
    ours_huge = run_process([sys.executable, "-c", _OPEN_LIKE_SCREEN, str(huge)])
    result: dict[str, Any] = {
        "elements_file_bytes": big.stat().st_size,
        "dcmdump_s": statistics.median(dcmdump),
        "dcmtui_dump_s": statistics.median(dcmtui),
        "dump_ratio": statistics.median(dcmtui) / statistics.median(dcmdump),
        "python_c_pass_s": statistics.median(floor),
        "screen_first_rows_s": keys["first rows"],
        "first_rows_ratio": keys["first rows"] / statistics.median(dcmdump),
        "keystrokes_ms": {
            k: round(v * 1000, 1) for k, v in keys.items() if k != "first rows"
        },
        "huge_file_mb": huge.stat().st_size / 1e6,
        "huge_dcmdump_peak_mb": dd_huge[1],
        "huge_dcmtui_open_peak_mb": ours_huge[1],
        "huge_dcmtui_open_s": ours_huge[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"20,000-element file ({result['elements_file_bytes']:,} bytes), medians "
        f"of {args.reps}:"
    )
    print(f"  dcmdump (process)        {result['dcmdump_s'] * 1000:8.1f} ms")
    print(
        f"  dcmtui dump (process)    {result['dcmtui_dump_s'] * 1000:8.1f} ms  "
        f"ratio {result['dump_ratio']:.2f} (target <= 3)"
    )
    print(f"  {args.python} -c pass {result['python_c_pass_s'] * 1000:.1f} ms")
    print(
        f"  screen: enter to rows    {result['screen_first_rows_s'] * 1000:8.1f} ms  "
        f"ratio {result['first_rows_ratio']:.2f} (target <= 2)"
    )
    for name, ms in result["keystrokes_ms"].items():
        print(f"  key: {name:<19} {ms:8.1f} ms (target < 50)")
    print(f"{result['huge_file_mb']:.0f} MB multi-frame file, peak memory:")
    print(f"  dcmdump                  {result['huge_dcmdump_peak_mb']:8.1f} MB")
    print(
        f"  dcmtui (open + rows)     {result['huge_dcmtui_open_peak_mb']:8.1f} MB "
        f"in {result['huge_dcmtui_open_s'] * 1000:.0f} ms (target < 150 MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
