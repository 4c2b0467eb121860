"""The built-in receiver against real senders (DCMTK storescu / echoscu)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dcmtui.config import ReceiverSettings, Settings, load_settings
from dcmtui.models import AssocEvent
from dcmtui.services.events import EventBus
from dcmtui.services.scp import StoreScp
from dcmtui.services.store import INCOMING, is_uid, relative_path, uid_name
from tests.factories import write_dicom
from tests.netpeers import dcmtk, delayed_acks


def dataset_bytes(path: Path) -> bytes:
    """The bytes after the file meta group of a Part 10 file."""
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM"
    group_length = int.from_bytes(raw[140:144], "little")
    return raw[144 + group_length :]


def dump(path: Path) -> str:
    """dcmdump of the data set only (no meta header), the oracle."""
    out = subprocess.run(
        [dcmtk("dcmdump"), "+L", "-dc", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("# Dicom-Data-Set")
    )
    return "\n".join(lines[start + 2 :])


class Receiver:
    """A running StoreScp plus what it emitted."""

    def __init__(self, scp: StoreScp, events: list[AssocEvent]) -> None:
        self.scp = scp
        self.events = events
        self.port = scp.port

    @property
    def store(self) -> Path:
        return self.scp.store.root

    def kinds(self, kind: str) -> list[AssocEvent]:
        return [e for e in self.events if e.kind == kind]

    async def wait_for(self, kind: str, count: int = 1, limit: float = 20) -> None:
        end = time.monotonic() + limit
        while len(self.kinds(kind)) < count:
            if time.monotonic() > end:
                got = [(e.kind, e.detail) for e in self.events]
                raise AssertionError(f"no {count} {kind} events: {got}")
            await asyncio.sleep(0.05)


def make_settings(tmp_path: Path, **receiver: Any) -> Settings:
    base = load_settings()
    values: dict[str, Any] = {"bind": "127.0.0.1", "port": 0, "min_free_bytes": 0}
    cfg = replace(ReceiverSettings(), **{**values, **receiver})
    return replace(base, receiver=cfg)


async def start_receiver(
    settings: Settings, store: Path, *, fast: bool = True
) -> Receiver:
    bus = EventBus()
    events: list[AssocEvent] = []
    bus.add_sink(events.append)
    scp = StoreScp(settings, bus, store_dir=store)
    scp.fast_path = fast
    await scp.start()
    return Receiver(scp, events)


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    rx = await start_receiver(make_settings(tmp_path), tmp_path / "store")
    yield rx
    await rx.scp.stop(grace=1)


async def run(*args: str, limit: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TCP_NODELAY": "1"}
    return await asyncio.to_thread(
        subprocess.run,
        list(args),
        capture_output=True,
        text=True,
        env=env,
        timeout=limit,
    )


async def echo(rx: Receiver, *extra: str) -> subprocess.CompletedProcess[str]:
    return await run(dcmtk("echoscu"), *extra, "127.0.0.1", str(rx.port))


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def stored(rx: Receiver) -> list[Path]:
    return [p for p in all_files(rx.store) if INCOMING not in p.parts]


# --- names ----------------------------------------------------------------------


async def indexed(rx: Receiver, want: int, limit: float = 10) -> int:
    """Index rows under the store, once there are ``want`` (or at ``limit``)."""
    db = rx.scp.settings.index_path
    deadline = time.monotonic() + limit
    while True:
        count = 0
        if db.exists():
            # (the table may not be made yet)
            with (
                contextlib.suppress(sqlite3.OperationalError),
                sqlite3.connect(db) as con,
            ):
                (count,) = con.execute(
                    "SELECT count(*) FROM files WHERE path LIKE ?", (f"{rx.store}%",)
                ).fetchone()
        if count >= want or time.monotonic() > deadline:
            return int(count)
        await asyncio.sleep(0.05)


def assert_index_matches_files(rx: Receiver) -> None:
    """Every stored object's index record is the one the index reader gives
    the file on disk (small objects are indexed from memory, large ones from
    the file): same fields, size and modification time."""
    from dcmtui.services.fastread import read_record
    from dcmtui.services.files import Index

    records = Index(rx.scp.settings.index_path).records(str(rx.store))
    files = stored(rx)
    assert sorted(r.path for r in records) == sorted(map(str, files))
    for record in records:
        st = os.stat(record.path)
        assert record == read_record(record.path, st.st_size, st.st_mtime_ns)


def test_hostile_uids_never_become_paths() -> None:
    assert is_uid("1.2.840.10008.1.1")
    for bad in ("../../etc/passwd", "1.2/3", "", "1." * 40, "1.2\0x", "..", "/abs"):
        name = uid_name("x", bad)
        assert "/" not in name and ".." not in name and name.startswith("x")
    from dcmtui.models import FileKind, FileRecord

    rec = FileRecord(
        "p",
        1,
        0,
        FileKind.DICOM,
        patient_id="../../x",
        study_uid="../..",
        series_uid="1.2/../3",
    )
    rel = relative_path("hierarchy", rec, "../evil")
    assert not rel.is_absolute()
    assert all(part not in ("..", ".") and "/" not in part for part in rel.parts)
    assert len(rel.parts) == 4


# --- real senders -------------------------------------------------------------------


async def test_echo_answers(receiver: Receiver) -> None:
    done = await echo(receiver, "-aet", "PROBE")
    assert done.returncode == 0, done.stderr
    await receiver.wait_for("released")
    kinds = [e.kind for e in receiver.events]
    assert kinds == ["requested", "accepted", "c-echo", "released"]
    assert receiver.events[0].calling_ae == "PROBE"
    assert receiver.events[0].direction == "in"
    assert receiver.events[1].contexts[0].result == "accepted"


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "pynetdicom"])
async def test_many_files_arrive_intact_and_indexed(fast: bool, tmp_path: Path) -> None:
    receiver = await start_receiver(
        make_settings(tmp_path), tmp_path / "store", fast=fast
    )
    taken: list[bool] = []
    store = receiver.scp.store
    new_spool = store.new_spool

    def counting(spare: Any = None) -> Any:
        spool = new_spool(spare)
        taken.append(spare is not None and spool is spare)
        return spool

    store.new_spool = counting  # type: ignore[method-assign]
    try:
        await check_many_files(receiver, tmp_path)
        assert receiver.scp.fast_objects == (30 if fast else 0)
        # The fast path opens each association's next spool file while the
        # sender is busy (two associations of 15: 14 spares each).
        assert taken.count(True) == (28 if fast else 0)
    finally:
        await receiver.scp.stop(grace=1)


async def check_many_files(receiver: Receiver, tmp_path: Path) -> None:
    src = tmp_path / "src"
    sent = [
        write_dicom(src / f"f{i}.dcm", implicit=i % 2 == 1, PatientID=f"P{i % 3}")
        for i in range(30)
    ]
    # storescu proposes explicit VR first and transcodes implicit files unless
    # told to propose implicit only: send each kind in its own transfer syntax.
    explicit, implicit = sent[::2], sent[1::2]
    for option, files in (("-xe", explicit), ("-xi", implicit)):
        done = await run(
            dcmtk("storescu"),
            option,
            "-aet",
            "SENDER",
            "127.0.0.1",
            str(receiver.port),
            *map(str, files),
        )
        assert done.returncode == 0, done.stderr
    await receiver.wait_for("released", 2)
    got = stored(receiver)
    assert len(got) == 30
    by_uid = {p.stem: p for p in got}
    import pydicom

    for path in sent:
        uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
        received = by_uid[uid]
        assert dataset_bytes(received) == dataset_bytes(path)
        assert dump(received) == dump(path)
        # Patient / Study / Series / SOP.dcm
        assert received.relative_to(receiver.store).parts[1] == str(
            pydicom.dcmread(path).StudyInstanceUID
        )
    stores = receiver.kinds("c-store")
    assert len(stores) == 30 and all(e.status == 0 for e in stores)
    # The index writer batches (every 0.5 s): the store is indexed soon after.
    assert await indexed(receiver, 30) == 30
    assert_index_matches_files(receiver)
    assert not list((receiver.store / INCOMING).iterdir())


async def test_several_senders_at_once(receiver: Receiver, tmp_path: Path) -> None:
    """Four storescu at once; their objects are all served by one thread, the
    receiver's hub (services.scp_hub), not by four DUL threads."""
    import threading

    threads: list[str] = []
    store_spool = receiver.scp._store_spool

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return store_spool(*args)

    receiver.scp._store_spool = recording  # type: ignore[method-assign,assignment]
    batches = []
    for s in range(4):
        batches.append(
            [write_dicom(tmp_path / f"s{s}" / f"{i}.dcm") for i in range(15)]
        )
    results = await asyncio.gather(
        *(
            run(
                dcmtk("storescu"),
                "-aet",
                f"SND{n}",
                "127.0.0.1",
                str(receiver.port),
                *map(str, files),
            )
            for n, files in enumerate(batches)
        )
    )
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    await receiver.wait_for("released", 4)
    assert len(stored(receiver)) == 60
    assert len({e.assoc_id for e in receiver.events}) == 4
    assert threads == ["dcmtui-receiver-hub"] * 60
    assert not list((receiver.store / INCOMING).iterdir())


