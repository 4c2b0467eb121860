"""The Dataset screen: dcmdump as a tree-table, with lossless inline editing.

Pushed from the Files screen with ``DumpScreen(services, path, record)``. The
file is walked in a thread (:mod:`dcmtui.services.dataset`); rows are decoded
as they are drawn. Edits go through :class:`dcmtui.services.edit.Document`,
which changes the bytes of the edited element only; saves go through
:mod:`dcmtui.services.save` (atomic, optional .bak, changed-on-disk check).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from dcmtui.models import FileKind, FileRecord
from dcmtui.screens.edit_modals import (
    ConfirmModal,
    EditValueModal,
    InsertModal,
    PathModal,
    TextModal,
)
from dcmtui.screens.optional import optional_feature
from dcmtui.services.text import visible
from dcmtui.widgets.tag_table import TagTable, header_text

if TYPE_CHECKING:
    from dcmtui.services.container import Services
    from dcmtui.services.dataset import Elem, Item
    from dcmtui.services.dataset_view import DatasetView
    from dcmtui.services.edit import Change, Document


def _b(
    key: str, action: str, text: str, tip: str, name: str, show: bool = True
) -> Binding:
    return Binding(key, action, text, tooltip=tip, id=f"dump.{name}", show=show)


class DumpScreen(Screen[None]):
    """dcmdump as a table, with editing; pushed from the Files screen."""

    DEFAULT_CSS = """
    DumpScreen {
        & #banner { background: $error; color: $text; padding: 0 1; height: auto; }
        & #columns { height: 1; padding: 0 0; color: $text-muted; }
        & #body { height: 1fr; }
        & #detail {
            width: 30; border-left: solid $panel; padding: 0 1; height: 1fr;
            overflow-y: auto;
        }
        & #detail.-hidden { display: none; }
        & #find { dock: bottom; display: none; }
        & #find.-open { display: block; }
        & #status { height: 1; color: $text-muted; padding: 0 1; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        _b("escape,backspace", "back", "Back", "Back to the Files screen", "back"),
        _b(
            "enter",
            "activate",
            "Open/Edit",
            "Expand or collapse a sequence; edit a value",
            "activate",
            show=False,
        ),
        _b("e", "edit", "Edit", "Edit the value of the element", "edit"),
        _b("i", "insert", "Insert", "Insert an element here", "insert"),
        _b("delete,d", "delete", "Delete", "Delete the element or item", "delete"),
        _b("a", "add_item", "Add item", "Add an item to the sequence", "add-item"),
        _b("ctrl+z,u", "undo", "Undo", "Undo the last edit", "undo"),
        _b("ctrl+y,U", "redo", "Redo", "Redo the last undone edit", "redo"),
        _b("ctrl+s", "save", "Save", "Save the file (atomic)", "save"),
        _b("S", "save_as", "Save as", "Save to another file", "save-as", show=False),
        _b("D", "diff", "Changes", "Show the pending changes", "diff"),
        _b(
            "E",
            "edit_text",
            "Edit as text",
            "Edit the data set as text in $EDITOR (like dcmdump/dump2dcm)",
            "edit-text",
            show=False,
        ),
        _b(
            "c",
            "command",
            "dcmodify",
            "Show the dcmodify command of the edits",
            "command",
            show=False,
        ),
        _b("slash", "find", "Find", "Find a tag, keyword or text", "find"),
        _b("n", "find_next(False)", "Next", "Next match", "find-next", show=False),
        _b(
            "N",
            "find_next(True)",
            "Previous",
            "Previous match",
            "find-previous",
            show=False,
        ),
        _b(
            "space,right,left",
            "toggle_row",
            "Expand",
            "Expand or collapse",
            "toggle",
            show=False,
        ),
        _b(
            "plus",
            "expand_all",
            "Expand all",
            "Expand every sequence",
            "expand-all",
            show=False,
        ),
        _b(
            "minus",
            "collapse_all",
            "Collapse all",
            "Collapse every sequence",
            "collapse-all",
            show=False,
        ),
        _b(
            "p",
            "toggle_private",
            "Private",
            "Show or hide private elements",
            "private",
            show=False,
        ),
        _b(
            "m",
            "toggle_meta",
            "Meta",
            "Show or hide the file meta group",
            "meta",
            show=False,
        ),
        _b(
            "g",
            "toggle_lengths",
            "Group lengths",
            "Show or hide group lengths",
            "group-lengths",
            show=False,
        ),
        _b(
            "v",
            "toggle_detail",
            "Detail",
            "Show or hide the detail pane",
            "detail",
            show=False,
        ),
        _b("P", "preview", "Preview", "Show the image (pixel data)", "preview", False),
        _b(
            "equals_sign",
            "diff_disk",
            "Diff with disk",
            "Compare the unsaved edits with the file on disk, element by element",
            "diff-disk",
            False,
        ),
    ]

    def __init__(
        self, services: Services, path: Path, record: FileRecord | None
    ) -> None:
        super().__init__()
        self.services = services
        self.path = path
        self.record = record
        self.doc: Document | None = None
        self.view: DatasetView | None = None
        self.query_text = ""
        self._toggles = {"private": True, "meta": True, "lengths": True}

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        with Horizontal(id="body"):
            with Vertical():
                yield Static(header_text(), id="columns")
                yield TagTable(id="elements")
            yield Static("", id="detail")
        yield Static("", id="status")
        yield Input(
            placeholder="find: (0010,0010), PatientName or text; enter", id="find"
        )
        yield Footer()

    @property
    def table(self) -> TagTable:
        """The tree-table of elements."""
        return self.query_one(TagTable)

    def on_mount(self) -> None:
        self.title = "Dataset"
        self.sub_title = visible(str(self.path))
        self.query_one("#banner", Static).display = False
        if self.record is not None and self.record.kind is FileKind.DAMAGED:
            self._show_banner(f"Damaged file, read-only: {self.record.reason}")
        self.table.focus()
        self.load()

    def _show_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(Text(visible(text)))
        banner.display = True

    # -- loading -------------------------------------------------------------

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        """Walk the file in a thread and show its rows."""

        def open_and_list() -> tuple[Document, DatasetView]:
            # Both in the thread: the walk and the list of rows to show.
            from dcmtui.services.edit import open_document

            doc = open_document(self.path)
            return doc, self._make_view(doc)

        try:
            doc, view = await asyncio.to_thread(open_and_list)
        except (RecursionError, MemoryError) as exc:
            self._show_banner(f"Cannot open: {type(exc).__name__}; the file is damaged")
            return
        self.doc = doc
        if why := doc.readonly_reason:
            self._show_banner(why.capitalize())
        self._refresh_view(0, view)
        # Prepare find in the background once the first rows are painted (a
        # thread started at once would slow the first paint down).
        await asyncio.sleep(0.3)
        if self.view is not None:
            await asyncio.to_thread(self.view.search_index)

    def _make_view(self, doc: Document) -> DatasetView:
        from dcmtui.services.dataset_view import DatasetView

        same = self.view is not None and self.view.parsed is doc.current
        return DatasetView(
            doc.current,
            private=self._toggles["private"],
            meta=self._toggles["meta"],
            group_lengths=self._toggles["lengths"],
            collapsed=self.view.collapsed if same and self.view else None,
        )

    def _refresh_view(
        self, cursor: int | None = None, view: DatasetView | None = None
    ) -> None:
        if self.doc is None:
            return
        view = view or self._make_view(self.doc)
        self.view = view
        self.table.edited = {
            _last_tag(c.path) for c in self.doc.changes if c.kind != "add item"
        }
        self.table.set_source(view, cursor)
        self._update_status()

    def _update_status(self) -> None:
        doc = self.doc
        if doc is None:
            return
        parts = [f"{len(self.view or [])} rows"]
        if doc.dirty:
            parts.append(f"{len(doc.changes)} unsaved change(s): ctrl+s saves, D lists")
        if doc.readonly_reason:
            parts.append("read-only")
        hidden = [n for n, on_ in self._toggles.items() if not on_]
        if hidden:
            parts.append("hidden: " + ", ".join(hidden))
        self.query_one("#status", Static).update(Text(" · ".join(parts)))
        self.title = "Dataset" + (" [modified]" if doc.dirty else "")

    @on(TagTable.Highlighted)
    def _highlighted(self, event: TagTable.Highlighted) -> None:
        self._show_detail(event.index)

    def _show_detail(self, index: int) -> None:
        detail = self.query_one("#detail", Static)
        view = self.view
        if view is None or not 0 <= index < len(view):
            detail.update("")
            return
        row = view.row(index)
        node = view.node(index)
        lines = Text()
        if row.kind == "element":
            lines.append(f"{row.tag_text} {row.vr}  VM {row.vm}\n", style="bold")
            lines.append(visible(row.keyword) + "\n")
            if row.creator:
                lines.append(f"private, creator {visible(row.creator)}\n")
        else:
            lines.append(visible(row.keyword) + "\n", style="bold")
        length = "undefined" if row.length is None else f"{row.length:,} bytes"
        lines.append(f"length {length}, offset {node.hstart:,}\n")
        from dcmtui.services.edit import path_of

        lines.append(f"path {path_of(node)}\n\n")
        lines.append(visible(view.full_value(index)))
        detail.update(lines)

    # -- tree and filters ----------------------------------------------------

    def _node(self) -> Elem | Item | None:
        if self.view is None or not len(self.view):
            return None
        return self.view.node(self.table.cursor)

    def action_toggle_row(self) -> None:
        """Expand or collapse the sequence or item under the cursor."""
        if self.view is None or not len(self.view):
            return
        row = self.view.row(self.table.cursor)
        if row.expandable:
            self.view.toggle(self.table.cursor)
            self.table.set_source(self.view)

    def action_activate(self) -> None:
        """Enter: expand/collapse a sequence or item, edit an element."""
        if self.view is None or not len(self.view):
            return
        if self.view.row(self.table.cursor).expandable:
            self.action_toggle_row()
        else:
            self.action_edit()

    def action_expand_all(self) -> None:
        """Expand every sequence."""
        if self.view is not None:
            node = self._node()
            self.view.expand_all()
            self.table.set_source(self.view, self._index_of(node))

    def action_collapse_all(self) -> None:
        """Collapse every sequence."""
        if self.view is not None:
            self.view.collapse_all()
            self.table.set_source(self.view, 0)

    def _index_of(self, node: Elem | Item | None) -> int | None:
        if node is None or self.view is None:
            return None
        return self.view.index_of(node)

    def _set_toggle(self, name: str) -> None:
        self._toggles[name] = not self._toggles[name]
        if self.view is not None:
            node = self._node()
            self.view.show_private = self._toggles["private"]
            self.view.show_meta = self._toggles["meta"]
            self.view.show_group_lengths = self._toggles["lengths"]
            self.view.refresh()
            self.table.set_source(self.view, self._index_of(node) or 0)
        self._update_status()

    def action_toggle_private(self) -> None:
        """Show or hide private elements."""
        self._set_toggle("private")

    def action_toggle_meta(self) -> None:
        """Show or hide the file meta group."""
        self._set_toggle("meta")

    def action_toggle_lengths(self) -> None:
        """Show or hide group length elements."""
        self._set_toggle("lengths")

    @optional_feature
    def action_diff_disk(self) -> None:
        """The file on disk against its unsaved edits, element by element."""
        from dcmtui.screens.diff import DiffScreen

        if self.doc is None or not self.doc.dirty:
            self.notify("No unsaved edits to compare.", timeout=3)
            return
        edited = bytes(self.doc.data())
        self.app.push_screen(DiffScreen(self.services, self.path, self.path, edited))

    @optional_feature
    def action_preview(self) -> None:
        """Open the image preview of this file (as saved on disk)."""
        from dcmtui.screens.preview import PreviewScreen

        self.app.push_screen(PreviewScreen(self.services, self.path))

    def action_toggle_detail(self) -> None:
        """Show or hide the detail pane."""
        self.query_one("#detail").toggle_class("-hidden")

    # -- find ------------------------------------------------------------------

    def action_find(self) -> None:
        """Open the find line."""
        find = self.query_one("#find", Input)
        find.add_class("-open")
        find.value = self.query_text
        find.focus()

    @on(Input.Submitted, "#find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        self.query_text = event.value
        event.input.remove_class("-open")
        self.table.focus()
        self.action_find_next(False)

    def key_escape(self) -> bool | None:
        find = self.query_one("#find", Input)
        if find.has_class("-open"):
            find.remove_class("-open")
            self.table.focus()
            return True
        return None

    def action_find_next(self, backward: bool) -> None:
        """Go to the next (or previous) match of the find text."""
        if self.view is None or not self.query_text:
            return
        found = self.view.find(self.query_text, self.table.cursor, backward)
        if found is None:
            self.notify(f"Not found: {visible(self.query_text)}", severity="warning")
            return
        self.table.set_source(self.view, found)

    # -- editing ---------------------------------------------------------------

    def _editable(self) -> bool:
        if self.doc is None:
            return False
        if why := self.doc.readonly_reason:
            self.notify(why, severity="warning")
            return False
        return True

    def action_edit(self) -> None:
        """Edit the value of the element under the cursor."""
        from dcmtui.services.dataset import Elem

        node = self._node()
        if not self._editable() or not isinstance(node, Elem):
            if node is not None and not isinstance(node, Elem):
                self.notify(
                    "Items have no value; edit their elements", severity="warning"
                )
            return
        if node.items is not None or node.frags is not None:
            self.notify(
                "Sequences and pixel data have no text value", severity="warning"
            )
            return
        self.run_edit(node)

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def run_edit(self, elem: Elem) -> None:
        """Ask for the new value, then apply it."""
        from dcmtui.services.dataset_view import decode
        from dcmtui.services.values import ValueRefused

        doc = self.doc
        assert doc is not None and self.view is not None
        row = self.view.row(self.table.cursor)
        meta = doc._is_meta(elem)
        old = "\\".join(decode(doc.current, elem)[0])

        def check(text: str) -> str:
            try:
                doc.encode_value(elem.parent, elem.tag, elem.vr, text, meta)
            except ValueRefused as exc:
                return str(exc)
            return ""

        title = f"{row.tag_text} {row.vr} {row.keyword}"
        text = await self.app.push_screen_wait(EditValueModal(title, old, check))
        if text is None or text == old:
            return
        await self._apply(lambda: doc.set_value(elem, text))

    async def _apply(self, edit: object) -> None:
        """Run an edit in a thread; show the result or the reason it failed."""
        from dcmtui.services.errors import DcmtuiError

        cursor = self.table.cursor
        try:
            change: Change = await asyncio.to_thread(edit)  # type: ignore[arg-type]
        except DcmtuiError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self._refresh_view(cursor)
        self.notify(visible(change.describe()), timeout=3)

    def action_insert(self) -> None:
        """Insert an element beside the cursor (in the same item)."""
        from dcmtui.services.dataset import Elem, Item

        if not self._editable():
            return
        node = self._node()
        container: Item | None = None
        if isinstance(node, Item):
            container = node
        elif isinstance(node, Elem):
            container = node.parent
        self.run_insert(container)

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def run_insert(self, container: Item | None) -> None:
        """Ask for the tag, VR and value; insert the element."""
        from dcmtui.services.edit import EditRefused, path_of
        from dcmtui.services.tagpath import TagPathError, parse_tag, vr_for_insert
        from dcmtui.services.values import ValueRefused

        doc = self.doc
        assert doc is not None

        def lookup(text: str) -> tuple[int | None, str, str]:
            try:
                tag = parse_tag(text)
            except TagPathError as exc:
                return None, "", str(exc)
            try:
                return tag, vr_for_insert(doc, container, tag), ""
            except EditRefused as exc:
                # A private tag of an unknown creator: the user gives the VR.
                return tag, "", "" if "not in the dictionary" in str(exc) else str(exc)

        def check(tag: int, vr: str, value: str) -> str:
            elems = container.elems if container is not None else doc.current.data
            if any(e.tag == tag for e in elems):
                return "already there: edit it instead"
            if vr == "SQ":
                return "" if not value else "a new sequence starts empty"
            try:
                doc.encode_value(container, tag, vr, value)
            except ValueRefused as exc:
                return str(exc)
            return ""

        where = "the data set" if container is None else path_of(container)
        new = await self.app.push_screen_wait(InsertModal(where, lookup, check))
        if new is None:
            return
        await self._apply(lambda: doc.insert(container, new.tag, new.vr, new.value))

    def action_delete(self) -> None:
        """Delete the element, or remove the item, under the cursor."""
        node = self._node()
        if node is None or not self._editable():
            return
        doc = self.doc
        assert doc is not None
        self.run_delete(node)

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def run_delete(self, node: Elem | Item) -> None:
        """Delete after asking for sequences and items (they hold more)."""
        from dcmtui.services.dataset import Item
        from dcmtui.services.edit import path_of

        doc = self.doc
        assert doc is not None
        if isinstance(node, Item) or node.items:
            ok = await self.app.push_screen_wait(
                ConfirmModal(f"Delete {path_of(node)} and everything in it?")
            )
            if not ok:
                return
        await self._apply(lambda: doc.delete(node))

    def action_add_item(self) -> None:
        """Add an empty item to the sequence under the cursor."""
        from dcmtui.services.dataset import Elem, Item

        node = self._node()
        if not self._editable() or node is None:
            return
        seq = node.parent if isinstance(node, Item) else node
        if not isinstance(seq, Elem) or seq.items is None:
            self.notify(
                "Put the cursor on a sequence or one of its items", severity="warning"
            )
            return
        doc = self.doc
        assert doc is not None
        self.run_worker(
            self._apply(lambda: doc.add_item(seq)), group="edit", exit_on_error=False
        )

    def action_undo(self) -> None:
        """Undo the last edit."""
        if self.doc is not None and self.doc.undo():
            self._refresh_view()
            self.notify("Undone", timeout=2)

    def action_redo(self) -> None:
        """Redo the last undone edit."""
        if self.doc is not None and self.doc.redo():
            self._refresh_view()
            self.notify("Redone", timeout=2)

    def action_edit_text(self) -> None:
        """Open the data set as text in ``$EDITOR``; apply what changed."""
        if self._editable():
            self.run_edit_text()

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def run_edit_text(self) -> None:
        """The text round trip: dump, edit, apply as ordinary edits, show them.

        Each difference becomes an edit with the usual checks (VR, VM,
        character set) and lossless splicing, all or nothing; nothing is saved
        until ctrl+s, and the pending changes are shown first.
        """
        from textual.app import SuspendNotSupported

        from dcmtui.services.dump_text import (
            apply_text,
            document_text,
            parse_text,
            run_editor,
        )
        from dcmtui.services.errors import DcmtuiError

        doc = self.doc
        assert doc is not None
        cursor = self.table.cursor
        text = original = await asyncio.to_thread(document_text, doc)
        while True:
            try:
                try:
                    with self.app.suspend():
                        edited = run_editor(text, self.path.name)
                except SuspendNotSupported:  # no terminal to hand over (tests, web)
                    edited = await asyncio.to_thread(run_editor, text, self.path.name)
            except DcmtuiError as exc:  # the editor did not start or failed
                self.notify(visible(str(exc)), severity="error", timeout=10)
                return
            if edited == original:
                self.notify("The text was not changed.", timeout=3)
                return
            try:
                parsed = await asyncio.to_thread(parse_text, edited)
                changes = await asyncio.to_thread(apply_text, doc, parsed)
                break
            except DcmtuiError as exc:  # a refused value: nothing was applied
                self.notify(visible(str(exc)), severity="error", timeout=10)
                again = await self.app.push_screen_wait(
                    ConfirmModal(
                        f"{exc}. Edit the text again?", yes="Edit again", no="Discard"
                    )
                )
                if not again:
                    return
                text = edited  # back to the editor with the user's own text
        if not changes:  # only comments or spacing differ
            self.notify("The text describes no change.", timeout=3)
            return
        self._refresh_view(cursor)
        self.notify(
            f"{len(changes)} change(s) from the text: ctrl+s saves, u undoes",
            timeout=5,
        )
        self.action_diff()

    def action_diff(self) -> None:
        """Show the pending changes."""
        if self.doc is not None:
            lines = [c.describe() for c in self.doc.changes]
            self.app.push_screen(TextModal("Pending changes (unsaved)", lines))

    def action_command(self) -> None:
        """Show the dcmodify command lines equivalent to the pending edits."""
        if self.doc is not None:
            lines = [c.dcmodify for c in self.doc.changes if c.dcmodify]
            self.app.push_screen(TextModal("The same with dcmodify", lines))

    # -- saving and leaving --------------------------------------------------------

    def action_save(self) -> None:
        """Save over the file (atomic; .bak by setting)."""
        if self.doc is not None:
            self.run_save(None)

    def action_save_as(self) -> None:
        """Save to another file."""
        if self.doc is not None:
            self.ask_save_as()

    @work(exclusive=True, group="save", exit_on_error=False)
    async def ask_save_as(self) -> None:
        """Ask for a path, then save there."""
        answer = await self.app.push_screen_wait(
            PathModal("Save as", str(self.path.with_name("copy-" + self.path.name)))
        )
        if answer:
            self._save_to(answer)

    def _save_to(self, answer: str) -> None:
        self.run_save(Path(answer).expanduser())

    @work(exclusive=True, group="save", exit_on_error=False)
    async def run_save(self, target: Path | None) -> None:
        """Save; ask before overwriting a file changed on disk."""
        from dcmtui.services.save import FileChangedOnDisk, SaveError, save

        doc = self.doc
        assert doc is not None
        backup = self.services.settings.backup_on_save
        try:
            written = await save(doc, target, backup=backup)
        except FileChangedOnDisk as exc:
            ok = await self.app.push_screen_wait(
                ConfirmModal(f"{exc}. Overwrite it?", yes="Overwrite", no="Keep")
            )
            if not ok:
                return
            try:
                written = await save(doc, target, backup=backup, force=True)
            except SaveError as exc2:
                self.notify(str(exc2), severity="error", timeout=10)
                return
        except SaveError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        self._refresh_view()
        self.notify(f"Saved {visible(str(written))}", timeout=4)

    def action_back(self) -> None:
        """Leave; ask first when there are unsaved changes."""
        if self.doc is not None and self.doc.dirty:
            self.ask_leave()
        else:
            self.app.pop_screen()

    @work(exclusive=True, group="leave", exit_on_error=False)
    async def ask_leave(self) -> None:
        """Ask before dropping unsaved changes."""
        ok = await self.app.push_screen_wait(
            ConfirmModal("Leave without saving the changes?", yes="Leave", no="Stay")
        )
        if ok:
            self.app.pop_screen()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            if event.worker.group == "load":
                self._show_banner(f"Cannot open: {error}")
            self.notify(visible(str(error)), severity="error", timeout=8)


def _last_tag(path: str) -> int:
    last = path.split(".")[-1].split("[")[0].strip("()")
    try:
        return int(last.replace(",", ""), 16)
    except ValueError:
        return -1
