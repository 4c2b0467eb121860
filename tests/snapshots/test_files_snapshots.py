"""SVG snapshots of the Files screen's main states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.snapshots.corpus import make_fixed_corpus, settle_scan
from tests.ui.helpers import make_app

SnapCompare = Callable[..., bool]
SIZE = (120, 36)


class TestFilesScreen:
    def test_folders_and_table(self, snap_compare: SnapCompare) -> None:
        app = make_app(make_fixed_corpus("snap-files"))

        async def before(pilot: Pilot[Any]) -> None:
            await settle_scan(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=before)

    def test_hierarchy_with_marks(self, snap_compare: SnapCompare) -> None:
        app = make_app(make_fixed_corpus("snap-hier"))

        async def before(pilot: Pilot[Any]) -> None:
            screen = await settle_scan(pilot)
            await pilot.press("v")
            tree = screen.hierarchy
            tree.move_cursor(tree.root.children[1])
            await pilot.press("space")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=before)

    def test_filter_and_sort(self, snap_compare: SnapCompare) -> None:
        app = make_app(make_fixed_corpus("snap-filter"))

        async def before(pilot: Pilot[Any]) -> None:
            screen = await settle_scan(pilot)
            await pilot.press("slash", *"smith", "enter")
            screen.table.sort_column("inst")
            screen.table.move_cursor(row=0)
            await pilot.press("space", "space")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=before)
