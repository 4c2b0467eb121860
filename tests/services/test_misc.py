"""Small services: visible text, UID names, sizes, demo workspace, DICOMDIR."""

from __future__ import annotations

from pathlib import Path

from pydicom.data import get_testdata_file

from dcmtui.models import FileKind
from dcmtui.services.demo import make_demo
from dcmtui.services.dicomdir import read_dicomdir
from dcmtui.services.files import Index
from dcmtui.services.names import human_size, uid_name
from dcmtui.services.text import visible


def test_visible_makes_controls_visible() -> None:
    assert visible("DOE^JOHN") == "DOE^JOHN"
    assert visible("a\x1b[2Jb") == "a␛[2Jb"
    assert visible("x\ny\rz\x00") == "x␊y␍z␀"
    assert visible("[bold]x[/bold]") == "[bold]x[/bold]"
    assert visible("abc\u202edef") == "abc\\u202edef"
    assert visible("\x9b31m") == "\\x9b31m"
    assert visible("Müller^Jürgen") == "Müller^Jürgen"
    assert all(c.isprintable() for c in visible("".join(map(chr, range(0x100)))))


def test_uid_names_and_sizes() -> None:
    assert uid_name("1.2.840.10008.5.1.4.1.1.2") == "CT Image Storage"
    assert uid_name("1.2.840.10008.1.2") == "Implicit VR Little Endian"
    assert uid_name("1.2.3.4") == "1.2.3.4"
    assert (human_size(999), human_size(1500), human_size(2_500_000)) == (
        "999 B",
        "1.5 kB",
        "2.5 MB",
    )


def test_demo_workspace_indexes_as_promised(tmp_path: Path) -> None:
    demo = make_demo(tmp_path)
    assert demo == tmp_path / "demo"
    index = Index(tmp_path / "i.sqlite")
    progress = list(index.scan(demo))[-1]
    assert progress.damaged == 2 and progress.other == 1
    assert progress.dicom >= 40
    records = index.records(str(demo))
    assert sum(r.kind is FileKind.DICOMDIR for r in records) == 1
    counts = index.counts(str(demo))
    assert counts["patients"] >= 5 and counts["studies"] >= 5 and counts["series"] >= 10
    before = sorted(p.relative_to(demo) for p in demo.rglob("*"))
    kept = demo / "CT" / "CompressedSamples_CT1" / "CT_small.dcm"
    kept.write_bytes(b"changed by the user")
    (demo / "RT" / "Last_First" / "rtplan.dcm").unlink()
    again = make_demo(tmp_path)  # fills in what is missing, overwrites nothing
    assert again == demo
    assert sorted(p.relative_to(demo) for p in demo.rglob("*")) == before
    assert kept.read_bytes() == b"changed by the user"


def test_dicomdir_hierarchy() -> None:
    root = read_dicomdir(Path(get_testdata_file("DICOMDIR")))  # type: ignore[arg-type]
    assert root.level == "FILESET"
    assert [p.label for p in root.children] == [
        "Patient Doe^Archibald 77654033",
        "Patient Doe^Peter 98890234",
    ]
    study = root.children[0].children[0]
    assert study.level == "STUDY" and study.children[0].level == "SERIES"
    image = study.children[0].children[0]
    assert image.level == "IMAGE" and image.path and Path(image.path).exists()
