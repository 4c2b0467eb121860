"""Read the few tags the index needs from the first kilobytes of a DICOM file.

:func:`read_record` parses the preamble, the file meta group and the start of the
data set itself (explicit and implicit VR little endian cover nearly every file),
with ``struct`` over one ``read()`` of the first 16 KiB. It hands anything unusual
(deflate, big endian, private transfer syntaxes, unknown VRs, odd sequence
nesting) to pydicom, which is imported only then, so that indexing a folder
neither pays for ``import pydicom`` nor for building ``Dataset`` objects.

It also looks for damage cheaply: it walks every element header in the bytes it
has read anyway, compares the declared length of the first element that runs
beyond them (usually Pixel Data) with the file size, and for encapsulated pixel
data checks that the file ends with a sequence delimitation item.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable

from dcmtui.models import FileKind, FileRecord

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO

__all__ = ["DICOMDIR_SOP_CLASS", "read_record", "read_safely", "record_from_bytes"]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
"""Media Storage Directory Storage: the SOP class of a DICOMDIR."""

_CHUNK = 16384
"""Bytes read at a time; the first read usually holds the whole header."""
_MAX_VALUE = 65536
"""A wanted text element longer than this has a bad length, not a long name."""
_MAX_REFILLS = 4096
"""Give up looking for the wanted tags after this many further reads."""
_MAX_FRAGMENTS = 1_000_000
"""Most encapsulated fragments followed when the file does not end in a delimiter."""

_UNDEFINED = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_LAST_WANTED = 0x00200013
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_PYDICOM_ONLY = frozenset(
    {
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.4.95",  # JPIP Referenced Deflate
    }
)
_SEQ_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"

_HH = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")

LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
"""VRs with a 2-byte reserved field and a 4-byte length in explicit VR (the one
list every byte-level reader of this package uses)."""
SHORT_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US".split()
)
"""VRs with a 2-byte length in explicit VR."""
_LONG_VRS, _SHORT_VRS = LONG_VRS, SHORT_VRS
_ALL_VRS = _LONG_VRS | _SHORT_VRS

_SINGLE_BYTE_CODECS = {"": "latin_1", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8"}
"""Character sets decoded here without pydicom (when there are no escapes)."""

# Indexes into the list of raw values the walk fills.
_CHARSET, _SOP_CLASS, _SOP_INSTANCE, _STUDY_DATE, _STUDY_TIME = 0, 1, 2, 3, 4
_ACCESSION, _MODALITY, _STUDY_DESC, _SERIES_DESC, _PATIENT_NAME = 5, 6, 7, 8, 9
_PATIENT_ID, _BIRTH_DATE, _STUDY_UID, _SERIES_UID = 10, 11, 12, 13
_SERIES_NUMBER, _INSTANCE_NUMBER = 14, 15
_WANTED: dict[int, int] = {
    0x00080005: _CHARSET,
    0x00080016: _SOP_CLASS,
    0x00080018: _SOP_INSTANCE,
    0x00080020: _STUDY_DATE,
    0x00080030: _STUDY_TIME,
    0x00080050: _ACCESSION,
    0x00080060: _MODALITY,
    0x00081030: _STUDY_DESC,
    0x0008103E: _SERIES_DESC,
    0x00100010: _PATIENT_NAME,
    0x00100020: _PATIENT_ID,
    0x00100030: _BIRTH_DATE,
    0x0020000D: _STUDY_UID,
    0x0020000E: _SERIES_UID,
    0x00200011: _SERIES_NUMBER,
    0x00200013: _INSTANCE_NUMBER,
}
_KEYWORDS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "Modality",
    "StudyDescription",
    "SeriesDescription",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SeriesNumber",
    "InstanceNumber",
)


def read_safely(
    path: str,
    size: int,
    mtime_ns: int,
    reader: Callable[[str, int, int], FileRecord] | None = None,
) -> FileRecord | OSError:
    """Read one file, never failing for it.

    Args:
        path: The file.
        size: Its size from ``stat``.
        mtime_ns: Its modification time from ``stat``.
        reader: Reads one file (``read_record`` by default).

    Returns:
        The record, or the OSError that reading raised (the file vanished, no
        permission...). A reader that fails in any other way marks the file
        DAMAGED, so that one bad file (or a bug) never ends a scan.
    """
    try:
        return (reader or read_record)(path, size, mtime_ns)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = path
        return exc
    except Exception as exc:
        import logging

        logging.getLogger(__name__).exception("reading %s failed", path)
        reason = f"unreadable: {type(exc).__name__}: {exc}"
        return FileRecord(path, size, mtime_ns, FileKind.DAMAGED, reason)


class _Fallback(Exception):
    """The fast path met something it leaves to pydicom."""


def read_record(path: str, size: int, mtime_ns: int) -> FileRecord:
    """Read the index fields of one file.

    Never raises for the file's *content*: a file that is not DICOM comes back
    as ``OTHER``, a broken one as ``DAMAGED`` with a short reason (and whatever
    fields could be read before the damage), a DICOMDIR as ``DICOMDIR``.

    Args:
        path: The file to read.
        size: Its size from ``stat``; the size of the open file wins if they differ.
        mtime_ns: Its modification time from ``stat``, copied into the record.

    Returns:
        The record for the index.

    Raises:
        OSError: The file could not be opened or read (vanished, no permission,
            a directory...); the scanner counts it as a warning.
    """
    with open(path, "rb", buffering=0) as f:
        buf = f.read(_CHUNK)
        n = len(buf)
        file_size = n if n < _CHUNK else os.fstat(f.fileno()).st_size
        return _from_start(f, buf, path, size, mtime_ns, file_size)


def record_from_bytes(
    path: str,
    data: bytes,
    mtime_ns: int,
    meta: tuple[int, str, str, str] | None = None,
) -> FileRecord:
    """The record :func:`read_record` gives for a file holding exactly ``data``.

    For a file just written from memory (an object the receiver stored): the
    same parse, without reading the file back. Only the unusual encodings that
    :func:`read_record` leaves to pydicom read ``path``.

    Args:
        path: The file, copied to the record (read only by the pydicom fallback).
        data: Its whole content.
        mtime_ns: Its modification time, copied into the record.
        meta: When the caller wrote the file meta group itself (well formed,
            after a 128-byte preamble and ``DICM``): the offset of the data
            set, and the transfer syntax, media storage SOP class and instance
            UIDs as read_record would decode them. The group is then not
            parsed again.

    Returns:
        The record for the index.

    Raises:
        OSError: The pydicom fallback could not read ``path``.
    """
    size = len(data)
    f, buf = io.BytesIO(data), data[:_CHUNK]
    if (
        meta is not None
        and meta[1]
        and meta[2] != DICOMDIR_SOP_CLASS
        and meta[0] + 2 <= len(buf)
        and buf[meta[0] : meta[0] + 2] != b"\x02\x00"  # else the group goes on
    ):
        pos, ts, media_class, media_instance = meta
        return _dataset_record(
            f,
            buf,
            pos,
            132,
            path,
            size,
            mtime_ns,
            size,
            ts,
            media_class,
            media_instance,
            "",
        )
    return _from_start(f, buf, path, size, mtime_ns, size)


def _from_start(
    f: BinaryIO, buf: bytes, path: str, size: int, mtime_ns: int, file_size: int
) -> FileRecord:
    """The record of a file whose first bytes are ``buf`` (see read_record)."""
    n = len(buf)
    if n >= 132 and buf[128:132] == b"DICM":
        meta_start = 132
    elif n >= 8 and buf[:2] in (b"\x02\x00", b"\x08\x00") and _plausible(buf):
        meta_start = 0 if buf[:2] == b"\x02\x00" else -1
    elif n >= 8 and buf[:2] == b"\x00\x08" and buf[4:6] in _ALL_VRS:
        return _with_pydicom(path, size, mtime_ns, file_size, "", "", "", "")
    else:
        return FileRecord(path, size, mtime_ns, FileKind.OTHER)
    return _read_dicom(f, buf, meta_start, path, size, mtime_ns, file_size)


def _plausible(buf: bytes) -> bool:
    """Whether a file without preamble starts like a DICOM data set.

    Args:
        buf: The first bytes of the file, which start with group 0002 or 0008.

    Returns:
        True when the first element has a valid VR or a length that fits.
    """
    if buf[4:6] in _ALL_VRS:
        return True
    return _U32.unpack_from(buf, 4)[0] <= len(buf) - 8 and buf[:2] == b"\x08\x00"


def _read_dicom(
    f: BinaryIO,
    buf: bytes,
    meta_start: int,
    path: str,
    size: int,
    mtime_ns: int,
    file_size: int,
) -> FileRecord:
    """Parse the meta group (if any) and the data set of a file that looks DICOM.

    Args:
        f: The open file, for further reads.
        buf: Its first bytes.
        meta_start: Offset of the meta group, or -1 when the file has none.
        path: Path, copied to the record.
        size: Size, copied to the record.
        mtime_ns: Modification time, copied to the record.
        file_size: The real size of the open file.

    Returns:
        The record.
    """
    reason = ""
    ts = media_class = media_instance = ""
    if meta_start < 0:
        pos = 0
    else:
        try:
            buf, pos, ts, media_class, media_instance, reason = _read_meta(
                f, buf, meta_start, file_size
            )
        except _Damaged as exc:
            return FileRecord(path, size, mtime_ns, FileKind.DAMAGED, str(exc))
        if media_class == DICOMDIR_SOP_CLASS:
            return FileRecord(
                path,
                size,
                mtime_ns,
                FileKind.DAMAGED if reason else FileKind.DICOMDIR,
                reason,
                sop_class_uid=media_class,
                sop_instance_uid=media_instance,
                transfer_syntax_uid=ts,
            )
    return _dataset_record(
        f,
        buf,
        pos,
        meta_start,
        path,
        size,
        mtime_ns,
        file_size,
        ts,
        media_class,
        media_instance,
        reason,
    )


def _dataset_record(
    f: BinaryIO,
    buf: bytes,
    pos: int,
    meta_start: int,
    path: str,
    size: int,
    mtime_ns: int,
    file_size: int,
    ts: str,
    media_class: str,
    media_instance: str,
    reason: str,
) -> FileRecord:
    """The record of a file whose meta group (if any) is read: its data set
    starts at ``pos``; the other arguments as in :func:`_read_dicom`, plus what
    the meta group said (``reason``: why it is faulty, or "")."""
    if ts in _PYDICOM_ONLY or (ts and not ts.startswith(_IMPLICIT_LE)):
        return _with_pydicom(
            path, size, mtime_ns, file_size, ts, media_class, media_instance, reason
        )
    if pos + 6 <= len(buf):
        if buf[pos : pos + 2] == b"\x00\x08":  # a big endian data set, guessed
            return _with_pydicom(
                path, size, mtime_ns, file_size, ts, media_class, media_instance, reason
            )
        explicit = buf[pos + 4 : pos + 6] in _ALL_VRS
    else:
        explicit = ts != _IMPLICIT_LE
    if not ts and meta_start < 0:
        ts = _EXPLICIT_LE if explicit else _IMPLICIT_LE
    values: list[bytes | None] = [None] * 16
    try:
        damage = _walk(f, buf, pos, file_size, explicit, values)
    except _Fallback:
        return _with_pydicom(
            path, size, mtime_ns, file_size, ts, media_class, media_instance, reason
        )
    reason = reason or damage
    return _record(
        path,
        size,
        mtime_ns,
        FileKind.DAMAGED if reason else FileKind.DICOM,
        reason,
        values,
        ts,
        media_class,
        media_instance,
    )


class _Damaged(Exception):
    """The meta group is too broken to go on; the message is the reason."""


def _read_meta(
    f: BinaryIO, buf: bytes, pos: int, file_size: int
) -> tuple[bytes, int, str, str, str, str]:
    """Read the file meta group (explicit VR little endian, group 0002).

    Reads elements while their group is 0002, as pydicom and DCMTK do, and
    checks the result against (0002,0000) File Meta Information Group Length.

    Args:
        f: The open file, for further reads when the group is large.
        buf: The first bytes of the file (from offset 0).
        pos: Offset of the first meta element.
        file_size: Size of the file.

    Returns:
        The buffer (longer if it had to be), the offset after the group, the
        transfer syntax, media storage SOP class and instance UIDs, and a reason
        if the group is faulty ("" otherwise).

    Raises:
        _Damaged: The group cannot be read at all.
    """
    start = pos
    group_end = -1
    ts = media_class = media_instance = ""
    reason = ""
    explicit = True
    while True:
        if pos + 12 > len(buf) and len(buf) < file_size:
            buf += f.read(max(_CHUNK, pos + 12 - len(buf)))
        if pos + 8 > len(buf):
            if pos < len(buf):
                raise _Damaged("truncated: inside the file meta group")
            break
        group, elem = _HH.unpack_from(buf, pos)
        if group != 2:
            break
        if pos == start and buf[pos + 4 : pos + 6] not in _ALL_VRS:
            explicit = False
            reason = "bad meta header: implicit VR"
        if explicit:
            vr = buf[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > len(buf):
                    raise _Damaged("truncated: inside the file meta group")
                length = _U32.unpack_from(buf, pos + 8)[0]
                header = 12
            elif vr in _SHORT_VRS:
                length = _U16.unpack_from(buf, pos + 6)[0]
                header = 8
            else:
                raise _Damaged(f"bad meta header: bad VR at (0002,{elem:04X})")
        else:
            length = _U32.unpack_from(buf, pos + 4)[0]
            header = 8
        if length == _UNDEFINED:
            raise _Damaged(f"bad meta header: undefined length at (0002,{elem:04X})")
        end = pos + header + length
        if length > _MAX_VALUE:
            raise _Damaged(f"bad meta header: bad length at (0002,{elem:04X})")
        if end > file_size:
            raise _Damaged(
                f"truncated: (0002,{elem:04X}) declares {length} bytes, "
                f"{file_size - pos - header} remain"
            )
        if end > len(buf):
            buf += f.read(end - len(buf) + _CHUNK)
        value = buf[pos + header : end]
        if elem == 0x0000 and length == 4:
            group_end = end + _U32.unpack_from(value)[0]
        elif elem == 0x0010:
            ts = value.rstrip(b" \x00").decode("latin-1")
        elif elem == 0x0002:
            media_class = value.rstrip(b" \x00").decode("latin-1")
        elif elem == 0x0003:
            media_instance = value.rstrip(b" \x00").decode("latin-1")
        pos = end
    if not ts:
        reason = reason or "bad meta header: no TransferSyntaxUID"
    if group_end > file_size:
        raise _Damaged("truncated: inside the file meta group")
    if group_end >= 0 and group_end != pos:
        reason = reason or (
            f"bad meta header: group length says {group_end - start - 12} bytes, "
            f"the group has {pos - start - 12}"
        )
    return buf, pos, ts, media_class, media_instance, reason


def _walk(
    f: BinaryIO,
    buf: bytes,
    pos: int,
    file_size: int,
    explicit: bool,
    values: list[bytes | None],
) -> str:
    """Walk the data set's elements, keeping the raw values of the wanted tags.

    Top-level elements are read until the last wanted tag is passed; then the
    walk goes on through the bytes already read, only to look for damage.
    Sequences are skipped (defined length) or walked item by item (undefined
    length, nested, with UN sequences in implicit VR).

    Args:
        f: The open file, for further reads.
        buf: Bytes of the file from offset 0.
        pos: Offset of the data set's first element.
        file_size: Size of the file.
        explicit: Whether the data set is in explicit VR.
        values: Filled in place: raw value of each wanted tag, by index.

    Returns:
        Why the file is damaged, or "" when nothing wrong was seen.

    Raises:
        _Fallback: Something the fast path leaves to pydicom.
    """
    base = 0
    nbuf = len(buf)
    at_eof = nbuf >= file_size
    done = False
    refills = 0
    # For each open container of undefined length: 2 for a sequence, 1 for an
    # item, plus 4 if the VR was explicit outside it.
    stack: list[int] = []
    wanted = _WANTED
    explicit_unpack = _EXPLICIT.unpack_from
    implicit_unpack = _IMPLICIT.unpack_from
    u32_unpack = _U32.unpack_from
    long_vrs = _LONG_VRS
    short_vrs = _SHORT_VRS
    while True:
        i = pos - base
        avail = nbuf - i
        if avail < 12 and not at_eof:
            if done or refills >= _MAX_REFILLS:
                return ""
            refills += 1
            f.seek(pos)
            buf = f.read(_CHUNK)
            base, i, nbuf = pos, 0, len(buf)
            avail = nbuf
            at_eof = base + nbuf >= file_size
        if avail < 8:
            if avail <= 0:
                return "truncated: a sequence has no end" if stack else ""
            return f"truncated: {avail} bytes after the last element"
        if explicit:
            group, elem, vr, length = explicit_unpack(buf, i)
            if group == 0xFFFE:
                length = u32_unpack(buf, i + 4)[0]
                header = 8
            elif vr in short_vrs:
                header = 8
            elif vr in long_vrs:
                if avail < 12:
                    return f"truncated: element header cut at offset {pos}"
                length = u32_unpack(buf, i + 8)[0]
                header = 12
            else:
                raise _Fallback
        else:
            group, elem, length = implicit_unpack(buf, i)
            header = 8
            vr = b""
        if group == 0xFFFE:
            if not stack:
                raise _Fallback
            if elem == 0xE000:
                if length == _UNDEFINED:
                    stack.append(1 | (4 if explicit else 0))
                    pos += 8
                    continue
            elif elem == 0xE00D:
                if stack.pop() & 3 != 1:
                    raise _Fallback
                pos += 8
                continue
            elif elem == 0xE0DD:
                if stack[-1] & 3 != 2:
                    raise _Fallback
                explicit = bool(stack.pop() & 4)
                pos += 8
                continue
            else:
                raise _Fallback
        elif length == _UNDEFINED:
            tag = group << 16 | elem
            if not stack:
                if tag == _PIXEL_DATA:
                    return _check_encapsulated(f, pos + header, file_size)
                if tag > _LAST_WANTED:
                    done = True
            if not explicit or vr == b"SQ" or vr == b"OB" or vr == b"OW":
                stack.append(2 | (4 if explicit else 0))
            elif vr == b"UN":
                stack.append(2 | 4)
                explicit = False
            else:
                return f"bad length at ({group:04X},{elem:04X}): undefined"
            pos += header
            continue
        end = pos + header + length
        if end > file_size:
            remain = max(file_size - pos - header, 0)
            name = (
                "PixelData"
                if group == 0x7FE0 and elem == 0x0010
                else f"({group:04X},{elem:04X})"
            )
            return f"truncated: {name} declares {length} bytes, {remain} remain"
        if not stack and not done:
            tag = group << 16 | elem
            if tag > _LAST_WANTED:
                done = True
            else:
                index = wanted.get(tag)
                if index is not None:
                    if end - base <= nbuf:
                        values[index] = buf[i + header : end - base]
                    elif length > _MAX_VALUE:
                        return f"bad length at ({group:04X},{elem:04X})"
                    else:
                        f.seek(pos + header)
                        values[index] = f.read(length)
        pos = end


def _check_encapsulated(f: BinaryIO, pos: int, file_size: int) -> str:
    """Check that encapsulated pixel data ends before the end of the file.

    The file's last 8 bytes are normally the sequence delimitation item; when
    they are not (trailing elements or padding), the fragments are followed.

    Args:
        f: The open file.
        pos: Offset of the first item (the basic offset table).
        file_size: Size of the file.

    Returns:
        A reason if the pixel data has no end, "" otherwise.
    """
    if file_size - pos >= 8:
        f.seek(file_size - 8)
        if f.read(8) == _SEQ_DELIMITER:
            return ""
    for _ in range(_MAX_FRAGMENTS):
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            break
        group, elem = _HH.unpack_from(header)
        length = _U32.unpack_from(header, 4)[0]
        if group != 0xFFFE or length == _UNDEFINED:
            return f"bad length in encapsulated pixel data at offset {pos}"
        if elem == 0xE0DD:
            return ""
        pos += 8 + length
        if pos > file_size:
            break
    else:
        return ""
    return "truncated: encapsulated pixel data has no end"


def _record(
    path: str,
    size: int,
    mtime_ns: int,
    kind: FileKind,
    reason: str,
    values: list[bytes | None],
    ts: str,
    media_class: str,
    media_instance: str,
) -> FileRecord:
    """Decode the raw values of the wanted tags into a record.

    Args:
        path: Path of the file.
        size: Its size.
        mtime_ns: Its modification time.
        kind: What it is.
        reason: Why it is damaged, or "".
        values: Raw values by index (None where the tag was absent).
        ts: Transfer syntax UID.
        media_class: Media Storage SOP Class UID from the meta group.
        media_instance: Media Storage SOP Instance UID from the meta group.

    Returns:
        The record.
    """
    charset = values[_CHARSET]
    encodings: list[str] | None = None
    if charset:
        terms = charset.decode("latin-1").rstrip(" \x00").split("\\")
        if terms != ["ISO_IR 6"]:
            encodings = terms
    return FileRecord(
        path,
        size,
        mtime_ns,
        kind,
        reason,
        patient_name=_text(values[_PATIENT_NAME], encodings).rstrip("="),
        patient_id=_text(values[_PATIENT_ID], encodings),
        patient_birth_date=_ascii(values[_BIRTH_DATE]),
        study_uid=_ascii(values[_STUDY_UID]),
        study_date=_ascii(values[_STUDY_DATE]),
        study_time=_ascii(values[_STUDY_TIME]),
        study_description=_text(values[_STUDY_DESC], encodings),
        accession_number=_text(values[_ACCESSION], encodings),
        modality=_ascii(values[_MODALITY]),
        series_uid=_ascii(values[_SERIES_UID]),
        series_number=_integer(values[_SERIES_NUMBER]),
        series_description=_text(values[_SERIES_DESC], encodings),
        instance_number=_integer(values[_INSTANCE_NUMBER]),
        sop_class_uid=_ascii(values[_SOP_CLASS]) or media_class,
        sop_instance_uid=_ascii(values[_SOP_INSTANCE]) or media_instance,
        transfer_syntax_uid=ts,
    )


def _ascii(raw: bytes | None) -> str:
    """Decode a value of a VR limited to ASCII (UI, CS, DA, TM), as pydicom does.

    Args:
        raw: The raw value, or None.

    Returns:
        The text without trailing spaces and NULs.
    """
    if not raw:
        return ""
    return raw.decode("latin-1").rstrip(" \x00")


def _text(raw: bytes | None, encodings: list[str] | None) -> str:
    """Decode a text value (PN, LO, SH) with the file's character set.

    ASCII (without ISO 2022 escapes) is decoded here; anything else goes
    through pydicom's character set machinery. Nothing is escaped or dropped.

    Args:
        raw: The raw value, or None.
        encodings: The Specific Character Set terms, None for the default.

    Returns:
        The text without trailing spaces and NULs.
    """
    if not raw:
        return ""
    if b"\x1b" not in raw:
        if raw.isascii():
            return raw.decode("ascii").rstrip(" \x00")
        codec = _SINGLE_BYTE_CODECS.get(encodings[0] if encodings else "")
        if codec is not None and (encodings is None or len(encodings) == 1):
            try:
                return raw.decode(codec).rstrip(" \x00")
            except UnicodeDecodeError:
                pass
    elif raw.isascii() and (encodings is None or "ISO 2022" not in str(encodings)):
        return raw.decode("ascii").rstrip(" \x00")
    return _decode_charset(raw.rstrip(b" \x00"), encodings).rstrip(" \x00")


def _decode_charset(raw: bytes, terms: Sequence[str] | None) -> str:
    """Decode text with pydicom, as it decodes PN, LO and SH values.

    Args:
        raw: The raw value.
        terms: The Specific Character Set terms, None for the default.

    Returns:
        The decoded text; undecodable bytes become replacement characters.
    """
    import warnings

    from pydicom.charset import convert_encodings, decode_bytes, default_encoding

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            encodings = convert_encodings(list(terms)) if terms else [default_encoding]
            return decode_bytes(raw, encodings, {0x0D, 0x0A, 0x09, 0x0C})
        except (LookupError, ValueError):
            return raw.decode("latin-1")


def _integer(raw: bytes | None) -> int | None:
    """Decode an IS value.

    Args:
        raw: The raw value, or None.

    Returns:
        The number, or None when absent, empty or not a number.
    """
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        number = float(raw.split(b"\\")[0])
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _with_pydicom(
    path: str,
    size: int,
    mtime_ns: int,
    file_size: int,
    ts: str,
    media_class: str,
    media_instance: str,
    reason: str,
) -> FileRecord:
    """Read a file the fast path leaves alone, with pydicom.

    The whole data set is read with large values deferred (skipped with a
    seek), so that a length that runs past the end of the file shows.

    Args:
        path: The file.
        size: Its size from ``stat``.
        mtime_ns: Its modification time.
        file_size: The real size of the open file.
        ts: Transfer syntax from the meta group ("" if none).
        media_class: Media Storage SOP Class UID from the meta group.
        media_instance: Media Storage SOP Instance UID from the meta group.
        reason: A fault already found in the meta group, or "".

    Returns:
        The record.

    Raises:
        OSError: The file could not be read.
    """
    import warnings

    from pydicom import dcmread
    from pydicom.dataelem import RawDataElement

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error: Exception | None = None
        try:
            ds = dcmread(path, defer_size=1024, force=True)
        except OSError as exc:
            if exc.errno is not None:  # a real I/O error, not pydicom's complaint
                raise
            error = exc
        except Exception as exc:
            error = exc
        if error is not None:
            return FileRecord(
                path,
                size,
                mtime_ns,
                FileKind.DAMAGED,
                reason or _short(f"unreadable: {error}"),
                transfer_syntax_uid=ts,
                sop_class_uid=media_class,
                sop_instance_uid=media_instance,
            )
        if not ts:
            ts = str(getattr(ds.file_meta, "TransferSyntaxUID", "") or "")
        deflated = ts in _PYDICOM_ONLY and ts != "1.2.840.10008.1.2.2"
        for raw in list(ds._dict.values()):
            if reason:
                break
            if not isinstance(raw, RawDataElement) or raw.length == _UNDEFINED:
                continue
            short = (
                raw.value_tell + raw.length > file_size
                if raw.value is None and not deflated
                else raw.value is not None and len(raw.value) < raw.length
            )
            if short:
                name = "PixelData" if raw.tag == _PIXEL_DATA else f"{raw.tag}"
                reason = f"truncated: {name} declares {raw.length} bytes"
        last = ds._dict[max(ds._dict)] if ds._dict else None
        if (
            not reason
            and not deflated
            and isinstance(last, RawDataElement)
            and last.length != _UNDEFINED
            and 0 < file_size - (last.value_tell + last.length) < 8
        ):
            reason = f"truncated: element header cut at offset {file_size}"
        for warning in caught:
            text = str(warning.message)
            if not reason and ("EOF" in text or "end of file" in text.lower()):
                reason = _short(f"truncated: {text}")
        found = [_pydicom_value(ds, keyword) for keyword in _KEYWORDS]
    return FileRecord(
        path,
        size,
        mtime_ns,
        FileKind.DAMAGED if reason else FileKind.DICOM,
        reason,
        patient_name=found[_PATIENT_NAME],
        patient_id=found[_PATIENT_ID],
        patient_birth_date=found[_BIRTH_DATE],
        study_uid=found[_STUDY_UID],
        study_date=found[_STUDY_DATE],
        study_time=found[_STUDY_TIME],
        study_description=found[_STUDY_DESC],
        accession_number=found[_ACCESSION],
        modality=found[_MODALITY],
        series_uid=found[_SERIES_UID],
        series_number=_integer(found[_SERIES_NUMBER].encode() or None),
        series_description=found[_SERIES_DESC],
        instance_number=_integer(found[_INSTANCE_NUMBER].encode() or None),
        sop_class_uid=found[_SOP_CLASS] or media_class,
        sop_instance_uid=found[_SOP_INSTANCE] or media_instance,
        transfer_syntax_uid=ts,
    )


def _pydicom_value(ds: Any, keyword: str) -> str:
    """One value of a pydicom data set as text, multiple values joined by "\\".

    Args:
        ds: The data set.
        keyword: The element's keyword.

    Returns:
        The text ("" when absent or unreadable).
    """
    try:
        value = ds.get(keyword)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(item) for item in value)
    return str(value)


def _short(text: str) -> str:
    """Shorten a reason to one line of at most 120 characters.

    Args:
        text: The reason.

    Returns:
        Its first line, cut to 120 characters.
    """
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= 120 else line[:117] + "..."
