"""The single-file bundle (scripts/build_bundle.py) in an empty virtual environment.

The bundle is built once per test session and run with ``python -I`` from a
venv made ``--without-pip``: no dcmtui, no textual, no pydicom and no pip
installed, user site-packages ignored. Where the kernel allows it (root, as in
CI), the network scenarios run inside ``unshare -n``, a network namespace
with nothing but loopback: proof that nothing reaches for the network.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factories import write_dicom
from tests.netpeers import dcmtk, free_port
from tests.peers import require

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bundle:
    """A built bundle and an empty venv to run it with."""

    pyz: Path
    python: Path
    cache: Path

    def argv(self, *args: str) -> list[str]:
        """The command line that runs the bundle isolated."""
        return [str(self.python), "-I", str(self.pyz), *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the bundle with ``args``; the test's DCMTUI_*_DIR folders apply."""
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=bundle_env(self),
        )


def bundle_env(bundle: Bundle) -> dict[str, str]:
    """The environment: no PYTHONPATH, the session's unpack cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["DCMTUI_CACHE_DIR"] = str(bundle.cache)
    return env


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """Build dist/dcmtui.pyz into a temporary folder and make an empty venv."""
    work = tmp_path_factory.mktemp("bundle")
    built = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_bundle.py"),
            "-o",
            str(work / "dist"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    venv = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=60,
    )
    return Bundle(work / "dist" / "dcmtui.pyz", venv / "bin" / "python", work / "cache")


def test_wheelhouse_installs_without_an_index(bundle: Bundle, tmp_path: Path) -> None:
    """pip install --no-index --find-links, offline where the kernel allows it."""
    from dcmtui import __version__

    house = bundle.pyz.parent / f"dcmtui-wheelhouse-{__version__}.tar.gz"
    with tarfile.open(house) as tar:
        tar.extractall(tmp_path, filter="data")
    wheels = tmp_path / f"dcmtui-wheelhouse-{__version__}"
    assert (wheels / f"dcmtui-{__version__}-py3-none-any.whl").exists()
    assert "--no-index" in (wheels / "INSTALL.txt").read_text()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP"))}
    # The test extras hold every package of the codecs and graphics extras.
    assert "'dcmtui[codecs,graphics]'" in (wheels / "INSTALL.txt").read_text()
    installed = subprocess.run(
        [*_offline(), str(venv / "bin" / "pip"), "install", "-q", "--no-index",
         "--find-links", str(wheels), "dcmtui[codecs,graphics]"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # The console script is pyproject's (dcmtui.cli:run), as with pip install .
    assert "from dcmtui.cli import run" in (venv / "bin" / "dcmtui").read_text()
    version = subprocess.run(
        [str(venv / "bin" / "dcmtui"), "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == f"dcmtui {__version__}"
    path = write_dicom(tmp_path / "a.dcm")
    dump = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-m", "dcmtui", "dump", str(path)],
        capture_output=True,
        text=True,
    )
    assert dump.returncode == 0 and "(0010,0010)" in dump.stdout, dump.stderr
    # Compiled dependencies (numpy, the codecs) come as wheels of their own.
    imports = "import numpy, pylibjpeg, openjpeg, libjpeg, rle, jpeg_ls, PIL"
    compiled = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", imports + ", textual_image"],
        capture_output=True,
    )
    assert compiled.returncode == 0, compiled.stderr


def test_venv_is_empty_and_bundle_holds_no_pip(bundle: Bundle) -> None:
    bare = subprocess.run(
        [str(bundle.python), "-I", "-c", "import dcmtui"],
        capture_output=True,
        text=True,
        env=bundle_env(bundle),
    )
    assert bare.returncode != 0 and "No module named 'dcmtui'" in bare.stderr
    for module in ("pydicom", "textual", "pip"):
        probe = subprocess.run(
            [str(bundle.python), "-I", "-c", f"import {module}"], capture_output=True
        )
        assert probe.returncode != 0, module
    with zipfile.ZipFile(bundle.pyz) as zf:
        names = zf.namelist()
        listing = zf.read("BUNDLED.txt").decode()
        bootstrap = zf.read("__main__.py").decode()
    # The bundle runs what the installed console script runs (pyproject.toml).
    assert "from dcmtui.cli import run as entry" in bootstrap
    assert not any(n.startswith("lib/pip/") for n in names)
    assert not any(n.endswith((".so", ".pyc")) for n in names)
    for package in ("textual", "rich", "pydicom", "pynetdicom", "platformdirs"):
        assert package in listing
    assert not any(n.startswith("lib/numpy/") for n in names)
    assert "not bundled:\nnumpy" in listing
    assert "lib/dcmtui/app.tcss" in names


def test_the_build_is_reproducible(bundle: Bundle, tmp_path: Path) -> None:
    """The same sources and packages give the same bytes (fixed order and times)."""
    again = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_bundle.py"),
            "--no-wheelhouse",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "dcmtui.pyz").read_bytes() == bundle.pyz.read_bytes()


def test_version_unpacks_once_into_the_cache(bundle: Bundle) -> None:
    from dcmtui import __version__

    first = bundle.run("--version")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"dcmtui {__version__}"
    unpacked = [p for p in (bundle.cache / "bundle").iterdir() if p.is_dir()]
    assert [p.name.split("-")[0] for p in unpacked] == [__version__]
    assert (unpacked[0] / ".complete").exists()
    assert (unpacked[0] / "dcmtui" / "app.tcss").exists()
    stamp = (unpacked[0] / ".complete").stat().st_mtime_ns
    again = bundle.run("--version")
    assert again.returncode == 0
    assert (unpacked[0] / ".complete").stat().st_mtime_ns == stamp


def test_unwritable_cache_is_one_clear_line(bundle: Bundle, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {**bundle_env(bundle), "DCMTUI_CACHE_DIR": str(blocker / "sub")}
    result = subprocess.run(
        bundle.argv("--version"), capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert result.stderr.startswith("dcmtui: error: cannot unpack the bundle")
    assert "Traceback" not in result.stderr


MISSING_NUMPY = """
import runpy, sys, types
fake = types.ModuleType("dcmtui.cli")
def run():
    import numpy
