"""Modality worklist, like DCMTK's wlmscpfs: items are files in a folder.

Each item is a DICOM file (``*.dcm`` / ``*.wl``) or a DICOM JSON file
(``*.json``, PS3.18 F.2) holding one scheduled procedure: patient, visit and
request attributes at the top level, the step in Scheduled Procedure Step
Sequence. A Modality Worklist C-FIND is matched against every item with the
same rules as query/retrieve (services.qr_match), sequence matching included,
and answered with the keys the query asked for.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dcmtui.services.errors import DcmtuiError
from dcmtui.services.qr_match import element_matches, returned_element
from dcmtui.services.store import uid_name

LOGGER = logging.getLogger(__name__)
SUFFIXES = (".dcm", ".wl", ".json")


class WorklistError(DcmtuiError):
    """A worklist item could not be read or written."""


def read_item(path: Path) -> Any:
    """Read one worklist item (DICOM or DICOM JSON) as a pydicom Dataset.

    Raises:
        WorklistError: The file is neither.
    """
    from pydicom import dcmread
    from pydicom.dataset import Dataset

    try:
        if path.suffix.lower() == ".json":
            return Dataset.from_json(path.read_text(encoding="utf-8"))
        return dcmread(path, force=True)
    except Exception as exc:
        raise WorklistError(f"{path}: not a worklist item ({exc})") from exc


class Worklist:
    """The worklist folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def items(self) -> Iterator[tuple[Path, Any]]:
        """Every readable item (unreadable ones are logged and skipped)."""
        try:
            paths = sorted(
                p
                for p in self.folder.iterdir()
                if p.suffix.lower() in SUFFIXES and p.is_file()
            )
        except FileNotFoundError:
            return
        for path in paths:
            try:
                yield path, read_item(path)
            except WorklistError as exc:
                LOGGER.warning("worklist: %s", exc)

    def find(
        self, identifier: Any, cancelled: Callable[[], bool] = lambda: False
    ) -> Iterator[Any]:
        """Yield a response identifier for each item matching ``identifier``."""
        from pydicom.dataset import Dataset

        keys = [
            e
            for e in identifier
            if e.tag.group not in (0x0000, 0x0002)
            and e.keyword != "SpecificCharacterSet"
        ]
        for _path, item in self.items():
            if cancelled():
                return
            if not all(element_matches(key, item) for key in keys):
                continue
            out = Dataset()
            for key in keys:
                out.add(returned_element(key, item))
            if any(not str(e.value or "").isascii() for e in out if e.VR != "SQ"):
                out.SpecificCharacterSet = "ISO_IR 192"
            elif "SpecificCharacterSet" in item:
                out.SpecificCharacterSet = item.SpecificCharacterSet
            yield out

    def add(self, values: dict[str, Any], step: dict[str, Any]) -> Path:
        """Write a new item as DICOM JSON and return its path.

        Args:
            values: Top-level keywords (PatientName, PatientID,
                AccessionNumber, RequestedProcedureDescription, ...).
            step: Keywords of the Scheduled Procedure Step (Modality,
                ScheduledStationAETitle, ScheduledProcedureStepStartDate, ...).

        Raises:
            WorklistError: A keyword is unknown or a value does not fit.
        """
        from pydicom.dataset import Dataset
        from pydicom.uid import generate_uid

        item = Dataset()
        sps = Dataset()
        try:
            for keyword, value in values.items():
                setattr(item, keyword, value)
            for keyword, value in step.items():
                setattr(sps, keyword, value)
        except (AttributeError, ValueError, TypeError) as exc:
            raise WorklistError(f"cannot make the worklist item: {exc}") from exc
        if "StudyInstanceUID" not in item:
            item.StudyInstanceUID = generate_uid()
        item.ScheduledProcedureStepSequence = [sps]
        if not all(str(v).isascii() for v in (*values.values(), *step.values())):
            item.SpecificCharacterSet = "ISO_IR 192"
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(item.to_json_dict(), indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".item-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        final = self.folder / f"{uid_name('w', str(item.StudyInstanceUID))}.json"
        os.replace(tmp, final)
        return final
