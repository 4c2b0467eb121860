"""Send (C-STORE) against DCMTK's storescp: as-is, converted, refused,
aborted, more than 128 contexts, pre-flight, resume."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread

from dcmtui.models import Node, SendProgress
from dcmtui.services.dimse_fast import SAME_HOST_SEND_BUFFER, same_host
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import AssociationFailed, Scu
from dcmtui.services.scu_send import Sender, collect, plan_contexts
from tests.factories import write_dicom
from tests.netpeers import Peer, start_storescp

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"

MR_ONLY_CFG = """\
[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LocalEndianExplicit
TransferSyntax2 = OppositeEndianExplicit
TransferSyntax3 = LittleEndianImplicit

[[PresentationContexts]]
[MROnly]
PresentationContext1 = MRImageStorage\\Uncompressed
PresentationContext2 = VerificationSOPClass\\Uncompressed

[[Profiles]]
[MR]
PresentationContexts = MROnly
"""


def node_for(peer: Peer) -> Node:
    return parse_address(f"STORESCP@127.0.0.1:{peer.port}", name="store")


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Peer]:
    peer = start_storescp(tmp_path / "in")
    yield peer
    peer.stop()


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return [
        write_dicom(
            tmp_path / "src" / f"{i}.dcm", implicit=i % 2 == 0, InstanceNumber=i
        )
        for i in range(6)
    ]


def received(folder: Path) -> dict[str, pydicom.Dataset]:
    return {
        str(ds.SOPInstanceUID): ds
        for ds in (dcmread(p) for p in folder.iterdir() if p.is_file())
    }


def sender(tmp_path: Path, bus: EventBus | None = None) -> Sender:
    return Sender(Scu(bus or EventBus()), tmp_path / "journal")


def run(s: Sender, node: Node, paths: list[Path], **kw: object) -> list[SendProgress]:
    return list(s.send_iter(node, paths, **kw))  # type: ignore[arg-type]


def test_send_as_is(tmp_path: Path, storescp: Peer, files: list[Path]) -> None:
    bus = EventBus()
    progress = run(sender(tmp_path, bus), node_for(storescp), [tmp_path / "src"])
    last = progress[-1]
    assert last.done and last.sent == 6 and last.failed == 0
    assert last.done_bytes == last.total_bytes == sum(p.stat().st_size for p in files)
    assert [p.done_files for p in progress[1:-1]] == list(range(1, 7))
    got = received(tmp_path / "in")
    for path in files:
        original = dcmread(path)
        copy = got[str(original.SOPInstanceUID)]
        # sent without conversion: storescp writes what it got, same TS
        assert copy.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert copy.PixelData == original.PixelData
    stores = [e for e in bus.history() if e.kind == "c-store"]
    assert len(stores) == 6 and all(e.status == 0 for e in stores)
    assert [e.kind for e in bus.history()][-1] == "released"
    assert not list((tmp_path / "journal").glob("*"))  # finished: journal gone


def test_converts_when_node_refuses_ts(tmp_path: Path) -> None:
    peer = start_storescp(tmp_path / "in", "+xi")  # implicit VR little endian only
    try:
        path = write_dicom(tmp_path / "src" / "e.dcm", implicit=False)
        last = run(sender(tmp_path), node_for(peer), [path])[-1]
    finally:
        peer.stop()
    assert last.converted == 1 and last.failed == 0
    assert last.last is not None and "Implicit VR Little Endian" in last.last.detail
    (copy,) = received(tmp_path / "in").values()
    assert copy.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert copy.PatientName == "DOE^JOHN"


def test_decompresses_rle_for_node_without_it(tmp_path: Path, storescp: Peer) -> None:
    path = shutil.copy(TEST_FILES / "MR_small_RLE.dcm", tmp_path / "rle.dcm")
    last = run(sender(tmp_path), node_for(storescp), [Path(path)])[-1]
    assert last.converted == 1, last.last
    (copy,) = received(tmp_path / "in").values()
    assert not copy.file_meta.TransferSyntaxUID.is_compressed
    assert copy.pixel_array.shape == dcmread(path).pixel_array.shape


def test_unconvertible_file_reported(tmp_path: Path, storescp: Peer) -> None:
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import JPEGLSLossless

    path = shutil.copy(TEST_FILES / "MR_small_jpeg_ls_lossless.dcm", tmp_path / "l.dcm")
    last = run(sender(tmp_path), node_for(storescp), [Path(path)])[-1]
    assert last.last is not None
    if get_decoder(JPEGLSLossless).is_available:  # pyjpegls installed
        assert last.converted == 1
    else:
        assert last.failed == 1
        assert "refuses JPEG-LS Lossless" in last.last.detail
        assert "cannot decompress" in last.last.detail


def test_sop_class_not_supported(tmp_path: Path) -> None:
    cfg = tmp_path / "mr.cfg"
    cfg.write_text(MR_ONLY_CFG)
    peer = start_storescp(tmp_path / "in", "-xf", str(cfg), "MR")
    try:
        ct = write_dicom(tmp_path / "src" / "ct.dcm")
        mr = shutil.copy(TEST_FILES / "MR_small.dcm", tmp_path / "src" / "mr.dcm")
        s = sender(tmp_path)
        check = {st.path: st for st in s.check_sync(node_for(peer), [ct, Path(mr)])}
        statuses = run(s, node_for(peer), [ct, Path(mr)])
        only_ct = run(s, node_for(peer), [ct])[-1]
    finally:
        peer.stop()
    assert check[str(ct)].state == "refused"
    assert "does not accept CT Image Storage" in check[str(ct)].detail
    assert check[str(mr)].state == "as-is"
    last = statuses[-1]
    assert (last.sent, last.failed) == (1, 1)
    assert only_ct.failed == 1  # association without any accepted context
    assert only_ct.last is not None
    assert "does not accept CT Image Storage" in only_ct.last.detail


def test_abort_during_send_is_reported(tmp_path: Path, files: list[Path]) -> None:
    peer = start_storescp(tmp_path / "in", "--abort-after")
    bus = EventBus()
    try:
        with pytest.raises(AssociationFailed, match="aborted the association"):
            run(sender(tmp_path, bus), node_for(peer), files)
    finally:
        peer.stop()
    assert bus.history()[-1].kind == "aborted"


def test_more_than_128_contexts_use_several_associations(
    tmp_path: Path,
) -> None:
    peer = start_storescp(tmp_path / "in", "-pm")  # accept unknown SOP classes
    files = [
        write_dicom(
            tmp_path / "src" / f"{i}-{j}.dcm",
            implicit=bool(j),
            pixels=False,
            SOPClassUID=f"1.2.826.0.1.3680043.10.1453.99.{i}",
        )
        for i in range(70)
        for j in (0, 1)
        if not (j and i > 0)  # one file per class, plus one implicit of class 0
    ]
    bus = EventBus()
    try:
        batches = plan_contexts(collect(files)[0])
        last = run(sender(tmp_path, bus), node_for(peer), files)[-1]
    finally:
        peer.stop()
    assert len(batches) == 2
    assert all(len(cx) <= 128 for cx, _ in batches)
    assert last.sent == len(files) == 71
    assert [e.kind for e in bus.history()].count("accepted") == 2


def test_preflight_sends_nothing(
    tmp_path: Path, storescp: Peer, files: list[Path]
) -> None:
    statuses = sender(tmp_path).check_sync(node_for(storescp), [tmp_path / "src"])
    assert [s.state for s in statuses] == ["as-is"] * 6
    assert not any((tmp_path / "in").iterdir())


def test_resume_sends_only_what_did_not_arrive(
    tmp_path: Path, storescp: Peer, files: list[Path]
) -> None:
    bus = EventBus()
    s = sender(tmp_path, bus)
    stop = threading.Event()
    done = 0
    with pytest.raises(Exception, match="cancelled"):
        for progress in s.send_iter(node_for(storescp), files, stop=stop):
            done = progress.sent
            if done == 2:
                stop.set()
    # the request in flight when the stop came (the third: the second is
    # reported while the node stores it) is finished, not abandoned
    assert done in (2, 3)
    assert bus.history()[-1].kind == "aborted"
    first = len([e for e in bus.history() if e.kind == "c-store"])
    assert first == done
    last = run(s, node_for(storescp), files)[-1]
    stores = len([e for e in bus.history() if e.kind == "c-store"]) - first
    assert (last.skipped, last.sent, stores) == (done, 6 - done, 6 - done)
    assert len(received(tmp_path / "in")) == 6
    again = run(s, node_for(storescp), files)[-1]  # finished: a fresh send
    assert again.sent == 6


async def test_async_send_progress(
    tmp_path: Path, storescp: Peer, files: list[Path]
) -> None:
    seen = [p async for p in sender(tmp_path).send(node_for(storescp), files)]
    assert seen[-1].done and seen[-1].sent == 6
    assert seen[-1].mb_per_s > 0


def test_large_file_goes_in_many_pdus_intact(tmp_path: Path, storescp: Peer) -> None:
    """600 KB of pixels over storescp's 16 KB PDUs: streamed from the file."""
    pixels = os.urandom(548 * 548 * 2)
    path = write_dicom(
        tmp_path / "big.dcm",
        pixels=False,
        Rows=548,
        Columns=548,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=16,
        BitsStored=16,
        HighBit=15,
        PixelRepresentation=0,
        PixelData=pixels,
    )
    last = run(sender(tmp_path), node_for(storescp), [path])[-1]
    assert last.sent == 1, last.last
    (copy,) = received(tmp_path / "in").values()
    assert copy.PixelData == pixels


def test_small_files_are_read_once(tmp_path: Path, files: list[Path]) -> None:
    """``collect`` keeps a small file's data set, so the send need not read
    the file again; within a bound (``KEEP_BYTES``)."""
    found, _ = collect([tmp_path / "src"])
    for item in found:
        assert item.data == Path(item.path).read_bytes()[item.offset :]
    big = write_dicom(tmp_path / "big" / "b.dcm", ImageComments="x" * 10000)
    (item,), _ = collect([big])
    assert item.size > 8192 and item.data is None  # more than the first read


def test_sent_as_collected_then_changed(
    tmp_path: Path, storescp: Peer, files: list[Path]
) -> None:
    """A file gone between the look at it and its turn fails alone: the
    association goes on with the next files (they are read ahead, while the
    node stores the file before)."""
    bigger = [
        write_dicom(tmp_path / "src2" / f"{i}.dcm", ImageComments="x" * 10000)
        for i in range(4)
    ]
    found, _ = collect([tmp_path / "src2"])
    assert all(f.data is None for f in found)  # read at their turn
    bigger[2].unlink()
    bus = EventBus()
    results = list(sender(tmp_path, bus).send_files(node_for(storescp), found, "test"))
    states = {Path(f.path).name: s.state for f, s in results}
    assert states == {
        "0.dcm": "sent",
        "1.dcm": "sent",
        "2.dcm": "failed",
        "3.dcm": "sent",
    }
    failed = next(s for f, s in results if s.state == "failed")
    assert "cannot read the file" in failed.detail
    assert [e.kind for e in bus.history()].count("c-store") == 3
    assert bus.history()[-1].kind == "released"
    assert len(received(tmp_path / "in")) == 3


@pytest.mark.parametrize(
    ("peer", "local", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.1.1", "127.0.0.1", True),
        ("::1", "::1", True),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),
        ("10.1.2.3", "10.1.2.3", True),  # our own address: routed over loopback
        ("10.1.2.4", "10.1.2.3", False),
        ("fe80::1", "fe80::2", False),
        ("192.0.2.7", "::ffff:10.0.0.1", False),
    ],
)
def test_same_host(peer: str, local: str, expected: bool) -> None:
    assert same_host(peer, local) is expected


def test_same_host_send_buffer_bounded(storescp: Peer) -> None:
    """A peer on this host gets the bounded send buffer (Linux reports twice
    the value set); the 400 MB benchmark is what shows why."""
    from dcmtui.services.dimse_fast import FastAssociation, Proposal

    assoc = FastAssociation.request(
        "127.0.0.1",
        storescp.port,
        calling="DCMTUI",
        called="STORESCP",
        proposals=[Proposal(1, "1.2.840.10008.1.1", ("1.2.840.10008.1.2",))],
        timeout=10,
    )
    try:
        size = assoc.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert size == 2 * SAME_HOST_SEND_BUFFER
    finally:
        assoc.release()
        assoc.close()
