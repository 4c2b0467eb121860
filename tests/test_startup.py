"""startup.cache_dataclass_code: the methods dataclasses generates are compiled
once and loaded from the cache folder by later starts, with the same
behaviour; a missing or damaged cache file only means compiling again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import builtins, json, dataclasses
from dcmtui import startup
startup.cache_dataclass_code("probe")
from dcmtui.models import Node
a = Node(name="a", ae_title="PACS", host="h", port=104)
b = Node(name="a", ae_title="PACS", host="h", port=104)
try:
    a.port = 1
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(json.dumps({
    "compiled": len(startup._NEW),
    "known": len(startup._CODE),
    "equal": a == b and hash(a) == hash(b),
    "repr": repr(a).startswith("Node(name='a', ae_title='PACS'"),
    "frozen": frozen,
    "builtin_exec": builtins.exec is exec and dataclasses.exec is not exec,
}))
startup.save_dataclass_code()
"""


def run(code: str, cache: Path) -> str:
    """Run ``code`` in a fresh interpreter with ``cache`` as the cache folder."""
    env = {**os.environ, "DCMTUI_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def probe(cache: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(run(PROBE, cache))
    return result


def test_second_start_compiles_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = probe(cache)
    assert isinstance(first["compiled"], int) and first["compiled"] > 10
    (saved,) = cache.glob("dataclass-code-*.marshal")
    second = probe(cache)
    assert second["compiled"] == 0
    assert second["known"] == first["known"]
    for result in (first, second):
        assert result["equal"] and result["repr"] and result["frozen"]
        assert result["builtin_exec"]  # shadowed in dataclasses alone
    assert saved.exists() and not list(cache.glob("*.tmp"))


def test_damaged_cache_file_means_compiling(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    probe(cache)
    (saved,) = cache.glob("dataclass-code-*.marshal")
    saved.write_bytes(b"\x00not marshal" * 10)
    result = probe(cache)
    assert isinstance(result["compiled"], int) and result["compiled"] > 10
    assert result["equal"] and result["frozen"]
    assert probe(cache)["compiled"] == 0  # written anew


def test_unwritable_cache_folder_is_quiet(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = probe(blocker / "sub")
    assert result["equal"] and result["frozen"]


PRUNE = """
import marshal
from dcmtui import startup
startup.cache_dataclass_code("probe")
startup._CODE.update({f"# {i}": compile("pass", "<s>", "exec") for i in range(3000)})
import dcmtui.models
startup._NEW.append("# 0")
startup.save_dataclass_code()
(path,) = startup._FILE
kept = marshal.load(open(path, "rb"))
assert kept and not any(t.startswith("#") for t in kept), len(kept)
assert set(kept) == startup._USED, (len(kept), len(startup._USED))
print(path)
"""


def test_cache_file_per_kind_keeps_what_is_used_beyond_its_limit(
    tmp_path: Path,
) -> None:
    path = Path(run(PRUNE, tmp_path).strip())
    assert path.name.startswith("dataclass-code-probe-")
