"""Images built in code for the pixel, preview and conversion tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

_ROOT = "1.2.826.0.1.3680043.10.1453."


def gradient(rows: int = 64, columns: int = 64, frames: int = 1) -> np.ndarray:
    """A 12-bit diagonal ramp, one per frame (frame f is offset by 100 * f)."""
    y, x = np.mgrid[0:rows, 0:columns]
    base = ((x + y) * 4095 // max(1, rows + columns - 2)).astype(np.uint16)
    if frames == 1:
        return base
    return np.stack([np.minimum(base + 100 * f, 4095) for f in range(frames)])


def write_image(
    path: Path,
    pixels: np.ndarray | None = None,
    *,
    photometric: str = "MONOCHROME2",
    seed: str = "image",
    syntax: str = str(ExplicitVRLittleEndian),
    **tags: Any,
) -> Path:
    """Write a Secondary Capture image with ``pixels`` (default: a gradient).

    Args:
        path: Where to write.
        pixels: (rows, cols), (frames, rows, cols) uint16/uint8 grey, or
            (rows, cols, 3) uint8 RGB.
        photometric: Photometric Interpretation.
        seed: UIDs derive from it (same seed, same file).
        syntax: Transfer syntax (uncompressed ones).
        **tags: Extra keywords, e.g. ``WindowCenter=2048``.
    """
    arr = gradient() if pixels is None else pixels
    uid = lambda kind: str(generate_uid(prefix=_ROOT, entropy_srcs=[seed, kind]))  # noqa: E731
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid("sop")
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.PatientName = "PIXEL^TEST"
    ds.PatientID = "PIX1"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC1"
    ds.ReferringPhysicianName = ""
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    colour = arr.ndim == 3 and arr.shape[-1] == 3 and photometric != "MONOCHROME2"
    frames = arr.shape[0] if arr.ndim == 3 and not colour else 1
    ds.Rows, ds.Columns = arr.shape[1:3] if frames > 1 else arr.shape[:2]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    bits = 8 if arr.dtype == np.uint8 else 16
    ds.BitsAllocated = bits
    ds.BitsStored = 8 if bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
