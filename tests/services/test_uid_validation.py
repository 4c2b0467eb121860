"""Kept verdicts of the UID validators (services.uid_validation): the same
answers as pydicom's and pynetdicom's own, for conformant, non-conformant and
invalid UIDs, with pynetdicom's conformance switch either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import valuerep
from pydicom.uid import UID
from pynetdicom import _config

from dcmtui.services import uid_validation

SAMPLES = [
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.03",  # a leading zero: valid text, not conformant
    "1.2.a",
    "1" * 70,
    "",
    UID("1.2.840.10008.1.2.1"),
]


@pytest.fixture
def originals() -> Iterator[tuple[object, object]]:
    saved = (
        valuerep.VALIDATORS["UI"],
        _config.VALIDATORS["UI"],
        uid_validation._VALIDATION_CACHED,
        _config.ENFORCE_UID_CONFORMANCE,
    )
    yield saved[0], saved[1]
    valuerep.VALIDATORS["UI"], _config.VALIDATORS["UI"] = saved[0], saved[1]
    uid_validation._VALIDATION_CACHED = saved[2]
    _config.ENFORCE_UID_CONFORMANCE = saved[3]


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom's, for bad UIDs
def test_cached_verdicts_are_the_validators_own(
    originals: tuple[object, object],
) -> None:
    pydicom_ui, pynetdicom_ui = originals
    uid_validation._VALIDATION_CACHED = False
    uid_validation.cache_uid_validation()
    assert valuerep.VALIDATORS["UI"] is not pydicom_ui
    assert _config.VALIDATORS["UI"] is not pynetdicom_ui
    for enforced in (False, True, False):
        _config.ENFORCE_UID_CONFORMANCE = enforced
        for value in SAMPLES * 2:  # the second time from the cache
            assert _config.VALIDATORS["UI"](value) == pynetdicom_ui(value)  # type: ignore[operator]
            assert valuerep.VALIDATORS["UI"]("UI", value) == pydicom_ui("UI", value)  # type: ignore[operator]
    uid_validation.cache_uid_validation()  # idempotent: not wrapped twice
    assert uid_validation._VALIDATION_CACHED


async def test_the_receiver_caches_them(
    originals: tuple[object, object], tmp_path: Path
) -> None:
    """storescu proposes every storage SOP class: a started receiver keeps
    the verdicts (the query/retrieve server is one, with extensions)."""
    from tests.services.test_scp import make_settings, start_receiver

    uid_validation._VALIDATION_CACHED = False
    _config.VALIDATORS["UI"] = originals[1]  # type: ignore[assignment]
    rx = await start_receiver(make_settings(tmp_path), tmp_path / "store")
    try:
        assert _config.VALIDATORS["UI"] is not originals[1]
    finally:
        await rx.scp.stop(grace=1)
