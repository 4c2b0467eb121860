"""Receive benchmark: ``dcmtui listen`` against DCMTK's ``storescp``, side by side.

DCMTK's ``storescu`` (``TCP_NODELAY=1``) sends the same files to each receiver
in turn: 2,000 small CT files, then one ~400 MB multi-frame file, then the
2,000 files again from 4 senders at once; last, 100 of the small files from a
``storescu`` left as Debian ships it, with Nagle's algorithm on (``nagle``).
Both receivers write every object to disk (storescp ``--output-directory``;
dcmtui its store, plus its index and associations.jsonl), both with 128 KB
PDUs (storescu's largest).

What is timed: the whole ``storescu`` run(s), from start to exit, against a
receiver that was started (and answered a connection) before: neither
receiver's start-up counts, both pay the same ``storescu`` start. Candidates are
alternated, ``--reps`` times each; the figures are medians, with the range of
the per-repetition ratios (each repetition's dcmtui time against the storescp
time measured just before it). Receiver CPU is the process's user + system
time during the run. Peak memory is the receiver process's VmHWM.

Before each timed run the page cache is written out (``sync``) and both
receivers are left to finish what they do after the last file (dcmtui's index
writer), and the order of the two alternates from one repetition to the next:
no run pays for the writeback or the bookkeeping of the run before it. Between
runs the received files are moved out of the stores into a trash folder,
deleted only after the last timing: deleting thousands of files just
before a run makes the next file creations scan the recently freed inodes
(ext4 without a journal: 20 us per file becomes 300-900 us here), which would
time the file system rather than the receivers, differently for whichever
receiver runs next.

``--variant NAME=FOLDER`` (repeatable) adds another dcmtui receiver, run from
the source tree in FOLDER (a ``git worktree`` of another commit, say) through
``PYTHONPATH``: an A/B of two versions of the receiver in the same run, each
against the same storescp runs. The order of the receivers rotates from one
repetition to the next.

Usage::

    python benchmarks/bench_receive.py [--files 2000] [--mb 400] [--reps 5] [--json]
        [--variant NAME=FOLDER ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path


def _dcmtk(program: str) -> str:
    for folder in ("/usr/bin", "/usr/local/bin"):
        if (Path(folder) / program).is_file():
            return str(Path(folder) / program)
    sys.exit(f"{program} not found (apt-get install dcmtk)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _small_files(folder: Path, count: int) -> list[Path]:
    """``count`` CT images of 128x128 16-bit pixels (~33 KB each)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted(folder.glob("*.dcm"))
    if len(files) == count:
        return files
    for old in files:
        old.unlink()
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    study, series = generate_uid(), generate_uid()
    pixels = os.urandom(128 * 128 * 2)
    for n in range(count):
        ds = Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = generate_uid()
        ds.PatientName = f"BENCH^{n // 500}"
        ds.PatientID = f"B{n // 500}"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.Modality = "CT"
        ds.InstanceNumber = n + 1
        ds.Rows = ds.Columns = 128
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = pixels
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.save_as(folder / f"{n:05d}.dcm", enforce_file_format=True)
    return sorted(folder.glob("*.dcm"))


def _big_file(path: Path, megabytes: int) -> Path:
    """A multi-frame Secondary Capture of ``megabytes`` of 16-bit pixels."""
    if path.exists() and path.stat().st_size > megabytes * 1_000_000 * 0.95:
        return path
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frame = 512 * 512 * 2
    frames = max(1, megabytes * 1_000_000 // frame)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "BENCH^BIG"
    ds.PatientID = "BIG"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.NumberOfFrames = frames
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.add_new(0x7FE00010, "OW", os.urandom(frame * frames))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


class Receiver:
    """One receiver process: started once, its store emptied between runs."""

    def __init__(self, name: str, home: Path, source: Path | None = None) -> None:
        self.name = name
        self.port = _free_port()
        self.store = home / f"{name}-store"
        self.store.mkdir(parents=True)
        env = dict(os.environ, TCP_NODELAY="1")
        if name == "storescp":
            argv = [
                _dcmtk("storescp"),
                "-aet",
                "RECEIVER",
                "-pdu",
                "131072",
                "--output-directory",
                str(self.store),
                str(self.port),
            ]
        else:
            for part in ("config", "data", "log"):
                (home / f"{name}-{part}").mkdir(exist_ok=True)
                env[f"DCMTUI_{part.upper()}_DIR"] = str(home / f"{name}-{part}")
            if source is not None:
                env["PYTHONPATH"] = str(source)
            argv = [
                sys.executable,
                "-m",
                "dcmtui",
                "listen",
                "-q",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--aet",
                "RECEIVER",
                "--store",
                str(self.store),
            ]
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=home,  # not the checkout: python -m puts the cwd before PYTHONPATH
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start")

    def peak_mb(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", text)
        return int(match.group(1)) / 1024 if match else 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the receiver process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1]
        utime, stime = fields.split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def received(self) -> int:
        return sum(
            1
            for p in self.store.rglob("*")
            if p.is_file() and ".incoming" not in p.parts
        )

    def clear(self, trash: Path) -> None:
        """Move what was received into ``trash`` (see the module docstring)."""
        folder = trash / f"{self.name}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        for child in self.store.iterdir():
            if child.name != ".incoming":
                child.rename(folder / child.name)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _send(port: int, groups: list[list[Path]], nodelay: bool) -> float:
    """Send each group with its own storescu, all at once (``TCP_NODELAY=1``
    when ``nodelay``, else Nagle's algorithm on); wall seconds."""
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if nodelay:
        env["TCP_NODELAY"] = "1"
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                _dcmtk("storescu"),
                "-aec",
                "RECEIVER",
                "-R",
                "127.0.0.1",
                str(port),
                *map(str, group),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for group in groups
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"storescu failed: {err.decode()[-300:]}")
    return time.perf_counter() - t0


