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
