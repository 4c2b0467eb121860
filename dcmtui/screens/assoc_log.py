"""The Associations screen: the receiver's status and every association, live."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from dcmtui.models import AssocEvent
from dcmtui.services.assoc_log import (
    LOG_NAME,
    OUTCOMES,
    AssocBook,
    AssocRow,
    follow_async,
    format_line,
)
from dcmtui.services.container import Services
from dcmtui.services.text import visible
from dcmtui.widgets.assoc_log_view import AssocLogView, human_bytes

_FILTER_OUTCOMES = ("", *OUTCOMES)  # "" = all; "failed" = anything that failed
_FLUSH_EVERY = 0.1  # seconds between table updates while events pour in
_DETAIL_EVENTS = 6  # the newest events of the selected association


class AssocLogScreen(Screen[None]):
    """Every association, incoming and outgoing, as it happens."""

    DEFAULT_CSS = """
    AssocLogScreen {
        & #assoc-status { height: 1; padding: 0 1; background: $panel; }
        & #assoc-counters { height: 1; padding: 0 1; }
        & #assoc-filter { display: none; }
        & #assoc-filter.-shown { display: block; }
        & #assoc-detail { height: 12; padding: 0 1; border-top: solid $panel;
                          overflow-y: auto; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s",
            "toggle_receiver",
            "Start/stop",
            tooltip="Start or stop the built-in receiver",
            id="assoc.receiver",
        ),
        Binding(
            "a",
            "attach",
            "Attach log",
            tooltip=f"Follow {LOG_NAME} of a receiver running as a service",
            id="assoc.attach",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Show only associations whose AE titles or peer match",
            id="assoc.filter",
        ),
        Binding(
            "o",
            "cycle_outcome",
            "Outcome",
            tooltip="Show all, open, released, aborted, rejected or failed ones",
            id="assoc.outcome",
        ),
        Binding(
            "x",
            "expand",
            "Contexts",
            tooltip="Show or hide each presentation context of the selection",
            id="assoc.contexts",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            tooltip="Show every association again",
            id="assoc.clear-filter",
            show=False,
        ),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.book = AssocBook()
        self.text_filter = ""
        self.outcome_filter = ""
        self.expanded = False
        self.attached = False
        self._pending: list[AssocEvent] = []

    @property
    def table(self) -> AssocLogView:
        """The associations table."""
        return self.query_one(AssocLogView)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="assoc-status", markup=False)
        yield Static("", id="assoc-counters", markup=False)
        yield Input(placeholder="AE title or peer; Enter to apply", id="assoc-filter")
        yield AssocLogView(id="assoc-table")
        with Horizontal(id="assoc-detail-box"):
            yield Static("", id="assoc-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Associations"
        for event in self.services.events.history():
            self.book.add(event)
        self.refresh_table()
        self.follow_bus()
        self.set_interval(_FLUSH_EVERY, self.flush)
        self.set_interval(1.0, self.show_header)
        self.show_header()
        self.table.focus()

    # --- event sources ---------------------------------------------------------

    @work(group="assoc-bus", exit_on_error=False)
    async def follow_bus(self) -> None:
        """Queue every event of this process (receiver and network client)."""
        async for event in self.services.events.subscribe():
            self._pending.append(event)

    @work(exclusive=True, group="assoc-attach", exit_on_error=False)
    async def follow_log(self) -> None:
        """Queue every event of the receiver's JSON-lines log, as it grows."""
        path = self.services.settings.log_dir / LOG_NAME
        self.notify(f"Following {path}")
        async for event in follow_async(path, from_start=True):
            # ids restart in each process: keep the log's apart from ours
            self._pending.append(replace(event, assoc_id=f"{event.assoc_id}@log"))

    def flush(self) -> None:
        """Apply what arrived since the last flush (at most 10 times a second)."""
        if not self._pending:
            return
        events, self._pending = self._pending, []
        changed: dict[str, AssocRow] = {}
        for event in events:
            row = self.book.add(event)
            changed[row.assoc_id] = row
        if self.text_filter or self.outcome_filter:
            self.refresh_table(keep_position=True)
        else:
            self.table.apply(changed.values())
        current = self.table.current_id
        if current in changed:
            self.show_detail()
        self.show_counters()

    # --- header ---------------------------------------------------------------

    def show_header(self) -> None:
        """The receiver line and the counters."""
        scp = self.services.scp
        status = scp.status()
        if status.running:
            tls = " TLS" if status.tls else ""
            line = (
                f"Receiver {scp.ae_title} listening on {status.host}:{status.port}"
                f"{tls} · store {status.store} · {status.active} active · "
                "s: stop"
            )
        else:
            line = (
                f"Receiver {scp.ae_title} stopped (port {scp.port}) · "
                f"store {scp.store.root} · s: start"
            )
        if self.attached:
            line += f" · attached to {LOG_NAME}"
        self.query_one("#assoc-status", Static).update(Text(visible(line)))
        self.show_counters()

    def show_counters(self) -> None:
        """Associations, instances, bytes, failures, rate over the last minute."""
        book = self.book
        filters = []
        if self.text_filter:
            filters.append(f"filter {visible(self.text_filter)!r}")
        if self.outcome_filter:
            filters.append(f"outcome {self.outcome_filter}")
        text = Text.assemble(
            ("Associations ", "dim"),
            str(book.associations),
            ("  Instances ", "dim"),
            str(book.instances),
            ("  Bytes ", "dim"),
            human_bytes(book.nbytes),
            ("  Failures ", "dim"),
            (str(book.failures), "bold red" if book.failures else ""),
            ("  Last minute ", "dim"),
            f"{book.rate():.1f}/s",
            ("  " + " · ".join(filters), "italic") if filters else "",
        )
        self.query_one("#assoc-counters", Static).update(text)

    # --- table and detail ------------------------------------------------------

    def refresh_table(self, keep_position: bool = False) -> None:
        """Show the rows that pass the filters."""
        rows = self.book.matching(self.text_filter, self.outcome_filter)
        if keep_position and not self.table.following:
            before = {r for r in self.table.rows}
            self.table.rebuild(rows)
            self.table.unseen = sum(1 for r in rows if r.assoc_id not in before)
        else:
            self.table.rebuild(rows)
        self.show_detail()

    @on(DataTable.RowHighlighted, "#assoc-table")
    def highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        """Cause, fix, contexts and events of the association under the cursor."""
        detail = self.query_one("#assoc-detail", Static)
        current = self.table.current_id
        row = self.book.rows.get(current) if current else None
        if row is None:
            detail.update(
                Text(
                    "No associations yet. Press s to start the receiver, or a to "
                    "follow the log of one running as a service.",
                    style="dim",
                )
            )
            return
        text = Text()
        text.append(f"{row.assoc_id} ", style="bold")
        text.append(
            visible(
                f"{row.calling_ae} -> {row.called_ae} "
                f"{row.peer_host}:{row.peer_port}; {row.outcome}"
            )
        )
        if row.detail:
            text.append(f": {visible(row.detail)}")
        text.append("\n")
        if row.cause:
            text.append("Cause: ", style="bold red")
            text.append(visible(row.cause) + "\n")
            text.append("Fix: ", style="bold green")
            text.append(visible(row.fix) + "\n")
        if row.contexts:
            accepted = row.accepted_contexts
            text.append(
                f"Presentation contexts: {accepted} accepted, "
                f"{len(row.contexts) - accepted} rejected",
                style="bold",
            )
            text.append("  (x: hide)\n" if self.expanded else "  (x: show)\n")
            if self.expanded:
                for cx in row.contexts:
                    text.append(
                        f"  {visible(_uid_name(cx.abstract_syntax))}  "
                        f"{visible(_uid_name(cx.transfer_syntax))}  ",
                    )
                    style = "green" if cx.result == "accepted" else "red"
                    text.append(visible(cx.result) + "\n", style=style)
        shown = row.events[-_DETAIL_EVENTS:]
        earlier = len(row.events) - len(shown)
        text.append("Events", style="bold")
        text.append(f" ({earlier} earlier not shown):\n" if earlier else ":\n")
        for event in shown:
            text.append("  " + format_line(event) + "\n")
        detail.update(text)

    # --- actions ------------------------------------------------------------------

    def action_toggle_receiver(self) -> None:
        self.toggle_receiver()

    @work(exclusive=True, group="assoc-receiver", exit_on_error=False)
    async def toggle_receiver(self) -> None:
        """Start the receiver, or stop it (transfers in flight get 5 s)."""
        scp = self.services.scp
        if scp.running:
            self.notify("Stopping the receiver...")
            await scp.stop(grace=5)
            self.notify("Receiver stopped")
        else:
            port = await scp.start()
            self.notify(f"Receiver {scp.ae_title} listening on port {port}")
        self.show_header()

    def action_attach(self) -> None:
        if self.attached:
            self.notify("Already following the association log")
            return
        self.attached = True
        self.follow_log()
        self.show_header()

    def action_filter(self) -> None:
        box = self.query_one("#assoc-filter", Input)
        box.add_class("-shown")
        box.value = self.text_filter
        box.focus()

    @on(Input.Submitted, "#assoc-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.text_filter = event.value.strip()
        event.input.remove_class("-shown")
        self.refresh_table()
        self.show_counters()
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#assoc-filter", Input)
        box.remove_class("-shown")
        if self.text_filter or self.outcome_filter:
            self.text_filter = ""
            self.outcome_filter = ""
            self.refresh_table()
            self.show_counters()
        self.table.focus()

    def action_cycle_outcome(self) -> None:
        index = _FILTER_OUTCOMES.index(self.outcome_filter)
        self.outcome_filter = _FILTER_OUTCOMES[(index + 1) % len(_FILTER_OUTCOMES)]
        self.refresh_table()
        self.show_counters()

    def action_expand(self) -> None:
        self.expanded = not self.expanded
        self.show_detail()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error", timeout=8)
            if event.worker.group == "assoc-attach":
                self.attached = False
            self.show_header()


def _uid_name(uid: str) -> str:
    """``1.2.840.10008.1.2`` -> ``Implicit VR Little Endian`` when known."""
    if not uid or "\\" in uid:
        return uid
    try:
        from pydicom.uid import UID

        name = UID(uid).name
    except Exception:
        return uid
    return name if name and name != uid else uid