async def send_with_nagle(port: int, files: list[Path], *options: str) -> int:
    """Send ``files`` with storescu as Debian ships it (no ``TCP_NODELAY=1``:
    Nagle's algorithm on); how many acknowledgements Linux delayed meanwhile."""
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    before = delayed_acks()
    done = await asyncio.to_thread(
        subprocess.run,
        [dcmtk("storescu"), *options, "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    delayed = delayed_acks() - before
    assert done.returncode == 0, done.stderr
    return delayed


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "pynetdicom"])
async def test_a_sender_with_nagle_on_is_not_held_up(
    fast: bool, tmp_path: Path
) -> None:
    """storescu with Nagle's algorithm on holds each data set (and each PDU
    body written after its header) back until what it sent before is
    acknowledged, and Linux delays that acknowledgement about 40 ms: storescp
    waits that long for every object. The receiver acknowledges at once, so
    no acknowledgement waits for the delayed-ACK timer (without it: at least
    one per object, 40 here)."""
    receiver = await start_receiver(
        make_settings(tmp_path), tmp_path / "store", fast=fast
    )
    try:
        files = [write_dicom(tmp_path / "src" / f"{i}.dcm") for i in range(40)]
        delayed = await send_with_nagle(receiver.port, files)
        await receiver.wait_for("released")
        assert len(stored(receiver)) == 40
        assert receiver.scp.fast_objects == (40 if fast else 0)
        assert delayed < 10  # other traffic of the machine may add a few
    finally:
        await receiver.scp.stop(grace=1)


