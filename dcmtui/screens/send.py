"""Send files to a node: pick the node, pre-flight, send with progress, a
status per file and a summary; cancel, and resume later."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from dcmtui.models import FileSendStatus, Node, SendProgress
from dcmtui.services import dcmtk_cmd
from dcmtui.services.scu_send import Sender, human_rate, journal_folder
from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_STATE_STYLE = {
    "sent": "green",
    "converted": "cyan",
    "warning": "yellow",
    "skipped": "dim",
    "failed": "bold red",
    "refused": "bold red",
    "as-is": "green",
    "convert": "cyan",
}


class NodePickerModal(ModalScreen[Node | None]):
    """Choose a node of the address book."""

    DEFAULT_CSS = """
    NodePickerModal {
        align: center middle;
        & > Vertical { width: 70; height: auto; max-height: 80%;
                       border: round $accent; background: $surface; padding: 0 1; }
        & OptionList { height: auto; max-height: 20; }
        & .title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Close without choosing",
            id="node-picker.cancel",
        ),
    ]

    def __init__(self, nodes: Sequence[Node], title: str) -> None:
        super().__init__()
        self.nodes = list(nodes)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield OptionList(
                *(
                    Option(
                        Text(f"{visible(n.name):<16} {visible(n.address)}"), id=str(i)
                    )
                    for i, n in enumerate(self.nodes)
                )
            )

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.nodes[int(event.option.id or 0)])


async def pick_and_send(
    screen: Screen[None], services: Services, paths: list[str]
) -> None:
    """Ask for a node, then push the Send screen for ``paths`` (in a worker)."""
    if not paths:
        screen.notify("Mark files first (space, m for a series, M for a study).")
        return
    nodes = await asyncio.to_thread(services.nodes.nodes)
    if not nodes:
        screen.notify(
            "The address book is empty: add a node in the Nodes screen (3).",
            severity="warning",
        )
        return
    node = await screen.app.push_screen_wait(
        NodePickerModal(nodes, f"Send {len(paths)} files to which node?")
    )
    if node is not None:
        await screen.app.push_screen(SendScreen(services, node, paths))


class SendScreen(Screen[None]):
    """Pre-flight, then send, with progress and a status per file."""

    DEFAULT_CSS = """
    SendScreen {
        & #send-summary { height: auto; padding: 0 1; }
        & ProgressBar { padding: 0 1; }
        & #send-files { height: 1fr; }
        & #send-summary.-failed { color: $error; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send", tooltip="Send the files now", id="send.start"),
        Binding(
            "x",
            "cancel",
            "Stop",
            tooltip="Stop the send (resume later)",
            id="send.cancel",
        ),
        Binding(
            "c",
            "check",
            "Pre-flight",
            tooltip="Ask the node which files it accepts, send nothing",
            id="send.check",
        ),
        Binding(
            "D",
            "dcmtk",
            "DCMTK",
            tooltip="Show the storescu command line",
            id="send.dcmtk",
        ),
        Binding(
            "escape",
            "close",
            "Close",
            tooltip="Close (stops a running send)",
            id="send.close",
        ),
    ]

    running: reactive[bool] = reactive(False, bindings=True)
    """True while files are being sent."""

    def __init__(self, services: Services, node: Node, paths: Sequence[str]) -> None:
        super().__init__()
        self.services = services
        self.node = node
        self.paths = list(paths)
        self.sender = Sender(services.scu, journal_folder(services.settings.data_dir))
        self.last: SendProgress | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="send-summary", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="send-bar")
        table = FitTable(id="send-files", cursor_type="row")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Send to {visible(self.node.name)}"
        self.sub_title = visible(self.node.address)
        table = self.query_one("#send-files", DataTable)
        table.add_column("State", width=10, key="state")
        table.add_column("File", key="file")
        table.add_column("Detail", key="detail")
        self.summary(
            f"{len(self.paths)} files for {visible(self.node.address)}. "
            "Checking which the node accepts…"
        )
        self.run_check()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send", "check"):
            return not self.running
        if action == "cancel":
            return self.running
        return True

    def summary(self, text: str, failed: bool = False) -> None:
        """Set the line above the progress bar."""
        widget = self.query_one("#send-summary", Static)
        widget.update(Text(text))
        widget.set_class(failed, "-failed")

    def add_status(self, status: FileSendStatus) -> None:
        """One row for a file."""
        table = self.query_one("#send-files", DataTable)
        table.add_row(
            Text(status.state, style=_STATE_STYLE.get(status.state, "")),
            Text(visible(status.path)),
            Text(visible(status.detail)),
        )

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.running = False
            self.summary(visible(str(event.worker.error)), failed=True)
            self.notify(str(event.worker.error), severity="error", timeout=10)

    # -- pre-flight ------------------------------------------------------------

    def action_check(self) -> None:
        self.run_check()

    @work(exclusive=True, group="send", exit_on_error=False)
    async def run_check(self) -> None:
        """Which files the node will accept, without sending."""
        statuses = await self.sender.check(self.node, self.paths)
        table = self.query_one("#send-files", DataTable)
        table.clear()
        for status in statuses:
            self.add_status(status)
        refused = sum(s.state in ("refused", "failed") for s in statuses)
        convert = sum(s.state == "convert" for s in statuses)
        total = sum(s.state != "skipped" for s in statuses)
        self.summary(
            f"Pre-flight: {total - refused} of {total} files accepted"
            + (f" ({convert} to be converted)" if convert else "")
            + (f", {refused} refused" if refused else "")
            + ". Press s to send.",
            failed=bool(refused),
        )

    # -- send ------------------------------------------------------------------

    def action_send(self) -> None:
        self.run_send()

    @work(exclusive=True, group="send", exit_on_error=False)
    async def run_send(self) -> None:
        """Send; the bar, the summary and the rows follow each file."""
        self.running = True
        table = self.query_one("#send-files", DataTable)
        table.clear()
        bar = self.query_one("#send-bar", ProgressBar)
        try:
            async for progress in self.sender.send(self.node, self.paths):
                self.last = progress
                bar.update(
                    total=max(progress.total_bytes, 1), progress=progress.done_bytes
                )
                if progress.last is not None and not progress.done:
                    self.add_status(progress.last)
                self.summary(human_rate(progress))
        finally:
            self.running = False
        last = self.last
        if last is not None:
            self.summary(
                f"Done: {last.sent} sent ({last.converted} converted, "
                f"{last.warnings} with warnings), {last.skipped} skipped, "
                f"{last.failed} failed, {last.elapsed:.1f} s, "
                f"{last.mb_per_s:.1f} MB/s",
                failed=bool(last.failed),
            )

    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "send")
            self.running = False
            self.summary(
                "Stopped. What arrived is remembered: send again to resume.",
                failed=True,
            )

    def action_close(self) -> None:
        self.action_cancel()
        self.dismiss()

    def action_dcmtk(self) -> None:
        line = dcmtk_cmd.storescu(
            self.node,
            self.services.scu.calling_for(self.node),
            [str(Path(p)) for p in self.paths[:3]]
            + (["..."] if len(self.paths) > 3 else []),
            False,
        )
        self.notify(visible(line), title="DCMTK", markup=False, timeout=15)
