"""Index a folder of small DICOM files: dcmtui against dcmdump, side by side.

Generates (once, cached) a folder of N small files, then runs, alternating,
``--reps`` times each and reports medians:

- ``dcmdump -q +sd +r +F +P ...`` over the folder, output to /dev/null;
- ``dcmtui index DIR --json`` with a fresh, empty ``DCMTUI_DATA_DIR`` (first index);
- ``dcmtui index DIR --json`` again with the same data dir (re-open, unchanged:
  the quick path, from the snapshot the first run saved);
- in this process, no start-up: the re-open's own work (the snapshot check and
  the walk) and, for comparison, a full re-scan through SQLite (every row
  read back, the counts).

Peak RSS is the child's own ``ru_maxrss``, from ``os.wait4`` on that process.
With ``--reader-only``, times ``read_record`` in this process over the same files
against dcmdump instead (no CLI needed).

Usage: ``python benchmarks/bench_index.py [--files 10000] [--keep DIR] [--reps 3]
[--json] [--reader-only]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from make_corpus import make_corpus  # noqa: E402

DCMDUMP_KEYS = (
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "StudyDate",
    "SeriesInstanceUID",
    "SeriesDescription",
    "Modality",
    "SOPInstanceUID",
    "InstanceNumber",
)


@dataclass
class Candidate:
    """One thing timed, with its runs."""

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def median(self) -> float:
        """Median wall time.

        Returns:
            Seconds.
        """
        return statistics.median(self.seconds)

    def peak(self) -> float | None:
        """Largest peak RSS over the runs.

        Returns:
            MB, or None if not measured.
        """
        return max(self.peak_mb) if self.peak_mb else None


def corpus(files: int, keep: Path | None) -> Path:
    """The benchmark folder, generated on first use.

    Args:
        files: Number of files.
        keep: Parent folder to keep it in (default: the temp dir).

    Returns:
        The folder of DICOM files.
    """
    parent = keep or Path(tempfile.gettempdir()) / "dcmtui-bench"
    folder = parent / f"files-{files}"
    done = parent / f"files-{files}.done"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        made = make_corpus(folder, files)
        took = time.perf_counter() - start
        print(f"generated {made} files in {folder} ({took:.1f} s)", file=sys.stderr)
        done.write_text(str(made))
    return folder


def run_child(
    argv: list[str], env: dict[str, str] | None = None, *, capture: bool = False
) -> tuple[float, float, bytes]:
    """Run a process to its end; measure its wall time and its own peak RSS.

    Args:
        argv: Command line.
        env: Environment (default: ours).
        capture: Keep its stdout (else it goes to /dev/null).

    Returns:
        Wall seconds, peak RSS in MB (``ru_maxrss`` of that child from
        ``os.wait4``), and its stdout (empty unless captured).

    Raises:
        RuntimeError: The command failed.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out if capture else subprocess.DEVNULL, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-500:]
            raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {tail!r}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read()


def dcmdump_argv(folder: Path) -> list[str]:
    """The dcmdump command line.

    Args:
        folder: Folder to scan.

    Returns:
        The argv.
    """
    argv = ["dcmdump", "-q", "+sd", "+r", "+F"]
    for key in DCMDUMP_KEYS:
        argv += ["+P", key]
    return [*argv, str(folder)]


def run_dcmdump(folder: Path, cand: Candidate) -> None:
    """Time one dcmdump run.

    Args:
        folder: Folder to scan.
        cand: Where to add the result.
    """
    seconds, peak, _ = run_child(dcmdump_argv(folder))
    cand.seconds.append(seconds)
    cand.peak_mb.append(peak)


def dcmtui_env(data_dir: Path) -> dict[str, str]:
    """Environment for a dcmtui child, every user dir pointed at `data_dir`.

    Args:
        data_dir: Data folder (holds index.sqlite).

    Returns:
        The environment.
    """
    env = dict(os.environ)
    env["DCMTUI_DATA_DIR"] = str(data_dir)
    env["DCMTUI_CONFIG_DIR"] = str(data_dir / "config")
    env["DCMTUI_LOG_DIR"] = str(data_dir / "log")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