async def test_duplicates_keep_both_when_different(
    receiver: Receiver, tmp_path: Path
) -> None:
    first = write_dicom(tmp_path / "a.dcm", uid_seed="dup")
    again = write_dicom(tmp_path / "b.dcm", uid_seed="dup")  # identical
    other = write_dicom(tmp_path / "c.dcm", uid_seed="dup", SeriesDescription="OTHER")
    for path in (first, again, other):
        done = await run(dcmtk("storescu"), "127.0.0.1", str(receiver.port), str(path))
        assert done.returncode == 0, done.stderr
    await receiver.wait_for("released", 3)
    got = stored(receiver)
    assert len(got) == 2
    assert {p.name.count(".dcm") for p in got} == {1}
    assert any(p.name.endswith(".1.dcm") for p in got)
    details = [e.detail for e in receiver.kinds("c-store")]
    assert "not stored again" in details[1] and "kept both" in details[2]


async def test_sender_killed_mid_transfer_leaves_nothing(
    receiver: Receiver, tmp_path: Path
) -> None:
    import pydicom

    big = write_dicom(tmp_path / "big.dcm", pixels=False)
    ds = pydicom.dcmread(big)
    ds.Rows = ds.Columns = 2048
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = 12
    ds.add_new(0x7FE00010, "OW", os.urandom(2048 * 2048 * 2 * 12))  # ~100 MB
    ds.save_as(big)
    proc = await asyncio.create_subprocess_exec(
        dcmtk("storescu"),
        "--max-pdu",
        "16384",
        "127.0.0.1",
        str(receiver.port),
        str(big),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # kill it once the receiver is busy receiving
        end = time.monotonic() + 20
        while time.monotonic() < end:
            parts = list((receiver.store / INCOMING).glob("*.part"))
            if parts and parts[0].stat().st_size > 1_000_000:
                break
            await asyncio.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        await proc.wait()
    await receiver.wait_for("aborted")
    await asyncio.sleep(0.3)
    assert stored(receiver) == []
    assert not list((receiver.store / INCOMING).iterdir())
    assert (await echo(receiver)).returncode == 0


async def test_unknown_calling_ae_rejected(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, allow_known_calling_aes=True, allowed_calling_aes=["FRIEND"]
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        bad = await echo(rx, "-aet", "STRANGER")
        assert bad.returncode != 0
        await rx.wait_for("rejected")
        assert "calling AE title not recognised" in rx.kinds("rejected")[0].detail
        good = await echo(rx, "-aet", "FRIEND")
        assert good.returncode == 0, good.stderr
    finally:
        await rx.scp.stop(grace=1)


async def test_wrong_called_ae_rejected(tmp_path: Path) -> None:
    rx = await start_receiver(
        make_settings(tmp_path, check_called_ae=True, ae_title="RIGHT"),
        tmp_path / "store",
    )
    try:
        bad = await echo(rx, "-aec", "WRONG")
        assert bad.returncode != 0
        await rx.wait_for("rejected")
        assert "called AE title not recognised" in rx.kinds("rejected")[0].detail
        assert (await echo(rx, "-aec", "RIGHT")).returncode == 0
    finally:
        await rx.scp.stop(grace=1)


async def test_configured_transfer_syntax_list(tmp_path: Path) -> None:
    implicit = "1.2.840.10008.1.2"
    rx = await start_receiver(
        make_settings(tmp_path, transfer_syntaxes=[implicit]), tmp_path / "store"
    )
    try:
        f = write_dicom(tmp_path / "x.dcm")  # explicit VR LE; storescu may convert
        done = await run(dcmtk("storescu"), "-xe", "127.0.0.1", str(rx.port), str(f))
        assert done.returncode == 0, done.stderr
        await rx.wait_for("released")
        accepted = [
            c for c in rx.kinds("accepted")[0].contexts if c.result == "accepted"
        ]
        assert accepted and {c.transfer_syntax for c in accepted} == {implicit}
        (got,) = stored(rx)
        assert implicit.encode() in got.read_bytes()[:400]
        only_jpeg = await start_receiver(
            make_settings(tmp_path, transfer_syntaxes=["1.2.840.10008.1.2.4.50"]),
            tmp_path / "store2",
        )
        try:
            refused = await run(
                dcmtk("storescu"), "127.0.0.1", str(only_jpeg.port), str(f)
            )
            assert refused.returncode != 0
            await only_jpeg.wait_for("aborted")
            contexts = only_jpeg.kinds("accepted")[0].contexts
            assert contexts and all(c.result != "accepted" for c in contexts)
            assert stored(only_jpeg) == []
        finally:
            await only_jpeg.scp.stop(grace=1)
    finally:
        await rx.scp.stop(grace=1)


async def test_object_too_large_gets_a700(tmp_path: Path) -> None:
    rx = await start_receiver(
        make_settings(tmp_path, max_object_bytes=500), tmp_path / "store"
    )
    try:
        f = write_dicom(tmp_path / "x.dcm")
        done = await run(dcmtk("storescu"), "-v", "127.0.0.1", str(rx.port), str(f))
        assert "outofresources" in done.stderr.lower()
        await rx.wait_for("released")
        assert rx.kinds("c-store")[0].status == 0xA700
        assert stored(rx) == []
        assert not list((rx.store / INCOMING).iterdir())
    finally:
        await rx.scp.stop(grace=1)


async def test_post_store_command_gets_arguments_not_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "post.txt"
    script = tmp_path / "post.sh"
    script.write_text(
        f'#!/bin/sh\nprintf "%s|%s|%s\\n" "$1" "$2" "$DCMTUI_CALLING_AE" >> {out}\n'
    )
    script.chmod(0o755)
    rx = await start_receiver(
        make_settings(
            tmp_path, post_store_command=[str(script), "{path}", "{calling_ae}"]
        ),
        tmp_path / "store",
    )
    try:
        f = write_dicom(tmp_path / "x.dcm")
        done = await run(
            dcmtk("storescu"),
            "-aet",
            "A;touch pwned",
            "127.0.0.1",
            str(rx.port),
            str(f),
        )
        assert done.returncode == 0, done.stderr
        await rx.wait_for("released")
    finally:
        await rx.scp.stop(grace=1)
    check_post_store(out)


def check_post_store(out: Path) -> None:
    line = out.read_text().strip()
    path, calling, env_calling = line.split("|")
    assert Path(path).is_file() and calling == "A;touch pwned" == env_calling
    assert not (Path.cwd() / "pwned").exists()


async def test_stop_refuses_nothing_silently(tmp_path: Path) -> None:
    rx = await start_receiver(make_settings(tmp_path), tmp_path / "store")
    await rx.scp.stop(grace=1)
    assert not rx.scp.running
    done = await echo(rx)
    assert done.returncode != 0


async def test_post_store_command_once_per_study(tmp_path: Path) -> None:
    out = tmp_path / "studies.txt"
    script = tmp_path / "study.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $2" >> {out}\n')
    script.chmod(0o755)
    settings = make_settings(
        tmp_path,
        post_store_command=[str(script), "{study_uid}", "{count}"],
        post_store_on="study",
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        study = "1.2.826.0.1.3680043.10.1453.77"
        files = [
            write_dicom(tmp_path / f"{i}.dcm", StudyInstanceUID=study) for i in range(3)
        ]
        done = await run(dcmtk("storescu"), "127.0.0.1", str(rx.port), *map(str, files))
        assert done.returncode == 0, done.stderr
        await rx.wait_for("released")
    finally:
        await rx.scp.stop(grace=1)
    assert read_lines(out) == [f"{study} 3"]


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


async def test_store_folder_removed_while_running(
    receiver: Receiver, tmp_path: Path
) -> None:
    first = write_dicom(tmp_path / "a.dcm", uid_seed="same-series-1")
    done = await run(dcmtk("storescu"), "127.0.0.1", str(receiver.port), str(first))
    assert done.returncode == 0
    await receiver.wait_for("released")
    remove_tree(next(p for p in receiver.store.iterdir() if p.name != INCOMING))
    again = write_dicom(tmp_path / "b.dcm", uid_seed="same-series-1")
    done = await run(dcmtk("storescu"), "127.0.0.1", str(receiver.port), str(again))
    assert done.returncode == 0
    await receiver.wait_for("released", 2)
    assert [e.status for e in receiver.kinds("c-store")] == [0, 0]
    assert len(stored(receiver)) == 1


async def test_whole_store_removed_while_running(
    receiver: Receiver, tmp_path: Path
) -> None:
    """Someone removes the whole store, spool folder included (cleaning up):
    the receiver makes it again at the next object, instead of failing every
    object from then on (it answered 0xA700, "less than ... bytes free", or
    aborted: the spool file could not be made)."""
    first = write_dicom(tmp_path / "a.dcm")
    done = await run(dcmtk("storescu"), "127.0.0.1", str(receiver.port), str(first))
    assert done.returncode == 0
    await receiver.wait_for("released")
    remove_tree(receiver.store)
    again = write_dicom(tmp_path / "b.dcm")
    done = await run(dcmtk("storescu"), "127.0.0.1", str(receiver.port), str(again))
    assert done.returncode == 0
    await receiver.wait_for("released", 2)
    assert [e.status for e in receiver.kinds("c-store")] == [0, 0]
    assert len(stored(receiver)) == 1  # the second; the first went with the store


def remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "pynetdicom"])
async def test_other_code_keeps_whole_datasets(fast: bool, tmp_path: Path) -> None:
    """Our chunked receive must not change what another pynetdicom SCP in the
    process (a C-GET requestor's storage handler, say) gets: event.dataset."""
    from pynetdicom import AE, evt

    rx = await start_receiver(make_settings(tmp_path), tmp_path / "store", fast=fast)
    seen: list[int] = []

    def handler(event: Any) -> int:
        seen.append(len(event.encoded_dataset()))  # raises on a chunked receive
        return 0

    other = AE(ae_title="OTHER")
    other.add_supported_context("1.2.840.10008.5.1.4.1.1.2")
    server = other.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, handler)]
    )
    assert server is not None
    try:
        f = write_dicom(tmp_path / "x.dcm", uid_seed="other")
        for port in (rx.port, server.server_address[1]):
            done = await run(dcmtk("storescu"), "127.0.0.1", str(port), str(f))
            assert done.returncode == 0, done.stderr
        await rx.wait_for("released")
        assert len(stored(rx)) == 1 and len(seen) == 1 and seen[0] > 500
    finally:
        server.shutdown()
        await rx.scp.stop(grace=1)


