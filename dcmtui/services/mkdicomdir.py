"""DICOMDIR: a media file-set made from files or folders, like dcmmkdir.

The files are copied into a new folder in the media layout, one level per
directory record (``PT000000/ST000000/SE000000/IM000000``), so every file ID
component obeys the rule of 8 characters from ``A-Z 0-9 _``; the DICOMDIR
lists them Patient > Study > Series > Instance (general-purpose profile).
The general-purpose profile wants Explicit VR Little Endian, so other
transfer syntaxes are converted on the way (with the convert service; the
pixel data of native files is copied, compressed ones are decoded) unless
asked to keep them.

An existing file-set (a folder with a DICOMDIR) is updated: the new
instances are added beside the ones it has, which stay where they are, under
their own file IDs (pydicom's ``FileSet.write`` would move every file into
its own layout, renaming those another tool such as dcmmkdir wrote).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian

from dcmtui.services.convert import convert_file
from dcmtui.services.errors import DcmtuiError

if TYPE_CHECKING:
    from pydicom.fileset import FileInstance, FileSet

_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class DicomdirError(DcmtuiError):
    """A file-set that cannot be made or updated; the message says why."""


@dataclass
class DicomdirResult:
    """What was made."""

    root: str
    """The file-set's folder (with DICOMDIR in it)."""
    added: int = 0
    updated: bool = False
    """True when an existing DICOMDIR was extended."""
    converted: int = 0
    """Files written in Explicit VR Little Endian on the way."""
    invented: int = 0
    """Files whose copy got invented record keys."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every file left out."""
    total: int = 0
    """Instances in the file-set now."""


def valid_file_id(parts: Sequence[str]) -> bool:
    """True when a file ID obeys PS3.10 8.2 / PS3.12: at most 8 components
    of 1 to 8 characters from A-Z, 0-9 and underscore."""
    return 0 < len(parts) <= 8 and all(
        0 < len(part) <= 8 and set(part) <= _ID_CHARS for part in parts
    )


