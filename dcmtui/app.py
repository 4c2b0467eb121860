"""DcmtuiApp: the frame every screen lives in: modes, keys, help, palette."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from dcmtui import __version__
from dcmtui.config import Settings
from dcmtui.screens.assoc_log import AssocLogScreen
from dcmtui.screens.browser import FilesScreen
from dcmtui.screens.modals import HelpScreen, binding_rows
from dcmtui.screens.network import QueryScreen
from dcmtui.screens.nodes import NodesScreen
from dcmtui.screens.pacs import PacsScreen
from dcmtui.services.container import Services


@dataclass(frozen=True)
class ModeSpec:
    """A top-level mode: switched with its number key or the command palette."""

    name: str
    key: str
    title: str
    help: str
    make: Callable[[DcmtuiApp], Screen[None]]


MODE_SPECS: tuple[ModeSpec, ...] = (
    ModeSpec(
        "files",
        "1",
        "Files",
        "Browse and index DICOM files",
        lambda app: FilesScreen(app.services, app.root),
    ),
    ModeSpec(
        "nodes",
        "3",
        "Nodes",
        "The address book: add, edit, echo",
        lambda app: NodesScreen(app.services),
    ),
    ModeSpec(
        "query",
        "4",
        "Query/Retrieve",
        "C-FIND a node, drill down, retrieve by C-MOVE or C-GET",
        lambda app: QueryScreen(app.services),
    ),
    ModeSpec(
        "assoc",
        "5",
        "Associations",
        "The receiver and every association, live",
        lambda app: AssocLogScreen(app.services),
    ),
    ModeSpec(
        "pacs",
        "6",
        "PACS",
        "The store behind query/retrieve, and the modality worklist",
        lambda app: PacsScreen(app.services),
    ),
)


def tune_gc() -> None:
    """Make Python's cyclic garbage collector cheap for a long-running app.

    Opening a big file makes tens of thousands of small objects; with the
    default thresholds (700 allocations) the collector runs hundreds of times
    meanwhile and walks every object the imports made, which doubled the time
    to the first screen of rows of a 20,000-element file. The objects made so
    far are moved out of its sight (``gc.freeze``) and it runs every 50,000
    allocations. Once per process: the real app calls it from ``run``.
    """
    global _gc_tuned
    if not _gc_tuned:
        _gc_tuned = True
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)


_gc_tuned = False

#: Modules imported in the background after start-up (see ``_preload``).
PRELOAD = (
    "dcmtui.screens.dump",
    "dcmtui.services.edit",
    "dcmtui.services.dataset_view",
)


class DcmtuiApp(App[None]):
    """The dcmtui application."""

    settings: Settings
    root: Path
    """The folder or file the Files screen opened."""
    services: Services
    listen_port: int | None = None
    """Start the receiver on mount: its port, -1 for the configured one."""
    demo: bool = False
    """The demo workspace: the receiver on a free loopback port and a
    "loopback" node in the address book pointing at it."""

    CSS_PATH = "app.tcss"
    TITLE = "dcmtui"
    SUB_TITLE = f"v{__version__}"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "q", "quit", "Quit", priority=True, tooltip="Quit dcmtui", id="app.quit"
        ),
        Binding(
            "question_mark,f1", "help", "Help", tooltip="List every key", id="app.help"
        ),
        *(
            Binding(
                spec.key,
                f"switch_mode('{spec.name}')",
                spec.title,
                tooltip=spec.help,
                id=f"app.mode-{spec.name}",
                show=False,
            )
            for spec in MODE_SPECS
        ),
    ]

    def __init__(
        self, settings: Settings, *, root: Path, services: Services | None = None
    ) -> None:
        super().__init__()
        self.settings = settings
        self.root = root
        self.services = services or Services(settings)
        for spec in MODE_SPECS:
            self.add_mode(spec.name, partial(spec.make, self))

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the app (with the collector tuned, see ``tune_gc``)."""
        tune_gc()
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(
                f"Unknown theme {self.settings.theme!r} in config.toml",
                severity="warning",
            )
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.demo and self.listen_port is None:
            self.listen_port = 0  # a free port
        if self.listen_port is not None:
            self.run_worker(self._start_receiver(), exit_on_error=False)
        self.switch_mode(MODE_SPECS[0].name)
        self.set_timer(1.0, self._preload)

    def _preload(self) -> None:
        """Import, in a thread once the first screen is up, what opening a
        file needs (the Dataset screen and its services): enter on a file
        then does not pay for the imports."""

        def load() -> None:
            for name in PRELOAD:
                importlib.import_module(name)

        self.run_worker(load, thread=True, group="preload", exit_on_error=False)

    async def _start_receiver(self) -> None:
        scp = self.services.scp
        if self.listen_port is not None and self.listen_port >= 0:
            scp.port = self.listen_port
        if self.demo:
            scp.bind = "127.0.0.1"  # the demo's receiver is for this machine only
        try:
            port = await scp.start()
        except Exception as exc:  # a DcmtuiError with a sentence, or worse
            self.notify(str(exc), severity="error", timeout=10)
            return
        self.notify(f"Receiver {scp.ae_title} listening on port {port}")
        if self.demo:
            from dcmtui.services.demo import add_loopback_node

            try:
                await asyncio.to_thread(
                    add_loopback_node, self.services.nodes, scp.ae_title, port
                )
            except Exception as exc:  # the address book is the user's file
                self.notify(f"No loopback node: {exc}", severity="warning")

    def all_screens(self) -> Iterator[Screen[object]]:
        """Every screen of every mode's stack (modes never opened have none)."""
        stacks = getattr(self, "_screen_stacks", {"": self.screen_stack})
        for stack in stacks.values():
            yield from stack

    def unsaved_screens(self) -> list[Screen[object]]:
        """Screens, in any mode, holding edits that are not saved."""
        return [
            screen
            for screen in self.all_screens()
            if getattr(getattr(screen, "doc", None), "dirty", False)
        ]

    def marked_files(self) -> list[str]:
        """The files marked in the Files mode (empty if it was never opened)."""
        for screen in self.all_screens():
            if isinstance(screen, FilesScreen):
                return sorted(screen.table.marks)
        return []

    async def action_quit(self) -> None:
        """Ask first if edits are unsaved; stop the receiver, then quit."""
        if self.unsaved_screens():
            self.confirm_quit()
        else:
            await self._stop_and_exit()

    async def _stop_and_exit(self) -> None:
        await self.services.scp.stop(grace=2)
        self.exit()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def confirm_quit(self) -> None:
        """The quit question (a worker, since it waits for the answer)."""
        from dcmtui.screens.edit_modals import ConfirmModal

        count = len(self.unsaved_screens())
        question = (
            f"{count} file{'s have' if count > 1 else ' has'} unsaved changes. "
            "Quit without saving?"
        )
        if await self.push_screen_wait(ConfirmModal(question, yes="Quit", no="Stay")):
            await self._stop_and_exit()

    def action_help(self) -> None:
        """Show every key of the current screen."""
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(binding_rows(self.screen)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for spec in MODE_SPECS:
            yield SystemCommand(
                f"{spec.title} mode ({spec.key})",
                spec.help,
                partial(self.switch_mode, spec.name),
            )
        yield SystemCommand(
            "Help: list every key", "Keys of this screen", self.action_help
        )
