"""The receiver against what no well-behaved peer sends, and a full disk.

After every hostile case the receiver must still answer a real echoscu, and
nothing may be left in (or outside) the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dcmtui.services.store import INCOMING
from tests.factories import write_dicom
from tests.netpeers import dcmtk
from tests.services.test_scp import (
    Receiver,
    echo,
    make_settings,
    run,
    start_receiver,
    stored,
)


@pytest.fixture
async def rx(tmp_path: Path) -> AsyncIterator[Receiver]:
    settings = make_settings(tmp_path, idle_timeout=1.0, max_pdu=65536)
    receiver = await start_receiver(settings, tmp_path / "store")
    yield receiver
    await receiver.scp.stop(grace=1)


def exchange(port: int, data: bytes, *, close_after: bool = False) -> bytes:
    """Send raw bytes; return what the receiver answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if data:
            sock.sendall(data)
        if close_after:
            return b""
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


async def still_serving(rx: Receiver, tmp_path: Path) -> None:
    done = await echo(rx)
    assert done.returncode == 0, done.stderr
    assert not list((rx.store / INCOMING).iterdir())
    assert stored(rx) == []
    assert top_level(tmp_path) == ["dcmtui-home", "store"]  # nothing outside


def top_level(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def pdu(kind: int, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return bytes([kind, 0]) + size.to_bytes(4, "big") + body


async def test_huge_declared_pdu_is_refused(rx: Receiver, tmp_path: Path) -> None:
    t0 = time.monotonic()
    answer = await asyncio.to_thread(
        exchange, rx.port, pdu(0x01, b"\0" * 64, length=0xFFFFFFF0)
    )
    assert time.monotonic() - t0 < 5
    assert answer == b""  # closed: nothing buffered, nothing answered
    await rx.wait_for("failed")
    assert "declared a PDU of 4294967280 bytes" in rx.kinds("failed")[0].detail
    await still_serving(rx, tmp_path)


async def test_unknown_pdu_type(rx: Receiver, tmp_path: Path) -> None:
    answer = await asyncio.to_thread(exchange, rx.port, pdu(0x09, b"abcd"))
    assert answer == b"" or answer.startswith(b"\x07")  # closed, or an A-ABORT
    await rx.wait_for("failed")
    await still_serving(rx, tmp_path)


async def test_malformed_association_request(rx: Receiver, tmp_path: Path) -> None:
    garbage = b"\x00\x01\x00\x00" + b"X" * 16 + b"Y" * 16 + b"\x10" * 40
    answer = await asyncio.to_thread(exchange, rx.port, pdu(0x01, garbage))
    assert not answer.startswith(b"\x02")  # never an A-ASSOCIATE-AC
    await rx.wait_for("failed")
    await still_serving(rx, tmp_path)


async def test_half_a_pdu_then_close(rx: Receiver, tmp_path: Path) -> None:
    await asyncio.to_thread(
        exchange, rx.port, pdu(0x01, b"\0" * 50, length=200), close_after=True
    )
    await rx.wait_for("failed")
    await still_serving(rx, tmp_path)


async def test_silent_peer_is_cut_off(rx: Receiver, tmp_path: Path) -> None:
    t0 = time.monotonic()
    answer = await asyncio.to_thread(exchange, rx.port, b"")
    assert answer == b"" and time.monotonic() - t0 < 6  # idle_timeout is 1 s
    await rx.wait_for("failed")
    await still_serving(rx, tmp_path)


async def test_half_a_pdu_then_silence_is_cut_off(rx: Receiver, tmp_path: Path) -> None:
    t0 = time.monotonic()
    await asyncio.to_thread(exchange, rx.port, pdu(0x01, b"\0" * 50, length=200))
    assert time.monotonic() - t0 < 6
    await rx.wait_for("failed")
    await still_serving(rx, tmp_path)


async def test_association_deadline(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, association_deadline=1.0)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        from pynetdicom import AE

        ae = AE(ae_title="SLOW")
        ae.add_requested_context("1.2.840.10008.1.1")
        assoc = await asyncio.to_thread(ae.associate, "127.0.0.1", rx.port)
        assert assoc.is_established
        await rx.wait_for("aborted", limit=10)
        assert "lasted more than 1 s" in rx.kinds("aborted")[0].detail
        await asyncio.to_thread(assoc.abort)
        assert (await echo(rx)).returncode == 0
    finally:
        await rx.scp.stop(grace=1)


async def test_per_peer_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_associations_per_peer=1)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        from pynetdicom import AE

        ae = AE(ae_title="HOG")
        ae.add_requested_context("1.2.840.10008.1.1")
        first = await asyncio.to_thread(ae.associate, "127.0.0.1", rx.port)
        assert first.is_established
        second = await echo(rx)
        assert second.returncode != 0
        await rx.wait_for("rejected")
        assert "local limit exceeded" in rx.kinds("rejected")[0].detail
        await asyncio.to_thread(first.release)
        assert (await echo(rx)).returncode == 0
    finally:
        await rx.scp.stop(grace=1)


async def test_total_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_associations=1)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        from pynetdicom import AE

        ae = AE(ae_title="FIRST")
        ae.add_requested_context("1.2.840.10008.1.1")
        first = await asyncio.to_thread(ae.associate, "127.0.0.1", rx.port)
        assert first.is_established
        assert (await echo(rx, "-aet", "SECOND")).returncode != 0
        await rx.wait_for("rejected")
        assert "receiver.max_associations" in rx.kinds("rejected")[0].detail
        await asyncio.to_thread(first.release)
        assert (await echo(rx)).returncode == 0
    finally:
        await rx.scp.stop(grace=1)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "tmpfs"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def big_file(path: Path, megabytes: int) -> Path:
    import pydicom

    write_dicom(path, pixels=False)
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 1024, 512
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = megabytes
    ds.add_new(0x7FE00010, "OW", os.urandom(1024 * 1024 * megabytes))
    ds.save_as(path)
    return path


