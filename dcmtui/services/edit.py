"""Lossless editing: an edit rewrites the bytes of one element, nothing else.

A :class:`Document` holds the bytes of a file as opened and as edited. Each
operation (set a value, insert an element, delete an element or an item, add
an item) builds new bytes by splicing the encoded element into the old ones and
adding the size difference to every length that encloses it: the defined
lengths of the enclosing items and sequences and the group length of the
element's group at each level, where the file has them. Every other byte is
copied as it was: preamble, transfer syntax, character set, private blocks, UN
values, undefined lengths and encapsulated fragments cannot change.

After each operation the new bytes are walked again and compared with the old
element by element (:func:`verify`); an edit that would change anything else
is refused.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shlex
import struct
from dataclasses import dataclass, field
from pathlib import Path

from dcmtui.services.dataset import (
    LONG_VRS,
    UNDEFINED,
    Elem,
    Item,
    Parsed,
    parse_bytes,
    walk,
)
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.values import ValueRefused, parse_value


def _free_memory() -> int:
    """Bytes of memory free now (0 where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 0


MAX_EDIT_BYTES = max(256 << 20, _free_memory() // 8)
"""Larger files open (memory-mapped) but are read-only: an edit copies the file
into memory, so a file may be edited while it takes at most an eighth of the
memory free at start, and at least 256 MB (a 400 MB multi-frame file needs
3.2 GB free)."""
MAX_UNDO_BYTES = max(512 << 20, 2 * MAX_EDIT_BYTES)
"""Undo keeps earlier versions of the file while they fit in this many bytes
(at least two versions of the largest editable file)."""


class EditRefused(DcmtuiError):
    """An edit cannot be made without changing more than the element."""


@dataclass(frozen=True)
class Change:
    """One edit, in words, and the dcmodify command that does the same."""

    kind: str
    """``modify``, ``insert``, ``erase``, ``add item``, ``remove item``."""
    path: str
    """The dcmodify tag path of the element or item."""
    old: str = ""
    new: str = ""
    dcmodify: str = ""
    """An equivalent dcmodify command line (file name as ``FILE``)."""

    def describe(self) -> str:
        """One line for the diff of pending changes."""
        if self.kind == "modify":
            return f"~ {self.path}: {self.old!r} → {self.new!r}"
        if self.kind == "insert":
            return f"+ {self.path} = {self.new!r}"
        if self.kind in ("erase", "remove item"):
            return f"- {self.path}" + (f" (was {self.old!r})" if self.old else "")
        return f"+ {self.path} (new item)"


# -- locating ----------------------------------------------------------------


def tag_text(tag: int) -> str:
    """``(gggg,eeee)`` in upper case."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def path_of(node: Elem | Item) -> str:
    """The dcmodify tag path of a node, e.g. ``(0040,0275)[0].(0040,0009)``."""
    parts: list[str] = []
    n: Elem | Item | None = node
    while n is not None:
        if isinstance(n, Item):
            seq = n.parent
            parts.append(f"{tag_text(seq.tag)}[{(seq.items or []).index(n)}]")
            n = seq.parent
        else:
            parts.append(tag_text(n.tag))
            n = n.parent
    return ".".join(reversed(parts))


def _is_little(parsed: Parsed, node: Elem | Item | None) -> bool:
    """Byte order of ``node``'s encoding (UN sequences hold little endian)."""
    n = node
    while n is not None:
        if isinstance(n, Item):
            if n.parent.vr == "UN":
                return True
            n = n.parent.parent
        else:
            n = n.parent
    return parsed.little


def _is_implicit(parsed: Parsed, container: Item | None) -> bool:
    n: Item | None = container
    while n is not None:
        if n.parent.vr == "UN":
            return True
        n = n.parent.parent
    return parsed.implicit


def encode_element(
    parsed: Parsed, container: Item | None, tag: int, vr: str, value: bytes, meta: bool
) -> bytes:
    """Header and value of an element, in the encoding of its data set."""
    little = True if meta else _is_little(parsed, container)
    implicit = False if meta else _is_implicit(parsed, container)
    o = "<" if little else ">"
    head = struct.pack(o + "HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return head + struct.pack(o + "I", len(value)) + value
    if vr in LONG_VRS:
        return (
            head + vr.encode() + b"\x00\x00" + struct.pack(o + "I", len(value)) + value
        )
    if len(value) > 0xFFFF:
        raise EditRefused(f"a {vr} value holds at most 65,534 bytes")
    return head + vr.encode() + struct.pack(o + "H", len(value)) + value


# -- the document --------------------------------------------------------------


@dataclass
class Document:
    """A file being edited: its bytes as opened, as edited, undo and redo."""

    original: Parsed
    current: Parsed = field(init=False)
    changes: list[Change] = field(default_factory=list)
    _undo: list[tuple[Parsed, list[Change]]] = field(default_factory=list)
    _redo: list[tuple[Parsed, list[Change]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.current = self.original

    @property
    def readonly_reason(self) -> str:
        """Why this file cannot be edited ("" when it can)."""
        p = self.original
        if p.damaged:
            return f"damaged file, read-only: {p.damaged}"
        if p.deflated:
            return "deflated data set, read-only: editing would re-deflate it"
        if p.mapped and p.size > MAX_EDIT_BYTES:
            return (
                f"file larger than {MAX_EDIT_BYTES >> 20} MB, read-only: editing "
                "would hold it in memory"
            )
        return ""

    @property
    def dirty(self) -> bool:
        """True when there are unsaved edits."""
        return bool(self.changes)

    def data(self) -> bytes | mmap.mmap:
        """The bytes to write: the file as edited (the mapped file if unedited)."""
        return self.current.buf

    # -- undo ---------------------------------------------------------------

    def _push(self, parsed: Parsed, change: Change) -> None:
        self._undo.append((self.current, list(self.changes)))
        self._redo.clear()
        self.current = parsed
        self.changes = [*self.changes, change]
        total = 0
        for i in range(len(self._undo) - 1, -1, -1):
            total += len(self._undo[i][0].buf)
            if total > MAX_UNDO_BYTES:
                del self._undo[: i + 1]
                break

    def undo(self) -> bool:
        """Go back one edit; False when there is none."""
        if not self._undo:
            return False
        self._redo.append((self.current, list(self.changes)))
        self.current, self.changes = self._undo.pop()
        return True

    def redo(self) -> bool:
        """Do again the last undone edit; False when there is none."""
        if not self._redo:
            return False
        self._undo.append((self.current, list(self.changes)))
        self.current, self.changes = self._redo.pop()
        return True

    def mark_saved(self, parsed: Parsed) -> None:
        """After a save: the saved bytes are the new original."""
        self.original = self.current = parsed
        self.changes = []
        self._undo.clear()
        self._redo.clear()

    # -- operations ---------------------------------------------------------

    def _check(self) -> None:
        if why := self.readonly_reason:
            raise EditRefused(why)

    def encodings(self, container: Item | None) -> list[str]:
        """Python encodings of the character set in force in ``container``."""
        from dcmtui.services.dataset_view import encodings_for

        probe = Elem(0xFFFFFFFF, "UN", 0, 0, 0, container)
        return encodings_for(self.current, probe)

    def encode_value(
        self, container: Item | None, tag: int, vr: str, text: str, meta: bool = False
    ) -> bytes:
        """Check ``text`` against the VR and the dictionary VM and encode it."""
        from dcmtui.services.dataset_view import public_name

        vm = "" if tag & 0x10000 else public_name(tag)[2]
        little = True if meta else _is_little(self.current, container)
        return parse_value(
            vr, text, vm=vm, encodings=self.encodings(container), little=little
        )

    def set_value(self, elem: Elem, text: str) -> Change:
        """Replace the value of ``elem`` (same tag and VR).

        Raises:
            ValueRefused: The value does not fit the VR, VM or charset.
            EditRefused: The file is read-only, or the element is a sequence.
        """
        self._check()
        if elem.items is not None or elem.frags is not None:
            raise EditRefused("sequences and pixel data have no text value")
        meta = self._is_meta(elem)
        value = self.encode_value(elem.parent, elem.tag, elem.vr, text, meta)
        old = self._text(elem)
        new_elem = encode_element(
            self.current, elem.parent, elem.tag, elem.vr, value, meta
        )
        path = path_of(elem)
        change = Change("modify", path, old, text, _dcmodify("-m", path, text))
        parsed = self._splice(
            elem.hstart, elem.end, new_elem, elem.parent, elem.tag, meta
        )
        if elem.tag == 0x00080018 and elem.parent is None:
            parsed = self._sync_meta(parsed, 0x00020003, value)
        elif elem.tag == 0x00080016 and elem.parent is None:
            parsed = self._sync_meta(parsed, 0x00020002, value)
        self._push(parsed, change)
        return change

    def insert(
        self,
        container: Item | None,
        tag: int,
        vr: str,
        text: str,
        *,
        check_reservation: bool = True,
    ) -> Change:
        """Insert a new element in ``container`` (None: the top level).

        Raises:
            EditRefused: The tag is already there, or a private tag has no
                reservation (as dcmodify without ``-nrc``).
            ValueRefused: The value does not fit.
        """
        self._check()
        elems = container.elems if container is not None else self.current.data
        if any(e.tag == tag for e in elems):
            raise EditRefused(f"{tag_text(tag)} is already there")
        group, el = tag >> 16, tag & 0xFFFF
        if group == 2:
            raise EditRefused("the file meta group is kept as it is")
        if group & 1 and el >= 0x1000 and check_reservation:
            creator = (group << 16) | (el >> 8)
            if not any(e.tag == creator for e in elems):
                raise EditRefused(
                    f"no private creator {tag_text(creator)} reserves the block of "
                    f"{tag_text(tag)}; insert the creator first"
                )
        if _is_implicit(self.current, container) and not group & 1:
            from dcmtui.services.dataset import _vr_for

            known = _vr_for(tag, None)
            if known not in ("UN", vr):
                raise EditRefused(
                    f"{tag_text(tag)} is {known} in the dictionary; an implicit VR "
                    f"file cannot hold it as {vr}"
                )
        if vr == "SQ":
            if text:
                raise ValueRefused("a new sequence starts empty; add items to it")
            value = b""
        else:
            value = self.encode_value(container, tag, vr, text)
        new_elem = encode_element(self.current, container, tag, vr, value, False)
        pos = next((e.hstart for e in elems if e.tag > tag), None)
        if pos is None:
            pos = elems[-1].end if elems else self._empty_pos(container)
        prefix = path_of(container) + "." if container is not None else ""
        path = prefix + tag_text(tag)
        change = Change("insert", path, "", text, _dcmodify("-i", path, text))
        parsed = self._splice(pos, pos, new_elem, container, tag, False)
        self._push(parsed, change)
        return change

    def delete(self, node: Elem | Item) -> Change:
        """Erase an element, or remove an item from its sequence."""
        self._check()
        if isinstance(node, Item):
            seq = node.parent
            if seq.frags is not None:
                raise EditRefused("pixel data fragments are kept as they are")
            path = path_of(node)
            change = Change("remove item", path, "", "", _dcmodify("-e", path, None))
            parsed = self._splice(
                node.hstart, node.end, b"", seq.parent, seq.tag, False, seq=seq
            )
            self._push(parsed, change)
            return change
        if self._is_meta(node):
            raise EditRefused("the file meta group is kept as it is")
        path = path_of(node)
        old = self._text(node)
        change = Change("erase", path, old, "", _dcmodify("-e", path, None))
        parsed = self._splice(node.hstart, node.end, b"", node.parent, node.tag, False)
        self._push(parsed, change)
        return change

    def add_item(self, seq: Elem) -> Change:
        """Append an empty item to a sequence."""
        self._check()
        if seq.items is None:
            raise EditRefused("only sequences have items")
        little = _is_little(self.current, seq.parent) if seq.vr != "UN" else True
        o = "<" if little else ">"
        undefined = seq.items and seq.items[-1].length == UNDEFINED
        if undefined:
            item = struct.pack(o + "HHI", 0xFFFE, 0xE000, UNDEFINED) + struct.pack(
                o + "HHI", 0xFFFE, 0xE00D, 0
            )
        else:
            item = struct.pack(o + "HHI", 0xFFFE, 0xE000, 0)
        # Before the sequence delimiter, or at the end of a defined length.
        pos = seq.end - 8 if seq.length == UNDEFINED else seq.end
        path = f"{path_of(seq)}[{len(seq.items)}]"
        change = Change("add item", path, "", "", _dcmodify("-i", path, None))
        parsed = self._splice(pos, pos, item, seq.parent, seq.tag, False, seq=seq)
        self._push(parsed, change)
        return change

    # -- helpers ------------------------------------------------------------

    def _is_meta(self, elem: Elem) -> bool:
        return elem.parent is None and any(e is elem for e in self.current.meta)

    def _text(self, elem: Elem) -> str:
        from dcmtui.services.dataset_view import decode

        try:
            return "\\".join(decode(self.current, elem, 1024)[0])
        except Exception:
            return ""

    def _empty_pos(self, container: Item | None) -> int:
        if container is None:
            p = self.current
            return p.meta[-1].end if p.meta else (132 if p.preamble else 0)
        return container.vstart

    def _splice(
        self,
        start: int,
        end: int,
        new: bytes,
        container: Item | None,
        tag: int,
        meta: bool,
        seq: Elem | None = None,
    ) -> Parsed:
        """New bytes with ``[start, end)`` replaced and enclosing lengths fixed.

        Args:
            start: First byte replaced.
            end: First byte kept after it.
            new: The replacement.
            container: The item holding the changed element (None: top level).
            tag: The changed element's tag (its group length is fixed).
            meta: The change is in the file meta group.
            seq: When an item itself is added or removed: its sequence (whose
                own length, and the lengths above it, are fixed).
        """
        p = self.current
        delta = len(new) - (end - start)
        buf = bytearray(p.buf)
        patches: list[tuple[int, int, bool]] = []  # (offset, delta, little)

        def group_length(elems: list[Elem], group: int, little: bool) -> None:
            for e in elems:
                if e.tag == group << 16 and e.length == 4:
                    patches.append((e.vstart, delta, little))
                    return
                if e.tag > group << 16:
                    return

        def seq_length(s: Elem) -> None:
            if s.length == UNDEFINED:
                return
            little = _is_little(p, s.parent)
            implicit = _is_implicit(p, s.parent)
            patches.append((s.hstart + (4 if implicit else 8), delta, little))

        if meta:
            group_length(p.meta, 2, True)
        else:
            if seq is not None:
                seq_length(seq)
                level: Item | None = seq.parent
                level_tag = seq.tag
            else:
                level, level_tag = container, tag
            while True:
                elems = level.elems if level is not None else p.data
                little = _is_little(p, level)
                group_length(elems, level_tag >> 16, little)
                if level is None:
                    break
                if level.length != UNDEFINED:
                    patches.append((level.hstart + 4, delta, little))
                holder = level.parent
                seq_length(holder)
                level, level_tag = holder.parent, holder.tag
        for offset, d, little in patches:
            fmt = "<I" if little else ">I"
            value = struct.unpack_from(fmt, buf, offset)[0] + d
            if not 0 <= value < UNDEFINED:
                raise EditRefused("the edit would overflow an enclosing length")
            struct.pack_into(fmt, buf, offset, value)
        buf[start:end] = new
        data = bytes(buf)
        parsed = parse_bytes(p.path, data, len(data), p.mtime_ns)
        verify_splice(p, parsed, start, end, len(new))
        return parsed

    def _sync_meta(self, parsed: Parsed, meta_tag: int, value: bytes) -> Parsed:
        """Make a meta UID follow the data set's (a new SOP Instance UID)."""
        saved = self.current
        self.current = parsed
        try:
            for e in parsed.meta:
                if e.tag == meta_tag:
                    new = encode_element(parsed, None, meta_tag, e.vr, value, True)
                    return self._splice(e.hstart, e.end, new, None, meta_tag, True)
            return parsed
        finally:
            self.current = saved


def _dcmodify(option: str, path: str, value: str | None) -> str:
    arg = path if value is None else f"{path}={value}"
    return f"dcmodify {option} {shlex.quote(arg)} FILE"


# -- verification ----------------------------------------------------------------


def _flat(p: Parsed) -> list[tuple[int, int, bytes]]:
    """Every element and item as (offset, tag, what must not change).

    Lengths are left out (they follow an edit); group length elements too.
    """
    out: list[tuple[int, int, bytes]] = []
    for elems, buf in ((p.meta, p.buf), (p.data, p.data_buf)):
        for _, n in walk(elems):
            if isinstance(n, Item):
                out.append((n.hstart, 0xFFFEE000, b""))
            elif n.tag & 0xFFFF == 0:
                continue
            elif n.items is not None:
                out.append((n.hstart, n.tag, n.vr.encode()))
            elif n.end - n.vstart > _HASH_ABOVE:
                # Big values (pixel data) compare by digest, without a copy.
                digest = hashlib.blake2b(memoryview(buf)[n.vstart : n.end]).digest()
                out.append((n.hstart, n.tag, n.vr.encode() + b"#" + digest))
            else:
                value = bytes(buf[n.vstart : n.end])
                out.append((n.hstart, n.tag, n.vr.encode() + value))
    return out


_HASH_ABOVE = 64 * 1024


def verify_splice(
    before: Parsed, after: Parsed, start: int, old_end: int, new_len: int
) -> None:
    """Check that a splice changed nothing but what it replaced.

    Every element and item of ``before`` outside ``[start, old_end)`` must be in
    ``after``, in the same order, with the same tag, VR and value bytes; and
    ``after`` must hold nothing else outside ``[start, start + new_len)``.

    Raises:
        EditRefused: Something else changed; the message names it.
    """
    if after.damaged:
        raise EditRefused(f"the result would be damaged: {after.damaged}")
    if (before.preamble, before.transfer_syntax, before.trailing) != (
        after.preamble,
        after.transfer_syntax,
        after.trailing,
    ) or bytes(before.buf[:128]) != bytes(after.buf[:128]):
        raise EditRefused("the preamble, transfer syntax or trailing bytes changed")
    old = [x[1:] for x in _flat(before) if not start <= x[0] < old_end]
    new = [x[1:] for x in _flat(after) if not start <= x[0] < start + new_len]
    if old != new:
        for a, b in zip(old, new, strict=False):
            if a != b:
                raise EditRefused(
                    f"the edit would also change {tag_text(a[0])}; refused"
                )
        raise EditRefused("the edit would add or remove other elements; refused")


def open_document(path: Path) -> Document:
    """Parse ``path`` for editing."""
    from dcmtui.services.dataset import parse

    return Document(parse(path))
