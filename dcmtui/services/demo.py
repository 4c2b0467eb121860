"""The demo workspace: sample files that ship inside pydicom, laid out as a
small archive (a few patients, studies and series, a DICOMDIR, two damaged
files and one that is not DICOM), so every screen has real data on a fresh
machine with no network."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcmtui.config import Settings
    from dcmtui.services.nodes import NodeBook

LOGGER = logging.getLogger(__name__)

LOOPBACK = "loopback"
"""The demo's node: dcmtui's own receiver, on this machine."""

DEMO_FOLDER = "demo"
_LAYOUT: dict[str, tuple[str, ...]] = {
    "CT/CompressedSamples_CT1": ("CT_small.dcm",),
    "MR/CompressedSamples_MR1": ("MR_small.dcm",),
    "MR/Sssssss_Jsssss": ("examples_overlay.dcm",),
    "NM/CompressedSamples_NM1": ("JPEG2000.dcm",),
    "US/CompressedSamples_US1": ("examples_rgb_color.dcm",),
    "US/OB": ("examples_palette.dcm",),
    "RT/Lastname_Firstname": ("rtdose.dcm",),
    "RT/Last_First": ("rtplan.dcm",),
    "SR/Last_Name_First_Name": ("reportsi.dcm", "test-SR.dcm"),
    "SEG/JANCT000": ("liver_1frame.dcm",),
    "ECG/Anonymous": ("waveform_ecg.dcm",),
    "SC/Lestrade_G": ("SC_rgb_rle.dcm", "SC_rgb_small_odd.dcm"),
    "damaged": ("MR_truncated.dcm", "rtplan_truncated.dcm"),
}
_README = """\
dcmtui demo workspace

Sample files from pydicom's test data, copied unchanged. The dicomdir/ folder
is a DICOMDIR file set; damaged/ holds two truncated files; this text file is
not DICOM and is skipped by the index.
"""


def _test_files() -> Path:
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


def make_demo(data_dir: Path) -> Path:
    """Copy the demo workspace into ``data_dir/demo`` (missing files only).

    Args:
        data_dir: dcmtui's data folder.

    Returns:
        The demo folder.
    """
    source = _test_files()
    target = data_dir / DEMO_FOLDER
    for folder, names in _LAYOUT.items():
        (target / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            dest = target / folder / name
            if not dest.exists():
                shutil.copyfile(source / name, dest)
    dicomdir = target / "dicomdir"
    if not (dicomdir / "DICOMDIR").exists():
        shutil.copytree(
            source / "dicomdirtests",
            dicomdir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("DICOMDIR-*", "TINY_ALPHA", "README.txt"),
        )
        for path in dicomdir.rglob("*"):  # the package's files may be read-only
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    readme = target / "README.txt"
    if not readme.exists():
        readme.write_text(_README, encoding="utf-8")
    LOGGER.info("demo workspace ready in %s", target)
    return target


def serve_demo(settings: Settings, demo: Path) -> None:
    """Let the query/retrieve server answer from the demo files, referenced
    where they are (not copied into the store); once."""
    from dcmtui.services.store_admin import StoreAdmin

    admin = StoreAdmin(settings)
    if str(demo) not in admin.roots():
        admin.import_folder(demo, in_place=True)


def add_loopback_node(book: NodeBook, ae_title: str, port: int) -> None:
    """Point the address book's "loopback" node at the receiver's port."""
    from dcmtui.models import Node

    node = Node(
        name=LOOPBACK,
        ae_title=ae_title,
        host="127.0.0.1",
        port=port,
        retrieve="C-GET",
        notes="dcmtui's own receiver (dcmtui --demo)",
    )
    if book.get(LOOPBACK) is None:
        book.add(node)
    else:
        book.update(LOOPBACK, node)
