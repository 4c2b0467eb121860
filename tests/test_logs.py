"""Logging goes to the rotating file in the log folder, never to the terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmtui import logs
from dcmtui.logs import setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_records_go_to_the_file_not_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    path = setup_logging(tmp_path / "log", "INFO")
    assert path == tmp_path / "log" / "dcmtui.log"
    assert not path.exists()  # nothing logged yet: no file
    logging.getLogger("dcmtui.test").info("hello %s", "there")
    logging.getLogger("somelibrary").warning("library warning")
    logging.getLogger("somelibrary").info("library chatter")  # below WARNING
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "INFO dcmtui.test: hello there" in text
    assert "WARNING somelibrary: library warning" in text
    assert "library chatter" not in text
    out, err = capfd.readouterr()
    assert "hello" not in out + err and "library" not in out + err


def test_the_file_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    path = setup_logging(tmp_path / "log", "INFO")
    log = logging.getLogger("dcmtui.test")
    for n in range(200):
        log.info("line %d %s", n, "x" * 40)
    for handler in logging.getLogger().handlers:
        handler.flush()
    backups = sorted(p.name for p in path.parent.iterdir())
    assert backups == ["dcmtui.log", "dcmtui.log.1", "dcmtui.log.2", "dcmtui.log.3"]
    assert path.stat().st_size <= 2000
    assert "line 199" in path.read_text(encoding="utf-8")


def test_short_commands_do_not_import_the_handlers_module() -> None:
    """logging.handlers brings socket, pickle and queue: only at the first
    record."""
    import subprocess

    code = (
        "import sys, tempfile, pathlib\n"
        "from dcmtui.logs import setup_logging\n"
        "setup_logging(pathlib.Path(tempfile.mkdtemp()))\n"
        "assert 'logging.handlers' not in sys.modules\n"
        "import logging; logging.getLogger('dcmtui').warning('x')\n"
        "assert 'logging.handlers' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


DEFERRED = """
import sys, warnings
from pathlib import Path
from dcmtui.logs import setup_logging
from dcmtui.startup import deferred
path = setup_logging(Path(sys.argv[1]), "INFO")
assert deferred("logging"), "logging imported by the set-up"
step = sys.argv[2]
if step == "warning":
    warnings.warn("careful there")
    warnings.warn("and again")
elif step == "library":
    import logging
    logging.getLogger("somelibrary").warning("library warning")
    logging.getLogger("dcmtui.test").info("hello %s", "there")
elif step == "handlers":
    import logging.handlers
    assert logging.handlers.RotatingFileHandler
    logging.getLogger("dcmtui.test").info("hello %s", "there")
assert not deferred("logging")
import logging
for handler in logging.getLogger().handlers:
    handler.flush()
print(path)
"""


@pytest.mark.parametrize("step", ["warning", "library", "handlers"])
def test_deferred_set_up_applies_at_first_use(tmp_path: Path, step: str) -> None:
    """In a fresh interpreter the set-up leaves logging unimported (about 5 ms
    saved); the first use of logging, by a warning, a library or ``import
    logging.handlers``, applies it: everything lands in the file, nothing on
    the terminal."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", DEFERRED, str(tmp_path / "log"), step],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    text = Path(proc.stdout.strip()).read_text(encoding="utf-8")
    if step == "warning":
        assert "WARNING py.warnings" in text and "careful there" in text
        assert "and again" in text
    else:
        assert "INFO dcmtui.test: hello there" in text
    if step == "library":
        assert "WARNING somelibrary: library warning" in text
