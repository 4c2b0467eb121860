"""A DataTable that redraws its rows when its columns change width."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class FitTable(DataTable[Text]):
    """``DataTable`` measures new rows when it is idle, after it may have
    drawn them at the old column widths; the lines it drew stay in its caches
    until something else changes (Textual issues #4470 and #3533): rows added
    in one go while the screen animates showed ``/tmp`` for a whole path
    until a key was pressed. Here a change of width drops those lines."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        before = [column.get_render_width(self) for column in self.columns.values()]
        super()._update_dimensions(new_rows)
        after = [column.get_render_width(self) for column in self.columns.values()]
        if after != before:
            self._clear_caches()
            self.refresh()
