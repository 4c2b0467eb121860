"""Query/retrieve server: dcmtui's receiver vs DCMTK dcmqrscp, same files.

20,000 generated instances (391 studies: one of 500 instances, 390 of 50; two
studies per patient, ``Bench^PatientNNN``), in two folders: ``a`` (the first
4,000: the 500-instance study and 70 others) and ``b`` (the rest).

dcmqrscp cannot hold 20,000 instances in one storage area: its ``index.dat``
takes 8,032 bytes per instance and DCMTK refuses to seek past 32 MB ("DB
ALERT: attempt to seek beyond 33554432 bytes"), so about 4,100 instances is
its ceiling. So it serves ``a`` (index built with ``dcmqridx``, files
referenced in place), and dcmtui serves the same ``a`` (the ratio), and also
all 20,000 (``a`` and ``b``: dcmtui against a store three times larger).
dcmtui answers from its SQLite index: ``dcmtui listen`` (the receiver with
query/retrieve, as a user runs it), each in its own process like dcmqrscp.
All are asked by the same DCMTK clients, alternated, with ``TCP_NODELAY=1``:

- study-level C-FIND (study root) with a wildcard on the patient name
  (``Bench^Patient0*``), median wall time of ``findscu`` (process start
  included, the same for both); target dcmtui/dcmqrscp <= 1.0;
- C-GET of the 500-instance study with ``getscu`` into an empty folder,
  median throughput; target dcmtui/dcmqrscp >= 1.0.

One untimed round first (dcmtui's STUDY-level cache is built on the first
query after the index changes: that query's time is printed as "cold"); then
the servers take turns, in an order reversed every repetition.

Usage: ``python benchmarks/bench_qr.py [--files 20000] [--reps 5] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SOP_PLACEHOLDER = "9" * 36
_NUMBER_PLACEHOLDER = b"88888888"
_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
BIG_STUDY = 500
PER_STUDY = 50
DCMQRSCP_FILES = 4000
QUERY = "Bench^Patient0*"


def _template(patient: int, study_no: int, study_uid: str, series_uid: str) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    sop_uid = f"1.2.826.0.1.3680043.8.498.{_SOP_PLACEHOLDER}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(_CT_IMAGE)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.8.498.1")
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = _CT_IMAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = f"2024{1 + study_no % 12:02d}{1 + study_no % 28:02d}"
    ds.StudyTime = "101500"
    ds.AccessionNumber = f"ACC{study_no:05d}"
    ds.Modality = "CT"
    ds.StudyDescription = f"Study {study_no}"
    ds.SeriesDescription = "Axial"
    ds.PatientName = f"Bench^Patient{patient:03d}"
    ds.PatientID = f"PID{patient:05d}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = str(study_no)
    ds.SeriesNumber = 1
    ds.InstanceNumber = int(_NUMBER_PLACEHOLDER)
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(256)) * 32
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def make_store(root: Path, files: int) -> str:
    """Write the corpus (cached); return the UID of the 500-instance study."""
    from pydicom.uid import generate_uid

    done = root / "done.txt"
    if done.exists():
        return done.read_text().strip()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    studies = 1 + max(0, files - BIG_STUDY) // PER_STUDY
    run = f"{int(time.time())}"
    big = ""
    for study in range(studies):
        count = BIG_STUDY if study == 0 else PER_STUDY
        study_uid = str(generate_uid())
        big = big or study_uid
        head, _, tail = _template(
            study // 2, study, study_uid, str(generate_uid())
        ).partition(_NUMBER_PLACEHOLDER)
        part = "a" if study <= (DCMQRSCP_FILES - BIG_STUDY) // PER_STUDY else "b"
        folder = root / part / f"ST{study:04d}"
        folder.mkdir(parents=True)
        for number in range(1, count + 1):
            sop = f"{run}{study:05d}{number:06d}".ljust(len(_SOP_PLACEHOLDER), "1")
            data = (
                head.replace(_SOP_PLACEHOLDER.encode(), sop.encode())
                + f"{number:<8d}".encode()
                + tail
            )
            (folder / f"IM{number:05d}.dcm").write_bytes(data)
    done.write_text(big)
    return big


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start_dcmqrscp(work: Path, store: Path) -> tuple[subprocess.Popen[bytes], int]:
    """dcmqrscp over ``store``, its index.dat built by dcmqridx (in place)."""
    db = work / "qrdb"
    db.mkdir(parents=True, exist_ok=True)
    marker = work / "qrdb.done"
    if not marker.exists():  # dcmqridx is slow (minutes for 20,000): cached
        shutil.rmtree(db)
        db.mkdir()
        paths = [str(p) for p in sorted((store / "a").rglob("*.dcm"))]
        for start in range(0, len(paths), 500):
            subprocess.run(
                ["dcmqridx", str(db), *paths[start : start + 500]], check=True
            )
        marker.write_text("ok")
    port = free_port()
    cfg = work / "dcmqrscp.cfg"
    cfg.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 131072\nMaxAssociations = 16\n"
        "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\nDCMQR {db} R (500, 100000mb) ANY\nAETable END\n"
    )
    proc = subprocess.Popen(
        ["dcmqrscp", "-c", str(cfg), str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, port


def index_store(work: Path, store: Path) -> None:
    """Put every file of ``store`` into dcmtui's index (cached)."""
    os.environ["DCMTUI_DATA_DIR"] = str(work / "dcmtui-data")
    os.environ["DCMTUI_CONFIG_DIR"] = str(work / "dcmtui-config")
    os.environ["DCMTUI_LOG_DIR"] = str(work / "dcmtui-log")
    config = work / "dcmtui-config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[qr]\nknown_peers_only = false\n")  # any calling AE
    from dcmtui.config import load_settings
    from dcmtui.services.fastread import read_record
    from dcmtui.services.files import Index

    marker = work / "dcmtui-index.done"
    if not marker.exists():
        records = []
        for path in sorted(store.rglob("*.dcm")):
            st = path.stat()
            records.append(read_record(str(path), st.st_size, st.st_mtime_ns))
        Index(load_settings().index_path).upsert(records)
        marker.write_text("ok")


