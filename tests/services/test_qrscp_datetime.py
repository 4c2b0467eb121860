"""Combined date-time matching (PS3.4 C.2.2.2.5) on the receiver's C-FIND:
on when the requestor negotiates it (SOP class extended negotiation, byte 2),
off otherwise."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)

from tests.services.test_qrscp import Pacs, findscu, start_pacs

FIND_MODEL = StudyRootQueryRetrieveInformationModelFind
DOE_STUDY = "1.2.826.0.1.3680043.10.1453.1"  # 2024-01-02 10:15
# From 2024-01-01 12:00 to 2024-01-02 23:59: as one range DOE's study is in
# it; matched separately its time (10:15) is not within 12:00-23:59.
DATES, TIMES = "20240101-20240102", "1200-2359"


@pytest.fixture
async def pacs(tmp_path: Path) -> Any:
    running = await start_pacs(tmp_path)
    yield running
    await running.scp.stop(grace=1)


def pynetdicom_find(pacs: Pacs, negotiate: bool) -> tuple[bytes | None, list[str]]:
    """(the answer to our extended negotiation, the studies found)."""
    ae = AE(ae_title="FINDSCU")
    ae.add_requested_context(FIND_MODEL)
    extended: list[Any] = []
    if negotiate:
        item = SOPClassExtendedNegotiation()
        item.sop_class_uid = FIND_MODEL
        item.service_class_application_information = b"\x00\x01"
        extended.append(item)
    assoc = ae.associate("127.0.0.1", pacs.port, ae_title="DCMTUI", ext_neg=extended)
    assert assoc.is_established
    answer = assoc.acceptor.sop_class_extended.get(FIND_MODEL)
    key = Dataset()
    key.QueryRetrieveLevel = "STUDY"
    key.StudyInstanceUID = ""
    key.StudyDate = DATES
    key.StudyTime = TIMES
    found = []
    try:
        for status, identifier in assoc.send_c_find(key, FIND_MODEL):
            if status and status.Status == 0xFF00 and identifier is not None:
                found.append(str(identifier.StudyInstanceUID))
    finally:
        assoc.release()
    return answer, found


async def test_combined_datetime_when_negotiated(pacs: Pacs) -> None:
    answer, found = await asyncio.to_thread(pynetdicom_find, pacs, True)
    assert answer == b"\x00\x01"  # accepted
    assert found == [DOE_STUDY]
    (op,) = pacs.ops("c-find")
    assert "combined date-time" in op.detail


async def test_separate_matching_without_negotiation(
    pacs: Pacs, tmp_path: Path
) -> None:
    answer, found = await asyncio.to_thread(pynetdicom_find, pacs, False)
    assert answer is None
    assert found == []
    keys = ["-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"]
    keys += ["-k", f"StudyDate={DATES}"]
    done, found_files = await findscu(
        pacs, tmp_path / "f", *keys, "-k", f"StudyTime={TIMES}"
    )
    assert done.returncode == 0, done.stderr
    assert found_files == []
    # the same dates with a time range that the study's time is in: found
    done, found_files = await findscu(
        pacs, tmp_path / "g", *keys, "-k", "StudyTime=1000-1100"
    )
    assert done.returncode == 0, done.stderr
    assert [str(ds.StudyInstanceUID) for ds in found_files] == [DOE_STUDY]