fake.main = fake.run = run
sys.modules["numpy"] = None  # as on a server without numpy
sys.modules["dcmtui.cli"] = fake
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_missing_compiled_extra_is_named(bundle: Bundle) -> None:
    """A feature that needs numpy says so in one line, without a traceback."""
    result = subprocess.run(
        [str(bundle.python), "-I", "-c", MISSING_NUMPY, str(bundle.pyz)],
        capture_output=True,
        text=True,
        env=bundle_env(bundle),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("dcmtui: error: this needs numpy"), result.stderr
    assert "Traceback" not in result.stderr


def test_dump_and_index_from_the_bundle(bundle: Bundle, tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "in" / "a.dcm")
    dump = bundle.run("dump", str(path))
    assert dump.returncode == 0, dump.stderr
    ours = subprocess.run(
        [sys.executable, "-m", "dcmtui", "dump", str(path)],
        capture_output=True,
        text=True,
    )
    assert dump.stdout == ours.stdout
    index = bundle.run("index", str(tmp_path / "in"), "--json")
    assert index.returncode == 0, index.stderr
    assert '"dicom": 1' in index.stdout
    # dcmtui was imported from the unpacked copy: its bytecode was written there.
    unpacked = next(p for p in (bundle.cache / "bundle").iterdir() if p.is_dir())
    assert list((unpacked / "dcmtui" / "cli").glob("__pycache__/dump.*.pyc"))


def _offline() -> list[str]:
    """``unshare -n`` (loopback only) when this machine allows it, else nothing.

    Needs root (or user namespaces) and ``ip`` (iproute2, installed by .ci/run).
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run(
        [unshare, "-n", "sh", "-c", "ip link set lo up"],
        capture_output=True,
        timeout=10,
    )
    return [unshare, "-n"] if probe.returncode == 0 else []


SCENARIO = """
set -u
[ -n "$OFFLINE" ] && ip link set lo up
"$STORESCP" -aet STORESCP -od "$OUT" "$P1" & scp=$!
"${BUNDLE[@]}" listen --bind 127.0.0.1 --port "$P2" --aet SVC -q & lst=$!
trap 'kill $scp $lst 2>/dev/null' EXIT
ok=""
until [ $SECONDS -gt 60 ]; do
  if "${BUNDLE[@]}" echo "STORESCP@127.0.0.1:$P1" >"$WORK/echo.txt" 2>&1; then
    ok=1; break
  fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "echo failed"; cat "$WORK/echo.txt"; exit 3; }
