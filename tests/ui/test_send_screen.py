"""Send the Files screen's marks to a real storescp, from the keyboard."""

from __future__ import annotations

from pathlib import Path

from dcmtui.screens.nodes import NodesScreen
from dcmtui.screens.send import NodePickerModal, SendScreen
from dcmtui.services.nodes import NodeBook, parse_address
from tests.factories import write_dicom
from tests.netpeers import start_storescp
from tests.ui.helpers import make_app, wait_scanned, wait_until


async def test_send_marks_to_node(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for i in range(3):
        write_dicom(root / f"{i}.dcm", InstanceNumber=i)
    peer = start_storescp(tmp_path / "in")
    app = make_app(root)
    NodeBook.in_folder(app.settings.config_dir).add(
        parse_address(f"STORESCP@127.0.0.1:{peer.port}", name="store")
    )
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            files = await wait_scanned(pilot)
            await pilot.press("t")  # nothing marked yet: a hint, no modal
            await pilot.pause()
            assert app.screen is files
            files.table.focus()
            await pilot.press("space", "space")
            await pilot.pause()
            assert len(files.table.marks) == 2
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, NodePickerModal))
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, SendScreen))
            screen = app.screen
            assert isinstance(screen, SendScreen)
            await wait_until(
                pilot,
                lambda: "Pre-flight" in str(screen.query_one("#send-summary").render()),
            )
            assert "2 of 2 files accepted" in str(
                screen.query_one("#send-summary").render()
            )
            assert not any((tmp_path / "in").iterdir())  # pre-flight sent nothing
            await pilot.press("s")
            await wait_until(
                pilot, lambda: "Done" in str(screen.query_one("#send-summary").render())
            )
            assert "Done: 2 sent" in str(screen.query_one("#send-summary").render())
            assert screen.query_one("#send-files").row_count == 2  # type: ignore[attr-defined]
    finally:
        peer.stop()
    assert len(list((tmp_path / "in").iterdir())) == 2


async def test_send_marks_from_the_nodes_screen(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for i in range(3):
        write_dicom(root / f"{i}.dcm", InstanceNumber=i)
    peer = start_storescp(tmp_path / "in")
    app = make_app(root)
    book = NodeBook.in_folder(app.settings.config_dir)
    book.add(parse_address("OTHER@127.0.0.1:1", name="first"))
    book.add(parse_address(f"STORESCP@127.0.0.1:{peer.port}", name="store"))
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            files = await wait_scanned(pilot)
            await pilot.press("3")
            nodes = app.screen
            assert isinstance(nodes, NodesScreen)
            await wait_until(pilot, lambda: nodes.table.row_count == 2)
            await pilot.press("t")  # nothing marked yet: a hint, no screen
            await pilot.pause()
            assert app.screen is nodes
            assert any("No files marked" in n.message for n in app._notifications)
            await pilot.press("1")
            files.table.focus()
            await pilot.press("space", "space", "space")
            assert len(files.table.marks) == 3
            await pilot.press("3", "down", "t")  # the node under the cursor
            await wait_until(pilot, lambda: isinstance(app.screen, SendScreen))
            screen = app.screen
            assert isinstance(screen, SendScreen) and screen.node.name == "store"
            summary = screen.query_one("#send-summary")
            await wait_until(pilot, lambda: "Pre-flight" in str(summary.render()))
            await pilot.press("s")
            await wait_until(pilot, lambda: "Done" in str(summary.render()))
            assert "Done: 3 sent" in str(summary.render())
    finally:
        peer.stop()
    assert len(list((tmp_path / "in").iterdir())) == 3