# --- the fast path's own pieces ---------------------------------------------------


def test_folder_fields_read_from_memory_match_the_index_reader() -> None:
    """The receiver names folders from the data set bytes it holds; the names
    must be those the index reader (fastread) gives the stored file, or the
    receiver must say it is unsure (and read the file instead). Checked on
    every Part 10 file pydicom ships, whole and cut at 16 KB."""
    from pydicom.data import get_charset_files, get_testdata_files

    from dcmtui.services.fastread import read_record
    from dcmtui.services.store import path_fields

    checked = unsure = 0
    for name in get_testdata_files() + get_charset_files():
        if not Path(name).is_file():
            continue
        raw = Path(name).read_bytes()
        if raw[128:132] != b"DICM":
            continue
        start = 144 + int.from_bytes(raw[140:144], "little")
        record = read_record(name, len(raw), 0)
        want = (
            record.patient_id,
            record.patient_name,
            record.study_uid,
            record.series_uid,
        )
        for cut in (len(raw), start + 16384):
            fields = path_fields(
                raw[start:cut], record.transfer_syntax_uid, complete=cut >= len(raw)
            )
            checked += 1
            if fields is None:
                unsure += 1
                continue
            assert tuple(fields) == want, name
    assert checked > 100 and unsure < checked / 2


