"""The association log: JSON lines, rotation, follow, rows and explanations."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dcmtui.models import AssocEvent, ContextResult
from dcmtui.services.assoc_log import (
    AssocBook,
    JsonlSink,
    explain,
    follow,
    format_line,
    from_json,
    read_all,
    to_json,
)


def event(n: int, kind: str, **values: object) -> AssocEvent:
    return AssocEvent(
        time=1000.0 + n,
        assoc_id=f"in-{n // 10}",
        direction="in",
        kind=kind,
        peer_host="10.0.0.1",
        peer_port=4000,
        calling_ae="CT\x1b[31m",
        called_ae="DCMTUI",
        **values,  # type: ignore[arg-type]
    )


def test_json_round_trip_keeps_everything() -> None:
    original = event(
        1,
        "accepted",
        contexts=(ContextResult("1.2.3", "1.2.840.10008.1.2", "accepted"),),
        detail="line\nbreak",
    )
    line = to_json(original)
    assert "\n" not in line and "\x1b" not in line
    assert from_json(line) == original
    assert from_json("not json") is None and from_json("[1]") is None


def test_format_line_escapes_peer_data() -> None:
    line = format_line(event(1, "c-store", status=0xA700, detail="x\ny"))
    assert "\x1b" not in line and "\n" not in line
    assert "0xA700 Failure" in line


def test_sink_rotates_and_follow_crosses_rotations(tmp_path: Path) -> None:
    path = tmp_path / "associations.jsonl"
    sink = JsonlSink(path, max_bytes=2000, backups=2)
    stop = threading.Event()
    seen: list[AssocEvent] = []

    def reader() -> None:
        for item in follow(path, from_start=True, poll=0.01, stop=stop):
            seen.append(item)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    written = [event(n, "c-store", status=0, nbytes=n) for n in range(60)]
    for item in written:
        sink(item)
        time.sleep(0.002)
    deadline = time.monotonic() + 10
    while len(seen) < len(written) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)
    sink.close()
    assert seen == written
    assert path.with_name("associations.jsonl.1").exists()
    assert not path.with_name("associations.jsonl.3").exists()
    assert path.stat().st_size <= 2000
    assert read_all(path) == written[-len(read_all(path)) :]


def test_book_folds_events_into_rows() -> None:
    book = AssocBook()
    book.add(event(10, "requested"))
    book.add(
        event(11, "accepted", contexts=(ContextResult("1.2", "1.2.3", "accepted"),))
    )
    for n in range(12, 15):
        book.add(event(n, "c-store", status=0, nbytes=100))
    book.add(event(15, "c-store", status=0xA700, detail="less than 1 bytes free"))
    row = book.add(event(16, "released"))
    assert (row.instances, row.nbytes, row.failed_ops, row.outcome) == (
        3,
        300,
        1,
        "released",
    )
    assert row.operations == {"c-store": 4}
    assert "Free disk space" in row.fix
    book.add(event(20, "requested"))
    rejected = book.add(
        event(
            21,
            "rejected",
            detail="rejected (permanent): called AE title not recognised",
        )
    )
    assert rejected.outcome == "rejected" and "not ours" in rejected.cause
    assert (book.associations, book.instances, book.failures) == (2, 3, 2)
    assert [r.assoc_id for r in book.matching(outcome="failed")] == ["in-1", "in-2"]
    assert [r.assoc_id for r in book.matching(outcome="rejected")] == ["in-2"]
    assert book.matching(text="nobody") == []
    assert book.rate(now=1030.0) == 3 / 60


def test_explanations_cover_the_failures() -> None:
    cases = {
        "deadline": event(
            1,
            "aborted",
            detail="aborted by us: the association lasted "
            "more than 5 s (receiver.association_deadline)",
        ),
        "max_pdu": event(
            1, "aborted", detail="aborted by us: the peer declared a PDU of 9 bytes"
        ),
        "DICOM": event(
            1,
            "failed",
            detail="the connection closed before a valid association request",
        ),
        "max_object_bytes": event(
            1, "c-store", status=0xA700, detail="object larger than the limit"
        ),
        "max_associations": event(
            1, "rejected", detail="rejected (transient): local limit exceeded"
        ),
    }
    for needle, item in cases.items():
        cause, fix = explain(item)
        assert cause and needle in cause + fix, (needle, cause, fix)
    assert explain(event(1, "released")) == ("", "")


def test_sink_writes_operations_in_batches_in_order(tmp_path: Path) -> None:
    """Operation events are written by the sink's thread within its interval
    (no call per object), association events at once, all in order."""
    path = tmp_path / "associations.jsonl"
    sink = JsonlSink(path, flush_every=0.05)
    try:
        stores = [event(n, "c-store", status=0, nbytes=n) for n in range(20)]
        for item in stores:
            sink(item)
        deadline = time.monotonic() + 10
        while len(read_all(path)) < len(stores) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert read_all(path) == stores  # nothing else happened: the thread wrote
        more = [event(30, "c-store", status=0), event(31, "released")]
        for item in more:
            sink(item)
        assert read_all(path) == stores + more  # the release wrote both, in order
        last = event(40, "c-echo", status=0)
        sink(last)
    finally:
        sink.close()
    assert read_all(path)[-1] == last  # close writes what is queued
