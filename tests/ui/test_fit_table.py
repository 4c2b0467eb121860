"""FitTable drops the rows it drew before its columns were measured.

A DataTable measures new rows when it is idle; rows the screen drew before
(an animation on screen makes that likely) stay in its row cache, drawn at
the old column widths, until something else changes: the Send screen's
pre-flight showed ``/tmp`` for every path until a key was pressed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from dcmtui.widgets.fit_table import FitTable
from tests.ui.helpers import wait_until

LONG = "/srv/dicom/incoming/2024/some/long/path/IM000001.dcm"


class _TableApp(App[None]):
    def __init__(self, table: DataTable[Text]) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        self.table.add_column("State", width=10)
        self.table.add_column("File")


def cached_rows(table: DataTable[Text]) -> list[str]:
    """The text of every row line in the table's row cache."""
    out = []
    cache = table._row_render_cache
    for key in list(cache.keys()):
        for lines in cache[key]:
            for line in lines:
                out.append("".join(segment.text for segment in line))
    return out


async def stale_rows_after_measuring(table: DataTable[Text]) -> list[str]:
    """Cached lines that show the path cut to the header's width, once the
    idle table has measured the row."""
    app = _TableApp(table)
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        table.add_row(Text("as-is"), Text(LONG))
        table.render_line(1)  # drawn before the table was idle
        assert any("/srv" in r and LONG not in r for r in cached_rows(table))
        await wait_until(
            pilot,
            lambda: max(c.content_width for c in table.columns.values()) >= len(LONG),
        )
        await pilot.pause()
        assert LONG in table.render_line(1).text
        return [r for r in cached_rows(table) if "/srv" in r and LONG not in r]


async def test_fit_table_drops_rows_drawn_at_old_widths() -> None:
    assert await stale_rows_after_measuring(FitTable()) == []


async def test_textuals_datatable_keeps_them() -> None:
    """What FitTable works around (Textual issues #4470, #3533): when this
    fails, Textual drops them by itself and FitTable can go."""
    assert await stale_rows_after_measuring(DataTable()) != []
