"""Frozen dataclasses shared by every layer.

Nothing here imports pydicom, pynetdicom, textual or rich: models are plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FileKind(StrEnum):
    """What the indexer found a file to be."""

    DICOM = "dicom"
    """A DICOM file whose header parsed cleanly."""
    DAMAGED = "damaged"
    """A file that is DICOM but broken: truncated, bad length, bad meta header."""
    DICOMDIR = "dicomdir"
    """A DICOMDIR (Media Storage Directory Storage)."""
    OTHER = "other"
    """Not DICOM; skipped and counted."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file as the index knows it: the few tags the Files screen shows.

    Text values are decoded with the file's character set and kept exactly as
    found (no escaping); the UI makes them safe to show.
    """

    path: str
    size: int
    mtime_ns: int
    kind: FileKind
    reason: str = ""
    """Why a file is DAMAGED, in a few words (empty otherwise)."""
    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    modality: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    instance_number: int | None = None
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    transfer_syntax_uid: str = ""

    @property
    def is_dicom(self) -> bool:
        """True for files shown in the table (clean or damaged DICOM, DICOMDIR)."""
        return self.kind is not FileKind.OTHER


@dataclass(frozen=True, slots=True)
class ScanWarning:
    """Something the scan could not read, which is counted, never fatal."""

    path: str
    reason: str


@dataclass(slots=True)
class ScanProgress:
    """Counters of a running (or finished) scan; `batch` holds new records."""

    seen: int = 0
    """Files looked at (stat'ed), including unchanged ones."""
    dicom: int = 0
    damaged: int = 0
    other: int = 0
    read: int = 0
    """Files actually opened and parsed (new or changed since the last scan)."""
    removed: int = 0
    """Rows dropped because their file is gone."""
    warnings: list[ScanWarning] = field(default_factory=list)
    elapsed: float = 0.0
    done: bool = False
    cancelled: bool = False
    batch: list[FileRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """What `dcmtui index` prints."""

    root: str
    files: int
    dicom: int
    damaged: int
    other: int
    read: int
    patients: int
    studies: int
    series: int
    warnings: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ElementRow:
    """One data element as a read-only table row (tag, VR, name, value)."""

    depth: int
    tag: str
    vr: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class DirNode:
    """One record of a DICOMDIR (patient, study, series or instance)."""

    level: str
    """PATIENT, STUDY, SERIES, IMAGE, ... (the Directory Record Type)."""
    label: str
    path: str | None = None
    """The referenced file, for instance records that have one."""
    children: tuple[DirNode, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextResult:
    """One presentation context of an association, as negotiated."""

    abstract_syntax: str
    transfer_syntax: str
    """The accepted transfer syntax, or the proposed ones joined by ``\\``."""
    result: str
    """"accepted", or the reason it was rejected."""


@dataclass(frozen=True, slots=True)
class AssocEvent:
    """One event of one association, incoming or outgoing.

    Every association the receiver accepts and every one the network client
    opens emits these into the same EventBus; the Associations screen and
    ``associations.jsonl`` are built from them. Text fields hold peer data
    as received: whoever shows them escapes them (services.text.visible).
    """

    time: float
    """Seconds since the epoch."""
    assoc_id: str
    """Unique per association within a process, e.g. ``in-12`` or ``out-3``."""
    direction: str
    """``in`` (we are the acceptor) or ``out`` (we requested it)."""
    kind: str
    """requested, accepted, rejected, released, aborted, failed (never
    associated), or a DIMSE operation: c-echo, c-store, c-find, c-move, c-get."""
    peer_host: str = ""
    peer_port: int = 0
    calling_ae: str = ""
    called_ae: str = ""
    status: int | None = None
    """DIMSE status of an operation, or None."""
    detail: str = ""
    """What happened, in words (for failures: the cause and the fix to try)."""
    nbytes: int = 0
    """Bytes of the data set of a c-store (or received so far)."""
    contexts: tuple[ContextResult, ...] = ()
    """On accepted/rejected: the presentation contexts and their results."""
