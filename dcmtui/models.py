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


@dataclass(frozen=True, slots=True)
class Node:
    """One entry of the address book (``nodes.toml``), or an ad-hoc
    ``AET@host:port`` peer."""

    name: str
    ae_title: str
    host: str
    port: int
    calling_ae: str = ""
    """Our AE title towards this node (empty: the default, ``DCMTUI``)."""
    tls_ca: str = ""
    """CA certificate file (PEM) that signs the node's certificate; TLS is on
    when this or ``tls_cert`` is set."""
    tls_cert: str = ""
    """Our client certificate (PEM)."""
    tls_key: str = ""
    """The key of our client certificate (PEM)."""
    transfer_syntaxes: tuple[str, ...] = ()
    """Preferred transfer syntax UIDs, best first (empty: the usual ones)."""
    max_pdu: int = 0
    """Largest PDU we accept from the node (0: dcmtui's default)."""
    retrieve: str = "C-MOVE"
    """How to retrieve from this node: ``C-MOVE`` or ``C-GET``."""
    move_destination: str = ""
    """AE title the node sends C-MOVE results to (empty: our receiver)."""
    notes: str = ""

    @property
    def tls(self) -> bool:
        """True when associations to this node use TLS."""
        return bool(self.tls_ca or self.tls_cert)

    @property
    def address(self) -> str:
        """``AET@host:port``."""
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class EchoResult:
    """The outcome of one C-ECHO."""

    node: str
    ok: bool
    ms: float
    """Round trip of the C-ECHO request and response, in milliseconds (the
    whole exchange, association included, when it failed)."""
    when: float
    """Seconds since the epoch."""
    status: int | None = None
    detail: str = ""
    """For a failure: what went wrong and what to try."""


@dataclass(frozen=True, slots=True)
class FileSendStatus:
    """What happened to one file of a send."""

    path: str
    state: str
    """``sent``, ``warning``, ``failed``, ``skipped`` (sent before: resumed),
    ``converted`` (sent in another transfer syntax), ``refused`` (pre-flight)."""
    status: int | None = None
    detail: str = ""
    nbytes: int = 0


@dataclass(slots=True)
class SendProgress:
    """Counters of a running (or finished) send."""

    total_files: int = 0
    total_bytes: int = 0
    done_files: int = 0
    done_bytes: int = 0
    sent: int = 0
    warnings: int = 0
    failed: int = 0
    skipped: int = 0
    converted: int = 0
    elapsed: float = 0.0
    done: bool = False
    last: FileSendStatus | None = None
    """The file that just finished."""

    @property
    def mb_per_s(self) -> float:
        """Throughput so far, in MB/s (10^6 bytes)."""
        return self.done_bytes / 1e6 / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated time left, or None before there is anything to go by."""
        if self.done_bytes <= 0 or self.elapsed <= 0:
            return None
        rate = self.done_bytes / self.elapsed
        return max(0.0, (self.total_bytes - self.done_bytes) / rate)


@dataclass(frozen=True, slots=True)
class FindResult:
    """One C-FIND match: the returned keys, keyword to text value."""

    level: str
    values: dict[str, str]
    """Keyword (or ``(gggg,eeee)`` when it has none) to the value as text."""


@dataclass(frozen=True, slots=True)
class RetrieveProgress:
    """Sub-operation counters of a C-MOVE or C-GET, from one response."""

    remaining: int | None
    completed: int
    failed: int
    warning: int
    status: int
    done: bool = False
    received: tuple[str, ...] = ()
    """Files written so far (C-GET only)."""
    detail: str = ""