def test_folder_fields_of_ordinary_objects_need_no_file(tmp_path: Path) -> None:
    """Explicit and implicit VR objects are named from memory, not re-read."""
    from dcmtui.services.fastread import read_record
    from dcmtui.services.store import path_fields

    for implicit in (False, True):
        path = write_dicom(
            tmp_path / f"{implicit}.dcm",
            implicit=implicit,
            PatientName="DOE^JANE=",
            PatientID="ID 7 ",
        )
        raw = path.read_bytes()
        start = 144 + int.from_bytes(raw[140:144], "little")
        record = read_record(str(path), len(raw), 0)
        fields = path_fields(raw[start:], record.transfer_syntax_uid, complete=True)
        assert fields is not None
        assert fields.patient_name == record.patient_name == "DOE^JANE"
        assert fields.patient_id == record.patient_id
        assert (fields.study_uid, fields.series_uid) == (
            record.study_uid,
            record.series_uid,
        )


def test_index_record_from_memory_matches_the_index_reader() -> None:
    """A small received object is indexed from the bytes the receiver wrote
    (fastread.record_from_bytes), not read back: the record must be the one
    read_record gives the file, on every file pydicom ships (damaged, odd
    encodings and DICOMDIRs included)."""
    from pydicom.data import get_charset_files, get_testdata_files

    from dcmtui.services.fastread import read_record, record_from_bytes

    checked = 0
    for name in get_testdata_files() + get_charset_files():
        if not Path(name).is_file():
            continue
        st = os.stat(name)
        want = read_record(name, st.st_size, st.st_mtime_ns)
        got = record_from_bytes(name, Path(name).read_bytes(), st.st_mtime_ns)
        assert got == want, name
        checked += 1
    assert checked > 100