def run_dcmtui(folder: Path, data_dir: Path, cand: Candidate) -> dict[str, object]:
    """Time one ``dcmtui index DIR --json``.

    Args:
        folder: Folder to index.
        data_dir: ``DCMTUI_DATA_DIR`` for it.
        cand: Where to add the result.

    Returns:
        The command's JSON summary.
    """
    argv = [PYTHON, "-m", "dcmtui", "index", str(folder), "--json"]
    seconds, peak, out = run_child(argv, dcmtui_env(data_dir), capture=True)
    summary: dict[str, object] = json.loads(out)
    cand.seconds.append(seconds)
    cand.peak_mb.append(peak)
    cand.extra = summary
    return summary


PYTHON = sys.executable
"""The interpreter dcmtui runs with (``--python``: a clean venv's, say)."""


def quick_in_process(folder: Path, data_dir: Path, cand: Candidate) -> None:
    """Time the re-open's quick path in this process: load the snapshot, walk
    with a stat per file, compare (what ``dcmtui index`` does after start-up).

    Args:
        folder: The folder, indexed before into ``data_dir``.
        data_dir: Its ``DCMTUI_DATA_DIR``.
        cand: Where to add the result.
    """
    from dcmtui.services.index_snapshot import reopen

    root = str(folder.resolve())
    start = time.perf_counter()
    hit = reopen(root, str(data_dir), str(data_dir / "config"))
    cand.seconds.append(time.perf_counter() - start)
    if hit is None:
        print("warning: the re-open missed its snapshot", file=sys.stderr)


def reopen_in_process(folder: Path, data_dir: Path, cand: Candidate) -> None:
    """Time a full re-scan of ``folder`` in this process: the index's own work
    (SQLite, the walk with its stat calls, the counts), no start-up.

    Args:
        folder: The folder, indexed before into ``data_dir``.
        data_dir: Its ``DCMTUI_DATA_DIR``.
        cand: Where to add the result.
    """
    from collections import deque

    from dcmtui.services.files import Index

    index = Index(data_dir / "index.sqlite")
    root = folder.resolve()  # as the CLI keys it
    start = time.perf_counter()
    progress = deque(index.scan(root), maxlen=1)[0]
    index.summary(root, progress)
    cand.seconds.append(time.perf_counter() - start)
    if progress.read:
        print(f"warning: the re-scan read {progress.read} files", file=sys.stderr)


def floor_of(python: str, cand: Candidate) -> None:
    """Time ``python -c pass``: the interpreter's start-up, part of every run.

    Args:
        python: The interpreter.
        cand: Where to add the result.
    """
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True)
    cand.seconds.append(time.perf_counter() - start)


def list_files(folder: Path) -> list[tuple[str, int, int]]:
    """Every file under `folder`, with size and mtime.

    Args:
        folder: The folder.

    Returns:
        (path, size, mtime_ns) for each file.
    """
    found = []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            found.append((path, st.st_size, st.st_mtime_ns))
    return found


def run_reader(files: list[tuple[str, int, int]], cand: Candidate) -> None:
    """Time read_record over every file, in this process.

    Args:
        files: (path, size, mtime_ns) of each file.
        cand: Where to add the result.
    """
    from dcmtui.services.fastread import read_record

    kinds: dict[str, int] = {}
    start = time.perf_counter()
    for path, size, mtime_ns in files:
        kind = read_record(path, size, mtime_ns).kind.value
        kinds[kind] = kinds.get(kind, 0) + 1
    cand.seconds.append(time.perf_counter() - start)
    cand.extra.update(kinds)


def alternate(reps: int, steps: list[Callable[[], None]]) -> None:
    """Run each step once per repetition, in rotating order.

    Args:
        reps: Repetitions.
        steps: The timed steps.
    """
    for rep in range(reps):
        for index in range(len(steps)):
            steps[(index + rep) % len(steps)]()


