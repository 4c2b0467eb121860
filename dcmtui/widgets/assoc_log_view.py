"""The live table of associations (one row each), following the tail."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from dcmtui.services.assoc_log import AssocRow
from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

COLUMNS = (
    ("start", "Start"),
    ("dir", "Dir"),
    ("peer", "Peer"),
    ("aes", "Calling → Called AE"),
    ("contexts", "Ctx"),
    ("ops", "Operations"),
    ("instances", "Inst"),
    ("bytes", "Bytes"),
    ("rate", "MB/s"),
    ("duration", "Time"),
    ("outcome", "Outcome"),
)
_OUTCOME_STYLE = {
    "open": "bold",
    "released": "green",
    "aborted": "bold red",
    "rejected": "bold red",
    "failed": "bold red",
}


def human_bytes(n: float) -> str:
    """1234567 -> ``1.2 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def row_cells(row: AssocRow) -> list[Text]:
    """The cells of one association, every peer value escaped."""
    stamp = time.strftime("%H:%M:%S", time.localtime(row.start))
    contexts = f"{row.accepted_contexts}/{len(row.contexts)}" if row.contexts else ""
    outcome = row.outcome
    if row.failed_ops and outcome == "released":
        outcome = f"{row.failed_ops} failed"  # released, but not everything stored
    style = _OUTCOME_STYLE.get(row.outcome, "")
    if row.failed_ops:
        style = "bold red"
    return [
        Text(stamp),
        Text("in" if row.direction == "in" else "out"),
        Text(visible(f"{row.peer_host}:{row.peer_port}" if row.peer_host else "")),
        Text(f"{visible(row.calling_ae)} → {visible(row.called_ae)}"),
        Text(contexts, justify="right"),
        Text(visible(row.operations_text())),
        Text(str(row.instances), justify="right"),
        Text(human_bytes(row.nbytes), justify="right"),
        Text(f"{row.throughput / 1e6:.1f}" if row.nbytes else "", justify="right"),
        Text(f"{row.duration:.1f} s", justify="right"),
        Text(outcome, style=style),
    ]


class AssocLogView(FitTable):
    """Associations, newest at the bottom; follows the tail while the cursor is
    on the last row, and counts the rows that arrived while it was not."""

    DEFAULT_CSS = """
    AssocLogView {
        height: 1fr;
        border: round $panel;
        &:focus { border: round $accent; }
        &.-paused { border: round $warning; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "end,G",
            "follow",
            "Follow",
            tooltip="Jump to the newest association and follow new ones",
            id="assoc-log.follow",
        ),
    ]

    unseen: reactive[int] = reactive(0)
    """Rows added while the user was away from the tail."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: list[str] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self._update_subtitle()

    @property
    def following(self) -> bool:
        """True when new rows move the cursor (it is on the last row)."""
        return not self._shown or self.cursor_row >= len(self._shown) - 1

    @property
    def current_id(self) -> str | None:
        """The association id under the cursor."""
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def rebuild(self, rows: Iterable[AssocRow]) -> None:
        """Show exactly ``rows`` (after a filter change), cursor at the end."""
        keep, follow = self.current_id, self.following
        self.clear()
        self._shown = []
        for row in rows:
            self.add_row(*row_cells(row), key=row.assoc_id)
            self._shown.append(row.assoc_id)
        if self._shown:
            target = len(self._shown) - 1
            if keep in self._shown and not follow:
                target = self._shown.index(keep)
            self.move_cursor(row=target)
            self.call_after_refresh(self.move_cursor, row=target)
        self.unseen = 0

    def apply(self, rows: Iterable[AssocRow]) -> int:
        """Update the rows given (adding new ones at the bottom).

        Returns:
            How many rows were added.
        """
        follow = self.following
        added = 0
        for row in rows:
            cells = row_cells(row)
            if row.assoc_id in self.rows:
                for (key, _), cell in zip(COLUMNS, cells, strict=True):
                    self.update_cell(row.assoc_id, key, cell, update_width=True)
            else:
                self.add_row(*cells, key=row.assoc_id)
                self._shown.append(row.assoc_id)
                added += 1
        if added:
            if follow:
                self.move_cursor(row=len(self._shown) - 1)
            else:
                self.unseen += added
        return added

    def action_follow(self) -> None:
        """Go to the newest row and follow the tail again."""
        if self._shown:
            self.move_cursor(row=len(self._shown) - 1)
        self.unseen = 0

    def watch_cursor_coordinate(self, old: object, new: object) -> None:
        super().watch_cursor_coordinate(old, new)  # type: ignore[arg-type]
        if self.following:
            self.unseen = 0

    def watch_unseen(self) -> None:
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        if self.unseen:
            self.border_subtitle = f"{self.unseen} new below: End to follow"
            self.add_class("-paused")
        else:
            self.border_subtitle = "following"
            self.remove_class("-paused")