def start_dcmtui(folder: Path, logs: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``dcmtui listen`` (the receiver with query/retrieve, as a user runs
    it: its own process, its association log written in ``logs``) over
    ``folder``."""
    shutil.rmtree(logs, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dcmtui",
            "listen",
            "-q",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--aet",
            "DCMTUI",
            "--store",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DCMTUI_LOG_DIR": str(logs)},
    )
    wait_port(port)
    return proc, port


def empty(folder: Path) -> Path:
    """``folder`` with nothing in it (the folder itself kept)."""
    for item in folder.iterdir():
        item.unlink()
    return folder


def timed(argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "TCP_NODELAY": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    for program in ("dcmqrscp", "dcmqridx", "findscu", "getscu"):
        if shutil.which(program) is None:
            print(f"{program} is missing (apt-get install dcmtk)", file=sys.stderr)
            return 1
    work = args.keep or Path(tempfile.gettempdir()) / f"dcmtui-bench-qr-{args.files}"
    store = work / "store"
    t0 = time.perf_counter()
    big = make_store(store, args.files)
    n_files = sum(1 for _ in store.rglob("*.dcm"))
    print(f"store: {n_files} files ({time.perf_counter() - t0:.1f} s to prepare)")
    qr_proc, qr_port = start_dcmqrscp(work, store)
    index_store(work, store)
    scp, ui_port = start_dcmtui(store / "a", work / "dcmtui-log-4k")
    scp_all, all_port = start_dcmtui(store, work / "dcmtui-log-20k")
    print(f"servers ready ({time.perf_counter() - t0:.1f} s)")
    servers = {
        "dcmqrscp": ("DCMQR", qr_port),
        "dcmtui": ("DCMTUI", ui_port),
        "dcmtui-20k": ("DCMTUI", all_port),
    }
    big_bytes = sum(p.stat().st_size for p in (store / "a" / "ST0000").glob("*.dcm"))
    # One output folder for every client run, emptied in between: where a
    # new folder lands on disk changes the time of writing 200-500 small
    # files several-fold here (ext4), which would favour one server or the
    # other. In memory (/dev/shm) where there is one.
    shm = Path("/dev/shm")
    scratch = (shm if shm.is_dir() and os.access(shm, os.W_OK) else work) / (
        f"dcmtui-bench-qr-{os.getpid()}"
    )
    scratch.mkdir(parents=True, exist_ok=True)
    find_times: dict[str, list[float]] = {name: [] for name in servers}
    get_times: dict[str, list[float]] = {name: [] for name in servers}
    cold: dict[str, float] = {}
    counts: dict[str, int] = {}

    def find(name: str, aet: str, port: int) -> float:
        out = empty(scratch)
        elapsed = timed(
            [
                "/usr/bin/findscu",
                "-aec",
                aet,
                "-S",
                "-X",
                "-od",
                str(out),
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"PatientName={QUERY}",
                "-k",
                "PatientID",
                "-k",
                "StudyInstanceUID",
                "-k",
                "StudyDate",
                "-k",
                "AccessionNumber",
                "127.0.0.1",
                str(port),
            ],
            work,
        )
        counts[name] = sum(1 for _ in out.glob("rsp*.dcm"))
        return elapsed

    def get(name: str, aet: str, port: int) -> float:
        out = empty(scratch)
        elapsed = timed(
            [
                "/usr/bin/getscu",
                "-aec",
                aet,
                "-S",
                "-od",
                str(out),
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={big}",
                "127.0.0.1",
                str(port),
            ],
            work,
        )
        got = sum(1 for _ in out.iterdir())
        if got != BIG_STUDY:
            raise RuntimeError(f"{name}: C-GET brought {got} files")
        return elapsed

    try:
        # Untimed first round: dcmtui builds its STUDY-level cache from the
        # index on the first query after a change (reported as "cold"); the
        # files reach the page cache for both.
        for name, (aet, port) in servers.items():
            cold[name] = find(name, aet, port)
            get(name, aet, port)
        for rep in range(args.reps):
            order = list(servers.items())
            if rep % 2:
                order.reverse()
            for name, (aet, port) in order:
                find_times[name].append(find(name, aet, port))
            for name, (aet, port) in reversed(order):
                get_times[name].append(get(name, aet, port))
    finally:
        qr_proc.terminate()
        qr_proc.wait(10)
        for server in (scp, scp_all):
            server.terminate()  # SIGTERM: dcmtui listen stops cleanly
            server.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)
    find_med = {k: statistics.median(v) for k, v in find_times.items()}
    get_med = {k: statistics.median(v) for k, v in get_times.items()}
    floor = interpreter_floor()
    print(
        f"C-FIND study level, PatientName={QUERY}, median of {args.reps} "
        "(dcmqrscp and dcmtui: 4,000 instances; dcmtui-20k: all of them), "
        "findscu's process start included:"
    )
    for name in servers:
        v = find_times[name]
        print(
            f"  {name:10s} {find_med[name] * 1000:8.1f} ms "
            f"(range {min(v) * 1000:.1f}-{max(v) * 1000:.1f}, "
            f"cold {cold[name] * 1000:.1f})  {counts[name]} matches"
        )
    for name in ("dcmtui", "dcmtui-20k"):
        ratio = find_med[name] / find_med["dcmqrscp"]
        print(f"  ratio {name}/dcmqrscp: {ratio:.2f} (<= 1.0)")
    print(f"C-GET of a {BIG_STUDY}-instance study ({big_bytes / 1e6:.1f} MB):")
    rate = {k: big_bytes / 1e6 / v for k, v in get_med.items()}
    for name in servers:
        v = get_times[name]
        print(
            f"  {name:10s} {get_med[name]:8.3f} s "
            f"(range {min(v):.3f}-{max(v):.3f})  {rate[name]:7.1f} MB/s"
        )
    for name in ("dcmtui", "dcmtui-20k"):
        print(
            f"  throughput ratio {name}/dcmqrscp: "
            f"{rate[name] / rate['dcmqrscp']:.2f} (>= 1.0)"
        )
    print(
        f"(dcmtui listen runs as its own process, started before the timings; "
        f"interpreter floor here: 'python -c pass' {floor * 1000:.0f} ms, not "
        "part of any timing)"
    )
    return 0


def interpreter_floor() -> float:
    """Median wall time of ``sys.executable -c pass``."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
