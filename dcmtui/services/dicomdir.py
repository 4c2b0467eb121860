"""A DICOMDIR as its hierarchy, through pydicom's FileSet."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from dcmtui.models import DirNode
from dcmtui.services.errors import FileReadError

if TYPE_CHECKING:
    from pydicom.fileset import RecordNode

_LABELS = {
    "PATIENT": ("PatientName", "PatientID"),
    "STUDY": ("StudyDate", "StudyDescription", "StudyID"),
    "SERIES": ("Modality", "SeriesNumber", "SeriesDescription"),
}


def _label(node: RecordNode) -> str:
    record = node._record  # pydicom has no public accessor for a node's record
    level = str(node.record_type)
    keys = _LABELS.get(level, ("InstanceNumber",))
    parts = [
        str(record.get(k, "")) for k in keys if record.get(k, "") not in ("", None)
    ]
    return f"{level.title()} {' '.join(parts)}".strip()


def _node(node: RecordNode) -> DirNode:
    path = node.instance.path if node.instance is not None else None
    return DirNode(
        level=str(node.record_type),
        label=_label(node),
        path=path,
        children=tuple(_node(child) for child in node.children),
    )


def read_dicomdir(path: Path) -> DirNode:
    """Read a DICOMDIR into a tree of DirNode under a root for the file set.

    Raises:
        FileReadError: The file is not a readable DICOMDIR.
    """
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    try:
        fs = FileSet(dcmread(path))
    except Exception as exc:
        raise FileReadError(path, f"not a readable DICOMDIR: {exc}") from exc
    children = tuple(_node(child) for child in fs._tree.children)  # the root
    label = f"File set {fs.ID or ''} ({len(fs)} instances)".replace("  ", " ")
    return DirNode(level="FILESET", label=label, children=children)


async def load_dicomdir(path: Path) -> DirNode:
    """``read_dicomdir`` in a thread."""
    return await asyncio.to_thread(read_dicomdir, path)
