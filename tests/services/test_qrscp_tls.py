"""Query/retrieve on a TLS receiver: the fast lanes need a plain socket, so
C-FIND and C-GET take pynetdicom's path there, and must still work."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread

from dcmtui.models import Node
from dcmtui.services.scu import Scu
from dcmtui.services.scu_qr import Retriever
from tests.services.test_qrscp import findscu, start_pacs
from tests.services.test_scp_tls import pki  # noqa: F401  (a fixture)


async def test_find_and_get_over_tls(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    pacs = await start_pacs(
        tmp_path,
        tls_cert=str(pki / "server.crt"),
        tls_key=str(pki / "server.key"),
    )
    try:
        tls = ["+tla", "+cf", str(pki / "ca.crt")]
        found, answers = await findscu(
            pacs,
            tmp_path / "found",
            *tls,
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "PatientName=D*",
            "-k",
            "StudyInstanceUID",
        )
        assert found.returncode == 0, found.stderr
        (answer,) = answers
        assert str(answer.PatientName) == "DOE^JOHN"

        pacs.book.add(Node(name="us", ae_title="DCMTUI", host="127.0.0.1", port=1))
        node = Node(
            name="pacs",
            ae_title="DCMTUI",
            host="127.0.0.1",
            port=pacs.port,
            tls_ca=str(pki / "ca.crt"),
        )
        updates = [
            p
            async for p in Retriever(Scu(timeout=10)).get(
                node, "STUDY", [("PatientID", "PID1")], tmp_path / "got"
            )
        ]
        assert (updates[-1].completed, updates[-1].failed) == (3, 0)
        got = sorted(dcmread(p).InstanceNumber for p in (tmp_path / "got").iterdir())
        assert got == [1, 2, 3]
        (get,) = pacs.ops("c-get")
        assert get.status == 0, get.detail
        assert len([e for e in pacs.ops("c-store") if e.status == 0]) == 3
    finally:
        await pacs.scp.stop(grace=1)
