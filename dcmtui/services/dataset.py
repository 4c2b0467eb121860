"""A DICOM file as a tree of byte ranges: what the Dataset screen, ``dcmtui dump``
and the lossless editor all work on.

:func:`parse` walks the bytes of a file (preamble, meta group, data set) with
``struct`` and records, for every element, where its header and value lie. No
value is decoded while parsing: a row of the table is decoded only when it is
drawn (:mod:`dcmtui.services.dataset_view`). Pixel data and other big values
are skipped, so a 400 MB file is parsed without reading its frames (large files
are memory-mapped; pages never touched are never read).

The same tree is what makes editing lossless: an edit replaces the bytes of one
element and patches the lengths that enclose it (see :mod:`dcmtui.services.edit`);
every other byte of the file is copied as it was.

A file that cannot be walked to its end (truncated, a length past the end,
nesting deeper than :data:`MAX_DEPTH`, a value that is not an item where an item
must be) is parsed as far as it goes and marked ``damaged`` with the reason; the
editor refuses to save it.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmtui.services.errors import FileReadError

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQ_END = 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
MAX_DEPTH = 64
"""Sequences nested deeper than this make a file damaged (pydicom recurses)."""
MAP_ABOVE = 32 * 1024 * 1024
"""Files bigger than this are memory-mapped instead of read whole."""
MAX_INFLATED = 128 * 1024 * 1024
"""A deflated data set that inflates past this is a decompression bomb."""

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95"})

LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
"""Explicit VRs with a 2-byte reserved field and a 4-byte length."""
KNOWN_VRS = LONG_VRS | {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
    "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US",
}  # fmt: skip


_VR_NAMES = {vr.encode(): vr for vr in KNOWN_VRS}


class Damaged(Exception):
    """The walk cannot go on: the message says where and why."""


class Elem:
    """One data element: where its header and value are in the buffer."""

    __slots__ = (
        "end",
        "frags",
        "hstart",
        "items",
        "length",
        "parent",
        "tag",
        "vr",
        "vstart",
    )

    def __init__(
        self,
        tag: int,
        vr: str,
        hstart: int,
        vstart: int,
        length: int,
        parent: Item | None,
    ) -> None:
        self.tag = tag
        self.vr = vr
        """The VR as written (explicit) or from the dictionary (implicit)."""
        self.hstart = hstart
        self.vstart = vstart
        self.length = length
        """Declared value length (``UNDEFINED`` for undefined length)."""
        self.end = vstart if length == UNDEFINED else vstart + length
        self.parent = parent
        """The item that holds this element; None at the top level."""
        self.items: list[Item] | None = None
        """Items of a sequence (SQ, or UN of undefined length)."""
        self.frags: list[Item] | None = None
        """Fragments of encapsulated pixel data (items without elements)."""

    @property
    def group(self) -> int:
        """The group number."""
        return self.tag >> 16

    @property
    def is_private(self) -> bool:
        """True for odd groups (but not the item tags)."""
        return bool(self.tag & 0x10000) and self.tag >> 16 != 0xFFFF


class Item:
    """One item of a sequence (or one fragment of encapsulated pixel data)."""

    __slots__ = ("elems", "end", "hstart", "length", "parent", "vstart")

    def __init__(self, hstart: int, length: int, parent: Elem) -> None:
        self.hstart = hstart
        self.vstart = hstart + 8
        self.length = length
        self.end = self.vstart if length == UNDEFINED else self.vstart + length
        self.parent = parent
        self.elems: list[Elem] = []


@dataclass
class Parsed:
    """A whole file as a tree of byte ranges."""

    path: Path
    buf: bytes | mmap.mmap
    """The file's bytes (memory-mapped when large)."""
    preamble: bool
    meta: list[Elem]
    data: list[Elem]
    data_buf: bytes | mmap.mmap
    """Bytes the data set's offsets refer to (``buf``, or inflated for deflate)."""
    data_start: int
    """Offset of the data set in ``buf`` (where the deflated stream starts)."""
    transfer_syntax: str
    little: bool
    implicit: bool
    deflated: bool
    size: int
    mtime_ns: int
    damaged: str = ""
    """Why the file could not be walked to its end; "" when it could."""
    trailing: int = 0
    """Bytes after the data set that are not elements (padding, junk)."""
    notes: list[str] = field(default_factory=list)
    """Things worth knowing that are not damage (e.g. no preamble)."""
    cache: dict[object, Any] = field(default_factory=dict)
    """Encodings per item (id) and the search index, filled as they are needed."""

    def close(self) -> None:
        """Unmap the file, if it was mapped."""
        for b in (self.data_buf, self.buf):
            if isinstance(b, mmap.mmap) and not b.closed:
                b.close()

    @property
    def mapped(self) -> bool:
        """True when the file is memory-mapped, not held in memory."""
        return isinstance(self.buf, mmap.mmap)


