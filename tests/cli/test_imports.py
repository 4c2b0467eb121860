"""The hot commands import only what they need.

A short command's time is mostly Python's start-up and imports (see
PERFORMANCE.md): ``dcmtui echo AET@host:port`` and ``dcmtui dump FILE`` must
not pay for pynetdicom, pydicom, textual, rich or asyncio, nor ``dcmtui index``
re-opening a folder for more than SQLite and its records. Each case runs the
command as a process under ``python -X importtime`` and reads the modules it
imported after the interpreter's own start-up (``site``), so the gain cannot
silently regress.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import write_dicom
from tests.netpeers import free_port, start_storescp

ALWAYS_HEAVY = {"pynetdicom", "pydicom", "textual", "rich", "asyncio", "numpy"}


def imported(argv: list[str], *, code: int = 0) -> set[str]:
    """The top-level packages ``python -m dcmtui ARGV`` imported after start-up,
    and the full names of dcmtui's own modules."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dcmtui", *argv],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
    )
    assert proc.returncode == code, proc.stderr[-2000:]
    names: list[str] = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.append(line.rsplit("|", 1)[1].strip())
    assert "site" in names, proc.stderr[-2000:]
    after = names[names.index("site") + 1 :]
    return {n.split(".")[0] for n in after} | {
        n for n in after if n.startswith("dcmtui")
    }


def test_echo_address_imports_no_dicom_library(tmp_path: Path) -> None:
    peer = start_storescp(tmp_path / "in")
    try:
        mods = imported(["echo", f"STORESCP@127.0.0.1:{peer.port}"])
    finally:
        peer.stop()
    forbidden = ALWAYS_HEAVY | {"dataclasses", "logging", "tomllib", "tomlkit"}
    assert not mods & forbidden, sorted(mods & forbidden)
    assert "dcmtui.services.echo_fast" in mods
    assert "dcmtui.config" not in mods and "dcmtui.models" not in mods


def test_echo_by_name_imports_no_dicom_library(tmp_path: Path) -> None:
    peer = start_storescp(tmp_path / "in")
    book = Path(os.environ["DCMTUI_CONFIG_DIR"]) / "nodes.toml"
    book.write_text(
        f'[local]\nae_title = "STORESCP"\nhost = "127.0.0.1"\nport = {peer.port}\n'
    )
    try:
        mods = imported(["echo", "local"])
    finally:
        peer.stop()
    forbidden = ALWAYS_HEAVY | {"dataclasses", "logging", "tomlkit", "tomllib"}
    assert not mods & forbidden, sorted(mods & forbidden)
    assert "dcmtui.services.echo_fast" in mods and "dcmtui.quicktoml" in mods


def test_echo_failure_still_imports_no_textual() -> None:
    """A failure borrows Scu's words (pynetdicom-free too), never the UI."""
    mods = imported(["echo", f"X@127.0.0.1:{free_port()}", "-to", "2"], code=1)
    assert not mods & {"textual", "rich", "pynetdicom", "pydicom"}


def test_version_imports_no_command() -> None:
    mods = imported(["--version"])
    assert not mods & (ALWAYS_HEAVY | {"dataclasses"})
    assert not any(m.startswith("dcmtui.cli.") for m in mods), sorted(mods)


def test_dump_imports_no_dicom_library(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", PatientName="DOE^JANE")
    mods = imported(["dump", str(path)])
    forbidden = ALWAYS_HEAVY | {"logging", "tomllib"}
    assert not mods & forbidden, sorted(mods & forbidden)
    assert "dcmtui.config" not in mods


@pytest.mark.parametrize("reopen", [False, True])
def test_index_imports_no_dicom_library(tmp_path: Path, reopen: bool) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for n in range(3):
        write_dicom(folder / f"{n}.dcm", PatientName=f"P{n}")
    if reopen:
        imported(["index", str(folder)])
    mods = imported(["index", str(folder)])
    assert not mods & ALWAYS_HEAVY, sorted(mods & ALWAYS_HEAVY)
    # re-opening an unchanged folder reads no file: no reader either
    assert ("dcmtui.services.fastread" in mods) is not reopen


def test_send_imports_no_dicom_library_tls_or_typing(tmp_path: Path) -> None:
    """``dcmtui send`` to a node without TLS: no DICOM library, no ssl, and
    no ``inspect`` (dataclasses' only use of it waits: startup.defer_inspect),
    no ``typing``, and no ``logging`` at all when nothing is logged (its
    set-up waits for a first use: dcmtui.logs)."""
    peer = start_storescp(tmp_path / "in")
    path = write_dicom(tmp_path / "a.dcm")
    try:
        mods = imported(["send", f"STORESCP@127.0.0.1:{peer.port}", str(path), "-q"])
    finally:
        peer.stop()
    forbidden = ALWAYS_HEAVY | {"ssl", "inspect", "typing", "tomlkit", "logging"}
    assert not mods & forbidden, sorted(mods & forbidden)
    assert "dcmtui.services.dimse_fast" in mods


def test_the_deferred_inspect_is_the_real_one_when_used() -> None:
    """A dataclass without a docstring (dataclasses then asks inspect for a
    signature), ``from inspect import``, and a module that imported the
    stand-in all get the real functions."""
    code = (
        "import sys\n"
        "from dcmtui.startup import defer_inspect\n"
        "defer_inspect()\n"
        "import dataclasses\n"
        "assert type(sys.modules['inspect']).__name__ == '_DeferredInspect'\n"
        "@dataclasses.dataclass\n"
        "class A:\n"
        "    x: int\n"
        "assert A.__doc__ == 'A(x: int)', A.__doc__\n"
        "import inspect\n"
        "from inspect import isclass, signature\n"
        "assert isclass(A) and str(signature(A)) == '(x: int) -> None'\n"
        "assert dataclasses.inspect.signature is inspect.signature\n"
        "assert type(inspect).__name__ == 'module'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_send_by_name_reads_the_book_without_tomlkit(tmp_path: Path) -> None:
    """Reading the address book needs no tomlkit (about 12 ms to import):
    only editing it does."""
    peer = start_storescp(tmp_path / "in")
    book = Path(os.environ["DCMTUI_CONFIG_DIR"]) / "nodes.toml"
    book.write_text(
        f'# our archive\n[store]\nae_title = "STORESCP"\nhost = "127.0.0.1"\n'
        f"port = {peer.port}\n"
    )
    path = write_dicom(tmp_path / "a.dcm")
    try:
        mods = imported(["send", "store", str(path), "-q"])
    finally:
        peer.stop()
    assert "tomlkit" not in mods
    assert len(list((tmp_path / "in").iterdir())) == 1