def _candidates(sources: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files.extend(
                sorted(
                    p for p in source.rglob("*") if p.is_file() and p.name != "DICOMDIR"
                )
            )
        else:
            files.append(source)
    return files


def _invented(source: Path, target: Path) -> Path:
    """A copy of ``source`` with the record keys it lacks filled in."""
    import hashlib

    ds = dcmread(source)
    name = str(ds.get("PatientName", ""))
    defaults: dict[str, object] = {
        "PatientID": "DCMTUI" + hashlib.sha1(name.encode()).hexdigest()[:8].upper(),
        "StudyID": "1",
        "StudyDate": "19000101",
        "StudyTime": "000000",
        "SeriesNumber": 1,
        "InstanceNumber": 1,
        "Modality": "OT",
    }
    for keyword, value in defaults.items():
        if not ds.get(keyword):
            setattr(ds, keyword, value)
    ds.save_as(target, enforce_file_format=True)
    return target


def _free_file_id(
    root: Path, wanted: list[str], taken: set[tuple[str, ...]]
) -> list[str]:
    """``wanted`` (pydicom's file ID for a new instance), or, when that names
    a file already there, the same folder with the next free file name."""
    prefix, folder = wanted[-1][:2], wanted[:-1]
    ancestors = [root.joinpath(*folder[: i + 1]) for i in range(len(folder))]
    if any(p.exists() and not p.is_dir() for p in ancestors):
        folder = ["DCMTUI"]  # a file where a folder should be: a folder of our own
    candidates = (f"{prefix}{n:06d}" for n in range(10**6))
    for name in itertools.chain((wanted[-1],), candidates):
        parts = [*folder, name]
        key = tuple(part.upper() for part in parts)
        if key not in taken and not root.joinpath(*parts).exists():
            taken.add(key)
            return parts
    raise DicomdirError(f"no free file ID left in {root.joinpath(*folder)}")


def _write_in_place(fs: FileSet, root: Path) -> None:
    """Write an updated file-set, leaving its files where they are: each new
    instance is copied to a free file ID of its own, then only the DICOMDIR
    is rewritten (``FileSet.write(use_existing=True)``, which pydicom allows
    once no instance is staged for addition)."""
    staged: list[FileInstance] = [i for i in fs if i.for_addition]
    taken = {
        tuple(str(part).upper() for part in _file_id(i))
        for i in fs
        if not i.for_addition
    }
    written: list[Path] = []
    try:
        for instance in staged:
            parts = _free_file_id(root, instance.FileID.split(os.sep), taken)
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(instance.path, target)
            written.append(target)
            # pydicom keeps no public way to place an added instance itself:
            # give the record its file ID and unstage it.
            instance.node._record.ReferencedFileID = parts
            fs._stage["+"].pop(instance.SOPInstanceUID, None)
            instance._apply_stage("x")
        fs._stage["^"] = True  # the DICOMDIR itself changed
        fs.write(use_existing=True)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _file_id(instance: FileInstance) -> list[str]:
    value = instance.node._record.get("ReferencedFileID")
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def make_dicomdir(
    sources: Sequence[Path],
    out_dir: Path,
    *,
    fileset_id: str = "",
    keep_syntax: bool = False,
    invent: bool = False,
) -> DicomdirResult:
    """Create (or update) the file-set in ``out_dir`` from files and folders
    (blocking).

    Args:
        sources: Files and folders (searched recursively).
        out_dir: The file-set's folder; a DICOMDIR there is updated.
        fileset_id: File-set ID for a new DICOMDIR (up to 16 characters).
        keep_syntax: Copy files in their own transfer syntax.
        invent: Fill in the record keys a file lacks (Patient ID, Study ID,
            Study Date/Time, Series Number, Instance Number, Modality) in its
            copy, as dcmmkdir +I does; otherwise such a file is left out.

    Returns:
        Counts and the files left out, with reasons.

    Raises:
        DicomdirError: Nothing could be added, or the DICOMDIR cannot be
            read or written.
    """
    from pydicom.fileset import FileSet

    dicomdir = out_dir / "DICOMDIR"
    result = DicomdirResult(str(out_dir), updated=dicomdir.exists())
    try:
        fs = FileSet(dicomdir) if dicomdir.exists() else FileSet()
    except (InvalidDicomError, ValueError, OSError, AttributeError, KeyError) as exc:
        raise DicomdirError(f"{dicomdir}: cannot read the DICOMDIR ({exc})") from exc
    if not dicomdir.exists():
        if len(fileset_id) > 16:
            raise DicomdirError("the file-set ID has at most 16 characters")
        if fileset_id:
            fs.ID = fileset_id.upper()
    known = {str(i.SOPInstanceUID) for i in fs}
    staging = Path(
        tempfile.mkdtemp(
            prefix=".mkdicomdir-",
            dir=out_dir.parent if out_dir.parent.exists() else None,
        )
    )
    try:
        for path in _candidates(sources):
            try:
                head = dcmread(path, stop_before_pixels=True)
            except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
                result.skipped.append(
                    (str(path), f"not DICOM ({str(exc).splitlines()[0]})")
                )
                continue
            sop = str(head.get("SOPInstanceUID", ""))
            if not sop or "SOPClassUID" not in head:
                result.skipped.append((str(path), "no SOP Class/Instance UID"))
                continue
            if sop in known:
                result.skipped.append((str(path), "already in the file-set"))
                continue
            syntax = str(head.file_meta.get("TransferSyntaxUID", ""))
            source = path
            if not keep_syntax and syntax != ExplicitVRLittleEndian:
                source = staging / f"{len(known):08d}.dcm"
                try:
                    convert_file(path, source, ExplicitVRLittleEndian)
                except DcmtuiError as exc:
                    result.skipped.append((str(path), str(exc)))
                    continue
                result.converted += 1
            try:
                fs.add(source)
            except (ValueError, KeyError, AttributeError) as exc:
                reason = str(exc).splitlines()[0]
                if "is missing" not in reason:
                    result.skipped.append((str(path), reason))
                    continue
                if not invent:
                    result.skipped.append((str(path), f"{reason} (use --invent)"))
                    continue
                source = _invented(source, staging / f"inv{len(known):08d}.dcm")
                try:
                    fs.add(source)
                except (ValueError, KeyError, AttributeError) as again:
                    result.skipped.append((str(path), str(again).splitlines()[0]))
                    continue
                result.invented += 1
            known.add(sop)
            result.added += 1
        if not result.added:
            reason = "; ".join(f"{p}: {r}" for p, r in result.skipped[:3]) or "no files"
            raise DicomdirError(f"nothing to add to {dicomdir} ({reason})")
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            if result.updated:
                _write_in_place(fs, out_dir)
            else:
                fs.write(os.fspath(out_dir))
        except (ValueError, OSError) as exc:
            raise DicomdirError(f"cannot write {dicomdir}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.total = len(fs)
    return result


async def make_dicomdir_async(
    sources: Sequence[Path],
    out_dir: Path,
    *,
    fileset_id: str = "",
    keep_syntax: bool = False,
    invent: bool = False,
) -> DicomdirResult:
    """:func:`make_dicomdir` in a thread."""
    return await asyncio.to_thread(
        make_dicomdir,
        sources,
        out_dir,
        fileset_id=fileset_id,
        keep_syntax=keep_syntax,
        invent=invent,
    )