def _vr_for(tag: int, parent_elems: list[Elem] | None) -> str:
    """The dictionary VR of ``tag`` for implicit VR files ("UN" if unknown)."""
    from dcmtui.services.dictionary import entry, private_entry

    group, elem = tag >> 16, tag & 0xFFFF
    if elem == 0:
        return "UL"
    if group & 1:
        if 0x10 <= elem <= 0xFF:
            return "LO"
        creator = private_creator(tag, parent_elems or [], None)
        found = private_entry(tag, creator) if creator else None
        return _resolve(found[0]) if found else "UN"
    public = entry(tag)
    return _resolve(public[0]) if public else "UN"


def _resolve(vr: str) -> str:
    """Pick one VR of an ambiguous dictionary VR ("US or SS" → "US")."""
    if " or " not in vr:
        return vr
    first = vr.split(" or ")[0]
    return "OW" if vr == "OB or OW" else first


def private_creator(tag: int, elems: list[Elem], buf: bytes | mmap.mmap | None) -> str:
    """The creator of a private element, from its block's reservation.

    Args:
        tag: A private tag (gggg,bbxx).
        elems: The elements of the data set (or item) that holds it.
        buf: The bytes to read the creator's value from; None while parsing
            (then the creator's value is read from the buffer kept in
            ``_PARSE_BUF``).

    Returns:
        The creator text, stripped; "" when the block is not reserved.
    """
    group, block = tag >> 16, (tag >> 8) & 0xFF
    wanted = (group << 16) | block
    source = buf if buf is not None else _PARSE_BUF[0]
    for e in elems:
        if e.tag == wanted:
            raw = bytes(source[e.vstart : e.end])
            return raw.decode("latin-1").strip(" \x00")
        if e.tag > wanted:
            break
    return ""


_PARSE_BUF: list[bytes | mmap.mmap] = [b""]


