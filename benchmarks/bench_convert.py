"""Convert a ~400 MB multi-frame file from explicit to implicit VR little
endian: ``dcmtui convert`` against ``dcmconv +ti``, side by side in one run.

The file (800 frames of 512x512 16-bit, about 420 MB) is generated once in
``$TMPDIR/dcmtui-bench/convert-400mb.dcm`` (or ``--keep DIR``): the header
with pydicom, the pixel data streamed in chunks. Both tools run as processes,
alternated, ``--reps`` times after one untimed run of each (page cache warm);
the output goes to the same folder and is deleted after each run. Peak RSS of
each child comes from ``os.wait4``.

Target: dcmtui / dcmconv <= 1.5.

Usage: ``python benchmarks/bench_convert.py [--reps 3] [--keep DIR] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FRAMES, ROWS, COLS = 800, 512, 512


def make_big(path: Path) -> Path:
    """The ~420 MB explicit VR little endian multi-frame file (cached)."""
    if path.exists():
        return path
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filewriter import dcmwrite
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
        generate_uid,
    )

    ds = Dataset()
    ds.SOPClassUID = MultiFrameGrayscaleWordSecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "BENCH^CONVERT"
    ds.PatientID = "BENCH1"
    ds.Modality = "OT"
    ds.NumberOfFrames = FRAMES
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    frame = np.random.default_rng(7).integers(0, 4096, (ROWS, COLS), np.uint16)
    length = FRAMES * ROWS * COLS * 2
    with open(tmp, "wb") as out:
        dcmwrite(out, ds, enforce_file_format=True)
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        for i in range(FRAMES):
            out.write(((frame + i) & 0x0FFF).astype("<u2").tobytes())
    os.replace(tmp, path)
    return path


def _run(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak MB of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{argv[0]} failed: {err}")
    return seconds, usage.ru_maxrss / 1024


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dcmconv = shutil.which("dcmconv")
    if dcmconv is None:
        raise SystemExit("dcmconv is not installed (apt-get install dcmtk)")
    base = args.keep or Path(tempfile.gettempdir()) / "dcmtui-bench"
    source = make_big(base / "convert-400mb.dcm")
    out_dir = base / "convert-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env_home = Path(tempfile.mkdtemp(prefix="dcmtui-bench-home-"))
    for name in ("CONFIG", "DATA", "LOG"):
        os.environ[f"DCMTUI_{name}_DIR"] = str(env_home / name.lower())
    ours_cmd = [
        sys.executable,
        "-m",
        "dcmtui",
        "convert",
        str(source),
        "--to",
        "implicit",
        "-o",
        str(out_dir),
        "-q",
    ]
    theirs_cmd = [dcmconv, "+ti", str(source), str(out_dir / "dcmconv.dcm")]
    times: dict[str, list[float]] = {"dcmtui": [], "dcmconv": []}
    peaks: dict[str, float] = {"dcmtui": 0.0, "dcmconv": 0.0}
    for rep in range(args.reps + 1):
        for name, cmd in (("dcmconv", theirs_cmd), ("dcmtui", ours_cmd)):
            seconds, peak = _run(cmd)
            if rep:  # the first round warms the page cache
                times[name].append(seconds)
                peaks[name] = max(peaks[name], peak)
            for leftover in out_dir.iterdir():
                leftover.unlink()
    ours, theirs = (
        statistics.median(times["dcmtui"]),
        statistics.median(times["dcmconv"]),
    )
    result = {
        "file MB": source.stat().st_size / 1e6,
        "dcmconv s": theirs,
        "dcmtui s": ours,
        "ratio": ours / theirs,
        "dcmconv peak MB": peaks["dcmconv"],
        "dcmtui peak MB": peaks["dcmtui"],
    }
    shutil.rmtree(env_home, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<16} {value:10.2f}")
        verdict = "OK" if result["ratio"] <= 1.5 else "SLOW"
        print(f"target dcmtui/dcmconv <= 1.5: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
