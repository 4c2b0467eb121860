"""The PACS screen (mode 6): the store the receiver answers queries from (size,
quota, folders referenced in place, import, consistency check) and the
modality worklist items (add, delete)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Static,
)
from textual.worker import Worker, WorkerState

from dcmtui.services.store_admin import StoreAdmin, human_bytes
from dcmtui.services.text import visible
from dcmtui.services.worklist import Worklist, WorklistError
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_WORKLIST_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("PatientName", "Patient name", "e.g. DOE^JOHN"),
    ("PatientID", "Patient ID", "required"),
    ("AccessionNumber", "Accession", ""),
    ("Modality", "Modality", "e.g. CT"),
    ("ScheduledStationAETitle", "Station AE", "the modality's AE title"),
    ("ScheduledProcedureStepStartDate", "Date", "YYYYMMDD"),
    ("ScheduledProcedureStepStartTime", "Time", "HHMMSS"),
    ("RequestedProcedureDescription", "Procedure", ""),
)
_STEP_KEYS = {
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
}


class WorklistItemModal(ModalScreen[dict[str, str] | None]):
    """Fields of a new worklist item."""

    DEFAULT_CSS = """
    WorklistItemModal {
        align: center middle;
        & > Vertical {
            width: 76; height: auto; border: round $accent; background: $surface;
            padding: 0 1;
        }
        & Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 1; height: auto; }
        & Input { border: none; height: 1; padding: 0 1; background: $boost; }
        & Input:focus { border: none; background: $accent 30%; }
        & #wl-error { color: $error; height: auto; }
        & .title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Close without adding",
            id="worklist-item.cancel",
        ),
        Binding(
            "ctrl+s",
            "save",
            "Add",
            tooltip="Add the item to the worklist folder",
            id="worklist-item.save",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New worklist item", classes="title")
            with Grid():
                for key, label, hint in _WORKLIST_FIELDS:
                    yield Label(label)
                    yield Input(placeholder=hint, id=f"wl-{key}")
            yield Label("", id="wl-error")

    def action_save(self) -> None:
        """Check the fields and close with them."""
        values = {
            key: self.query_one(f"#wl-{key}", Input).value.strip()
            for key, _, _ in _WORKLIST_FIELDS
        }
        if not values["PatientName"] or not values["PatientID"]:
            self.query_one("#wl-error", Label).update(
                "A patient name and a patient ID are needed."
            )
            return
        self.dismiss({k: v for k, v in values.items() if v})

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()


class ImportModal(ModalScreen[tuple[str, bool] | None]):
    """A folder to import, copied or referenced in place."""

    DEFAULT_CSS = """
    ImportModal {
        align: center middle;
        & > Vertical {
            width: 76; height: auto; border: round $accent; background: $surface;
            padding: 0 1;
        }
        & .title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Close without importing",
            id="import.cancel",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Import a folder into the store", classes="title")
            yield Input(placeholder="/path/to/folder", id="import-path")
            yield Checkbox("Reference in place (do not copy)", id="import-in-place")
            with Horizontal():
                yield Button("Import", id="import-go", variant="primary")

    @on(Input.Submitted)
    @on(Button.Pressed, "#import-go")
    def _go(self) -> None:
        path = self.query_one("#import-path", Input).value.strip()
        if path:
            self.dismiss((path, self.query_one("#import-in-place", Checkbox).value))


class PacsScreen(Screen[None]):
    """The store behind query/retrieve, and the modality worklist."""

    DEFAULT_CSS = """
    PacsScreen {
        & #pacs-summary { height: auto; padding: 0 1; border: round $panel; }
        & #worklist { border: round $panel; height: 1fr; }
        & #worklist:focus { border: round $accent; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "add_item",
            "Add item",
            tooltip="Add a modality worklist item",
            id="pacs.add-item",
        ),
        Binding(
            "d",
            "delete_item",
            "Delete item",
            tooltip="Delete the selected worklist item",
            id="pacs.delete-item",
        ),
        Binding(
            "i",
            "import_folder",
            "Import",
            tooltip="Import a folder into the store (copy or in place)",
            id="pacs.import",
        ),
        Binding(
            "c",
            "check",
            "Check store",
            tooltip="Reconcile the index with the files of the store",
            id="pacs.check",
        ),
        Binding("r", "refresh", "Refresh", tooltip="Read again", id="pacs.refresh"),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        settings = services.settings
        self.admin = StoreAdmin(settings)
        folder = settings.qr.worklist_dir
        self.worklist = Worklist(
            Path(folder).expanduser() if folder else settings.data_dir / "worklist"
        )
        self.items: dict[str, Path] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="pacs-summary")
        table = FitTable(id="worklist", cursor_type="row")
        table.border_title = "Modality worklist"
        yield table
        yield Footer()

    @property
    def table(self) -> DataTable[Text]:
        """The worklist table."""
        return self.query_one("#worklist", DataTable)

    def on_mount(self) -> None:
        self.table.add_columns(
            "Patient", "ID", "Accession", "Modality", "Station", "Date", "File"
        )
        self.action_refresh()

    def action_refresh(self) -> None:
        """Read the store summary and the worklist again."""
        self.load()

    @work(exclusive=True, group="pacs-load", exit_on_error=False)
    async def load(self) -> None:
        """Store summary and worklist rows, read in a thread."""
        summary, rows = await asyncio.to_thread(self._read)
        self.query_one("#pacs-summary", Static).update(summary)
        table = self.table
        table.clear()
        self.items.clear()
        for path, values in rows:
            key = str(path)
            self.items[key] = path
            table.add_row(*(Text(visible(v)) for v in values), key=key)

    def _read(self) -> tuple[Text, list[tuple[Path, list[str]]]]:
        admin = self.admin
        qr = self.services.settings.qr
        used = admin.used_bytes()
        quota = f" of {human_bytes(admin.quota)}" if admin.quota else " (no quota)"
        services = ", ".join(
            name
            for name, on_ in (
                ("C-FIND", qr.find),
                ("C-MOVE", qr.move),
                ("C-GET", qr.get),
                ("worklist", qr.worklist),
            )
            if on_
        )
        access = (
            "address-book AE titles only"
            if qr.known_peers_only
            else "any calling AE title"
        )
        lines = [
            f"Store {visible(str(admin.root))}: {human_bytes(used)} used{quota}",
            f"Answers {services or 'nothing'} to {access}",
        ]
        lines += [f"Referenced in place: {visible(r)}" for r in admin.roots()[1:]]
        rows: list[tuple[Path, list[str]]] = []
        for path, item in self.worklist.items():
            steps = list(item.get("ScheduledProcedureStepSequence", []) or [])
            step: Any = steps[0] if steps else {}
            rows.append(
                (
                    path,
                    [
                        str(item.get("PatientName", "") or ""),
                        str(item.get("PatientID", "") or ""),
                        str(item.get("AccessionNumber", "") or ""),
                        str(step.get("Modality", "") or ""),
                        str(step.get("ScheduledStationAETitle", "") or ""),
                        str(step.get("ScheduledProcedureStepStartDate", "") or ""),
                        path.name,
                    ],
                )
            )
        return Text("\n".join(lines)), rows

    @work(exclusive=True, group="pacs-edit", exit_on_error=False)
    async def action_add_item(self) -> None:
        """Ask for a new worklist item and write it."""
        values = await self.app.push_screen_wait(WorklistItemModal())
        if values is None:
            return
        top = {k: v for k, v in values.items() if k not in _STEP_KEYS}
        step = {k: v for k, v in values.items() if k in _STEP_KEYS}
        path = await asyncio.to_thread(self.worklist.add, top, step)
        self.notify(f"Worklist item added: {visible(path.name)}")
        self.load()

    @work(exclusive=True, group="pacs-edit", exit_on_error=False)
    async def action_delete_item(self) -> None:
        """Delete the worklist item under the cursor."""
        table = self.table
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        path = self.items.get(str(key))
        if path is None:
            return
        try:
            await asyncio.to_thread(path.unlink)
        except OSError as exc:
            raise WorklistError(f"cannot delete {path}: {exc.strerror}") from exc
        self.notify(f"Worklist item deleted: {visible(path.name)}")
        self.load()

    @work(exclusive=True, group="pacs-store", exit_on_error=False)
    async def action_import_folder(self) -> None:
        """Ask for a folder and import it."""
        answer = await self.app.push_screen_wait(ImportModal())
        if answer is None:
            return
        folder, in_place = answer
        self.notify(f"Importing {visible(folder)}...")
        result = await asyncio.to_thread(
            self.admin.import_folder, Path(folder), in_place=in_place
        )
        how = "referenced in place" if result.in_place else "copied"
        message = (
            f"{result.added} files {how}, {result.duplicates} already there, "
            f"{result.skipped} skipped, {result.refused} refused"
        )
        for problem in result.problems[:1]:
            message += f"; {problem}"
        self.notify(message, severity="warning" if result.refused else "information")
        self.load()

    @work(exclusive=True, group="pacs-store", exit_on_error=False)
    async def action_check(self) -> None:
        """Reconcile the index with the store's files."""
        result = await asyncio.to_thread(self.admin.check)
        self.notify(
            f"Store checked: {result.files} files, {result.added} (re)indexed, "
            f"{result.removed} missing files dropped from the index, "
            f"{result.damaged} damaged, {result.duplicates} duplicate UIDs"
        )
        self.load()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error")