def _settle(receivers: Iterable[Receiver]) -> None:
    """Before a timed run: write the page cache out (``sync``) and wait until
    no receiver is still busy (dcmtui's index writer finishes its batch after
    the last file is on disk), so that a run pays for neither the writeback
    nor the bookkeeping of the run before it, whichever receiver that was."""
    os.sync()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        before = sum(rx.cpu_seconds() for rx in receivers)
        time.sleep(0.2)
        if sum(rx.cpu_seconds() for rx in receivers) == before:
            return


def _wait_received(rx: Receiver, count: int) -> None:
    deadline = time.monotonic() + 30
    while rx.received() < count and time.monotonic() < deadline:
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=400)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dcmtui-bench-receive",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        choices=("small", "big", "x4", "nagle"),
        help="run only this scenario (repeatable; default: all four)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="another dcmtui receiver, run from the source tree in FOLDER",
    )
    args = parser.parse_args(argv)
    variants = {"dcmtui": None} | {
        name: Path(folder).resolve()
        for name, _, folder in (v.partition("=") for v in args.variant)
    }

    small = _small_files(args.cache / f"small-{args.files}", args.files)
    big = _big_file(args.cache / f"big-{args.mb}.dcm", args.mb)
    small_mb = sum(p.stat().st_size for p in small) / 1e6
    big_mb = big.stat().st_size / 1e6
    quarters = [small[i::4] for i in range(4)]
    # name: (storescu runs at once, objects, MB, TCP_NODELAY=1)
    scenarios = {
        "small": ([small], len(small), small_mb, True),
        "big": ([[big]], 1, big_mb, True),
        "small x4 senders": (quarters, len(small), small_mb, True),
        "nagle": ([small[:100]], 100, small_mb * 100 / len(small), False),
    }
    if args.only:
        chosen = [{"x4": "small x4 senders"}.get(o, o) for o in args.only]
        scenarios = {name: scenarios[name] for name in chosen}
    results: dict[str, dict[str, dict[str, float]]] = {}
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-receive-") as tmp:
        home = Path(tmp)
        trash = home / "trash"
        receivers = {"storescp": Receiver("storescp", home)} | {
            name: Receiver(name, home, source) for name, source in variants.items()
        }
        try:
            for scenario, (groups, count, megabytes, nodelay) in scenarios.items():
                times: dict[str, list[float]] = {name: [] for name in receivers}
                cpu: dict[str, list[float]] = {name: [] for name in receivers}
                lost: dict[str, int] = dict.fromkeys(receivers, 0)
                for rep in range(args.reps):
                    order = list(receivers.items())
                    shift = rep % len(order)  # none always runs first
                    order = order[shift:] + order[:shift]
                    for name, rx in order:
                        rx.clear(trash)
                        _settle(receivers.values())
                        before = rx.cpu_seconds()
                        seconds = _send(rx.port, groups, nodelay)
                        _wait_received(rx, count)
                        cpu[name].append(rx.cpu_seconds() - before)
                        lost[name] = max(lost[name], count - rx.received())
                        times[name].append(seconds)
                for name in variants:
                    ratios[f"{scenario}/{name}"] = [
                        ref / ours
                        for ref, ours in zip(
                            times["storescp"], times[name], strict=True
                        )
                    ]
                results[scenario] = {
                    name: {
                        "seconds": statistics.median(values),
                        "files_per_s": count / statistics.median(values),
                        "mb_per_s": megabytes / statistics.median(values),
                        "cpu_seconds": statistics.median(cpu[name]),
                        "lost": lost[name],
                        "peak_mb": receivers[name].peak_mb(),
                    }
                    for name, values in times.items()
                }
        finally:
            for rx in receivers.values():
                rx.stop()
            shutil.rmtree(trash, ignore_errors=True)

    if args.json:
        print(json.dumps({"results": results, "ratios": ratios}, indent=2))
        return 0
    print(
        f"{len(small)} small files ({small_mb:.0f} MB), one {big_mb:.0f} MB file; "
        f"medians of {args.reps}"
    )
    for scenario, by_name in results.items():
        ref = by_name["storescp"]
        print(f"\n{scenario}:")
        for name, r in by_name.items():
            print(
                f"  {name:<9} {r['seconds']:7.2f} s  {r['files_per_s']:8.0f} files/s "
                f"{r['mb_per_s']:7.0f} MB/s  cpu {r['cpu_seconds']:5.2f} s  "
                f"lost {r['lost']:.0f}  peak RSS so far {r['peak_mb']:.0f} MB"
            )
        for name in variants:
            each = ratios[f"{scenario}/{name}"]
            print(
                f"  {name} speed vs storescp: "
                f"{ref['seconds'] / by_name[name]['seconds']:.2f}x (per repetition "
                f"{min(each):.2f}-{max(each):.2f}x, median "
                f"{statistics.median(each):.2f}x; target >= 1.0x)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