async def test_disk_full_answers_a700_and_keeps_serving(
    small_disk: Path, tmp_path: Path
) -> None:
    rx = await start_receiver(make_settings(tmp_path), small_disk / "store")
    try:
        big = big_file(tmp_path / "big.dcm", 6)  # more than the 4 MB disk
        done = await run(dcmtk("storescu"), "-v", "127.0.0.1", str(rx.port), str(big))
        assert "outofresources" in done.stderr.lower()
        await rx.wait_for("released")
        assert rx.kinds("c-store")[0].status == 0xA700
        assert "cannot write" in rx.kinds("c-store")[0].detail
        assert not list((rx.store / INCOMING).iterdir())  # the space is free again
        small = write_dicom(tmp_path / "small.dcm")
        done = await run(dcmtk("storescu"), "127.0.0.1", str(rx.port), str(small))
        assert done.returncode == 0
        await rx.wait_for("released", 2)
        assert rx.kinds("c-store")[1].status == 0
        assert len(stored(rx)) == 1
    finally:
        await rx.scp.stop(grace=1)


async def test_min_free_disk_refuses_before_writing(
    small_disk: Path, tmp_path: Path
) -> None:
    free = shutil.disk_usage(small_disk).free
    rx = await start_receiver(
        make_settings(tmp_path, min_free_bytes=free + 1), small_disk / "store"
    )
    try:
        small = write_dicom(tmp_path / "small.dcm")
        done = await run(dcmtk("storescu"), "-v", "127.0.0.1", str(rx.port), str(small))
        assert "outofresources" in done.stderr.lower()
        await rx.wait_for("released")
        assert "free in the store" in rx.kinds("c-store")[0].detail
        assert stored(rx) == []
        assert (await echo(rx)).returncode == 0
    finally:
        await rx.scp.stop(grace=1)


async def test_broken_p_data_aborts_only_that_association(
    rx: Receiver, tmp_path: Path
) -> None:
    from pynetdicom import AE

    ae = AE(ae_title="BROKEN")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
    assoc = await asyncio.to_thread(ae.associate, "127.0.0.1", rx.port)
    assert assoc.is_established
    # a data set fragment with no command before it (PDV: context 1, data, last)
    pdv = (6).to_bytes(4, "big") + bytes([1, 0x02]) + b"XXXX"
    sock = assoc.dul.socket
    assert sock is not None and sock.socket is not None
    sock.socket.sendall(pdu(0x04, pdv))
    await rx.wait_for("aborted")
    await asyncio.to_thread(assoc.abort)
    await still_serving(rx, tmp_path)


