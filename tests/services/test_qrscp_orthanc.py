"""Orthanc, a real PACS, configured to query and retrieve from dcmtui's
receiver (C-FIND, then C-MOVE to Orthanc itself), through its REST API."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dcmtui.models import Node
from tests.netpeers import Peer, free_port, start
from tests.peers import require
from tests.services.test_qrscp import Pacs, start_pacs


class Orthanc:
    """A running Orthanc and its REST address."""

    def __init__(self, peer: Peer, http: int) -> None:
        self.peer = peer
        self.http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")


def start_orthanc(folder: Path, dcmtui_port: int) -> Orthanc:
    program = require("Orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    port, http = free_port(), free_port()
    config = {
        "Name": "dcmtui-qr-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomAet": "ORTHANC",
        "DicomPort": port,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": {"dcmtui": ["DCMTUI", "127.0.0.1", dcmtui_port]},
        "Plugins": [],
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    peer = start(
        [program, str(folder / "orthanc.json")],
        port,
        folder / "orthanc.log",
        cwd=folder,
    )
    orthanc = Orthanc(peer, http)
    deadline = time.monotonic() + 20
    while True:
        try:
            orthanc.call("GET", "/system")
            return orthanc
        except OSError:
            if time.monotonic() > deadline:
                peer.stop()
                raise
            time.sleep(0.1)


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[tuple[Pacs, Orthanc]]:
    pacs = await start_pacs(tmp_path)
    orthanc = start_orthanc(tmp_path / "orthanc", pacs.port)
    pacs.book.add(
        Node(
            name="orthanc", ae_title="ORTHANC", host="127.0.0.1", port=orthanc.peer.port
        )
    )
    yield pacs, orthanc
    orthanc.peer.stop()
    await pacs.scp.stop(grace=1)


async def test_orthanc_queries_and_retrieves_from_dcmtui(
    both: tuple[Pacs, Orthanc],
) -> None:
    pacs, orthanc = both
    query = await asyncio.to_thread(
        orthanc.call,
        "POST",
        "/modalities/dcmtui/query",
        {"Level": "Study", "Query": {"PatientName": "DOE*", "StudyDate": ""}},
    )
    answers = await asyncio.to_thread(
        orthanc.call, "GET", f"/queries/{query['ID']}/answers?expand&simplify"
    )
    assert len(answers) == 1
    assert answers[0]["PatientName"] == "DOE^JOHN"
    assert answers[0]["StudyInstanceUID"] == "1.2.826.0.1.3680043.10.1453.1"
    await asyncio.to_thread(
        orthanc.call,
        "POST",
        f"/queries/{query['ID']}/retrieve",
        {"TargetAet": "ORTHANC", "Synchronous": True},
    )
    instances = await asyncio.to_thread(orthanc.call, "GET", "/instances")
    assert len(instances) == 3
    moves = pacs.ops("c-move")
    assert [m.status for m in moves] == [0]
    assert "3 sent" in moves[0].detail
    assert all(e.calling_ae == "ORTHANC" for e in pacs.ops("c-find"))
