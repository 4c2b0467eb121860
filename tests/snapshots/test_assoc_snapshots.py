"""SVG snapshots of the Associations screen, from fixed events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.snapshots.assoc_corpus import fixed_app

SnapCompare = Callable[..., bool]
SIZE = (120, 36)


class TestAssociationsScreen:
    def test_table_with_a_failure_selected(self, snap_compare: SnapCompare) -> None:
        async def before(pilot: Pilot[Any]) -> None:
            await pilot.press("5")
            await pilot.pause()
            await pilot.press("up", "up", "up")  # the rejected association
            await pilot.pause()

        assert snap_compare(
            fixed_app("snap-assoc"), terminal_size=SIZE, run_before=before
        )

    def test_contexts_expanded(self, snap_compare: SnapCompare) -> None:
        async def before(pilot: Pilot[Any]) -> None:
            await pilot.press("5")
            await pilot.pause()
            await pilot.press("up", "up", "x")  # the aborted MR association
            await pilot.pause()

        assert snap_compare(
            fixed_app("snap-assoc-cx"), terminal_size=SIZE, run_before=before
        )

    def test_failed_only(self, snap_compare: SnapCompare) -> None:
        async def before(pilot: Pilot[Any]) -> None:
            await pilot.press("5")
            await pilot.pause()
            for _ in range(5):
                await pilot.press("o")
            await pilot.pause()

        assert snap_compare(
            fixed_app("snap-assoc-failed"), terminal_size=SIZE, run_before=before
        )
