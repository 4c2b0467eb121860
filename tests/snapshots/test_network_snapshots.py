"""SVG snapshots of the Nodes, Send and Query/Retrieve screens, on a fixed
address book (no peer: nothing time-dependent is shown)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.screens.network import QueryScreen
from dcmtui.screens.nodes import NodeEditModal, NodesScreen
from dcmtui.services.nodes import NodeBook, parse_address
from tests.snapshots.corpus import FIXED_ROOT
from tests.ui.helpers import wait_until

SnapCompare = Callable[..., bool]
SIZE = (120, 36)
NODES = """\
# The archive and the modalities we talk to.
[PACS]
ae_title = "PACS1"
host = "10.0.0.5"
port = 104
retrieve = "C-GET"
notes = "main archive"

[CT-SCANNER]
ae_title = "CT01"
host = "ct01.example.org"
port = 11112
calling_ae = "DCMTUI_CT"
move_destination = "DCMTUI"

[SECURE]
ae_title = "TLSPACS"
host = "192.0.2.7"
port = 2762
tls_ca = "/etc/dcmtui/ca.pem"
notes = "[bold]not markup[/bold]"
"""


def _app() -> DcmtuiApp:
    settings = load_settings()
    (settings.config_dir / "nodes.toml").write_text(NODES)
    root = FIXED_ROOT / "network-empty"
    root.mkdir(parents=True, exist_ok=True)
    return DcmtuiApp(settings, root=root)


def _keys(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def before(pilot: Pilot[Any]) -> None:
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    return before


class TestNodesScreen:
    def test_table(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(_app(), terminal_size=SIZE, run_before=_keys("3", "down"))

    def test_edit_form_refuses_bad_title(self, snap_compare: SnapCompare) -> None:
        async def before(pilot: Pilot[Any]) -> None:
            app = pilot.app
            await pilot.press("3")
            await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen))
            await wait_until(pilot, lambda: app.screen.table.row_count > 0)  # type: ignore[attr-defined]
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, NodeEditModal))
            title = app.screen.query_one("#f-ae_title")
            title.value = "WAY_TOO_LONG_AE_TITLE"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            error = app.screen.query_one("#node-error")
            await wait_until(pilot, lambda: "16" in str(error.render()))

        assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


class TestQueryScreen:
    def test_form(self, snap_compare: SnapCompare) -> None:
        async def before(pilot: Pilot[Any]) -> None:
            await pilot.press("4")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, QueryScreen))
            form = pilot.app.screen
            form.query_one("#q-PatientName").value = "DOE^J*"  # type: ignore[attr-defined]
            form.query_one("#q-StudyDate").value = "20240101-20240131"  # type: ignore[attr-defined]
            await pilot.pause(0.1)

        assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_fixed_book_parses() -> None:
    app = _app()
    book = NodeBook.in_folder(app.settings.config_dir)
    nodes = book.nodes()
    assert [n.name for n in nodes] == ["PACS", "CT-SCANNER", "SECURE"]
    assert nodes[2].tls and not nodes[0].tls
    assert (
        replace(
            parse_address("PACS1@10.0.0.5:104", name="PACS"),
            retrieve="C-GET",
            notes="main archive",
        )
        == nodes[0]
    )
    assert isinstance(FIXED_ROOT, Path)
