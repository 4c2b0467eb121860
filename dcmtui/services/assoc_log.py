"""The association log: JSON lines on disk, followed live, folded into rows.

``JsonlSink`` appends every AssocEvent to ``associations.jsonl`` (rotating);
``follow`` reads such a file like ``tail -f`` (across rotations); ``AssocBook``
folds events into one ``AssocRow`` per association, with counters, and
``explain`` turns a failure into a plain-language cause and the fix to try.
Nothing here shows anything: callers escape peer text with ``visible``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

from dcmtui.models import AssocEvent, ContextResult
from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.text import visible

LOGGER = logging.getLogger(__name__)
LOG_NAME = "associations.jsonl"
OUTCOMES = ("open", "released", "aborted", "rejected", "failed")
_END_KINDS = {"released", "aborted", "rejected", "failed"}
_OPERATION_KINDS = frozenset({"c-echo", "c-store", "c-find", "c-move", "c-get"})


# --- JSON lines -------------------------------------------------------------


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
_FIELDS = tuple(f.name for f in fields(AssocEvent))
_CONTEXT_FIELDS = tuple(f.name for f in fields(ContextResult))


def to_json(event: AssocEvent) -> str:
    """One JSON line (no newline) for an event."""
    # Not dataclasses.asdict: it deep-copies every value (a few times slower).
    raw = {name: getattr(event, name) for name in _FIELDS}
    raw["contexts"] = [
        {name: getattr(c, name) for name in _CONTEXT_FIELDS} for c in event.contexts
    ]
    return _ENCODE(raw)


def from_json(line: str) -> AssocEvent | None:
    """The event of one JSON line, or None when the line is not one."""
    try:
        raw = json.loads(line)
        if not isinstance(raw, dict):
            return None
        contexts = tuple(ContextResult(**c) for c in raw.pop("contexts", []) or [])
        return AssocEvent(**raw, contexts=contexts)
    except (ValueError, TypeError):
        return None


class JsonlSink:
    """An EventBus sink that appends events to a rotating JSON-lines file.

    Association events (requested, accepted, released...) are written at
    once; operation events (one per object received) are only queued, and a
    small thread encodes and writes them every ``flush_every`` seconds (or
    the next association event does), so that a fast receiver spends neither
    the encoding nor a system call per object. Order is kept. ``close``
    writes what is left.
    """

    def __init__(
        self,
        path: Path,
        max_bytes: int = 10 << 20,
        backups: int = 5,
        flush_every: float = 0.25,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._size = self._f.tell()
        self._queued: deque[AssocEvent] = deque()
        self._closed = threading.Event()
        self._every = flush_every
        self._flusher = threading.Thread(
            target=self._flush_loop, daemon=True, name="dcmtui-assoc-log"
        )
        self._flusher.start()

    def __call__(self, event: AssocEvent) -> None:
        """Append one event (thread-safe, never raises)."""
        if event.kind in _OPERATION_KINDS and not self._closed.is_set():
            self._queued.append(event)  # deque: safe from any thread
            return
        with self._lock:
            self._queued.append(event)
            self._write()

    def _write(self, *, final: bool = False) -> None:
        """Encode and write the queued events (with the lock held); at most
        one rotation unless ``final``: what is left waits for the next turn."""
        queued = self._queued
        if not queued:
            return
        rotated = False
        try:
            while queued:
                event = queued.popleft()
                line = to_json(event) + "\n"  # ASCII only: characters are bytes
                if self.max_bytes and self._size + len(line) > self.max_bytes:
                    if rotated and not final:  # once a turn: followers keep up
                        queued.appendleft(event)
                        break
                    self._rotate()
                    rotated = True
                self._f.write(line)
                self._size += len(line)
            self._f.flush()
        except (OSError, ValueError):
            LOGGER.exception("cannot write %s", self.path)

    def _flush_loop(self) -> None:
        while not self._closed.wait(self._every):
            if self._queued:
                with self._lock:
                    self._write()

    def _rotate(self) -> None:
        self._f.close()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.backups:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._size = 0

    def close(self) -> None:
        """Write what is queued and close the file."""
        self._closed.set()
        with self._lock:
            self._write(final=True)
            with contextlib.suppress(OSError):
                self._f.close()


def follow(
    path: Path,
    *,
    from_start: bool = False,
    poll: float = 0.2,
    stop: threading.Event | None = None,
) -> Iterator[AssocEvent]:
    """Yield events appended to ``path``, like ``tail -f``, across rotations.

    Args:
        path: The JSON-lines file (it may not exist yet).
        from_start: Yield what is already there first (else only new lines).
        poll: Seconds between looks when nothing is new.
        stop: Set it to end the generator.

    Yields:
        Every event, in order; lines that are not events are skipped.
    """
    f = None
    inode = -1
    pending = ""
    first = True
    while stop is None or not stop.is_set():
        if f is None:
            try:
                f = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
                inode = os.fstat(f.fileno()).st_ino
                if first and not from_start:
                    f.seek(0, os.SEEK_END)
            except OSError:
                f = None
            first = False
            if f is None:
                time.sleep(poll)
                continue
        chunk = f.read(1 << 16)
        if chunk:
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.strip() and (event := from_json(line)) is not None:
                    yield event
            continue
        try:  # rotated or truncated?
            st = os.stat(path)
            if st.st_ino != inode or st.st_size < f.tell():
                f.close()
                f = None
                pending = ""
                continue
        except OSError:
            pass
        time.sleep(poll)
    if f is not None:
        f.close()


async def follow_async(
    path: Path, *, from_start: bool = True
) -> AsyncIterator[AssocEvent]:
    """``follow`` on the event loop; stops when the caller stops iterating."""
    stop = threading.Event()
    try:
        async for event in iterate_in_thread(
            lambda: follow(path, from_start=from_start, stop=stop)
        ):
            yield event
    finally:
        stop.set()


def read_all(path: Path) -> list[AssocEvent]:
    """Every event of a JSON-lines file (empty when missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [e for line in text.splitlines() if (e := from_json(line)) is not None]


# --- words --------------------------------------------------------------------


def status_text(status: int | None) -> str:
    """A DIMSE status as ``0x0000`` plus its category."""
    if status is None:
        return ""
    if status == 0:
        category = "Success"
    elif status in (0xFF00, 0xFF01):
        category = "Pending"
    elif status == 0xFE00:
        category = "Cancel"
    elif status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        category = "Warning"
    else:
        category = "Failure"
    return f"0x{status:04X} {category}"


def format_line(event: AssocEvent) -> str:
    """One log line for a person, every peer value escaped."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.time))
    arrow = "->" if event.direction == "in" else "=>"
    parts = [
        stamp,
        event.assoc_id,
        event.kind,
        f"{visible(event.calling_ae)}{arrow}{visible(event.called_ae)}",
        f"{visible(event.peer_host)}:{event.peer_port}",
    ]
    if event.status is not None:
        parts.append(status_text(event.status))
    if event.nbytes:
        parts.append(f"{event.nbytes} B")
    if event.detail:
        parts.append(visible(event.detail))
    return " ".join(parts)


def explain(event: AssocEvent) -> tuple[str, str]:
    """A failure's plain-language cause and the fix to try ("" when fine)."""
    d = event.detail.lower()
    incoming = event.direction == "in"
    if event.kind == "rejected":
        if "calling ae" in d:
            if incoming:
                return (
                    "The calling AE title is not in our address book.",
                    "Add the sender as a node, or turn off "
                    "receiver.allow_known_calling_aes.",
                )
            return (
                "The peer does not know our calling AE title.",
                "Ask its administrator to add our AE title, or use one it knows.",
            )
        if "called ae" in d:
            if incoming:
                return (
                    "The sender asked for an AE title that is not ours.",
                    "Make the sender use our AE title, or turn off "
                    "receiver.check_called_ae.",
                )
            return (
                "The peer's AE title in the address book is wrong.",
                "Correct the node's AE title.",
            )
        if "limit" in d or "congestion" in d or "shutting down" in d:
            return (
                "Too many associations at once (or the receiver is stopping).",
                "Retry later, or raise receiver.max_associations / "
                "max_associations_per_peer.",
            )
        return ("The association was refused.", "Read the reason; check both ends.")
    if event.kind == "aborted":
        if "deadline" in d or "lasted more than" in d:
            return (
                "The association went on longer than allowed.",
                "Raise receiver.association_deadline, or send in smaller batches.",
            )
        if "pdu" in d:
            return (
                "The peer sent a PDU larger than it was allowed to.",
                "Fix the peer's maximum PDU size, or raise receiver.max_pdu.",
            )
        return (
            "The association ended abruptly (A-ABORT or a dropped connection).",
            "Check the peer's log and the network, then retry.",
        )
    if event.kind == "failed":
        if "refused" in d:
            return (
                "Nothing listens at that address and port.",
                "Check host and port, and that the peer runs.",
            )
        if "timed out" in d or "timeout" in d:
            return (
                "The peer did not answer in time.",
                "Check the address, firewalls and the peer's load.",
            )
        if incoming:
            return (
                "A connection closed before a valid association request.",
                "Check that the peer speaks DICOM (TLS on both ends or neither), "
                "and its timeouts.",
            )
        return ("The association could not be opened.", "Read the detail; retry.")
    if event.kind.startswith("c-") and event.status not in (None, 0):
        status = event.status or 0
        if status == 0xA700 or "a700" in d or "resources" in d:
            if "larger" in d:
                return (
                    "The object is larger than the receiver accepts.",
                    "Raise receiver.max_object_bytes.",
                )
            return (
                "Out of resources: the store is (nearly) full or unwritable.",
                "Free disk space, or lower receiver.min_free_bytes.",
            )
        if status in (0x0122, 0xA900) or 0xA900 <= status <= 0xA9FF:
            return (
                "The object does not match the SOP class or context.",
                "Check the sender's SOP class and transfer syntax.",
            )
        return (
            f"The operation failed with status {status_text(status)}.",
            "Read the detail; check both ends' logs.",
        )
    if (
        event.kind == "accepted"
        and event.contexts
        and not any(c.result == "accepted" for c in event.contexts)
    ):
        return (
            "No presentation context was accepted: nothing can be sent.",
            "Allow the SOP class and transfer syntax (receiver.sop_classes, "
            "receiver.transfer_syntaxes), or convert the files.",
        )
    return "", ""


# --- rows -----------------------------------------------------------------------


@dataclass
class AssocRow:
    """One association as the Associations screen shows it."""

    assoc_id: str
    direction: str
    start: float
    end: float | None = None
    peer_host: str = ""
    peer_port: int = 0
    calling_ae: str = ""
    called_ae: str = ""
    contexts: tuple[ContextResult, ...] = ()
    operations: dict[str, int] = field(default_factory=dict)
    instances: int = 0
    nbytes: int = 0
    failed_ops: int = 0
    outcome: str = "open"
    detail: str = ""
    cause: str = ""
    fix: str = ""
    events: list[AssocEvent] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Seconds from the first to the last event (or now, when open)."""
        last = self.end if self.end is not None else time.time()
        return max(0.0, last - self.start)

    @property
    def throughput(self) -> float:
        """Bytes per second over the association's duration."""
        seconds = self.duration
        return self.nbytes / seconds if seconds > 0 else 0.0

    @property
    def failed(self) -> bool:
        """True when the association or one of its operations failed."""
        return self.outcome in ("aborted", "rejected", "failed") or self.failed_ops > 0

    @property
    def accepted_contexts(self) -> int:
        """How many presentation contexts were accepted."""
        return sum(1 for c in self.contexts if c.result == "accepted")

    def operations_text(self) -> str:
        """E.g. ``c-store 12, c-echo 1``."""
        return ", ".join(f"{k} {v}" for k, v in self.operations.items())


class AssocBook:
    """Folds events into rows and counters (not thread-safe: one owner)."""

    def __init__(self, max_rows: int = 5000) -> None:
        self.rows: dict[str, AssocRow] = {}
        self.max_rows = max_rows
        self.instances = 0
        self.nbytes = 0
        self.failures = 0
        self._recent: deque[float] = deque()

    def add(self, event: AssocEvent) -> AssocRow:
        """Apply one event; return the row it changed."""
        row = self.rows.get(event.assoc_id)
        if row is None:
            row = AssocRow(event.assoc_id, event.direction, event.time)
            self.rows[event.assoc_id] = row
            if len(self.rows) > self.max_rows:
                del self.rows[next(iter(self.rows))]
        row.events.append(event)
        for name in ("peer_host", "calling_ae", "called_ae"):
            if getattr(event, name):
                setattr(row, name, getattr(event, name))
        if event.peer_port:
            row.peer_port = event.peer_port
        if event.contexts:
            row.contexts = event.contexts
        was_failed = row.failed
        if event.kind.startswith("c-") or event.kind.startswith("n-"):
            row.operations[event.kind] = row.operations.get(event.kind, 0) + 1
            if event.status not in (None, 0) and (event.status or 0) < 0xFF00:
                row.failed_ops += 1
                row.cause, row.fix = explain(event)
                row.detail = event.detail
            elif event.kind == "c-store" and event.status == 0:
                row.instances += 1
                row.nbytes += event.nbytes
                self.instances += 1
                self.nbytes += event.nbytes
                self._recent.append(event.time)
        elif event.kind in _END_KINDS:
            row.outcome = event.kind
            row.end = event.time
            row.detail = event.detail
            cause, fix = explain(event)
            if cause:
                row.cause, row.fix = cause, fix
        elif event.kind == "accepted":
            cause, fix = explain(event)
            if cause:
                row.cause, row.fix = cause, fix
        if row.failed and not was_failed:
            self.failures += 1
        return row

    @property
    def associations(self) -> int:
        """How many associations the book has seen."""
        return len(self.rows)

    def rate(self, now: float | None = None, window: float = 60.0) -> float:
        """Instances per second over the last ``window`` seconds."""
        now = time.time() if now is None else now
        while self._recent and self._recent[0] < now - window:
            self._recent.popleft()
        return len(self._recent) / window

    def matching(self, text: str = "", outcome: str = "") -> list[AssocRow]:
        """Rows whose AE titles or peer contain ``text``, with that outcome."""
        needle = text.lower()
        rows = []
        for row in self.rows.values():
            if outcome == "failed":
                if not row.failed:
                    continue
            elif outcome and row.outcome != outcome:
                continue
            if needle and not any(
                needle in value.lower()
                for value in (row.calling_ae, row.called_ae, row.peer_host)
            ):
                continue
            rows.append(row)
        return rows
