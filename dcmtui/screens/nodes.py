"""The Nodes screen (mode 3): the address book, with C-ECHO of one node or all,
and the add/edit/delete modals."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
)
from textual.worker import Worker, WorkerState

from dcmtui.models import EchoResult, Node
from dcmtui.services import dcmtk_cmd
from dcmtui.services.nodes import NodeError, validate
from dcmtui.services.text import visible
from dcmtui.widgets.node_table import NodeTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Name", "how you call it here, e.g. PACS"),
    ("ae_title", "AE title", "1-16 characters, e.g. PACS1"),
    ("host", "Host", "host name or IP address"),
    ("port", "Port", "1-65535, e.g. 104 or 11112"),
    ("calling_ae", "Our AE title", "empty: DCMTUI"),
    ("tls_ca", "TLS CA file", "PEM; set it (or a certificate) for TLS"),
    ("tls_cert", "TLS certificate", "our client certificate, PEM"),
    ("tls_key", "TLS key", "the key of our certificate, PEM"),
    ("transfer_syntaxes", "Transfer syntaxes", "preferred UIDs, comma separated"),
    ("max_pdu", "Max PDU", "0: default"),
    ("move_destination", "Move destination", "AE title for C-MOVE results"),
    ("notes", "Notes", ""),
)


class NodeEditModal(ModalScreen[Node | None]):
    """Add or edit a node; checks every field before it closes."""

    DEFAULT_CSS = """
    NodeEditModal {
        align: center middle;
        & > Vertical {
            width: 84; height: auto; max-height: 95%;
            border: round $accent; background: $surface; padding: 0 1;
        }
        & Grid { grid-size: 2; grid-columns: 20 1fr; grid-rows: 1; grid-gutter: 0 1;
                 height: auto; }
        & Input { border: none; height: 1; padding: 0 1; background: $boost; }
        & Input:focus { border: none; background: $accent 30%; }
        & Select { height: 3; }
        & #node-error { color: $error; height: auto; padding-top: 1; }
        & #node-buttons { height: 3; align-horizontal: right; }
        & .title { text-style: bold; padding-bottom: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            tooltip="Close without saving",
            id="node-edit.cancel",
        ),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            tooltip="Check and save the node",
            id="node-edit.save",
        ),
    ]

    def __init__(self, node: Node | None = None) -> None:
        super().__init__()
        self.node = node

    def compose(self) -> ComposeResult:
        node = self.node
        with Vertical():
            yield Static(
                "Edit node" if node else "Add node", classes="title", markup=False
            )
            with Grid():
                for key, label, hint in _FIELDS:
                    value = ""
                    if node is not None:
                        raw = getattr(node, key)
                        value = ", ".join(raw) if isinstance(raw, tuple) else str(raw)
                        if key == "max_pdu" and raw == 0:
                            value = ""
                    yield Label(label)
                    yield Input(value=value, placeholder=hint, id=f"f-{key}")
            yield Select(
                [("Retrieve with C-MOVE", "C-MOVE"), ("Retrieve with C-GET", "C-GET")],
                value=node.retrieve if node else "C-MOVE",
                allow_blank=False,
                id="f-retrieve",
            )
            yield Static("", id="node-error", markup=False)
            with Horizontal(id="node-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _value(self, key: str) -> str:
        return self.query_one(f"#f-{key}", Input).value

    def build(self) -> Node:
        """The node the form describes, checked.

        Raises:
            NodeError: The first field that is wrong.
        """
        port_text = self._value("port").strip()
        if not port_text.isdigit():
            raise NodeError(f"port {port_text!r} is not a number (1 to 65535)")
        pdu_text = self._value("max_pdu").strip() or "0"
        if not pdu_text.isdigit():
            raise NodeError(f"max PDU {pdu_text!r} is not a number")
        syntaxes = tuple(
            t.strip() for t in self._value("transfer_syntaxes").split(",") if t.strip()
        )
        retrieve = self.query_one("#f-retrieve", Select).value
        return validate(
            Node(
                name=self._value("name"),
                ae_title=self._value("ae_title"),
                host=self._value("host"),
                port=int(port_text),
                calling_ae=self._value("calling_ae"),
                tls_ca=self._value("tls_ca").strip(),
                tls_cert=self._value("tls_cert").strip(),
                tls_key=self._value("tls_key").strip(),
                transfer_syntaxes=syntaxes,
                max_pdu=int(pdu_text),
                retrieve=str(retrieve),
                move_destination=self._value("move_destination"),
                notes=self._value("notes"),
            )
        )

    def action_save(self) -> None:
        """Check the form; close with the node, or show what is wrong."""
        try:
            node = self.build()
        except NodeError as exc:
            self.query_one("#node-error", Static).update(Text(str(exc)))
            return
        self.dismiss(node)

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """Ask a yes/no question."""

    DEFAULT_CSS = """
    ConfirmModal {
        align: center middle;
        & > Vertical { width: 60; height: auto; border: round $warning;
                       background: $surface; padding: 1 2; }
        & Horizontal { height: 3; align-horizontal: right; margin-top: 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes", tooltip="Confirm", id="confirm.yes"),
        Binding("n,escape", "dismiss(False)", "No", tooltip="Cancel", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question))
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class NodesScreen(Screen[None]):
    """The address book: add, edit, delete, echo one or all."""

    DEFAULT_CSS = """
    NodesScreen {
        & #node-detail { height: auto; max-height: 6; padding: 0 1;
                         border-top: solid $panel; }
        & #node-detail.-failed { color: $error; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", tooltip="Add a node", id="nodes.add"),
        Binding("e,enter", "edit", "Edit", tooltip="Edit the node", id="nodes.edit"),
        Binding(
            "d,delete", "delete", "Delete", tooltip="Delete the node", id="nodes.delete"
        ),
        Binding("c", "echo", "Echo", tooltip="C-ECHO the node", id="nodes.echo"),
        Binding(
            "E",
            "echo_all",
            "Echo all",
            tooltip="C-ECHO every node at once",
            id="nodes.echo-all",
        ),
        Binding(
            "Q",
            "query",
            "Query",
            tooltip="Query/Retrieve this node (mode 4)",
            id="nodes.query",
        ),
        Binding(
            "t",
            "send_marks",
            "Send marks",
            tooltip="Send the files marked in the Files screen (1) to this node",
            id="nodes.send-marks",
        ),
        Binding(
            "D",
            "dcmtk",
            "DCMTK",
            tooltip="Show the echoscu command line",
            id="nodes.dcmtk",
        ),
        Binding(
            "r",
            "reload",
            "Reload",
            tooltip="Read nodes.toml again",
            id="nodes.reload",
            show=False,
        ),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    @property
    def table(self) -> NodeTable:
        """The nodes table."""
        return self.query_one(NodeTable)

    def compose(self) -> ComposeResult:
        yield Header()
        yield NodeTable(id="nodes")
        yield Static("", id="node-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "nodes.toml"
        self.reload()

    @work(exclusive=True, group="nodes-load", exit_on_error=False)
    async def reload(self) -> None:
        """Read nodes.toml into the table."""
        nodes = await asyncio.to_thread(self.services.nodes.nodes)
        self.table.show(nodes)
        if not nodes:
            self.query_one("#node-detail", Static).update(
                Text("No nodes yet: press a to add one (or edit nodes.toml).")
            )

    def action_reload(self) -> None:
        self.reload()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error", timeout=8)

    @on(DataTable.RowHighlighted, "#nodes")
    def highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        """The address and the last echo of the node under the cursor."""
        node = self.table.current
        detail = self.query_one("#node-detail", Static)
        if node is None:
            return
        echo = self.table.echoes.get(node.name)
        line = Text(visible(node.address))
        if echo is not None:
            line.append("  ·  ")
            line.append(
                f"C-ECHO OK in {echo.ms:.1f} ms" if echo.ok else visible(echo.detail)
            )
        detail.set_class(echo is not None and not echo.ok, "-failed")
        detail.update(line)

    # -- add / edit / delete ---------------------------------------------------

    def action_add(self) -> None:
        self.run_edit(None)

    def action_edit(self) -> None:
        if (node := self.table.current) is not None:
            self.run_edit(node)

    @work(exclusive=True, group="nodes-edit", exit_on_error=False)
    async def run_edit(self, node: Node | None) -> None:
        """Open the form; save what comes back."""
        result = await self.app.push_screen_wait(NodeEditModal(node))
        if result is None:
            return
        if node is None:
            await asyncio.to_thread(self.services.nodes.add, result)
            self.notify(f"Added {visible(result.name)}", markup=False)
        else:
            await asyncio.to_thread(self.services.nodes.update, node.name, result)
            self.notify(f"Saved {visible(result.name)}", markup=False)
        nodes = await asyncio.to_thread(self.services.nodes.nodes)
        self.table.show(nodes)
        self.table.move_cursor(row=self.table.get_row_index(result.name))

    def action_delete(self) -> None:
        if (node := self.table.current) is not None:
            self.run_delete(node)

    @work(exclusive=True, group="nodes-edit", exit_on_error=False)
    async def run_delete(self, node: Node) -> None:
        """Ask, then remove the node from nodes.toml."""
        question = f"Delete node {visible(node.name)} ({visible(node.address)})?"
        if not await self.app.push_screen_wait(ConfirmModal(question)):
            return
        await asyncio.to_thread(self.services.nodes.remove, node.name)
        self.table.show(await asyncio.to_thread(self.services.nodes.nodes))
        self.notify(f"Deleted {visible(node.name)}", markup=False)

    # -- echo ----------------------------------------------------------------

    def action_echo(self) -> None:
        if (node := self.table.current) is not None:
            self.run_echo(node)

    @work(group="echo", exit_on_error=False)
    async def run_echo(self, node: Node) -> None:
        """C-ECHO one node; the row shows the outcome, ms and time."""
        self.table.set_pending(node.name)
        result = await self.services.scu.echo(node)
        self.echo_done(result)

    def action_echo_all(self) -> None:
        self.run_echo_all()

    @work(exclusive=True, group="echo-all", exit_on_error=False)
    async def run_echo_all(self) -> None:
        """C-ECHO every node at once; rows fill in as answers come."""
        nodes = list(self.table.nodes.values())
        for node in nodes:
            self.table.set_pending(node.name)
        ok = 0
        async for result in self.services.scu.echo_all(nodes):
            ok += result.ok
            self.echo_done(result)
        self.notify(f"C-ECHO: {ok} of {len(nodes)} nodes answered")

    def echo_done(self, result: EchoResult) -> None:
        """Show one echo result."""
        self.table.set_echo(result)
        self.show_detail()
        if not result.ok and len(self.table.pending) == 0:
            self.notify(visible(result.detail), severity="error", markup=False)

    async def action_query(self) -> None:
        """Open the Query/Retrieve screen on the node under the cursor."""
        from dcmtui.screens.network import QueryScreen

        node = self.table.current
        if node is None:
            return
        await self.app.switch_mode("query")
        if isinstance(self.app.screen, QueryScreen):
            self.app.screen.select_node(node.name)

    async def action_send_marks(self) -> None:
        """Send the Files screen's marks to the node under the cursor."""
        from dcmtui.screens.send import SendScreen

        node = self.table.current
        if node is None:
            return
        paths: list[str] = getattr(self.app, "marked_files", list)()
        if not paths:
            self.notify(
                "No files marked: mark them in the Files screen (1) with space, "
                "m (series) or M (study), then press t here.",
                severity="warning",
            )
            return
        await self.app.push_screen(SendScreen(self.services, node, paths))

    def action_dcmtk(self) -> None:
        if (node := self.table.current) is not None:
            line = dcmtk_cmd.echoscu(node, self.services.scu.calling_for(node))
            self.notify(visible(line), title="DCMTK", markup=False, timeout=15)
