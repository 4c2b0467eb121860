"""External DICOM peers (DCMTK, dicom3tools, Orthanc) for the tests.

A test that needs a peer calls ``require("storescp")``: it returns the
program's path, or skips the test with the reason. Under CI (``CI`` set to
anything but "" or "false") a missing peer is a failure instead, and
``conftest.py`` fails the run if anything was skipped at all.
"""

from __future__ import annotations

import os
import shutil

import pytest

PACKAGES = {
    "dcmdump": "dcmtk",
    "dcmodify": "dcmtk",
    "dump2dcm": "dcmtk",
    "storescp": "dcmtk",
    "storescu": "dcmtk",
    "echoscu": "dcmtk",
    "findscu": "dcmtk",
    "movescu": "dcmtk",
    "getscu": "dcmtk",
    "dcmqrscp": "dcmtk",
    "wlmscpfs": "dcmtk",
    "dcmconv": "dcmtk",
    "dcmcrle": "dcmtk",
    "dcmdrle": "dcmtk",
    "dcmcjpeg": "dcmtk",
    "dcmdjpeg": "dcmtk",
    "dcmcjpls": "dcmtk",
    "dcmdjpls": "dcmtk",
    "dcmmkdir": "dcmtk",
    "dcm2xml": "dcmtk",
    "dcm2json": "dcmtk",
    "dcm2pnm": "dcmtk",
    "openssl": "openssl",
    "dciodvfy": "dicom3tools",
    "Orthanc": "orthanc",
}


def strict() -> bool:
    """True when skips are failures (CI)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _native(program: str) -> str | None:
    """DCMTK's binary of that name: pynetdicom installs Python apps called
    ``storescp``, ``echoscu``... that may come first on PATH."""
    folders = (
        "/usr/bin",
        "/usr/local/bin",
        *os.environ.get("PATH", "").split(os.pathsep),
    )
    for folder in folders:
        candidate = os.path.join(folder, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            with open(candidate, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    return candidate
    return None


def require(program: str) -> str:
    """Return the path of ``program``, or skip (fail under CI) when missing.

    For DCMTK's programs this is always DCMTK's own binary, never a Python
    app of the same name.
    """
    if PACKAGES.get(program) == "dcmtk":
        path = _native(program)
    else:
        path = shutil.which(program)
    if path is None:
        package = PACKAGES.get(program, program)
        reason = f"{program} is not installed (apt-get install {package})"
        if strict():
            pytest.fail(f"CI needs every peer: {reason}", pytrace=False)
        pytest.skip(reason)
    return path
