"""Send benchmark: ``dcmtui send`` against DCMTK's ``storescu``, side by side.

Both send the same files to one DCMTK ``storescp`` (``--ignore``: it receives
every byte and answers, but writes nothing, so the disk does not blur the
senders' figures; ``-pdu 131072``, DCMTK's largest, for both). DCMTK runs
with ``TCP_NODELAY=1``; dcmtui sets TCP_NODELAY itself. Each candidate runs as
a whole process, alternated, ``--reps`` times; medians.

Two corpora: 2,000 small CT files (``make_corpus.py``), and one ~400 MB
multi-frame file. Then ``nagle``: 100 small files to a second ``storescp`` as Debian
ships it, without ``TCP_NODELAY=1`` (Nagle's algorithm on: it holds each
response's PDU body back until its header is acknowledged).

The interpreter's own start-up (``python -c pass``) is printed beside: it is
part of every dcmtui process and differs between a development install
(editable finder, site hooks) and a clean venv; give that venv's interpreter
with ``--python /path/to/venv/bin/python`` to measure it (dcmtui installed
there with ``pip install .``). Usage::

    python benchmarks/bench_send.py [--files 2000] [--mb 400] [--reps 3] [--json]
        [--python PYTHON]
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
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _dcmtk(program: str) -> str:
    for folder in ("/usr/bin", "/usr/local/bin"):
        if (Path(folder) / program).is_file():
            return str(Path(folder) / program)
    found = shutil.which(program)
    if not found:
        sys.exit(f"{program} not found (apt-get install dcmtk)")
    return found


def dcmtui_argv(python: str) -> list[str]:
    """How a user runs dcmtui with ``python``: its ``dcmtui`` console script
    when one is installed beside it (no runpy, unlike ``python -m dcmtui``)."""
    script = Path(python).parent / "dcmtui"
    if script.is_file():
        head = script.read_bytes()[:200]
        if (
            head.startswith(b"#!")
            and Path(python).name.encode() in head.split(b"\n")[0]
        ):
            return [str(script)]
    return [python, "-m", "dcmtui"]


def interpreter_floor(python: str, reps: int = 10) -> dict[str, float]:
    """Median seconds of ``python -c pass`` and of ``python -S -I -c pass``
    (no site: the bare interpreter), alternated."""
    times: dict[str, list[float]] = {"python -c pass": [], "python -S -I -c pass": []}
    for _ in range(reps):
        for name, argv in (
            ("python -c pass", [python, "-c", "pass"]),
            ("python -S -I -c pass", [python, "-S", "-I", "-c", "pass"]),
        ):
            start = time.perf_counter()
            subprocess.run(argv, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _big_file(path: Path, megabytes: int) -> Path:
    """A multi-frame Secondary Capture of ``megabytes`` of 16-bit pixels."""
    if path.exists():
        return path
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frame = 512 * 512 * 2
    frames = max(1, megabytes * 1_000_000 // frame)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "BENCH^BIG"
    ds.PatientID = "BIG"
    ds.Modality = "OT"
    ds.Rows = ds.Columns = 512
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = os.urandom(1 << 20) * (frame * frames >> 20) + bytes(
        frame * frames - ((frame * frames >> 20) << 20)
    )
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ds.save_as(tmp, enforce_file_format=True)
    tmp.rename(path)
    return path


def _small_files(folder: Path, count: int) -> Path:
    done = folder.with_suffix(".done")
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_corpus.py"),
                str(folder),
                "--files",
                str(count),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        done.touch()
    return folder


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _count(path: Path) -> int:
    return 1 if path.is_file() else sum(1 for p in path.rglob("*") if p.is_file())


def _timed(
    argv: list[str], env: dict[str, str], inner: list[float] | None = None
) -> float:
    """Wall time of a whole process; ``inner`` gets dcmtui's own send time
    (its summary ends with ``in X s``: association to release, no start-up)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-800:]}")
    if inner is not None:
        match = re.search(r" in ([0-9.]+) s\s*$", proc.stdout)
        if match:
            inner.append(float(match.group(1)))
    return elapsed


