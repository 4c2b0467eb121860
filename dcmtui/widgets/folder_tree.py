"""The folder tree beside the files table: folders that hold DICOM files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dcmtui.models import FileRecord
from dcmtui.services.text import visible


class FolderTree(Tree[str]):
    """Folders below the root that hold indexed files, with file counts.

    Selecting a folder posts FolderSelected; the screen filters the table.
    """

    DEFAULT_CSS = """
    FolderTree { width: 32; border-right: vkey $panel; }
    """

    @dataclass
    class FolderSelected(Message):
        """The user chose a folder (its absolute path)."""

        path: str

    def __init__(self, root: str, *, id: str | None = None) -> None:
        super().__init__(
            self._label(os.path.basename(root) or root, 0), data=root, id=id
        )
        self.root_path = root
        self._folder_nodes: dict[str, TreeNode[str]] = {root: self.root}
        self._counts: dict[str, int] = {root: 0}
        self._files: set[str] = set()
        self.root.expand()

    @staticmethod
    def _label(name: str, count: int) -> Text:
        return Text.assemble(visible(name), (f" ({count})", "dim"))

    def _node(self, folder: str) -> TreeNode[str]:
        node = self._folder_nodes.get(folder)
        if node is None:
            parent = self._node(os.path.dirname(folder))
            node = parent.add(self._label(os.path.basename(folder), 0), data=folder)
            if parent is self.root:
                node.expand()
            self._folder_nodes[folder] = node
            self._counts[folder] = 0
        return node

    def _apply(self, deltas: dict[str, int]) -> None:
        """Add file-count deltas to folders and all their ancestors, then
        relabel each changed folder once."""
        changed: dict[str, int] = {}
        for folder, delta in deltas.items():
            if not folder.startswith(self.root_path):
                folder = self.root_path
            while True:
                changed[folder] = changed.get(folder, 0) + delta
                if len(folder) <= len(self.root_path):
                    break
                folder = os.path.dirname(folder)
        for folder in sorted(changed, key=len):  # parents before children
            node = self._node(folder)
            self._counts[folder] += changed[folder]
            name = os.path.basename(folder) or folder
            node.set_label(self._label(name, self._counts[folder]))

    def add_records(self, records: Iterable[FileRecord]) -> None:
        """Count new files into their folders (creating folders as needed)."""
        deltas: dict[str, int] = {}
        gone: list[str] = []
        for record in records:
            if not record.is_dicom:
                gone.append(record.path)
            elif record.path not in self._files:
                self._files.add(record.path)
                folder = os.path.dirname(record.path)
                deltas[folder] = deltas.get(folder, 0) + 1
        self._apply(deltas)
        self.remove_paths(gone)

    def remove_paths(self, paths: Iterable[str]) -> None:
        """Uncount files that are gone."""
        deltas: dict[str, int] = {}
        for path in paths:
            if path in self._files:
                self._files.discard(path)
                folder = os.path.dirname(path)
                deltas[folder] = deltas.get(folder, 0) - 1
        self._apply(deltas)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.FolderSelected(event.node.data))