def test_index_record_of_a_written_meta_group_needs_no_parse(tmp_path: Path) -> None:
    """The fast path tells the record reader what meta group it wrote (the
    group is not parsed again): the record must still be read_record's, for
    the data sets pydicom ships and for odd UIDs a peer may send."""
    from pydicom.data import get_testdata_file, get_testdata_files

    from dcmtui.services.fastread import read_record, record_from_bytes
    from dcmtui.services.scp import _PREAMBLE, _meta_as_read, meta_group

    odd = ("1.2.3\u00e9", "1.2.840.10008.5.1.4.1.1.2 ", "", "9" * 64, "9" * 65)
    # A data set that starts with group 0002 (a hostile peer) continues the
    # meta group for the reader: the group is then parsed after all.
    raw = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    data = _PREAMBLE + meta_group("1.2", "3.4", "1.2.840.10008.1.2.1")
    data += b"\x02\x00\x16\x00AE\x02\x00XX" + raw[144 + raw[140] :]
    (tmp_path / "odd.dcm").write_bytes(data)
    mtime = os.stat(tmp_path / "odd.dcm").st_mtime_ns
    meta = _meta_as_read(
        len(_PREAMBLE) + len(meta_group("1.2", "3.4", "1.2.840.10008.1.2.1")),
        "1.2.840.10008.1.2.1",
        "1.2",
        "3.4",
    )
    assert record_from_bytes(str(tmp_path / "odd.dcm"), data, mtime, meta) == (
        read_record(str(tmp_path / "odd.dcm"), len(data), mtime)
    )
    checked = 0
    for n, name in enumerate(get_testdata_files()):
        if not Path(name).is_file():
            continue
        raw = Path(name).read_bytes()
        if raw[128:140] != b"DICM\x02\x00\x00\x00UL\x04\x00":
            continue
        start = 144 + int.from_bytes(raw[140:144], "little")
        stored = read_record(name, len(raw), 0)
        ts = stored.transfer_syntax_uid
        sop_class = odd[n % len(odd)] if n % 3 == 0 else stored.sop_class_uid
        sop_uid = odd[(n + 1) % len(odd)] if n % 4 == 0 else stored.sop_instance_uid
        data = _PREAMBLE + meta_group(sop_class, sop_uid, ts) + raw[start:]
        path = tmp_path / f"{n}.dcm"
        path.write_bytes(data)
        mtime = os.stat(path).st_mtime_ns
        meta = _meta_as_read(len(data) - len(raw) + start, ts, sop_class, sop_uid)
        want = read_record(str(path), len(data), mtime)
        assert record_from_bytes(str(path), data, mtime, meta) == want, name
        checked += 1
    assert checked > 50


