"""The shared walk and the re-open snapshot, as services."""

from __future__ import annotations

import os
from pathlib import Path

from dcmtui.models import ScanProgress
from dcmtui.services import index_snapshot
from dcmtui.services.files import Index
from tests.factories import write_dicom


def last(index: Index, root: Path, **kwargs: object) -> ScanProgress:
    progress = list(index.scan(root, **kwargs))  # type: ignore[arg-type]
    assert progress[-1].done
    return progress[-1]


def test_walk_warnings_after_the_first_batch_are_counted(tmp_path: Path) -> None:
    """The walk reports into the progress of the moment: a warning met after
    a batch was flushed still reaches the final count."""
    root = tmp_path / "d"
    root.mkdir()
    for n in range(600):  # more than one batch of rows (500)
        (root / f"a{n:03}.txt").write_text("x")
    os.symlink(root / "nowhere", root / "zz.dcm")
    progress = last(Index(tmp_path / "i.sqlite"), root)
    assert progress.seen == 600
    assert [(Path(w.path).name, w.reason) for w in progress.warnings] == [
        ("zz.dcm", "broken symbolic link")
    ]


def test_scan_log_is_what_a_walk_sees(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write_dicom(root / "b" / "1.dcm")
    write_dicom(root / "a" / "2.dcm")
    (root / ".hidden").write_text("x")
    os.symlink(root / "a", root / "a" / "loop")
    log = index_snapshot.WalkLog()
    progress = last(Index(tmp_path / "i.sqlite"), root, log=log)
    assert log.files[::3] == [str(root / "a" / "2.dcm"), str(root / "b" / "1.dcm")]
    st = os.stat(root / "a" / "2.dcm")
    assert log.files[1:3] == [st.st_size, st.st_mtime_ns]
    assert log.warnings == [(w.path, w.reason) for w in progress.warnings]
    again = index_snapshot.WalkLog()
    for path, stat in index_snapshot.files_of(
        str(root), os.stat(root), again.warn, True, False
    ):
        again.add(path, stat)
    assert (again.files, again.warnings) == (log.files, log.warnings)
    flat = index_snapshot.WalkLog()
    assert not list(
        index_snapshot.files_of(
            str(root), os.stat(root), flat.warn, True, False, flat.files
        )
    )
    assert (flat.files, flat.warnings) == (log.files, log.warnings)


def test_reopen_needs_the_index(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write_dicom(root / "1.dcm")
    data = tmp_path / "data"
    data.mkdir()
    log = index_snapshot.WalkLog()
    assert not index_snapshot.save(
        str(data),
        str(root),
        follow=True,
        hidden=False,
        config=None,
        log=log,
        json_head="{",
        text_head="",
    )
    last(Index(data / index_snapshot.DB_FILE), root, log=log)
    assert index_snapshot.save(
        str(data),
        str(root),
        follow=True,
        hidden=False,
        config=None,
        log=log,
        json_head="{",
        text_head="t",
    )
    hit = index_snapshot.reopen(str(root), str(data), str(tmp_path / "cfg"))
    assert hit is not None and hit.text_head == "t" and hit.warnings == []
    # the snapshot folder holds no temporary file
    assert os.listdir(data / index_snapshot.FOLDER) == [
        os.path.basename(index_snapshot.snapshot_path(str(data), str(root)))
    ]
    (data / index_snapshot.DB_FILE).unlink()
    assert index_snapshot.reopen(str(root), str(data), str(tmp_path / "cfg")) is None
