"""``dcmtui listen`` as a service and ``dcmtui monitor``, as processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import write_dicom
from tests.netpeers import dcmtk


def start_listen(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmtui", "listen", "--bind", "127.0.0.1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    match = re.search(r"listening as \S+ on 127\.0\.0\.1:(\d+)", first)
    if match is None:
        proc.kill()
        proc.wait()
        raise AssertionError(f"listen did not start: {first}{proc.stderr.read()}")
    return proc, int(match.group(1))


@pytest.fixture
def listener(isolated_dirs: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc, port = start_listen("--port", "0", "--aet", "SVC")
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def tcp_env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


def test_listen_receives_logs_and_stops_cleanly_on_sigterm(
    listener: tuple[subprocess.Popen[str], int], isolated_dirs: Path, tmp_path: Path
) -> None:
    proc, port = listener
    files = [write_dicom(tmp_path / "src" / f"{i}.dcm") for i in range(5)]
    sent = subprocess.run(
        [
            dcmtk("storescu"),
            "-aet",
            "SENDER",
            "-aec",
            "SVC",
            "127.0.0.1",
            str(port),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=tcp_env(),
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    echo = subprocess.run(
        [dcmtk("echoscu"), "-aet", "BAD\x1b[31m", "127.0.0.1", str(port)],
        capture_output=True,
        env=tcp_env(),
        timeout=30,
    )
    assert echo.returncode != 0  # pynetdicom refuses control characters in AEs
    markup = subprocess.run(
        [dcmtk("echoscu"), "-aet", "[red]X", "127.0.0.1", str(port)],
        capture_output=True,
        env=tcp_env(),
        timeout=30,
    )
    assert markup.returncode == 0
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped; 2 associations, 5 objects, 1 failures" in err
    assert "c-echo [red]X->ANY-SCP" in err  # shown as text, not markup
    assert "\x1b" not in err  # peer data escaped in the log lines
    assert "c-store SENDER->SVC" in err
    log = isolated_dirs / "log" / "associations.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds.count("c-store") == 5 and kinds.count("released") == 2
    assert kinds.count("failed") == 1
    assert all(e["direction"] == "in" for e in events)
    store = isolated_dirs / "data" / "store"
    assert len([p for p in store.rglob("*.dcm")]) == 5


def test_sigint_also_stops_cleanly(
    listener: tuple[subprocess.Popen[str], int],
) -> None:
    proc, _ = listener
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_port_in_use_exits_1_with_one_line(isolated_dirs: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "dcmtui",
                "listen",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr.startswith("dcmtui: error: cannot listen on 127.0.0.1:")
    assert "Traceback" not in done.stderr


def test_monitor_follows_the_log_of_a_running_listener(
    listener: tuple[subprocess.Popen[str], int], isolated_dirs: Path
) -> None:
    _, port = listener
    monitor = subprocess.Popen(
        [sys.executable, "-m", "dcmtui", "monitor", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert monitor.stderr is not None and monitor.stdout is not None
        assert "following" in monitor.stderr.readline()
        time.sleep(0.5)
        subprocess.run(
            [dcmtk("echoscu"), "-aet", "WATCHED", "127.0.0.1", str(port)],
            check=True,
            env=tcp_env(),
            timeout=30,
        )
        seen = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "released" not in seen:
            line = monitor.stdout.readline()
            event = json.loads(line)
            assert event["calling_ae"] == "WATCHED"
            seen.append(event["kind"])
        assert seen == ["requested", "accepted", "c-echo", "released"]
    finally:
        monitor.send_signal(signal.SIGINT)
        try:
            monitor.communicate(timeout=10)
        finally:
            if monitor.poll() is None:
                monitor.kill()
                monitor.wait()
    assert monitor.returncode == 0


def test_monitor_stops_on_sigint_even_when_started_ignoring_it(
    isolated_dirs: Path,
) -> None:
    """A job started in the background by a shell inherits SIGINT ignored."""
    monitor = subprocess.Popen(
        [sys.executable, "-m", "dcmtui", "monitor"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert monitor.stderr is not None
        assert "following" in monitor.stderr.readline()
        for sig in (signal.SIGINT,):
            monitor.send_signal(sig)
        assert monitor.wait(timeout=10) == 0
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.wait()


def test_bad_ae_title_exits_1_with_one_line(isolated_dirs: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcmtui",
            "listen",
            "--port",
            "0",
            "--aet",
            "MUCH-TOO-LONG-AE-TITLE",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("dcmtui: error: 'MUCH-TOO-LONG-AE-TITLE' is not")
    assert "Traceback" not in done.stderr
