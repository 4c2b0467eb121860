"""Build DICOM files for tests, in code, with pydicom."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

_ROOT = "1.2.826.0.1.3680043.10.1453."  # test UIDs; fixed when given


def write_dicom(
    path: Path,
    *,
    implicit: bool = False,
    pixels: bool = True,
    uid_seed: str | None = None,
    **tags: Any,
) -> Path:
    """Write a small CT image to ``path`` and return it.

    Args:
        path: Where to write (parent folders are created).
        implicit: Implicit VR Little Endian instead of explicit.
        pixels: Add an 8x8 16-bit image.
        uid_seed: Derive the UIDs from this text (same seed, same UIDs),
            for snapshots; fresh random UIDs otherwise.
        **tags: Keywords to set, e.g. ``PatientName="DOE^JOHN"``; these win
            over the defaults.
    """

    def uid(kind: str) -> str:
        if uid_seed is None:
            return str(generate_uid())
        return str(generate_uid(prefix=_ROOT, entropy_srcs=[uid_seed, kind]))

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid("sop")
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC1"
    ds.Modality = "CT"
    ds.StudyDescription = "HEAD"
    ds.SeriesDescription = "AXIAL"
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "PID1"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    if pixels:
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = bytes(range(128))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    )
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
