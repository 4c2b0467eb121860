"""Real DICOM peers for the network client's tests: DCMTK programs (found in
/usr/bin first: pynetdicom installs Python apps of the same names, such as
``storescp``, which may come first on PATH) started on free loopback ports,
and stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.peers import require


def dcmtk(program: str) -> str:
    """The path of DCMTK's ``program`` (skips, or fails under CI, if missing)."""
    found = require(program)
    for folder in ("/usr/bin", "/usr/local/bin", *os.environ["PATH"].split(os.pathsep)):
        candidate = Path(folder) / program
        if candidate.is_file():
            with candidate.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    return str(candidate)
    return found


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 10
) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"peer exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Peer:
    """A running peer process."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        """Stop the process (and its children, for forking servers)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def delayed_acks() -> int:
    """How many acknowledgements Linux has delayed so far (TcpExt DelayedACKs:
    one each time the delayed-ACK timer fired, in this network namespace).
    A peer with Nagle's algorithm on that waits for one of ours shows here."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            counters = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(counters["DelayedACKs"])
    raise AssertionError("no TcpExt counters in /proc/net/netstat")


def start(
    argv: Sequence[str],
    port: int,
    log: Path,
    *,
    cwd: Path | None = None,
    nagle: bool = False,
) -> Peer:
    """Start ``argv`` in its own process group, wait for ``port``.

    DCMTK's programs get ``TCP_NODELAY=1``, unless ``nagle``: then they keep
    Nagle's algorithm on, as Debian ships them.
    """
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if not nagle:
        env["TCP_NODELAY"] = "1"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    peer = Peer(proc, port, log)
    try:
        wait_for_port(port, proc)
    except RuntimeError:
        peer.stop()
        raise
    return peer


def start_storescp(
    folder: Path, *args: str, aet: str = "STORESCP", nagle: bool = False
) -> Peer:
    """DCMTK storescp writing into ``folder`` (extra options in ``args``;
    ``nagle``: see :func:`start`)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [dcmtk("storescp"), "-aet", aet, "-od", str(folder), *args, str(port)]
    return start(argv, port, folder.parent / f"storescp-{port}.log", nagle=nagle)


QR_CONFIG = """\
NetworkTCPPort  = {port}
MaxPDUSize      = 65536
MaxAssociations = {max_assoc}

HostTable BEGIN
{hosts}
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
QRSCP  {db}  RW (1000, 1024mb) ANY
STRICT {db2} RW (1000, 1024mb) onlypeer
AETable END
"""


def start_dcmqrscp(
    folder: Path,
    *,
    hosts: dict[str, tuple[str, int]] | None = None,
    max_assoc: int = 16,
    nagle: bool = False,
) -> Peer:
    """DCMTK dcmqrscp with AE titles QRSCP (anyone) and STRICT (only the
    calling AE ONLYPEER); ``hosts`` are move destinations, AE -> (host, port);
    ``nagle``: see :func:`start`."""
    (folder / "db").mkdir(parents=True, exist_ok=True)
    (folder / "db2").mkdir(parents=True, exist_ok=True)
    port = free_port()
    table = {"onlypeer": ("ONLYPEER", "127.0.0.1", 1)}
    for aet, (host, p) in (hosts or {}).items():
        table[aet.lower()] = (aet, host, p)
    lines = "\n".join(f"{k} = ({a}, {h}, {p})" for k, (a, h, p) in table.items())
    cfg = folder / "dcmqrscp.cfg"
    cfg.write_text(
        QR_CONFIG.format(
            port=port,
            max_assoc=max_assoc,
            hosts=lines,
            db=folder / "db",
            db2=folder / "db2",
        )
    )
    argv = [dcmtk("dcmqrscp"), "-dhl", "-c", str(cfg), str(port)]
    return start(argv, port, folder / "dcmqrscp.log", nagle=nagle)


def load_dcmqrscp(peer: Peer, files: Sequence[Path], aet: str = "QRSCP") -> None:
    """Store ``files`` into a running dcmqrscp with DCMTK's storescu."""
    subprocess.run(
        [dcmtk("storescu"), "-aec", aet, "127.0.0.1", str(peer.port), *map(str, files)],
        check=True,
        capture_output=True,
        env={**os.environ, "TCP_NODELAY": "1"},
        timeout=60,
    )


def start_orthanc(
    folder: Path, modalities: dict[str, tuple[str, int]], *, nagle: bool = False
) -> Peer:
    """Orthanc (AE title ORTHANC) on free ports with its own storage in
    ``folder``; ``modalities`` are the C-MOVE destinations it knows,
    AE -> (host, port). Every DICOM service is allowed to every peer.
    ``nagle``: see :func:`start` (Orthanc's DICOM is DCMTK's)."""
    import json

    program = require("Orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    port, http = free_port(), free_port()
    config = {
        "Name": "dcmtui-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomAet": "ORTHANC",
        "DicomPort": port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "DicomModalities": {
            aet.lower(): [aet, host, p] for aet, (host, p) in modalities.items()
        },
        "Plugins": [],
        "StableAge": 1,
    }
    cfg = folder / "orthanc.json"
    cfg.write_text(json.dumps(config))
    return start(
        [program, str(cfg)], port, folder / "orthanc.log", cwd=folder, nagle=nagle
    )


def start_wlmscpfs(folder: Path, aet: str = "WLAE") -> Peer:
    """DCMTK's worklist SCP over ``folder/<aet>/*.wl`` (the test writes them)."""
    (folder / aet).mkdir(parents=True, exist_ok=True)
    (folder / aet / "lockfile").touch()
    port = free_port()
    argv = [dcmtk("wlmscpfs"), "-dfp", str(folder), str(port)]
    return start(argv, port, folder / "wlmscpfs.log")
