"""The Nodes screen against a real storescp: add, edit, delete, echo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.nodes import ConfirmModal, NodeEditModal, NodesScreen
from dcmtui.services.nodes import NodeBook, parse_address
from tests.netpeers import Peer, free_port, start_storescp
from tests.ui.helpers import wait_until


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Peer]:
    peer = start_storescp(tmp_path / "in")
    yield peer
    peer.stop()


def make_app(tmp_path: Path) -> DcmtuiApp:
    (tmp_path / "root").mkdir(exist_ok=True)
    return DcmtuiApp(load_settings(), root=tmp_path / "root")


def book() -> NodeBook:
    return NodeBook.in_folder(load_settings().config_dir)


async def test_add_node_with_validation(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.screen, NodesScreen)
        await pilot.press("a")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, NodeEditModal)
        for key, value in (
            ("name", "pacs"),
            ("ae_title", "A\\B"),
            ("host", "127.0.0.1"),
            ("port", "104"),
        ):
            modal.query_one(f"#f-{key}").value = value  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is modal  # refused: backslash
        assert "backslash" in str(modal.query_one("#node-error").render())
        modal.query_one("#f-ae_title").value = "PACS1"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen))
        await wait_until(pilot, lambda: app.screen.table.row_count == 1)  # type: ignore[attr-defined]
    assert [n.ae_title for n in book().nodes()] == ["PACS1"]


async def test_typing_q_in_a_field_does_not_quit(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3", "a")
        await pilot.pause()
        await pilot.press("q", "a")
        await pilot.pause()
        assert isinstance(app.screen, NodeEditModal)
        assert app.screen.query_one("#f-name").value == "qa"  # type: ignore[attr-defined]


async def test_edit_and_delete(tmp_path: Path) -> None:
    book().add(parse_address("OLD@127.0.0.1:104", name="pacs"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await _nodes_listed(pilot, 1)
        await pilot.press("e")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, NodeEditModal)
        modal.query_one("#f-port").value = "11112"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen))
        node = book().get("pacs")
        assert node is not None and node.port == 11112
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await wait_until(pilot, lambda: book().nodes() == [])
        await wait_until(pilot, lambda: app.screen.table.row_count == 0)  # type: ignore[attr-defined]


async def test_echo_one_and_all(tmp_path: Path, storescp: Peer) -> None:
    book().add(parse_address(f"STORESCP@127.0.0.1:{storescp.port}", name="good"))
    book().add(parse_address(f"NOBODY@127.0.0.1:{free_port()}", name="down"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        screen = await _nodes_listed(pilot, 2)
        await pilot.press("c")
        await wait_until(pilot, lambda: "good" in screen.table.echoes)
        assert screen.table.echoes["good"].ok
        await pilot.press("E")
        await wait_until(
            pilot, lambda: "down" in screen.table.echoes and not screen.table.pending
        )
        down = screen.table.echoes["down"]
        assert not down.ok and "connection refused" in down.detail
        outgoing = [e for e in app.services.events.history() if e.direction == "out"]
        assert {"c-echo", "failed"} <= {e.kind for e in outgoing}


async def test_query_from_here(tmp_path: Path) -> None:
    from dcmtui.screens.network import QueryScreen

    book().add(parse_address("A@127.0.0.1:104", name="first"))
    book().add(parse_address("B@127.0.0.1:105", name="second"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await _nodes_listed(pilot, 2)
        await pilot.press("down", "Q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueryScreen))
        screen = app.screen
        assert isinstance(screen, QueryScreen)
        assert screen.query_one("#qr-node").value == "second"  # type: ignore[attr-defined]


async def _nodes_listed(pilot: Pilot[None], count: int) -> NodesScreen:
    """Wait until the Nodes screen shows ``count`` rows; return it."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, NodesScreen))
    screen = pilot.app.screen
    assert isinstance(screen, NodesScreen)
    await wait_until(pilot, lambda: screen.table.row_count == count)
    return screen
