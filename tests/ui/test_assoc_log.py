"""The Associations screen, driven with Pilot while the receiver receives for
real from DCMTK's storescu and echoscu."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.assoc_log import AssocLogScreen
from dcmtui.services.assoc_log import LOG_NAME, JsonlSink
from dcmtui.services.container import Services
from dcmtui.services.events import EventBus
from dcmtui.services.scp import StoreScp
from tests.factories import write_dicom
from tests.netpeers import dcmtk
from tests.ui.helpers import wait_until


def make_app(tmp_path: Path, **receiver: Any) -> DcmtuiApp:
    settings = load_settings()
    values: dict[str, Any] = {"port": 0, "bind": "127.0.0.1", "min_free_bytes": 0}
    cfg = replace(settings.receiver, **{**values, **receiver})
    settings = replace(settings, receiver=cfg)
    services = Services(settings)
    return DcmtuiApp(settings, root=tmp_path, services=services)


async def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TCP_NODELAY": "1"}
    return await asyncio.to_thread(
        subprocess.run, list(args), capture_output=True, text=True, env=env, timeout=60
    )


async def open_screen(pilot: Pilot[None]) -> AssocLogScreen:
    await pilot.press("5")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, AssocLogScreen)
    return screen


async def start(pilot: Pilot[None], screen: AssocLogScreen) -> int:
    await pilot.press("s")
    for _ in range(100):
        await pilot.pause(0.05)
        if screen.services.scp.running:
            return screen.services.scp.port
    raise AssertionError("the receiver did not start")


async def settle(pilot: Pilot[None], screen: AssocLogScreen, rows: int) -> None:
    for _ in range(200):
        await pilot.pause(0.05)
        done = [r for r in screen.book.rows.values() if r.outcome != "open"]
        if len(done) >= rows and not screen._pending:
            await pilot.pause(0.15)
            return
    raise AssertionError(f"not {rows} finished associations: {screen.book.rows}")


def text_of(screen: AssocLogScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_live_rows_while_storescu_sends(tmp_path: Path) -> None:
    files = [write_dicom(tmp_path / "src" / f"{i}.dcm") for i in range(20)]
    app = make_app(tmp_path / "root")
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_screen(pilot)
        assert "stopped" in text_of(screen, "#assoc-status")
        port = await start(pilot, screen)
        assert f"listening on 127.0.0.1:{port}" in text_of(screen, "#assoc-status")
        sent = await run(
            dcmtk("storescu"), "-aet", "CT01", "127.0.0.1", str(port), *map(str, files)
        )
        assert sent.returncode == 0, sent.stderr
        await settle(pilot, screen, 1)
        table = screen.table
        assert table.row_count == 1
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[1] == "in" and cells[3] == "CT01 → ANY-SCP" and cells[6] == "20"
        assert cells[-1] == "released"
        counters = text_of(screen, "#assoc-counters")
        assert "Associations 1" in counters and "Instances 20" in counters
        detail = text_of(screen, "#assoc-detail")
        assert detail.count("c-store") == 5 and "(17 earlier not shown)" in detail
        await pilot.press("x")
        assert "CT Image Storage" in text_of(screen, "#assoc-detail")
        await pilot.press("s")  # stop
        await wait_until(pilot, lambda: not app.services.scp.running)
        assert not app.services.scp.running
        assert (await run(dcmtk("echoscu"), "127.0.0.1", str(port))).returncode != 0


async def test_follows_the_tail_and_counts_unseen(tmp_path: Path) -> None:
    app = make_app(tmp_path / "root")
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_screen(pilot)
        port = await start(pilot, screen)
        for _ in range(3):
            await run(dcmtk("echoscu"), "127.0.0.1", str(port))
        await settle(pilot, screen, 3)
        table = screen.table
        assert table.cursor_row == 2 and table.following
        await pilot.press("up")
        for _ in range(2):
            await run(dcmtk("echoscu"), "127.0.0.1", str(port))
        await settle(pilot, screen, 5)
        assert table.cursor_row == 1 and table.unseen == 2
        assert "2 new below" in str(table.border_subtitle)
        await pilot.press("end")
        assert table.cursor_row == 4 and table.unseen == 0
        assert table.border_subtitle == "following"


async def test_rejections_explained_and_filters(tmp_path: Path) -> None:
    app = make_app(tmp_path / "root", check_called_ae=True)
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_screen(pilot)
        port = await start(pilot, screen)
        good = await run(
            dcmtk("echoscu"), "-aet", "GOOD", "127.0.0.1", str(port), "-aec", "DCMTUI"
        )
        assert good.returncode == 0
        bad = await run(
            dcmtk("echoscu"),
            "-aet",
            "[b]EVIL[/b]",
            "-aec",
            "WRONG",
            "127.0.0.1",
            str(port),
        )
        assert bad.returncode != 0
        await settle(pilot, screen, 2)
        assert screen.table.row_count == 2
        detail = text_of(screen, "#assoc-detail")  # cursor follows: the rejected one
        assert "called AE title not recognised" in detail
        assert "Cause: The sender asked for an AE title that is not ours." in detail
        assert "Fix: " in detail
        cells = [str(c) for c in screen.table.get_row_at(1)]
        assert cells[3] == "[b]EVIL[/b] → WRONG"  # shown as text, never as markup
        assert "Failures 1" in text_of(screen, "#assoc-counters")
        for _ in range(4):  # all -> open -> released -> aborted -> rejected
            await pilot.press("o")
        assert screen.outcome_filter == "rejected"
        assert screen.table.row_count == 1
        await pilot.press("escape")
        assert screen.table.row_count == 2
        await pilot.press("slash")
        await pilot.press(*"GOOD", "enter")
        assert screen.table.row_count == 1
        assert [str(c) for c in screen.table.get_row_at(0)][3] == "GOOD → DCMTUI"


async def test_attach_follows_a_receiver_running_elsewhere(tmp_path: Path) -> None:
    app = make_app(tmp_path / "root")
    settings = app.settings
    # A receiver of "another process": its own bus, writing associations.jsonl.
    bus = EventBus()
    sink = JsonlSink(settings.log_dir / LOG_NAME)
    bus.add_sink(sink)
    other = StoreScp(settings, bus, store_dir=tmp_path / "other-store")
    port = await other.start()
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            screen = await open_screen(pilot)
            await pilot.press("a")
            assert "attached" in text_of(screen, "#assoc-status")
            done = await run(dcmtk("echoscu"), "-aet", "REMOTE", "127.0.0.1", str(port))
            assert done.returncode == 0
            await settle(pilot, screen, 1)
            (row,) = screen.book.rows.values()
            assert row.assoc_id.endswith("@log") and row.calling_ae == "REMOTE"
            assert screen.table.row_count == 1
    finally:
        await other.stop(grace=1)
        sink.close()


async def test_listen_option_starts_the_receiver(tmp_path: Path) -> None:
    app = make_app(tmp_path / "root")
    app.listen_port = 0
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.services.scp.running)
        assert app.services.scp.running
        port = app.services.scp.port
        assert (await run(dcmtk("echoscu"), "127.0.0.1", str(port))).returncode == 0
        await pilot.press("q")
    assert not app.services.scp.running


async def test_files_screen_shows_the_store_live(tmp_path: Path) -> None:
    """Opened on the store, the Files screen shows objects as they arrive."""
    from dcmtui.screens.browser import FilesScreen
    from tests.ui.helpers import wait_scanned, wait_until

    settings = load_settings()
    store = settings.data_dir / "store"
    store.mkdir(parents=True)
    cfg = replace(
        settings.receiver, port=0, bind="127.0.0.1", min_free_bytes=0, store_dir=""
    )
    settings = replace(settings, receiver=cfg)
    app = DcmtuiApp(settings, root=store.resolve(), services=Services(settings))
    files = [
        write_dicom(tmp_path / "out" / f"{n}.dcm", InstanceNumber=n) for n in range(3)
    ]
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await wait_scanned(pilot)
        assert screen.table.row_count == 0
        port = await app.services.scp.start()
        sent = await run(dcmtk("storescu"), "127.0.0.1", str(port), *map(str, files))
        assert sent.returncode == 0, sent.stderr
        await wait_until(pilot, lambda: screen.table.row_count == 3)
        assert isinstance(app.screen, FilesScreen)
        assert sorted(
            r.instance_number or 0 for r in screen.table.records.values()
        ) == [
            0,
            1,
            2,
        ]
        await app.services.scp.stop(grace=1)