def test_spool_keeps_its_bytes_only_when_written_at_once(tmp_path: Path) -> None:
    """What the index record is read from: the whole file, as written, with
    its modification time; nothing for an object flushed in several pieces
    (read from the file instead) or one that could not be stored."""
    from dcmtui.services.store import _FLUSH_BYTES, Store

    store = Store(tmp_path / "store", max_object_bytes=4 * _FLUSH_BYTES)
    store.prepare()
    small = store.new_spool()
    small.write(b"head")
    small.write(b"tail")
    small.close()
    assert small.contents is not None
    assert b"".join(small.contents) == Path(small.name).read_bytes() == b"headtail"
    assert small.mtime_ns == os.stat(small.name).st_mtime_ns
    large = store.new_spool()
    for _ in range(3):
        large.write(b"x" * _FLUSH_BYTES)
    large.close()
    assert large.contents is None
    assert os.path.getsize(large.name) == 3 * _FLUSH_BYTES
    too_large = store.new_spool()
    too_large.write(b"x" * (5 * _FLUSH_BYTES))
    too_large.close()
    assert too_large.problem and too_large.contents is None


def test_a_spool_is_whole_on_disk_before_it_is_closed(tmp_path: Path) -> None:
    """complete() writes everything and keeps the file open, so that the
    object can be placed and answered for first; close() comes after, with
    the bytes and the modification time for the index record."""
    from dcmtui.services.store import Store

    store = Store(tmp_path / "store")
    store.prepare()
    spool = store.new_spool()
    spool.write(b"head")
    spool.write(b"tail")
    spool.complete()
    placed = tmp_path / "placed.dcm"
    os.rename(spool.name, placed)
    assert placed.read_bytes() == b"headtail"
    spool.close()
    assert spool.contents is not None and b"".join(spool.contents) == b"headtail"
    assert spool.mtime_ns == placed.stat().st_mtime_ns
    spool.close()  # idempotent
    assert not spool.problem