def report(
    files: int, cands: list[Candidate], ratios: dict[str, tuple[float, str]]
) -> dict[str, object]:
    """Print the table and ratios; return them as a dict.

    Args:
        files: Number of files.
        cands: The candidates, timed.
        ratios: Name -> (value, target).

    Returns:
        The figures, for ``--json``.
    """
    print(f"{'candidate':<28} {'median s':>9} {'files/s':>9} {'peak MB':>8}")
    for cand in cands:
        peak = cand.peak()
        peak_text = f"{peak:8.0f}" if peak is not None else f"{'-':>8}"
        print(
            f"{cand.name:<28} {cand.median():9.3f} "
            f"{files / cand.median():9.0f} {peak_text}"
        )
    for name, (value, target) in ratios.items():
        print(f"{name:<28} {value:9.2f}   target {target}")
    return {
        "files": files,
        "candidates": {
            c.name: {
                "median_seconds": round(c.median(), 4),
                "seconds": [round(s, 4) for s in c.seconds],
                "files_per_second": round(files / c.median()),
                "peak_rss_mb": None if c.peak() is None else round(c.peak() or 0, 1),
                "extra": c.extra,
            }
            for c in cands
        },
        "ratios": {name: round(value, 3) for name, (value, _) in ratios.items()},
        "peak_rss_source": "ru_maxrss of each child from os.wait4",
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="keep the generated folder here")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--reader-only",
        action="store_true",
        help="time read_record in-process against dcmdump (no CLI needed)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter to run dcmtui with (a clean venv's, say)",
    )
    args = parser.parse_args(argv)
    global PYTHON
    PYTHON = args.python
    if shutil.which("dcmdump") is None:
        print("dcmdump not found (Debian package dcmtk)", file=sys.stderr)
        return 2
    folder = corpus(args.files, args.keep)
    run_child(dcmdump_argv(folder))  # warm the page cache, untimed
    dump = Candidate("dcmdump")
    if args.reader_only:
        files = list_files(folder)
        reader = Candidate("read_record (in-process)")
        alternate(
            args.reps,
            [lambda: run_dcmdump(folder, dump), lambda: run_reader(files, reader)],
        )
        cands = [dump, reader]
        ratios = {"dcmdump / read_record": (dump.median() / reader.median(), ">= 1")}
    else:
        first = Candidate("dcmtui index (first)")
        reopen = Candidate("dcmtui index (re-open)")
        quick = Candidate("re-open, in process")
        inner = Candidate("SQLite re-scan, in process")
        floor = Candidate("python -c pass")
        with tempfile.TemporaryDirectory(prefix="dcmtui-bench-data-") as tmp:
            counter = iter(range(10**6))

            def first_and_reopen() -> None:
                data_dir = Path(tmp) / f"run{next(counter)}"
                summary = run_dcmtui(folder, data_dir, first)
                if summary.get("dicom") != args.files:
                    print(f"warning: first index says {summary}", file=sys.stderr)
                again = run_dcmtui(folder, data_dir, reopen)
                if again.get("read") != 0:
                    print(f"warning: the re-open says {again}", file=sys.stderr)
                quick_in_process(folder, data_dir, quick)
                reopen_in_process(folder, data_dir, inner)
                floor_of(args.python, floor)

            alternate(args.reps, [lambda: run_dcmdump(folder, dump), first_and_reopen])
        cands = [dump, first, reopen, quick, inner, floor]
        ratios = {
            "first index / dcmdump": (first.median() / dump.median(), "<= 1.0"),
            "first / re-open": (first.median() / reopen.median(), ">= 10"),
            "peak MB (dcmtui)": (
                max(first.peak() or 0, reopen.peak() or 0),
                "< 300",
            ),
        }
    if args.json:
        with open(os.devnull, "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                figures = report(args.files, cands, ratios)
            finally:
                sys.stdout = stdout
        print(json.dumps(figures, indent=2))
    else:
        report(args.files, cands, ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