cat "$WORK/echo.txt"
ok=""
until [ $SECONDS -gt 80 ]; do
  if "$ECHOSCU" -aec SVC 127.0.0.1 "$P2" 2>"$WORK/echoscu.txt"; then
    ok=1; break
  fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "echoscu failed"; cat "$WORK/echoscu.txt"; exit 5; }
echo "echoscu ok"
sent=""
until [ $SECONDS -gt 100 ]; do
  if "$STORESCU" -aec SVC 127.0.0.1 "$P2" "$FILE" 2>"$WORK/storescu.txt"; then
    sent=1; break
  fi
  sleep 0.1
done
[ -n "$sent" ] || { echo "storescu failed"; cat "$WORK/storescu.txt"; exit 4; }
kill -TERM $lst; wait $lst; echo "listen exit $?"
if [ -n "$OFFLINE" ]; then
  python3 -c 'import socket; s=socket.socket(); s.settimeout(2);
print("internet", s.connect_ex(("1.1.1.1", 80)))' || true
fi
"""


@pytest.fixture
def scenario_dirs(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "scp").mkdir()
    yield tmp_path


def test_echo_and_listen_against_dcmtk_without_network(
    bundle: Bundle, scenario_dirs: Path, isolated_dirs: Path
) -> None:
    storescp, storescu, echoscu = (
        dcmtk(p) for p in ("storescp", "storescu", "echoscu")
    )
    work = scenario_dirs
    file = write_dicom(work / "send" / "x.dcm")
    offline = _offline()
    p1, p2 = (11112, 11113) if offline else (free_port(), free_port())
    env = {
        **bundle_env(bundle),
        "OFFLINE": "1" if offline else "",
        "STORESCP": storescp,
        "STORESCU": storescu,
        "ECHOSCU": echoscu,
        "OUT": str(work / "scp"),
        "P1": str(p1),
        "P2": str(p2),
        "FILE": str(file),
        "WORK": str(work),
    }
    script = f"BUNDLE=({shlex.join(bundle.argv())})\n" + SCENARIO
    proc = subprocess.Popen(
        [*offline, "bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 0, out
    assert "listen exit 0" in out, out
    assert "STORESCP@127.0.0.1" in out and "ms" in out, out
    assert "echoscu ok" in out, out
    if offline:
        assert "internet 101" in out or "internet 113" in out, out
    received = [p for p in (isolated_dirs / "data" / "store").rglob("*") if p.is_file()]
    assert len(received) == 1
    assert received[0].read_bytes()[128:132] == b"DICM"


def test_the_app_draws_from_the_bundle(bundle: Bundle, tmp_path: Path) -> None:
    """Textual finds its CSS (and dcmtui its app.tcss) in the unpacked copy."""
    tmux = require("tmux")  # a skip, or under CI a failure, when missing
    session = f"dcmtui-bundle-{os.getpid()}"
    root = tmp_path / "root"
    write_dicom(root / "one.dcm", PatientName="BUNDLE^SHOWN")
    # A tmux server already running would not pass our environment on: set it here.
    env = {k: v for k, v in bundle_env(bundle).items() if k.startswith("DCMTUI_")}
    command = shlex.join(
        ["env", *(f"{k}={v}" for k, v in env.items()), *bundle.argv(str(root))]
    )
    subprocess.run(
        [tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "36", command],
        check=True,
    )
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = subprocess.run(
                [tmux, "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
            ).stdout
            if "BUNDLE^SHOWN" in screen or "Traceback" in screen:
                break
            time.sleep(0.2)
        assert "Traceback" not in screen
        assert "BUNDLE^SHOWN" in screen, screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