def c_store_pdus(message_id: int, sop_uid: str, dataset: bytes) -> bytes:
    """A C-STORE-RQ on presentation context 1: command PDU, then data PDU."""
    import struct

    ct = b"1.2.840.10008.5.1.4.1.1.7\0"  # Secondary Capture, even length
    uid = sop_uid.encode() + (b"\0" if len(sop_uid) % 2 else b"")

    def el(elem: int, value: bytes) -> bytes:
        return struct.pack("<HHL", 0, elem, len(value)) + value

    body = (
        el(0x0002, ct)
        + el(0x0100, (1).to_bytes(2, "little"))
        + el(0x0110, message_id.to_bytes(2, "little"))
        + el(0x0700, (0).to_bytes(2, "little"))
        + el(0x0800, (0).to_bytes(2, "little"))
        + el(0x1000, uid)
    )
    command = el(0x0000, len(body).to_bytes(4, "little")) + body

    def p_data(control: int, data: bytes) -> bytes:
        return pdu(
            0x04, (len(data) + 2).to_bytes(4, "big") + bytes([1, control]) + data
        )

    return p_data(0x03, command) + p_data(0x02, dataset)


async def test_a_peer_that_reads_no_answers_holds_up_no_one(tmp_path: Path) -> None:
    """One thread (the hub) serves every plain association: a peer that sends
    objects but never reads the answers must not make it wait. Its answers
    are left to its own thread, which sends them once the peer reads; another
    sender meanwhile is served at once (its storescu would time out)."""
    import io
    import struct

    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.filewriter import write_dataset
    from pynetdicom import AE

    from dcmtui.services.scp_fast import parse_command

    settings = make_settings(tmp_path, idle_timeout=60.0)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        ae = AE(ae_title="STUCK")
        ae.add_requested_context(
            "1.2.840.10008.5.1.4.1.1.7", pydicom.uid.ImplicitVRLittleEndian
        )
        assoc = await asyncio.to_thread(ae.associate, "127.0.0.1", rx.port)
        assert assoc.is_established
        # this peer reads nothing: its DUL thread never looks at the socket
        assoc.dul._is_transport_event = lambda: False  # type: ignore[method-assign]
        assert assoc.dul.socket is not None and assoc.dul.socket.socket is not None
        raw = assoc.dul.socket.socket
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # and the receiver's side of it holds few answers (the kernel would
        # otherwise grow the buffer to megabytes)
        (ours,) = [a.raw_socket for a in rx.scp._assocs.values() if a.requested]
        assert ours is not None
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        count = 3000
        messages = []
        for n in range(1, count + 1):
            ds = Dataset()
            ds.PatientID = "STUCK"
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
            ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.9.{n}"
            ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.9"
            ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.9.0"
            buf = io.BytesIO()
            fp = pydicom.filebase.DicomFileLike(buf)
            fp.is_implicit_VR = fp.is_little_endian = True
            write_dataset(fp, ds)
            messages.append(c_store_pdus(n, ds.SOPInstanceUID, buf.getvalue()))
        sending = asyncio.create_task(
            asyncio.to_thread(raw.sendall, b"".join(messages))
        )
        # once the answers fill the socket, the stuck peer's thread holds them
        await asyncio.sleep(1.0)
        files = [write_dicom(tmp_path / "other" / f"{i}.dcm") for i in range(5)]
        done = await run(
            dcmtk("storescu"),
            "--dimse-timeout",
            "10",
            "-aet",
            "OTHER",
            "127.0.0.1",
            str(rx.port),
            *map(str, files),
        )
        assert done.returncode == 0, done.stderr
        # now the stuck peer reads: every answer arrives, whole and in order
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        raw.settimeout(30)
        answers: list[tuple[int, int]] = []
        data = b""
        while len(answers) < count:
            chunk = await asyncio.to_thread(raw.recv, 1 << 20)
            assert chunk, f"connection closed after {len(answers)} answers"
            data += chunk
            while len(data) >= 6:
                length = struct.unpack(">L", data[2:6])[0]
                if len(data) < 6 + length:
                    break
                assert data[0] == 0x04 and data[11] == 0x03  # command, last
                command = parse_command(data[12 : 6 + length])
                answers.append(
                    (
                        int.from_bytes(command[0x0120], "little"),
                        int.from_bytes(command[0x0900], "little"),
                    )
                )
                data = data[6 + length :]
        assert answers == [(n, 0) for n in range(1, count + 1)]
        await sending
        del assoc.dul._is_transport_event  # reads again: it can abort
        await asyncio.to_thread(assoc.abort)
        await rx.wait_for("aborted")
        assert len(stored(rx)) == count + len(files)
    finally:
        await rx.scp.stop(grace=1)