class _Walker:
    """The recursive walk over one buffer with one encoding."""

    def __init__(self, buf: bytes | mmap.mmap, little: bool, implicit: bool) -> None:
        self.buf = buf
        self.little = little
        self.implicit = implicit
        order = "<" if little else ">"
        self.hh = struct.Struct(order + "HH")
        self.u16 = struct.Struct(order + "H")
        self.u32 = struct.Struct(order + "I")
        self.head = struct.Struct(order + "HH2sH")
        """Group, element, VR bytes and 2-byte length of an explicit header."""
        self.size = len(buf)

    def dataset(
        self, pos: int, end: int, parent: Item | None, depth: int, out: list[Elem]
    ) -> int:
        """Walk elements from ``pos`` to ``end`` (or an item delimiter).

        Returns:
            The offset after the last element (after the delimiter if one
            ended the item).
        """
        buf, u32 = self.buf, self.u32
        head = self.head
        implicit = self.implicit
        vrs = _VR_NAMES
        while pos < end:
            if pos + 8 > end:
                raise Damaged(f"truncated element header at byte {pos}")
            group, el, vr_bytes, short = head.unpack_from(buf, pos)
            tag = (group << 16) | el
            if tag == ITEM_END:
                return pos + 8
            if tag in (SEQ_END, ITEM):
                raise Damaged(f"unexpected delimiter ({group:04X},{el:04X}) at {pos}")
            if implicit:
                vr = _vr_for(tag, out)
                length = u32.unpack_from(buf, pos + 4)[0]
                vstart = pos + 8
                if tag == PIXEL_DATA and length == UNDEFINED:
                    vr = "OB"
            else:
                vr = vrs.get(vr_bytes, "")
                if not vr:
                    raise Damaged(
                        f"invalid VR {vr_bytes!r} of ({group:04X},{el:04X}) at {pos}"
                    )
                if vr in LONG_VRS:
                    if pos + 12 > end:
                        raise Damaged(f"truncated element header at byte {pos}")
                    length = u32.unpack_from(buf, pos + 8)[0]
                    vstart = pos + 12
                else:
                    length = short
                    vstart = pos + 8
            e = Elem(tag, vr, pos, vstart, length, parent)
            out.append(e)
            if length == UNDEFINED:
                if vr == "SQ" or (vr == "UN" and tag != PIXEL_DATA):
                    self._sequence(e, end, depth)
                elif tag == PIXEL_DATA or vr in ("OB", "OW"):
                    self._fragments(e, end)
                else:
                    raise Damaged(f"undefined length of ({group:04X},{el:04X}) {vr}")
            else:
                if e.end > end:
                    raise Damaged(
                        f"({group:04X},{el:04X}) declares {length:,} bytes but only "
                        f"{max(end - vstart, 0):,} remain"
                    )
                if vr == "SQ":
                    self._sequence(e, e.end, depth)
                elif (
                    vr == "UN"
                    and implicit
                    and length >= 8
                    and self.hh.unpack_from(buf, vstart) == (0xFFFE, 0xE000)
                ):  # an implicit VR private sequence of defined length
                    try:
                        self._sequence(e, e.end, depth)
                        e.vr = "SQ"
                    except Damaged:
                        e.items = None
            pos = e.end
        return pos

    def _sequence(self, e: Elem, limit: int, depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise Damaged(f"sequences nested deeper than {MAX_DEPTH} levels")
        buf, hh, u32 = self.buf, self.hh, self.u32
        e.items = []
        undefined = e.length == UNDEFINED
        end = limit if undefined else e.end
        pos = e.vstart
        # UN of undefined length holds implicit VR little endian items.
        inner = self
        if e.vr == "UN" and (not self.implicit or not self.little):
            inner = _Walker(self.buf, True, True)
            buf, hh, u32 = inner.buf, inner.hh, inner.u32
        while True:
            if not undefined and pos >= end:
                break
            if pos + 8 > end:
                raise Damaged(
                    f"sequence ({e.tag >> 16:04X},{e.tag & 0xFFFF:04X}) is truncated"
                )
            group, el = hh.unpack_from(buf, pos)
            length = u32.unpack_from(buf, pos + 4)[0]
            tag = (group << 16) | el
            if tag == SEQ_END and undefined:
                e.end = pos + 8
                return
            if tag != ITEM:
                raise Damaged(f"({group:04X},{el:04X}) where an item must be, at {pos}")
            item = Item(pos, length, e)
            e.items.append(item)
            if length == UNDEFINED:
                pos = inner.dataset(item.vstart, end, item, depth + 1, item.elems)
                if bytes(buf[pos - 8 : pos - 4]) != (
                    b"\xfe\xff\x0d\xe0" if inner.little else b"\xff\xfe\xe0\x0d"
                ):
                    raise Damaged(f"item at {item.hstart} has no delimiter")
                item.end = pos
            else:
                if item.end > end:
                    raise Damaged(f"item at {item.hstart} runs past its sequence")
                inner.dataset(item.vstart, item.end, item, depth + 1, item.elems)
                pos = item.end
        e.end = pos

    def _fragments(self, e: Elem, limit: int) -> None:
        buf, hh, u32 = self.buf, self.hh, self.u32
        e.frags = []
        pos = e.vstart
        while True:
            if pos + 8 > limit:
                raise Damaged("encapsulated pixel data is truncated")
            group, el = hh.unpack_from(buf, pos)
            length = u32.unpack_from(buf, pos + 4)[0]
            tag = (group << 16) | el
            if tag == SEQ_END:
                e.end = pos + 8
                return
            if tag != ITEM or length == UNDEFINED:
                raise Damaged(f"bad fragment ({group:04X},{el:04X}) at {pos}")
            frag = Item(pos, length, e)
            if frag.end > limit:
                raise Damaged(
                    f"pixel data fragment at {pos} declares {length:,} bytes but "
                    f"only {limit - frag.vstart:,} remain"
                )
            e.frags.append(frag)
            pos = frag.end


def _open(path: Path) -> tuple[bytes | mmap.mmap, os.stat_result]:
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > MAP_ABOVE:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), st
            return f.read(), st
    except OSError as exc:
        raise FileReadError(path, exc.strerror or str(exc)) from exc


def parse(path: Path) -> Parsed:
    """Walk a file into a tree of byte ranges.

    Args:
        path: A DICOM file (Part 10, or a bare data set).

    Returns:
        The tree; ``damaged`` says why a walk stopped early.

    Raises:
        FileReadError: The file cannot be read, or is not DICOM at all.
    """
    buf, st = _open(path)
    return parse_bytes(path, buf, st.st_size, st.st_mtime_ns)


