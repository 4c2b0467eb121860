"""`dcmtui store import|delete|check|info` and `dcmtui worklist add|list`, as a
user runs them, with the query/retrieve server answering from the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dcmtui.config import load_settings
from dcmtui.services.qr_match import StoreQuery
from dcmtui.services.store_admin import StoreAdmin, store_root
from tests.factories import write_dicom


def dcmtui(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcmtui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def make_source(folder: Path) -> None:
    """Two studies of two files, one text file, one duplicate copy."""
    for n in range(4):
        write_dicom(
            folder / f"s{n % 2}" / f"{n}.dcm",
            uid_seed=f"src{n}",
            PatientID=f"P{n % 2}",
            StudyInstanceUID=f"1.2.826.0.1.3680043.10.1453.{n % 2}",
        )
    (folder / "readme.txt").write_text("not DICOM")
    (folder / "copy").mkdir()
    (folder / "copy" / "again.dcm").write_bytes((folder / "s0" / "0.dcm").read_bytes())


def studies() -> list[str]:
    settings = load_settings()
    query = StoreQuery(settings.index_path, store_root(settings))
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ""
    return sorted(str(r.StudyInstanceUID) for r in query.find(ds, "study"))


def test_import_copies_into_the_store_and_queries_find_it(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    done = dcmtui("store", "import", str(tmp_path / "src"), "--json")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["added"] == 4
    assert counts["duplicates"] == 1
    assert counts["skipped"] == 1
    root = store_root(load_settings())
    assert len(list(root.rglob("*.dcm"))) == 4
    assert studies() == [
        "1.2.826.0.1.3680043.10.1453.0",
        "1.2.826.0.1.3680043.10.1453.1",
    ]
    again = dcmtui("store", "import", str(tmp_path / "src"), "--json")
    assert json.loads(again.stdout)["duplicates"] == 5


def test_import_in_place_references_the_files(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    done = dcmtui("store", "import", "--in-place", str(tmp_path / "src"))
    assert done.returncode == 0, done.stderr
    assert "referenced 5 DICOM files in place" in done.stdout
    assert not store_root(load_settings()).exists() or not list(
        store_root(load_settings()).rglob("*.dcm")
    )
    assert len(studies()) == 2
    info = json.loads(dcmtui("store", "info", "--json").stdout)
    assert info["referenced"] == [str(tmp_path / "src")]


def test_delete_a_study_removes_files_and_index_rows(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    dcmtui("store", "import", str(tmp_path / "src"))
    done = dcmtui("store", "delete", "--study", "1.2.826.0.1.3680043.10.1453.0")
    assert done.returncode == 0, done.stderr
    assert "deleted 2 files" in done.stdout
    assert studies() == ["1.2.826.0.1.3680043.10.1453.1"]
    assert len(list(store_root(load_settings()).rglob("*.dcm"))) == 2
    missing = dcmtui("store", "delete", "--series", "9.9.9")
    assert missing.returncode != 0
    assert "no series '9.9.9' in the store" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_delete_keeps_files_referenced_in_place(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    dcmtui("store", "import", "--in-place", str(tmp_path / "src"))
    done = dcmtui("store", "delete", "--patient", "P1")
    assert done.returncode == 0, done.stderr
    assert "2 files referenced in place left on disk" in done.stdout
    assert (tmp_path / "src" / "s1" / "1.dcm").exists()
    assert studies() == ["1.2.826.0.1.3680043.10.1453.0"]


def test_quota_refuses_an_import_when_full(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    size = (tmp_path / "src" / "s0" / "0.dcm").stat().st_size
    config = Path(os.environ["DCMTUI_CONFIG_DIR"]) / "config.toml"
    config.write_text(f"[qr]\nquota_bytes = {size * 3 - 1}\n")
    done = dcmtui("store", "import", str(tmp_path / "src"), "--json")
    assert done.returncode == 1
    counts = json.loads(done.stdout)
    assert counts["added"] == 2 and counts["refused"] == 2
    assert "the store is full" in done.stderr and "qr.quota_bytes" in done.stderr


def test_check_reconciles_index_and_files(tmp_path: Path) -> None:
    make_source(tmp_path / "src")
    dcmtui("store", "import", str(tmp_path / "src"))
    root = store_root(load_settings())
    gone = next(root.rglob("*.dcm"))
    gone.unlink()
    write_dicom(root / "dropped" / "new.dcm", uid_seed="new", PatientID="P9")
    done = dcmtui("store", "check", "--json")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["removed"] == 1
    assert counts["added"] == 1
    admin = StoreAdmin(load_settings())
    assert admin.check().added == 0  # consistent now


def test_worklist_add_and_list(tmp_path: Path) -> None:
    done = dcmtui(
        "worklist",
        "add",
        "--patient-name",
        "DOE^JOHN",
        "--patient-id",
        "42",
        "--modality",
        "CT",
        "--station",
        "CT1",
    )
    assert done.returncode == 0, done.stderr
    listed = dcmtui("worklist", "list", "--json")
    row = json.loads(listed.stdout.splitlines()[0])
    assert row["patient_name"] == "DOE^JOHN" and row["station"] == "CT1"


@pytest.mark.parametrize("action", ["import", "delete", "check", "info"])
def test_help(action: str) -> None:
    assert dcmtui("store", action, "--help").returncode == 0


def test_listen_answers_queries_from_the_store(tmp_path: Path) -> None:
    """`dcmtui listen` serves query/retrieve too: import, then findscu."""
    from dcmtui.models import Node
    from dcmtui.services.nodes import NodeBook
    from tests.netpeers import dcmtk, free_port, wait_for_port

    make_source(tmp_path / "src")
    assert dcmtui("store", "import", str(tmp_path / "src")).returncode == 0
    NodeBook.in_folder(load_settings().config_dir).add(
        Node(name="finder", ae_title="FINDER", host="127.0.0.1", port=104)
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dcmtui",
            "listen",
            "--port",
            str(port),
            "--aet",
            "PACS",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        out = tmp_path / "rsp"
        out.mkdir()
        done = subprocess.run(
            [
                dcmtk("findscu"),
                "-aet",
                "FINDER",
                "-aec",
                "PACS",
                "-S",
                "-X",
                "-od",
                str(out),
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                "PatientID=P1",
                "-k",
                "StudyInstanceUID",
                "127.0.0.1",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len(list(out.glob("rsp*.dcm"))) == 1
    finally:
        proc.terminate()
        proc.wait(20)