def bench(
    target: Path, port: int, reps: int, home: Path, python: str = sys.executable
) -> dict[str, float]:
    """Median seconds of storescu and dcmtui send for ``target``."""
    env = {**os.environ, "TCP_NODELAY": "1"}
    dcmtui_env = {
        **env,
        "DCMTUI_CONFIG_DIR": str(home / "c"),
        "DCMTUI_DATA_DIR": str(home / "d"),
        "DCMTUI_LOG_DIR": str(home / "l"),
        "DCMTUI_CACHE_DIR": str(home / "cache"),
    }
    storescu = [_dcmtk("storescu"), "-aec", "STORESCP", "-pdu", "131072"]
    if target.is_dir():
        storescu += ["+sd", "+r"]
    storescu += ["127.0.0.1", str(port), str(target)]
    dcmtui = [
        *dcmtui_argv(python),
        "send",
        f"STORESCP@127.0.0.1:{port}",
        str(target),
        "-r",
        "-q",
    ]  # the default, journal included (a finished send removes it)
    times: dict[str, list[float]] = {"storescu": [], "dcmtui": [], "dcmtui_inner": []}
    _timed(storescu, env)  # warm the page cache
    _timed(dcmtui, dcmtui_env)  # and dcmtui's cache (startup.cache_dataclass_code)
    for _ in range(reps):
        times["storescu"].append(_timed(storescu, env))
        times["dcmtui"].append(_timed(dcmtui, dcmtui_env, times["dcmtui_inner"]))
    return {name: statistics.median(values) for name, values in times.items() if values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--mb", type=int, default=400)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="cache folder")
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter to run dcmtui with"
    )
    args = parser.parse_args(argv)
    cache = args.keep or Path(tempfile.gettempdir()) / "dcmtui-bench"
    cache.mkdir(parents=True, exist_ok=True)
    port, nagle_port = _free_port(), _free_port()
    corpora = [
        ("small", _small_files(cache / f"send-files-{args.files}", args.files), port),
        ("big", _big_file(cache / f"send-big-{args.mb}.dcm", args.mb), port),
        ("nagle", _small_files(cache / "send-files-100", 100), nagle_port),
    ]
    received = Path(tempfile.mkdtemp(prefix="bench-send-"))
    nodelay = {**os.environ, "TCP_NODELAY": "1"}
    as_shipped = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    scps = [
        subprocess.Popen(
            [
                _dcmtk("storescp"),
                "-aet",
                "STORESCP",
                "--ignore",
                "-pdu",
                "131072",
                "-od",
                str(received),
                str(scp_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for scp_port, env in ((port, nodelay), (nagle_port, as_shipped))
    ]
    results = []
    try:
        time.sleep(0.5)
        for name, target, scp_port in corpora:
            files, size = _count(target), _size(target)
            medians = bench(target, scp_port, args.reps, received, args.python)
            row = {"corpus": name, "files": files, "mb": size / 1e6}
            for who, seconds in medians.items():
                row[f"{who}_s"] = seconds
                row[f"{who}_files_s"] = files / seconds
                row[f"{who}_mb_s"] = size / 1e6 / seconds
            row["ratio"] = medians["storescu"] / medians["dcmtui"]
            if "dcmtui_inner" in medians:
                row["ratio_inner"] = medians["storescu"] / medians["dcmtui_inner"]
            results.append(row)
    finally:
        for scp in scps:
            os.killpg(scp.pid, signal.SIGTERM)
            scp.wait(5)
        shutil.rmtree(received, ignore_errors=True)
    floor = interpreter_floor(args.python)
    if args.json:
        print(json.dumps({"results": results, "interpreter_floor_s": floor}))
    else:
        print(
            f"interpreter {args.python}: "
            + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in floor.items())
        )
        for r in results:
            print(
                f"{r['corpus']:<6} {r['files']:>5} files {r['mb']:8.1f} MB | "
                f"storescu {r['storescu_s']:6.2f} s ({r['storescu_files_s']:7.1f} "
                f"files/s, {r['storescu_mb_s']:6.1f} MB/s) | dcmtui "
                f"{r['dcmtui_s']:6.2f} s ({r['dcmtui_files_s']:7.1f} files/s, "
                f"{r['dcmtui_mb_s']:6.1f} MB/s) | dcmtui/storescu speed "
                f"{r['ratio']:.2f}x"
            )
            if "ratio_inner" in r:
                print(
                    f"       dcmtui send time without interpreter start-up "
                    f"{r['dcmtui_inner_s']:.2f} s "
                    f"({r['files'] / r['dcmtui_inner_s']:.1f} files/s, "
                    f"{r['mb'] / r['dcmtui_inner_s']:.1f} MB/s): "
                    f"{r['ratio_inner']:.2f}x storescu's whole process"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
