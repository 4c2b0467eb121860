"""Time from launch to the first rows on screen, as a person sees it.

Starts the real ``dcmtui DIR`` in a tmux pane (120x36) and polls the pane until a
row of the table shows, for a first open (empty index: rows appear as they are
read) and a re-open (the index knows the folder: rows come from SQLite at once).
For scale, the same run times dcmdump over the whole folder (nine keys).

    python benchmarks/bench_launch.py [--files 10000] [--reps 5]

Target: first rows within 1 s of launch. Needs tmux and dcmdump.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_index import corpus, dcmdump_argv  # noqa: E402

SESSION = "dcmtui-bench-launch"


def _pane() -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", SESSION],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def first_rows(folder: Path, home: Path, marker: str, limit: float = 30) -> float:
    """Seconds from starting ``dcmtui folder`` in tmux until ``marker`` shows."""
    env = " ".join(
        f"DCMTUI_{k.upper()}_DIR={home / k}" for k in ("config", "data", "log")
    )
    cmd = f"{env} {sys.executable} -m dcmtui {folder}"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    started = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "36", cmd],
        check=True,
    )
    try:
        while time.perf_counter() - started < limit:
            if marker in _pane():
                return time.perf_counter() - started
            time.sleep(0.005)
        raise RuntimeError(f"no rows after {limit} s:\n{_pane()}")
    finally:
        # wait for the scan to finish so that the next re-open sees a full index
        for _ in range(int(limit / 0.05)):
            if "done:" in _pane():
                break
            time.sleep(0.05)
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    for tool in ("tmux", "dcmdump"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    folder = corpus(args.files, args.keep)
    marker = "Bench^Patient"
    cold: list[float] = []
    warm: list[float] = []
    dump: list[float] = []
    for _ in range(args.reps):
        home = Path(tempfile.mkdtemp(prefix="dcmtui-launch-"))
        cold.append(first_rows(folder, home, marker))
        warm.append(first_rows(folder, home, marker))
        shutil.rmtree(home, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(
            dcmdump_argv(folder),
            stdout=subprocess.DEVNULL,
            check=True,
            env={**os.environ},
        )
        dump.append(time.perf_counter() - started)
    med = statistics.median
    print(f"{args.files} files, {args.reps} runs each, medians")
    print(f"  first rows, first open (empty index): {med(cold):.3f} s  (target <= 1 s)")
    print(f"  first rows, re-open (known index):    {med(warm):.3f} s  (target <= 1 s)")
    print(f"  dcmdump over the whole folder:        {med(dump):.3f} s  (for scale)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
