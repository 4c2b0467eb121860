"""Associations screen responsiveness while objects arrive.

The app runs headless (Textual's test driver) with the built-in receiver
started; a pynetdicom sender in a thread stores small CT objects into it at a
steady rate (100 a second by default) over one association, while a key
(``x``, which redraws the detail pane) is pressed every 0.2 s. For each press
we measure the time from sending the key to the screen's action running.
The target: under 100 ms. (Key events are posted as a terminal would, without
waiting for the app to be idle.)

Usage::

    python benchmarks/bench_assoc_screen.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _dataset(n: int) -> Any:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "BENCH^SCREEN"
    ds.PatientID = "S1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1453.900"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1453.900.1"
    ds.Modality = "CT"
    ds.InstanceNumber = n
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(64 * 64 * 2)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _sender(port: int, rate: float, seconds: float, sent: list[int]) -> None:
    from pynetdicom import AE

    ae = AE(ae_title="PACED")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")
    datasets = [_dataset(n) for n in range(int(rate * seconds) + 1)]
    assoc = ae.associate("127.0.0.1", port)
    start = time.perf_counter()
    for n, ds in enumerate(datasets):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        assoc.send_c_store(ds)
        sent[0] += 1
    assoc.release()


async def run(rate: float, seconds: float) -> list[float]:
    from dcmtui.app import DcmtuiApp
    from dcmtui.config import load_settings
    from dcmtui.screens.assoc_log import AssocLogScreen
    from dcmtui.services.container import Services

    settings = load_settings()
    cfg = replace(settings.receiver, port=0, bind="127.0.0.1", min_free_bytes=0)
    settings = replace(settings, receiver=cfg)
    services = Services(settings)
    app = DcmtuiApp(settings, root=settings.data_dir, services=services)
    latencies: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AssocLogScreen)
        port = await services.scp.start()
        pressed: list[float] = []
        original = screen.action_expand

        def timed_expand() -> None:
            latencies.append(time.perf_counter() - pressed[-1])
            original()

        screen.action_expand = timed_expand  # type: ignore[method-assign]
        sent = [0]
        thread = threading.Thread(
            target=_sender, args=(port, rate, seconds, sent), daemon=True
        )
        thread.start()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pressed.append(time.perf_counter())
            app.simulate_key("x")  # as a terminal would: no waiting for idle
            await asyncio.sleep(0.2)
        thread.join()
        await pilot.pause(0.3)
        print(
            f"sent {sent[0]} objects; the screen counted "
            f"{screen.book.instances} instances"
        )
        await services.scp.stop(grace=2)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-assoc-screen-") as tmp:
        for part in ("config", "data", "log"):
            Path(tmp, part).mkdir()
            os.environ[f"DCMTUI_{part.upper()}_DIR"] = str(Path(tmp, part))
        latencies = asyncio.run(run(args.rate, args.seconds))
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"{len(ms)} key presses at {args.rate:g} objects/s: median "
        f"{statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, "
        f"max {ms[-1]:.1f} ms (target < 100 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
