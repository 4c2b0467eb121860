"""The Query/Retrieve screen (mode 4): a form of matching keys, results that
stream into a table, drill down study > series > image, and retrieve of the
marked rows by C-MOVE or C-GET with live sub-operation counters."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from dcmtui.models import FindResult, Node, RetrieveProgress
from dcmtui.services import dcmtk_cmd
from dcmtui.services.scu_qr import DEFAULT_KEYS, QueryError, Retriever, parse_key
from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_FORM: tuple[tuple[str, str, str], ...] = (
    ("PatientName", "Patient name", "DOE^J*"),
    ("PatientID", "Patient ID", ""),
    ("PatientBirthDate", "Birth date", "19700101"),
    ("StudyDate", "Study date", "20240101-20240131"),
    ("AccessionNumber", "Accession", ""),
    ("Modality", "Modality", "CT"),
    ("Description", "Description", "*HEAD*"),
    ("StudyInstanceUID", "Study UID", ""),
    ("other", "Other keys", "KEY=VALUE; 0008,0090=SMITH*"),
)
_CHILD = {"PATIENT": "STUDY", "STUDY": "SERIES", "SERIES": "IMAGE"}
_UIDS = {
    "PATIENT": ("PatientID",),
    "STUDY": ("StudyInstanceUID",),
    "SERIES": ("StudyInstanceUID", "SeriesInstanceUID"),
    "IMAGE": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}


@dataclass(frozen=True)
class Query:
    """One query: where, which model and level, which keys."""

    node: Node
    root: str
    level: str
    keys: tuple[tuple[str, str], ...]


def form_keys(values: dict[str, str], level: str) -> list[tuple[str, str]]:
    """Matching keys from the form's fields, for ``level``.

    Raises:
        QueryError: A key of "Other keys" is not understood.
    """
    keys: list[tuple[str, str]] = []
    for field, value in values.items():
        value = value.strip()
        if not value:
            continue
        if field == "other":
            keys += [parse_key(part) for part in value.split(";") if part.strip()]
        elif field == "Modality":
            keys.append(
                ("ModalitiesInStudy" if level == "STUDY" else "Modality", value)
            )
        elif field == "Description":
            keys.append(
                ("StudyDescription" if level == "STUDY" else "SeriesDescription", value)
            )
        else:
            keys.append((field, value))
    return keys


class QueryScreen(Screen[None]):
    """C-FIND a node; drill down; retrieve the marked rows."""

    DEFAULT_CSS = """
    QueryScreen {
        & #qr-form { height: auto; padding: 0 1; }
        & #qr-form Grid { grid-size: 6; grid-columns: 14 1fr 14 1fr 14 1fr;
                          grid-rows: 1; height: auto; grid-gutter: 0 1; }
        & #qr-form Input { border: none; height: 1; padding: 0 1; background: $boost; }
        & #qr-form Input:focus { border: none; background: $accent 30%; }
        & #qr-selects { height: 3; }
        & #qr-selects Select { width: 1fr; }
        & #qr-results { height: 1fr; }
        & #qr-status { height: auto; padding: 0 1; border-top: solid $panel; }
        & #qr-status.-failed { color: $error; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "query", "Query", tooltip="Run the C-FIND", id="qr.query"),
        Binding(
            "x",
            "cancel",
            "Cancel",
            tooltip="C-CANCEL the running operation",
            id="qr.cancel",
        ),
        Binding(
            "space", "mark", "Mark", tooltip="Mark the row for retrieve", id="qr.mark"
        ),
        Binding(
            "o",
            "drill",
            "Open",
            tooltip="Query the level below this row (or enter)",
            id="qr.drill",
        ),
        Binding(
            "backspace",
            "back",
            "Back",
            tooltip="Back to the previous results",
            id="qr.back",
        ),
        Binding(
            "r",
            "retrieve",
            "Retrieve",
            tooltip="Retrieve the marked rows (C-MOVE or C-GET, as the node says)",
            id="qr.retrieve",
        ),
        Binding(
            "D", "dcmtk", "DCMTK", tooltip="Show the DCMTK command line", id="qr.dcmtk"
        ),
        Binding(
            "f",
            "focus_form",
            "Form",
            tooltip="Go to the query form",
            id="qr.form",
            show=False,
        ),
    ]

    busy: reactive[bool] = reactive(False, bindings=True)
    """True while a C-FIND, C-MOVE or C-GET runs."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.retriever = Retriever(services.scu)
        self.nodes: list[Node] = []
        self.rows: dict[str, FindResult] = {}
        self.marks: set[str] = set()
        self.history: list[Query] = []
        self.current: Query | None = None
        self.last_retrieve: RetrieveProgress | None = None
        self.preferred: str | None = None
        """The node to select when the address book is (re)loaded."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="qr-form"):
            with Horizontal(id="qr-selects"):
                yield Select[str]([], prompt="Node", id="qr-node")
                yield Select(
                    [
                        ("Study root", "study"),
                        ("Patient root", "patient"),
                        ("Modality worklist", "worklist"),
                    ],
                    value="study",
                    allow_blank=False,
                    id="qr-root",
                )
                yield Select(
                    [
                        (level.title(), level)
                        for level in ("PATIENT", "STUDY", "SERIES", "IMAGE")
                    ],
                    value="STUDY",
                    allow_blank=False,
                    id="qr-level",
                )
            with Grid():
                for key, label, hint in _FORM:
                    yield Label(label)
                    yield Input(placeholder=hint, id=f"q-{key}")
        table = FitTable(id="qr-results", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="qr-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.load_nodes()

    @work(exclusive=True, group="qr-nodes", exit_on_error=False)
    async def load_nodes(self) -> None:
        """Fill the node selector from the address book."""
        self.nodes = await asyncio.to_thread(self.services.nodes.nodes)
        select = self.query_one("#qr-node", Select)
        select.set_options(
            (f"{visible(n.name)} · {n.retrieve}", n.name) for n in self.nodes
        )
        names = [n.name for n in self.nodes]
        if self.preferred in names:
            select.value = self.preferred
        elif self.nodes and select.value not in names:
            select.value = self.nodes[0].name
        else:
            self.status("No nodes yet: add one in the Nodes screen (3).")

    def on_screen_resume(self) -> None:
        self.load_nodes()

    def select_node(self, name: str) -> None:
        """Query ``name`` next (from the Nodes screen)."""
        self.preferred = name
        self.load_nodes()

    def status(self, text: str, failed: bool = False) -> None:
        """The line under the results."""
        widget = self.query_one("#qr-status", Static)
        widget.update(Text(text))
        widget.set_class(failed, "-failed")

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.busy = False
            self.status(visible(str(event.worker.error)), failed=True)
            self.notify(str(event.worker.error), severity="error", timeout=10)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.busy
        if action in ("query", "retrieve"):
            return not self.busy
        return True

    # -- the form ------------------------------------------------------------

    def selected_node(self) -> Node | None:
        """The node chosen in the selector."""
        value = self.query_one("#qr-node", Select).value
        return next((n for n in self.nodes if n.name == value), None)

    def form_query(self) -> Query | None:
        """The query the form describes (None, with a message, if incomplete)."""
        node = self.selected_node()
        if node is None:
            self.status("Choose a node first.", failed=True)
            return None
        root = str(self.query_one("#qr-root", Select).value)
        level = str(self.query_one("#qr-level", Select).value)
        if root == "study" and level == "PATIENT":
            root = "patient"
        values = {key: self.query_one(f"#q-{key}", Input).value for key, _, _ in _FORM}
        try:
            keys = form_keys(values, "WORKLIST" if root == "worklist" else level)
        except QueryError as exc:
            self.status(str(exc), failed=True)
            return None
        return Query(node, root, level, tuple(keys))

    def action_query(self) -> None:
        if (query := self.form_query()) is not None:
            self.history.clear()
            self.run_find(query)

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_query()

    def action_focus_form(self) -> None:
        self.query_one("#q-PatientName", Input).focus()

    # -- C-FIND ----------------------------------------------------------------

    @work(exclusive=True, group="qr", exit_on_error=False)
    async def run_find(self, query: Query) -> None:
        """Run a C-FIND; rows appear as matches arrive."""
        self.busy = True
        self.current = query
        level = "WORKLIST" if query.root == "worklist" else query.level
        columns = DEFAULT_KEYS[level]
        table = self.query_one("#qr-results", DataTable)
        table.clear(columns=True)
        table.add_column("", width=1, key="mark")
        for column in columns:
            table.add_column(column, key=column)
        self.rows.clear()
        self.marks.clear()
        self.status(f"Querying {visible(query.node.name)} at {level.lower()} level…")
        count = 0
        try:
            async for match in self.retriever.find(
                query.node, query.level, list(query.keys), root=query.root
            ):
                key = str(count)
                count += 1
                self.rows[key] = match
                table.add_row(
                    Text(""),
                    *(Text(visible(match.values.get(c, ""))) for c in columns),
                    key=key,
                )
                if count % 50 == 0:
                    self.status(f"{count} matches so far…")
        finally:
            self.busy = False
        self.status(
            f"{count} matches at {level.lower()} level"
            + (" · enter: open · space: mark · r: retrieve" if count else "")
        )
        if count:
            table.focus()

    def action_cancel(self) -> None:
        if self.busy:
            self.workers.cancel_group(self, "qr")
            self.busy = False
            self.status("Cancelled (C-CANCEL sent).", failed=True)

    # -- rows ------------------------------------------------------------------

    def _row_key(self) -> str | None:
        table = self.query_one("#qr-results", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_mark(self) -> None:
        key = self._row_key()
        if key is None:
            return
        table = self.query_one("#qr-results", DataTable)
        if key in self.marks:
            self.marks.discard(key)
            table.update_cell(key, "mark", Text(""))
        else:
            self.marks.add(key)
            table.update_cell(key, "mark", Text("●", style="bold yellow"))
        table.action_cursor_down()
        self.status(f"{len(self.marks)} marked · r: retrieve")

    def action_drill(self) -> None:
        key = self._row_key()
        query = self.current
        if key is None or query is None or query.root == "worklist":
            return
        child = _CHILD.get(query.level)
        if child is None:
            return
        values = self.rows[key].values
        keys = [(k, values.get(k, "")) for k in _UIDS[query.level]]
        if any(not v for _, v in keys):
            self.status("This row has no unique key to open.", failed=True)
            return
        root = query.root
        if query.level == "PATIENT":
            root = "patient"
        self.history.append(query)
        self.run_find(Query(query.node, root, child, tuple(keys)))

    @on(DataTable.RowSelected, "#qr-results")
    def row_selected(self) -> None:
        self.action_drill()

    def action_back(self) -> None:
        if self.history:
            self.run_find(self.history.pop())

    # -- retrieve --------------------------------------------------------------

    def action_retrieve(self) -> None:
        query = self.current
        if query is None or query.root == "worklist":
            self.status("Query first, then mark rows to retrieve.", failed=True)
            return
        keys = sorted(self.marks) or ([k] if (k := self._row_key()) else [])
        if not keys:
            return
        self.run_retrieve(query, [self.rows[k] for k in keys])

    @work(exclusive=True, group="qr", exit_on_error=False)
    async def run_retrieve(self, query: Query, rows: list[FindResult]) -> None:
        """C-MOVE or C-GET each marked row, counters live in the status line."""
        node = query.node
        self.busy = True
        totals = [0, 0, 0]
        method = node.retrieve
        destination = node.move_destination or self.receiver_ae()
        settings = self.services.settings
        output = settings.data_dir / "store"
        if method == "C-GET":  # into a folder of our own, then into the store
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            output = Path(tempfile.mkdtemp(prefix="get-", dir=settings.data_dir))
        try:
            for index, row in enumerate(rows, 1):
                keys = [(k, row.values.get(k, "")) for k in _UIDS[query.level]]
                if method == "C-GET":
                    updates = self.retriever.get(
                        node, query.level, keys, output, root=query.root
                    )
                else:
                    updates = self.retriever.move(
                        node, query.level, keys, destination, root=query.root
                    )
                async for progress in updates:
                    self.last_retrieve = progress
                    remaining = (
                        "?" if progress.remaining is None else progress.remaining
                    )
                    self.status(
                        f"{method} {index}/{len(rows)}: remaining {remaining}, "
                        f"completed {totals[0] + progress.completed}, "
                        f"failed {totals[1] + progress.failed}, "
                        f"warning {totals[2] + progress.warning}"
                    )
                    if progress.done:
                        totals[0] += progress.completed
                        totals[1] += progress.failed
                        totals[2] += progress.warning
            added = ""
            if method == "C-GET":
                added = await asyncio.to_thread(self.into_store, output)
        finally:
            self.busy = False
            if method == "C-GET":
                shutil.rmtree(output, ignore_errors=True)
        where = "into the store" if method == "C-GET" else f"to {destination}"
        self.status(
            f"{method} {where}: {totals[0]} completed, {totals[1]} failed, "
            f"{totals[2]} warning{added}",
            failed=bool(totals[1]),
        )

    def into_store(self, folder: Path) -> str:
        """Import what C-GET brought into the store and its index, as the
        receiver would (safe names, duplicates kept apart); return a summary."""
        from dcmtui.services.store_admin import StoreAdmin

        result = StoreAdmin(self.services.settings).import_folder(folder)
        text = f"; {result.added} new in the store"
        if result.duplicates:
            text += f", {result.duplicates} already there"
        if result.refused:
            text += f", {result.refused} refused (store full)"
        return text

    def receiver_ae(self) -> str:
        """The built-in receiver's AE title: where C-MOVE sends by default."""
        receiver = getattr(self.services.settings, "receiver", None)
        return str(getattr(receiver, "ae_title", "") or "DCMTUI")

    def action_dcmtk(self) -> None:
        query = self.current or self.form_query()
        if query is None:
            return
        node = query.node
        calling = self.services.scu.calling_for(node)
        keys = list(query.keys)
        lines = [dcmtk_cmd.findscu(node, calling, query.root, query.level, keys)]
        if query.root != "worklist":
            if node.retrieve == "C-GET":
                output = str(self.services.settings.data_dir / "store")
                lines.append(
                    dcmtk_cmd.getscu(
                        node, calling, query.root, query.level, keys, output
                    )
                )
            else:
                dest = node.move_destination or self.receiver_ae()
                lines.append(
                    dcmtk_cmd.movescu(
                        node, calling, query.root, query.level, keys, dest
                    )
                )
        text = "\n".join(visible(line) for line in lines)
        self.notify(text, title="DCMTK", markup=False, timeout=20)
