"""The folders: paths.folder answers as platformdirs does, without importing
it in the plain Linux case (platformdirs costs about 30 ms at every start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from dcmtui import paths
KINDS = ("config", "data", "log", "cache")
ours = {k: paths.folder("DCMTUI_NOPE_DIR", k) for k in KINDS}
quick = {k: paths._xdg_folder(k) for k in KINDS}
imported = "platformdirs" in sys.modules
import platformdirs
theirs = {k: str(getattr(platformdirs, f"user_{k}_dir")("dcmtui", appauthor=False))
          for k in KINDS}
print(json.dumps([ours, quick, theirs, imported]))
"""


def probe(
    env: dict[str, str],
) -> tuple[dict[str, str], dict[str, str | None], dict[str, str], bool]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DCMTUI_"))
    }
    base.pop("HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    ours, quick, theirs, imported = json.loads(proc.stdout)
    return ours, quick, theirs, imported


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the quick case is Linux's"
)
@pytest.mark.parametrize(
    "xdg",
    [
        {},
        {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": "", "XDG_STATE_HOME": ""},
        {
            "XDG_CONFIG_HOME": "/x/conf",
            "XDG_DATA_HOME": "/x/data",
            "XDG_STATE_HOME": "/x/st",
            "XDG_CACHE_HOME": "/x/cache",
        },
        {"XDG_DATA_HOME": "/x/data/"},
    ],
)
def test_plain_linux_case_needs_no_platformdirs(
    tmp_path: Path, xdg: dict[str, str]
) -> None:
    ours, quick, theirs, imported = probe({"HOME": str(tmp_path), **xdg})
    assert ours == theirs
    assert quick == theirs
    assert not imported


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "relative/home"},
        {"HOME": "/h", "XDG_DATA_HOME": "relative", "XDG_CONFIG_HOME": "  "},
    ],
)
def test_other_cases_ask_platformdirs(env: dict[str, str]) -> None:
    ours, quick, theirs, _imported = probe(env)
    assert ours == theirs
    assert None in quick.values()


def test_the_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcmtui import paths

    monkeypatch.setenv("DCMTUI_DATA_DIR", "~/elsewhere")
    assert paths.folder("DCMTUI_DATA_DIR", "data") == os.path.expanduser("~/elsewhere")
