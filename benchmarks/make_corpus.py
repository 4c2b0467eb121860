"""Generate a folder of small DICOM files for the indexing benchmarks.

One template per series is written with pydicom; each instance is the template
with its SOP Instance UID (meta group and data set) and Instance Number patched
in place, so 10,000 files take a few seconds. About 20 studies of a few series
each, in nested folders (patient/study/series), explicit and implicit VR little
endian mixed, 32x32 16-bit pixel data: about 3 KB a file.

Usage: ``python benchmarks/make_corpus.py DIR [--files 10000]``
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
from pathlib import Path

_SOP_PLACEHOLDER = "9" * 36
_NUMBER_PLACEHOLDER = b"88888888"
_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_MODALITIES = ("CT", "MR", "CT", "PT", "CT")


def _template(
    patient: int,
    study_uid: str,
    series_uid: str,
    study_no: int,
    series_no: int,
    implicit: bool,
) -> bytes:
    """Encode one series' template file.

    Args:
        patient: Patient number (names the patient).
        study_uid: Study Instance UID.
        series_uid: Series Instance UID.
        study_no: Study number (date, description).
        series_no: Series number.
        implicit: Implicit VR little endian if True, else explicit.

    Returns:
        The file's bytes with placeholders for SOP Instance UID and Instance Number.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    sop_uid = f"1.2.826.0.1.3680043.8.498.{_SOP_PLACEHOLDER}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(_CT_IMAGE)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    )
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.8.498.1")
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = _CT_IMAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = f"2024{1 + study_no % 12:02d}{1 + study_no % 28:02d}"
    ds.StudyTime = "101500"
    ds.AccessionNumber = f"ACC{study_no:05d}"
    ds.Modality = _MODALITIES[series_no % len(_MODALITIES)]
    ds.Manufacturer = "dcmtui bench"
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.7.{study_no + 1}"
    ref.is_undefined_length_sequence_item = True
    ds.ReferencedStudySequence = Sequence([ref])
    ds["ReferencedStudySequence"].is_undefined_length = True
    ds.StudyDescription = f"Study {study_no} of patient {patient}"
    ds.SeriesDescription = f"Series {series_no}"
    ds.PatientName = f"Bench^Patient{patient:03d}"
    ds.PatientID = f"PID{patient:05d}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.SliceThickness = "1.0"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = str(study_no)
    ds.SeriesNumber = series_no
    ds.InstanceNumber = int(_NUMBER_PLACEHOLDER)
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 32
    ds.Columns = 32
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes((x * 7 + y) & 0x0F for x in range(32) for y in range(64))
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True, implicit_vr=implicit)
    return out.getvalue()


def make_corpus(root: Path, files: int, seed: int = 0) -> int:
    """Write `files` DICOM files under `root`.

    Args:
        root: Folder to fill (created).
        files: How many files.
        seed: Seed for the layout (the UIDs are always fresh).

    Returns:
        The number of files written.
    """
    from pydicom.uid import generate_uid

    rng = random.Random(seed)
    run = random.SystemRandom().randrange(10**9, 10**10)
    studies = 20
    series_per_study = [rng.randint(3, 5) for _ in range(studies)]
    all_series = [
        (study, series)
        for study in range(studies)
        for series in range(series_per_study[study])
    ]
    per_series, extra = divmod(files, len(all_series))
    study_uids = [generate_uid() for _ in range(studies)]
    written = 0
    for index, (study, series) in enumerate(all_series):
        count = per_series + (1 if index < extra else 0)
        patient = study // 2
        template = _template(
            patient,
            study_uids[study],
            generate_uid(),
            study,
            series + 1,
            implicit=index % 2 == 1,
        )
        folder = root / f"P{patient:03d}" / f"ST{study:03d}" / f"SE{series + 1:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        head, _, tail = template.partition(_NUMBER_PLACEHOLDER)
        for number in range(1, count + 1):
            sop = f"{run}{index:04d}{number:06d}".ljust(len(_SOP_PLACEHOLDER), "1")
            data = (
                head.replace(_SOP_PLACEHOLDER.encode(), sop.encode())
                + f"{number:<8d}".encode()
                + tail
            )
            with open(folder / f"IM{number:05d}.dcm", "wb") as f:
                f.write(data)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args(argv)
    count = make_corpus(args.dir, args.files)
    print(f"{count} files in {os.fspath(args.dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
