"""Services: the one object the app and the headless commands share."""

from __future__ import annotations

from dataclasses import dataclass, field

from dcmtui.config import Settings
from dcmtui.services.events import EventBus
from dcmtui.services.files import Indexer
from dcmtui.services.nodes import NodeBook
from dcmtui.services.scp import StoreScp
from dcmtui.services.scu import Scu


@dataclass
class Services:
    """Every service, built from the settings."""

    settings: Settings
    indexer: Indexer = field(init=False)
    events: EventBus = field(default_factory=EventBus)
    """Every association, incoming and outgoing."""
    nodes: NodeBook = field(init=False)
    """The address book (nodes.toml)."""
    scu: Scu = field(init=False)
    """The network client; its associations go into ``events``."""
    scp: StoreScp = field(init=False)
    """The built-in receiver (not started); its associations go into ``events``."""

    def __post_init__(self) -> None:
        self.indexer = Indexer(
            self.settings.index_path,
            follow_symlinks=self.settings.follow_symlinks,
            show_hidden=self.settings.show_hidden,
        )
        self.nodes = NodeBook.in_folder(self.settings.config_dir)
        self.scu = Scu(self.events)
        self.scp = StoreScp(self.settings, self.events)
