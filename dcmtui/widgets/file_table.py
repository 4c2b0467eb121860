"""The table of indexed files: sort, filter, mark."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey

from dcmtui.models import FileKind, FileRecord
from dcmtui.services.names import human_size, uid_name
from dcmtui.services.text import visible


@dataclass(frozen=True)
class Column:
    """A column of the files table."""

    key: str
    label: str
    cell: Callable[[FileRecord], str]
    sort: Callable[[FileRecord], Any]
    width: int = 12
    """Fixed width in cells: measuring every cell of 10,000 rows costs
    seconds, so columns do not size themselves to their content."""


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def _int_key(get: Callable[[FileRecord], int | None]) -> Callable[[FileRecord], Any]:
    return lambda r: (get(r) is None, get(r) or 0)


def _problem(record: FileRecord) -> str:
    if record.kind is FileKind.DAMAGED:
        return record.reason or "damaged"
    return "DICOMDIR" if record.kind is FileKind.DICOMDIR else ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "patient",
        "Patient",
        attrgetter("patient_name"),
        attrgetter("patient_name"),
        width=22,
    ),
    Column("pid", "Patient ID", attrgetter("patient_id"), attrgetter("patient_id"), 12),
    Column(
        "date", "Study date", attrgetter("study_date"), attrgetter("study_date"), 10
    ),
    Column("mod", "Mod", attrgetter("modality"), attrgetter("modality"), 6),
    Column(
        "series",
        "Ser#",
        lambda r: _num(r.series_number),
        _int_key(attrgetter("series_number")),
        5,
    ),
    Column(
        "sdesc",
        "Series description",
        attrgetter("series_description"),
        attrgetter("series_description"),
        20,
    ),
    Column(
        "inst",
        "Inst#",
        lambda r: _num(r.instance_number),
        _int_key(attrgetter("instance_number")),
        6,
    ),
    Column(
        "sop",
        "SOP class",
        lambda r: uid_name(r.sop_class_uid),
        lambda r: uid_name(r.sop_class_uid),
        24,
    ),
    Column(
        "ts",
        "Transfer syntax",
        lambda r: uid_name(r.transfer_syntax_uid),
        lambda r: uid_name(r.transfer_syntax_uid),
        24,
    ),
    Column("size", "Size", lambda r: human_size(r.size), attrgetter("size"), 9),
    Column("file", "File", lambda r: Path(r.path).name, attrgetter("path"), 18),
    Column("problem", "Problem", _problem, _problem, 48),
)
_MARK = "●"


class FileTable(DataTable[Text]):
    """Indexed files, one row each, keyed by path.

    The widget keeps every record it was given; ``filter_text`` and ``folder``
    choose which are shown, ``sort_by`` their order. Marks survive filtering.
    """

    DEFAULT_CSS = """
    FileTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", tooltip="Open the file", id="files.open"),
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            tooltip="Mark or unmark the file",
            id="files.mark",
        ),
        Binding(
            "m",
            "mark_series",
            "Mark series",
            tooltip="Mark every file of this series",
            id="files.mark-series",
        ),
        Binding(
            "M",
            "mark_study",
            "Mark study",
            tooltip="Mark every file of this study",
            id="files.mark-study",
            show=False,
        ),
        Binding(
            "U",
            "clear_marks",
            "Unmark all",
            tooltip="Clear all marks",
            id="files.unmark-all",
            show=False,
        ),
        Binding(
            "s",
            "sort_next",
            "Sort",
            tooltip="Sort by the next column (click a header to pick one)",
            id="files.sort",
        ),
        Binding(
            "S",
            "sort_reverse",
            "Reverse",
            tooltip="Reverse the sort order",
            id="files.sort-reverse",
            show=False,
        ),
    ]

    filter_text: reactive[str] = reactive("", init=False)
    """Only rows with a cell containing this text (any case) are shown."""
    folder: reactive[str | None] = reactive(None, init=False)
    """Only files at or below this folder are shown (None: all)."""

    @dataclass
    class OpenRequested(Message):
        """The user asked to open a file."""

        record: FileRecord

    @dataclass
    class MarksChanged(Message):
        """The set of marked files changed."""

        count: int
        size: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.records: dict[str, FileRecord] = {}
        self.marks: set[str] = set()
        self.sort_by: tuple[str, bool] | None = None
        self._search: dict[str, str] = {}

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # DataTable measures every cell of every new row to size auto-width
        # columns (about 0.3 ms a row: seconds for a large folder). Every
        # column here has a fixed width and every row one line, so there is
        # nothing to measure.
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        if any(column.auto_width for column in self.columns.values()):
            super()._update_column_widths(updated_cells)

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        for column in COLUMNS:
            self.add_column(column.label, key=column.key, width=column.width)

    # -- data ----------------------------------------------------------------

    def _cells(self, record: FileRecord) -> list[Text]:
        style = "bold red" if record.kind is FileKind.DAMAGED else ""
        cells = [Text(_MARK if record.path in self.marks else "", style="bold")]
        cells.extend(Text(visible(c.cell(record)), style=style) for c in COLUMNS)
        return cells

    def _matches(self, record: FileRecord) -> bool:
        if self.folder is not None and not (
            record.path == self.folder
            or record.path.startswith(self.folder.rstrip("/") + "/")
        ):
            return False
        if not self.filter_text:
            return True
        haystack = self._search.get(record.path)
        if haystack is None:
            haystack = "\0".join(c.cell(record) for c in COLUMNS).casefold()
            self._search[record.path] = haystack
        return self.filter_text.casefold() in haystack

    def visible_records(self) -> list[FileRecord]:
        """The records shown, in table order."""
        shown = [r for r in self.records.values() if self._matches(r)]
        if self.sort_by is not None:
            key, reverse = self.sort_by
            column = next(c for c in COLUMNS if c.key == key)
            shown.sort(key=column.sort, reverse=reverse)
        return shown

    def set_records(self, records: Iterable[FileRecord]) -> None:
        """Replace every record and redraw."""
        self.records = {r.path: r for r in records}
        self._search.clear()
        self.marks &= self.records.keys()
        self.rebuild()

    def add_records(self, records: Iterable[FileRecord]) -> None:
        """Add or update records; new rows that pass the filter go at the end."""
        for record in records:
            if record.kind is FileKind.OTHER:
                if self.records.pop(record.path, None) is not None:
                    self._drop_row(record.path)
                continue
            self._search.pop(record.path, None)
            known = record.path in self.records
            self.records[record.path] = record
            if known and record.path in self.rows:
                self._drop_row(record.path)
            if self._matches(record):
                self.add_row(*self._cells(record), key=record.path)

    def remove_paths(self, paths: Iterable[str]) -> None:
        """Forget records whose files are gone."""
        for path in paths:
            if self.records.pop(path, None) is not None:
                self.marks.discard(path)
                self._drop_row(path)

    def _drop_row(self, path: str) -> None:
        if path in self.rows:
            self.remove_row(path)

    def rebuild(self) -> None:
        """Redraw every row from the records, filter and sort, keeping the cursor."""
        current = self.current_path
        self.clear()
        for record in self.visible_records():
            self.add_row(*self._cells(record), key=record.path)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    def watch_filter_text(self) -> None:
        self.rebuild()

    def watch_folder(self) -> None:
        self.rebuild()

    @property
    def current_path(self) -> str | None:
        """Path of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    @property
    def current_record(self) -> FileRecord | None:
        """Record of the row under the cursor."""
        path = self.current_path
        return self.records.get(path) if path else None

    # -- marks ---------------------------------------------------------------

    def set_marks(self, paths: Iterable[str], marked: bool) -> None:
        """Mark or unmark files by path, redrawing their mark cells."""
        changed = False
        for path in paths:
            if path not in self.records or (path in self.marks) == marked:
                continue
            changed = True
            if marked:
                self.marks.add(path)
            else:
                self.marks.discard(path)
            if path in self.rows:
                self.update_cell(path, "mark", Text(_MARK if marked else ""))
        if changed:
            self._post_marks()

    def _post_marks(self) -> None:
        size = sum(self.records[p].size for p in self.marks)
        self.post_message(self.MarksChanged(len(self.marks), size))

    def action_toggle_mark(self) -> None:
        path = self.current_path
        if path is None:
            return
        self.set_marks([path], path not in self.marks)
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def _mark_group(self, attr: str) -> None:
        record = self.current_record
        if record is None:
            return
        value = getattr(record, attr)
        if not value:
            self.set_marks([record.path], True)
            return
        group = [r.path for r in self.records.values() if getattr(r, attr) == value]
        self.set_marks(group, not all(p in self.marks for p in group))

    def action_mark_series(self) -> None:
        self._mark_group("series_uid")

    def action_mark_study(self) -> None:
        self._mark_group("study_uid")

    def action_clear_marks(self) -> None:
        self.set_marks(list(self.marks), False)

    # -- sort and open -------------------------------------------------------

    def sort_column(self, key: str) -> None:
        """Sort by column ``key``; the same column again reverses the order."""
        reverse = self.sort_by == (key, False)
        self.sort_by = (key, reverse)
        for column in COLUMNS:
            label = column.label
            if column.key == key:
                label += " ▼" if reverse else " ▲"
            self.columns[column.key].label = Text(label)  # type: ignore[index]
        self.rebuild()

    def action_sort_next(self) -> None:
        keys = [c.key for c in COLUMNS]
        current = self.sort_by[0] if self.sort_by else None
        key = keys[(keys.index(current) + 1) % len(keys)] if current else keys[0]
        self.sort_by = None
        self.sort_column(key)
        self.notify(f"Sorted by {self.columns[key].label.plain}", timeout=2)  # type: ignore[index]

    def action_sort_reverse(self) -> None:
        if self.sort_by is None:
            self.sort_by = (COLUMNS[0].key, False)
        self.sort_column(self.sort_by[0])

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value and event.column_key.value != "mark":
            self.sort_column(event.column_key.value)

    def action_open(self) -> None:
        if (record := self.current_record) is not None:
            self.post_message(self.OpenRequested(record))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()