def test_a_spare_spool_is_taken_only_while_its_file_is_there(tmp_path: Path) -> None:
    """The fast path opens the next spool file ahead of time: it is used
    when nothing happened to it, else made again (the store was removed
    meanwhile), and refused and removed when the disk is too full."""
    import shutil

    from dcmtui.services.store import Store

    store = Store(tmp_path / "store")
    store.prepare()
    spare = store.new_spool()
    assert store.new_spool(spare) is spare
    spare.discard()
    spare = store.new_spool()
    shutil.rmtree(store.root)
    fresh = store.new_spool(spare)
    assert fresh is not spare and Path(fresh.name).exists()
    assert not spare.unused()
    fresh.discard()

    full = Store(tmp_path / "full", min_free_bytes=1 << 62)
    full.prepare()
    spare = Store(tmp_path / "full").new_spool()  # made while there was room
    refused = full.new_spool(spare)
    assert refused is not spare and "bytes free" in refused.problem
    assert not Path(spare.name).exists()
    assert not list(full.incoming.iterdir())


def test_spool_file_has_no_reference_cycle(tmp_path: Path) -> None:
    """A spool (and the data it holds) is freed as soon as it is dropped, not
    whenever the garbage collector runs (memory grew with every object)."""
    import gc
    import weakref

    from dcmtui.services.store import Store

    store = Store(tmp_path / "store")
    store.prepare()
    spool = store.new_spool()
    spool.write(b"x" * 1000)
    assert spool.file is spool  # what pynetdicom calls flush() on
    spool.close()
    gone = weakref.ref(spool)
    gc.disable()
    try:
        del spool
        assert gone() is None
    finally:
        gc.enable()


async def test_objects_over_many_small_pdus_arrive_intact(tmp_path: Path) -> None:
    """A 3 MB object in 16 KB PDUs: the fast reader's buffer refills, moves
    and joins fragments; the spool writes in large pieces; bytes equal."""
    import pydicom

    settings = make_settings(tmp_path, max_pdu=16384)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        path = write_dicom(tmp_path / "big.dcm", pixels=False)
        ds = pydicom.dcmread(path)
        ds.Rows, ds.Columns = 1024, 768
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.NumberOfFrames = 2
        ds.add_new(0x7FE00010, "OW", os.urandom(1024 * 768 * 2 * 2))
        ds.save_as(path)
        small = write_dicom(tmp_path / "small.dcm")
        done = await run(
            dcmtk("storescu"), "127.0.0.1", str(rx.port), str(path), str(small)
        )
        assert done.returncode == 0, done.stderr
        await rx.wait_for("released")
        assert [e.status for e in rx.kinds("c-store")] == [0, 0]
        assert rx.scp.fast_objects == 2
        received = {p.name: p for p in stored(rx)}
        for sent in (path, small):
            uid = str(pydicom.dcmread(sent, stop_before_pixels=True).SOPInstanceUID)
            assert dataset_bytes(received[f"{uid}.dcm"]) == dataset_bytes(sent)
        assert await indexed(rx, 2) == 2
        assert_index_matches_files(rx)  # the 3 MB one read from its file
    finally:
        await rx.scp.stop(grace=1)
