"""A DICOMDIR shown as its hierarchy (pydicom's FileSet)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState

from dcmtui.models import DirNode
from dcmtui.services.text import visible

if TYPE_CHECKING:
    from dcmtui.services.container import Services


def _count(node: DirNode) -> int:
    return (
        sum(_count(c) for c in node.children) if node.children else int(bool(node.path))
    )


class DicomdirScreen(Screen[None]):
    """Patients, studies, series and instances of a DICOMDIR; enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,backspace",
            "app.pop_screen",
            "Back",
            tooltip="Back to the Files screen",
            id="dicomdir.back",
        ),
    ]

    def __init__(self, services: Services, path: Path) -> None:
        super().__init__()
        self.services = services
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tree[DirNode](Text("DICOMDIR"), id="dicomdir")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "DICOMDIR"
        self.sub_title = visible(str(self.path))
        self.query_one(Tree).focus()
        self.load()

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        """Read the DICOMDIR in a thread and build the tree."""
        from dcmtui.services.dicomdir import load_dicomdir

        root = await load_dicomdir(self.path)
        tree: Tree[DirNode] = self.query_one(Tree)
        tree.clear()
        tree.root.set_label(Text(visible(root.label)))
        tree.root.data = root
        self._add(tree.root, root)
        tree.root.expand_all()

    def _add(self, parent: TreeNode[DirNode], node: DirNode) -> None:
        for child in node.children:
            label = Text(visible(child.label))
            if child.children:
                count = _count(child)
                label.append(f" · {count} instance{'s' * (count != 1)}", style="dim")
                self._add(parent.add(label, data=child), child)
            else:
                parent.add_leaf(label, data=child)

    @on(Tree.NodeSelected)
    def _open(self, event: Tree.NodeSelected[DirNode]) -> None:
        node = event.node.data
        if node is not None and node.path:
            from dcmtui.screens.dump import DumpScreen

            self.app.push_screen(DumpScreen(self.services, Path(node.path), None))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(
                visible(str(event.worker.error)),
                severity="error",
                timeout=8,
                markup=False,
            )
