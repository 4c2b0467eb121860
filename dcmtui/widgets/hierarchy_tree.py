"""Patient > Study > Series > Instance, with counts at every level."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dcmtui.models import FileRecord
from dcmtui.services.names import human_size
from dcmtui.services.text import visible


@dataclass
class Level:
    """A patient, study or series: the files below it, and its child groups."""

    kind: str
    key: str
    title: str
    paths: list[str] = field(default_factory=list)
    children: dict[str, Level] = field(default_factory=dict)


def group(records: Iterable[FileRecord]) -> dict[str, Level]:
    """Group DICOM records into patients > studies > series.

    Args:
        records: Indexed files (not-DICOM ones are ignored).

    Returns:
        Patients by key, each holding its studies and series; every level
        lists the paths of all files below it.
    """
    patients: dict[str, Level] = {}
    for r in records:
        if not r.is_dicom:
            continue
        pkey = f"{r.patient_id}\0{r.patient_name}"
        patient = patients.get(pkey)
        if patient is None:
            title = f"{r.patient_name or '(no name)'}  ID {r.patient_id or '-'}"
            patient = patients[pkey] = Level("patient", pkey, title)
        study = patient.children.get(r.study_uid)
        if study is None:
            desc = r.study_description or r.accession_number or r.study_uid or "-"
            title = f"{r.study_date or '(no date)'}  {desc}"
            study = patient.children[r.study_uid] = Level("study", r.study_uid, title)
        series = study.children.get(r.series_uid)
        if series is None:
            num = "" if r.series_number is None else f"#{r.series_number} "
            title = f"{r.modality or '??'} {num}{r.series_description}".rstrip()
            series = study.children[r.series_uid] = Level("series", r.series_uid, title)
        for level in (patient, study, series):
            level.paths.append(r.path)
    return patients


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _counts(level: Level) -> str:
    if level.kind == "patient":
        studies = len(level.children)
        series = sum(len(s.children) for s in level.children.values())
        return f"{_plural(studies, 'study')}, {series} series, "
    if level.kind == "study":
        return f"{len(level.children)} series, "
    return ""


class HierarchyTree(Tree[Level | str]):
    """The index as Patient > Study > Series > Instance.

    Instances are added when their series is expanded. Space marks or
    unmarks everything below the node under the cursor; enter on an
    instance opens it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space",
            "mark",
            "Mark",
            tooltip="Mark or unmark everything below this node",
            id="hierarchy.mark",
        ),
    ]

    @dataclass
    class MarkRequested(Message):
        """Mark (or unmark, when all are marked) these files."""

        paths: list[str]

    @dataclass
    class OpenRequested(Message):
        """Open this file."""

        path: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Patients", id=id)
        self.show_root = False
        self.records: dict[str, FileRecord] = {}
        self.marks: set[str] = set()

    def _label(self, level: Level) -> Text:
        size = sum(self.records[p].size for p in level.paths)
        marked = sum(p in self.marks for p in level.paths)
        text = Text(visible(level.title))
        text.append(
            f" · {_counts(level)}{_plural(len(level.paths), 'instance')}, "
            f"{human_size(size)}",
            style="dim",
        )
        if marked:
            text.append(f" · ● {marked} marked", style="bold")
        return text

    def show(self, records: dict[str, FileRecord], marks: set[str]) -> None:
        """Rebuild from ``records``, keeping which nodes were expanded."""
        self.records, self.marks = records, marks
        expanded = {
            node.data.key
            for node in self._tree_nodes.values()
            if isinstance(node.data, Level) and node.is_expanded
        }
        self.clear()
        for patient in group(records.values()).values():
            pnode = self.root.add(self._label(patient), data=patient)
            for study in patient.children.values():
                snode = pnode.add(self._label(study), data=study)
                for series in study.children.values():
                    node = snode.add(self._label(series), data=series)
                    node.add_leaf("…", data="")  # filled when expanded
                    if series.key in expanded:
                        node.expand()
                if study.key in expanded:
                    snode.expand()
            if patient.key in expanded or len(records) < 2000:
                pnode.expand()

    def refresh_marks(self, marks: set[str]) -> None:
        """Redraw labels after marks changed elsewhere."""
        self.marks = marks
        for node in self._tree_nodes.values():
            if isinstance(node.data, Level):
                node.set_label(self._label(node.data))
            elif node.data:
                node.set_label(self._instance_label(node.data))

    def _instance_label(self, path: str) -> Text:
        r = self.records[path]
        num = "-" if r.instance_number is None else str(r.instance_number)
        text = Text("● " if path in self.marks else "  ", style="bold")
        text.append(visible(f"Instance {num}  {path.rsplit('/', 1)[-1]}"))
        text.append(f" · {human_size(r.size)}", style="dim")
        if r.reason:
            text.append(f" · {visible(r.reason)}", style="bold red")
        return text

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Level | str]) -> None:
        node: TreeNode[Level | str] = event.node
        level = node.data
        if isinstance(level, Level) and level.kind == "series":
            node.remove_children()
            paths = sorted(
                level.paths,
                key=lambda p: (self.records[p].instance_number or 0, p),
            )
            for path in paths:
                node.add_leaf(self._instance_label(path), data=path)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Level | str]) -> None:
        if isinstance(event.node.data, str) and event.node.data:
            event.stop()
            self.post_message(self.OpenRequested(event.node.data))

    def action_mark(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        data = node.data
        paths = data.paths if isinstance(data, Level) else [data] if data else []
        if paths:
            self.post_message(self.MarkRequested(list(paths)))