def parse_bytes(path: Path, buf: bytes | mmap.mmap, size: int, mtime_ns: int) -> Parsed:
    """Walk ``buf`` (the bytes of ``path``); see :func:`parse`."""
    _PARSE_BUF[0] = buf
    preamble = len(buf) >= 132 and bytes(buf[128:132]) == b"DICM"
    pos = 132 if preamble else 0
    meta: list[Elem] = []
    damaged = ""
    notes: list[str] = []
    if not preamble and len(buf) >= 4 and bytes(buf[0:4]) == b"DICM":
        raise FileReadError(path, "not a DICOM file")
    # The meta group: explicit VR little endian, elements while group is 0002.
    walker = _Walker(buf, True, False)
    if pos + 6 <= len(buf) and bytes(buf[pos : pos + 2]) == b"\x02\x00":
        meta_end = _meta_end(buf, pos)
        try:
            walker.dataset(pos, meta_end, None, 0, meta)
        except Damaged as exc:
            damaged = f"file meta: {exc}"
        pos = meta[-1].end if meta else pos
    elif preamble:
        notes.append("no file meta information")
    ts = ""
    for e in meta:
        if e.tag == 0x00020010:
            ts = bytes(buf[e.vstart : e.end]).decode("latin-1").strip(" \x00")
    if not preamble and not meta and not _looks_like_dataset(buf):
        raise FileReadError(path, "not a DICOM file")
    if not ts:
        ts = _guess_ts(buf, pos)
        notes.append(f"no transfer syntax in the meta group; read as {ts}")
    little = ts != EXPLICIT_BE
    implicit = ts == IMPLICIT_LE
    deflated = ts in DEFLATED
    data_buf: bytes | mmap.mmap = buf
    data_start = pos
    start = pos
    if deflated and not damaged:
        try:
            d = zlib.decompressobj(-zlib.MAX_WBITS)
            inflated = d.decompress(bytes(buf[pos:]), MAX_INFLATED)
            if d.unconsumed_tail:
                raise Damaged(
                    f"the deflated data set inflates past {MAX_INFLATED >> 20} MB"
                )
            data_buf = inflated
            start = 0
        except zlib.error as exc:
            damaged = f"deflated data set cannot be inflated: {exc}"
        except Damaged as exc:
            damaged = str(exc)
    data: list[Elem] = []
    trailing = 0
    if not damaged:
        _PARSE_BUF[0] = data_buf
        walker = _Walker(data_buf, little, implicit)
        try:
            end = walker.dataset(start, len(data_buf), None, 0, data)
            if end < len(data_buf):
                trailing = len(data_buf) - end
        except Damaged as exc:
            damaged = str(exc)
        except RecursionError:
            damaged = "sequences nested too deep to read"
        except MemoryError:
            damaged = "a value too large to hold in memory"
    _PARSE_BUF[0] = b""
    return Parsed(
        path=path,
        buf=buf,
        preamble=preamble,
        meta=meta,
        data=data,
        data_buf=data_buf,
        data_start=data_start,
        transfer_syntax=ts,
        little=little,
        implicit=implicit,
        deflated=deflated,
        size=size,
        mtime_ns=mtime_ns,
        damaged=damaged,
        trailing=trailing,
        notes=notes,
    )


def _meta_end(buf: bytes | mmap.mmap, pos: int) -> int:
    """Where the meta group ends: the first element whose group is not 0002."""
    u16, u32 = struct.Struct("<H"), struct.Struct("<I")
    size = len(buf)
    while pos + 8 <= size and u16.unpack_from(buf, pos)[0] == 2:
        vr = bytes(buf[pos + 4 : pos + 6]).decode("latin-1")
        if vr in LONG_VRS:
            if pos + 12 > size:
                return size
            length = u32.unpack_from(buf, pos + 8)[0]
            pos += 12 + (0 if length == UNDEFINED else length)
        elif vr in KNOWN_VRS:
            pos += 8 + u16.unpack_from(buf, pos + 6)[0]
        else:  # implicit VR meta (wrong, but seen)
            pos += 8 + u32.unpack_from(buf, pos + 4)[0]
    return min(pos, size)


def _looks_like_dataset(buf: bytes | mmap.mmap) -> bool:
    """A bare data set starts with a small even group (0008 or so)."""
    if len(buf) < 8:
        return False
    for order in "<>":
        group = struct.unpack_from(order + "H", buf, 0)[0]
        if 0 < group < 0x0100 and group % 2 == 0:
            return True
    return False


def _guess_ts(buf: bytes | mmap.mmap, pos: int) -> str:
    """Explicit VR little or big endian, or implicit VR little endian."""
    vr = bytes(buf[pos + 4 : pos + 6]).decode("latin-1")
    if vr not in KNOWN_VRS:
        return IMPLICIT_LE
    group = struct.unpack_from("<H", buf, pos)[0]
    return EXPLICIT_LE if 0 < group < 0x0100 else EXPLICIT_BE


def walk(elems: list[Elem], depth: int = 0) -> list[tuple[int, Elem | Item]]:
    """Every element and item below ``elems``, in file order, with its depth."""
    out: list[tuple[int, Elem | Item]] = []
    for e in elems:
        out.append((depth, e))
        for item in e.items or ():
            out.append((depth + 1, item))
            out.extend(walk(item.elems, depth + 2))
    return out
