"""The Query/Retrieve screen against DCMTK's dcmqrscp: query, drill down,
mark, retrieve by C-GET and by C-MOVE into a storescp."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.network import QueryScreen
from dcmtui.services.files import Index
from dcmtui.services.nodes import NodeBook, parse_address
from dcmtui.services.store_admin import store_root
from tests.factories import write_dicom
from tests.netpeers import Peer, load_dcmqrscp, start_dcmqrscp, start_storescp
from tests.ui.helpers import wait_until


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[tuple[Peer, Peer]]:
    dest = start_storescp(tmp_path / "dest", aet="DEST")
    qr = start_dcmqrscp(tmp_path / "qr", hosts={"DEST": ("127.0.0.1", dest.port)})
    files = [
        write_dicom(
            tmp_path / "src" / f"{i}.dcm",
            uid_seed="s1",
            SOPInstanceUID=f"1.2.826.0.1.3680043.10.1453.5.{i}",
            SeriesInstanceUID=f"1.2.826.0.1.3680043.10.1453.6.{i // 2}",
            InstanceNumber=i,
        )
        for i in range(4)
    ]
    load_dcmqrscp(qr, files)
    yield qr, dest
    qr.stop()
    dest.stop()


async def wait_idle(pilot: object, screen: QueryScreen) -> None:
    for _ in range(200):
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        if not screen.busy:
            await pilot.pause(0.05)  # type: ignore[attr-defined]
            return
    raise AssertionError("still busy")


def status(screen: QueryScreen) -> str:
    return str(screen.query_one("#qr-status").render())


async def test_query_drill_and_retrieve(
    tmp_path: Path, peers: tuple[Peer, Peer]
) -> None:
    qr, _dest = peers
    book = NodeBook.in_folder(load_settings().config_dir)
    node = parse_address(f"QRSCP@127.0.0.1:{qr.port}", name="archive")
    book.add(replace(node, retrieve="C-GET"))
    book.add(replace(node, name="mover", move_destination="DEST"))
    (tmp_path / "root").mkdir()
    app = DcmtuiApp(load_settings(), root=tmp_path / "root")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: isinstance(app.screen, QueryScreen))
        screen = app.screen
        assert isinstance(screen, QueryScreen)
        screen.query_one("#q-PatientName", Input).value = "DOE*"
        await pilot.press("ctrl+f")
        await wait_idle(pilot, screen)
        table = screen.query_one("#qr-results", DataTable)
        assert table.row_count == 1, status(screen)
        assert "1 matches at study level" in status(screen)
        table.focus()
        await pilot.press("enter")  # drill down to the series
        await wait_idle(pilot, screen)
        assert screen.current is not None and screen.current.level == "SERIES"
        assert table.row_count == 2
        await pilot.press("space")  # mark the first series
        await pilot.press("r")  # C-GET (the node says so)
        await wait_idle(pilot, screen)
        assert "C-GET into the store: 2 completed, 0 failed" in status(screen)
        assert "2 new in the store" in status(screen), status(screen)
        store = store_root(app.settings)
        assert len([p for p in store.rglob("*") if p.is_file()]) == 2
        indexed = Index(app.settings.index_path).records(str(store))
        assert len(indexed) == 2
        await pilot.press("backspace")  # back to the study
        await wait_idle(pilot, screen)
        assert screen.current.level == "STUDY"
        # the same study from the node that retrieves by C-MOVE to DEST
        screen.query_one("#qr-node").value = "mover"  # type: ignore[attr-defined]
        await pilot.press("ctrl+f")
        await wait_idle(pilot, screen)
        table.focus()
        await pilot.press("r")
        await wait_idle(pilot, screen)
        assert "C-MOVE to DEST: 4 completed, 0 failed" in status(screen), status(screen)
    assert len(list((tmp_path / "dest").iterdir())) == 4


async def test_move_destination_unknown_in_words(
    tmp_path: Path, peers: tuple[Peer, Peer]
) -> None:
    qr, _ = peers
    book = NodeBook.in_folder(load_settings().config_dir)
    book.add(
        replace(
            parse_address(f"QRSCP@127.0.0.1:{qr.port}", name="archive"),
            move_destination="NOWHERE",
        )
    )
    (tmp_path / "root").mkdir()
    app = DcmtuiApp(load_settings(), root=tmp_path / "root")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: isinstance(app.screen, QueryScreen))
        screen = app.screen
        assert isinstance(screen, QueryScreen)
        await pilot.press("ctrl+f")
        await wait_idle(pilot, screen)
        screen.query_one("#qr-results").focus()
        await pilot.press("r")
        await wait_idle(pilot, screen)
        assert "destination unknown (0xA801)" in status(screen)
        assert "Add NOWHERE" in status(screen)
