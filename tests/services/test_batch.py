"""Batch modify: one change to many files, a result per file, nothing half done."""

from __future__ import annotations

from pathlib import Path

from dcmtui.services.batch import BatchResult, Operation, modify_files
from tests.factories import write_dicom


async def test_result_per_file_and_refusals_leave_files(tmp_path: Path) -> None:
    good = [write_dicom(tmp_path / f"{n}.dcm", PatientName=f"P{n}") for n in range(3)]
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(good[0].read_bytes()[:-30])
    latin = write_dicom(tmp_path / "latin.dcm")
    before = {p: p.read_bytes() for p in [broken, latin]}
    results: list[BatchResult] = []
    paths = [*good, broken]
    async for r in modify_files(paths, [Operation("modify", "PatientName", "ANON")]):
        results.append(r)
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[-1].done == results[-1].total == 4
    assert "damaged" in results[-1].detail
    for p in good:
        assert b"ANON" in p.read_bytes()
        assert p.with_name(p.name + ".bak").exists()
    assert broken.read_bytes() == before[broken]
    results = [
        r
        async for r in modify_files(
            [latin], [Operation("modify", "PatientName", "王")], backup=False
        )
    ]
    assert not results[0].ok and "character set" in results[0].detail
    assert latin.read_bytes() == before[latin]
