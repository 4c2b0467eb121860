"""Rows of a parsed file, decoded only when asked for.

:class:`DatasetView` turns the byte-range tree of :mod:`dcmtui.services.dataset`
into the rows the Dataset screen shows (tag, VR, VM, length, name, value),
honouring which sequences are collapsed and which kinds of elements are hidden.
A row's value is decoded when the row is first drawn, then cached, so a file of
20,000 elements shows its first screen after one walk over the headers.

:func:`dump_lines` prints the same tree as dcmdump does.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from dcmtui.services.dataset import (
    PIXEL_DATA,
    UNDEFINED,
    Elem,
    Item,
    Parsed,
    private_creator,
)

MAX_VALUE = 120
"""Characters of a value shown in a row before it is cut."""
MAX_DECODE = 64 * 1024
"""Bytes of a value decoded for display (the detail pane reads up to this)."""

TEXT_VRS = frozenset(
    {
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    }
)
CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
SINGLE_VALUE_VRS = frozenset({"LT", "ST", "UT", "UR"})
NUMBER_FORMATS = {
    "US": "H",
    "SS": "h",
    "UL": "I",
    "SL": "i",
    "FL": "f",
    "FD": "d",
    "UV": "Q",
    "SV": "q",
    "AT": "HH",
}
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


@dataclass(frozen=True, slots=True)
class TagRow:
    """One row of the Dataset screen: an element, an item or a fragment.

    Text fields hold file data as decoded (not escaped): the UI escapes them.
    """

    index: int
    """Position among the rows shown."""
    depth: int
    """Nesting: 0 top level, 1 an item of a top-level sequence, 2 its elements."""
    kind: str
    """``element``, ``item`` or ``fragment``."""
    tag: int
    vr: str
    vm: int
    length: int | None
    """Declared value length; None for undefined length."""
    keyword: str
    """Keyword (or private name), or ``Item 3``."""
    value: str
    """The value, cut when long (``DatasetView.full_value`` has all of it)."""
    private: bool = False
    creator: str = ""
    """The private creator of a private element ("" if none or not private)."""
    meta: bool = False
    """True for the file meta group."""
    expandable: bool = False
    expanded: bool = False

    @property
    def tag_text(self) -> str:
        """``(gggg,eeee)`` in upper case."""
        return f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"


# -- names -------------------------------------------------------------------


@lru_cache(maxsize=8192)
def public_name(tag: int) -> tuple[str, str, str]:
    """Keyword, name and dictionary VM of a public tag ("" when unknown)."""
    from dcmtui.services.dictionary import entry

    if tag & 0xFFFF == 0:
        if tag == 0x00020000:
            return "FileMetaInformationGroupLength", "File Meta Group Length", "1"
        return "GroupLength", "Group Length", "1"
    found = entry(tag)
    if found is None:
        return "", "", ""
    return found[4], found[2], found[1]


@lru_cache(maxsize=8192)
def private_name(tag: int, creator: str) -> str:
    """The name of a private element from pydicom's private dictionaries."""
    if 0x10 <= tag & 0xFFFF <= 0xFF:
        return "PrivateCreator"
    if not creator:
        return ""
    from dcmtui.services.dictionary import private_entry

    found = private_entry(tag, creator)
    return found[2] if found else ""


def element_name(
    elem: Elem,
    siblings: list[Elem],
    buf: bytes | mmap.mmap,
    creators: dict[int, str] | None = None,
) -> tuple[str, str]:
    """The keyword/name shown for ``elem`` and its private creator.

    ``creators``: private creators found so far among ``siblings``, by block
    (filled in here), for a caller naming every element of one list.
    """
    if not elem.is_private:
        keyword, name, _ = public_name(elem.tag)
        return keyword or name or "Unknown", ""
    if 0x10 <= elem.tag & 0xFFFF <= 0xFF:
        return "PrivateCreator", ""
    block = elem.tag >> 8
    if creators is None or (creator := creators.get(block)) is None:
        creator = private_creator(elem.tag, siblings, buf)
        if creators is not None:
            creators[block] = creator
    return private_name(elem.tag, creator) or "Unknown private", creator


# -- values ------------------------------------------------------------------


def siblings_of(parsed: Parsed, elem: Elem) -> list[Elem]:
    """The list of elements that holds ``elem``."""
    if elem.parent is not None:
        return elem.parent.elems
    return parsed.meta if elem.tag >> 16 == 2 and elem in parsed.meta else parsed.data


_SIMPLE_CHARSETS = {
    "": "iso8859",
    "ISO_IR 6": "iso8859",
    "ISO_IR 100": "latin_1",
    "ISO_IR 192": "UTF8",
}


def _convert(terms: list[str]) -> list[str]:
    if len(terms) == 1 and terms[0] in _SIMPLE_CHARSETS:
        return [_SIMPLE_CHARSETS[terms[0]]]
    from pydicom.charset import convert_encodings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_encodings([t or "ISO_IR 6" for t in terms])


def encodings_for(parsed: Parsed, elem: Elem) -> list[str]:
    """Python encodings for ``elem``: its data set's (0008,0005), or its parents'."""
    level: Item | None = elem.parent
    key = id(level)
    if (hit := parsed.cache.get(key)) is not None:
        return hit
    elems = level.elems if level is not None else parsed.data
    result = ["iso8859"]
    while True:
        found = False
        for e in elems:
            if e.tag == 0x00080005:
                raw = bytes(parsed.data_buf[e.vstart : e.end]).decode("latin-1")
                terms = [t.strip(" \x00") for t in raw.split("\\")]
                if terms and not terms[0] and len(terms) > 1:
                    terms[0] = "ISO_IR 6"
                result = _convert(terms)
                found = True
                break
            if e.tag > 0x00080005:
                break
        if found or level is None:
            break
        level = level.parent.parent
        elems = level.elems if level is not None else parsed.data
    parsed.cache[key] = result
    return result


def buffer_of(parsed: Parsed, elem: Elem) -> bytes | mmap.mmap:
    """The buffer ``elem``'s offsets refer to."""
    return (
        parsed.buf
        if elem.tag >> 16 == 2 and elem.parent is None and (elem in parsed.meta)
        else parsed.data_buf
    )


def is_meta(parsed: Parsed, elem: Elem) -> bool:
    """True for elements of the file meta group."""
    return (
        elem.parent is None
        and elem.tag >> 16 == 2
        and bool(parsed.meta)
        and (parsed.meta[0].hstart <= elem.hstart <= parsed.meta[-1].hstart)
        and elem in parsed.meta
    )


def raw_value(parsed: Parsed, elem: Elem, limit: int = MAX_DECODE) -> bytes:
    """Up to ``limit`` bytes of ``elem``'s value."""
    buf = parsed.buf if is_meta(parsed, elem) else parsed.data_buf
    end = min(elem.end, elem.vstart + limit)
    return bytes(buf[elem.vstart : end])


def decode(
    parsed: Parsed, elem: Elem, limit: int = MAX_DECODE, dump: bool = False
) -> tuple[list[str], bool]:
    """The values of ``elem`` as text, and whether they were cut at ``limit``.

    Text is decoded with the file's character set; numbers are formatted;
    binary values are shown as hex bytes (or words for OW).
    """
    if elem.items is not None:
        return [f"{len(elem.items)} item{'s' * (len(elem.items) != 1)}"], False
    if elem.frags is not None:
        return [f"{len(elem.frags)} fragments"], False
    if elem.length == 0:
        return [], False
    raw = raw_value(parsed, elem, limit)
    cut = elem.length > limit
    vr = elem.vr
    little = parsed.little or is_meta(parsed, elem)
    if vr in TEXT_VRS:
        if vr in CHARSET_VRS:
            encodings = encodings_for(parsed, elem)
            if len(encodings) == 1 and 0x1B not in raw:
                text = raw.decode(encodings[0], errors="replace")
            else:
                from pydicom.charset import decode_bytes

                delims = {0x5C, 0x3D, 0x5E} if vr == "PN" else {0x5C}
                if vr in SINGLE_VALUE_VRS:
                    delims = {0x0D, 0x0A, 0x09, 0x0C}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        text = decode_bytes(raw, encodings, delims)
                    except Exception:  # a value the charset cannot decode
                        text = raw.decode("latin-1")
        else:
            text = raw.decode("latin-1")
        text = text.rstrip(" \x00") if vr != "UT" else text.rstrip(" ")
        if vr in SINGLE_VALUE_VRS:
            return ([text] if text else [""]), cut
        return text.split("\\"), cut
    if vr in NUMBER_FORMATS:
        fmt = NUMBER_FORMATS[vr]
        size = struct.calcsize(fmt)
        count = len(raw) // size
        values = struct.unpack(
            ("<" if little else ">") + fmt * count, raw[: count * size]
        )
        if vr == "AT":
            form = "({:04x},{:04x})" if dump else "({:04X},{:04X})"
            return [
                form.format(values[i], values[i + 1]) for i in range(0, len(values), 2)
            ], cut
        if vr in ("FL", "FD"):
            return [f"{v:.17g}" if dump else repr(v) for v in values], cut
        return [str(v) for v in values], cut
    # Binary: hex bytes, or 16-bit words for OW.
    if vr == "OW" and len(raw) % 2 == 0:
        words = struct.unpack(("<" if little else ">") + "H" * (len(raw) // 2), raw)
        return ["\\".join(f"{w:04x}" for w in words)], cut
    return ["\\".join(f"{b:02x}" for b in raw)], cut


def value_multiplicity(parsed: Parsed, elem: Elem) -> int:
    """VM as dcmdump counts it."""
    if elem.items is not None or elem.frags is not None:
        return 1
    vr = elem.vr
    if vr in BINARY_VRS:
        return 1
    if elem.length == 0:
        return 0
    if vr in NUMBER_FORMATS:
        return elem.length // struct.calcsize(NUMBER_FORMATS[vr])
    if vr in SINGLE_VALUE_VRS or vr in BINARY_VRS:
        return 1
    if elem.length > MAX_DECODE:
        return 1
    values = decode(parsed, elem)[0]
    return 0 if values == [""] else len(values)


def summary(parsed: Parsed, elem: Elem, width: int = MAX_VALUE) -> str:
    """The value of ``elem`` as one cut line for a table row."""
    if elem.tag == PIXEL_DATA and elem.parent is None:
        return pixel_summary(parsed, elem)
    if elem.vr in BINARY_VRS and elem.items is None and elem.frags is None:
        raw = raw_value(parsed, elem, 16)
        head = " ".join(f"{b:02x}" for b in raw)
        more = " …" if elem.length > 16 else ""
        return f"{elem.length:,} bytes: {head}{more}" if elem.length else ""
    values, cut = decode(parsed, elem, min(MAX_DECODE, width * 4))
    text = "\\".join(values)
    if len(text) > width or cut:
        return text[:width] + " …"
    return text


def full_value(parsed: Parsed, elem: Elem) -> str:
    """All of the value (up to :data:`MAX_DECODE` bytes) for the detail pane."""
    values, cut = decode(parsed, elem)
    text = "\\".join(values)
    return text + (f"\n… ({elem.length:,} bytes in all)" if cut else "")


def _top_int(parsed: Parsed, tag: int) -> int | None:
    for e in parsed.data:
        if e.tag == tag:
            values = decode(parsed, e)[0]
            try:
                return int(values[0]) if values else None
            except ValueError:
                return None
        if e.tag > tag:
            break
    return None


def pixel_summary(parsed: Parsed, elem: Elem) -> str:
    """Rows x columns x frames, bits, native or compressed, size."""
    rows = _top_int(parsed, 0x00280010)
    cols = _top_int(parsed, 0x00280011)
    frames = _top_int(parsed, 0x00280008) or 1
    bits = _top_int(parsed, 0x00280100)
    samples = _top_int(parsed, 0x00280002) or 1
    shape = f"{rows} x {cols} x {frames} frame{'s' * (frames != 1)}"
    extra = f", {samples} samples" if samples != 1 else ""
    if elem.frags is not None:
        from dcmtui.services.dictionary import uid_name

        name = uid_name(parsed.transfer_syntax)
        size = sum(f.length for f in elem.frags)
        return (
            f"{shape}, {bits} bits{extra}, compressed ({name}), "
            f"{len(elem.frags)} fragments, {size:,} bytes"
        )
    return f"{shape}, {bits} bits{extra}, native, {elem.length:,} bytes"


# -- the view ----------------------------------------------------------------


class DatasetView:
    """The rows shown for one parsed file, with collapse state and filters."""

    def __init__(
        self,
        parsed: Parsed,
        *,
        private: bool = True,
        meta: bool = True,
        group_lengths: bool = True,
        collapsed: set[int] | None = None,
    ) -> None:
        self.parsed = parsed
        self.show_private = private
        self.show_meta = meta
        self.show_group_lengths = group_lengths
        self.collapsed: set[int] = collapsed if collapsed is not None else set()
        """ids of collapsed sequences and items."""
        self.nodes: list[tuple[int, Elem | Item]] = []
        self._cache: dict[int, TagRow] = {}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list of shown rows (after a toggle, collapse or edit)."""
        self._cache.clear()
        out: list[tuple[int, Elem | Item]] = []
        if self.show_meta:
            self._add(self.parsed.meta, 0, out)
        self._add(self.parsed.data, 0, out)
        self.nodes = out

    def _add(
        self, elems: list[Elem], depth: int, out: list[tuple[int, Elem | Item]]
    ) -> None:
        private, lengths, collapsed = (
            self.show_private,
            self.show_group_lengths,
            self.collapsed,
        )
        append = out.append
        if private and lengths and not collapsed:
            # The common case (everything shown), without per-element checks.
            for e in elems:
                append((depth, e))
                if e.items is not None:
                    for item in e.items:
                        append((depth + 1, item))
                        self._add(item.elems, depth + 2, out)
                elif e.frags is not None:
                    out.extend((depth + 1, f) for f in e.frags)
            return
        for e in elems:
            if not private and e.is_private:
                continue
            if not lengths and e.tag & 0xFFFF == 0:
                continue
            append((depth, e))
            if id(e) in collapsed:
                continue
            if e.items is not None:
                for item in e.items:
                    append((depth + 1, item))
                    if id(item) not in collapsed:
                        self._add(item.elems, depth + 2, out)
            elif e.frags is not None:
                out.extend((depth + 1, f) for f in e.frags)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, index: int) -> Elem | Item:
        """The element or item shown at ``index``."""
        return self.nodes[index][1]

    def row(self, index: int) -> TagRow:
        """The decoded row at ``index`` (cached)."""
        if (hit := self._cache.get(index)) is not None:
            return hit
        depth, node = self.nodes[index]
        row = self._make(index, depth, node)
        self._cache[index] = row
        return row

    def _make(self, index: int, depth: int, node: Elem | Item) -> TagRow:
        parsed = self.parsed
        if isinstance(node, Item):
            holder = node.parent
            frag = holder.frags is not None
            number = ((holder.frags if frag else holder.items) or []).index(node)
            length = None if node.length == UNDEFINED else node.length
            if frag:
                value = "offset table" if number == 0 else f"{node.length:,} bytes"
                label = f"Fragment {number}"
            else:
                value = f"{len(node.elems)} element{'s' * (len(node.elems) != 1)}"
                label = f"Item {number + 1}"
            return TagRow(
                index,
                depth,
                "fragment" if frag else "item",
                0xFFFEE000,
                "",
                1,
                length,
                label,
                value,
                expandable=not frag,
                expanded=id(node) not in self.collapsed,
            )
        meta = is_meta(parsed, node)
        siblings = siblings_of(parsed, node)
        buf = parsed.buf if meta else parsed.data_buf
        name, creator = element_name(node, siblings, buf)
        try:
            value = summary(parsed, node)
            vm = value_multiplicity(parsed, node)
        except Exception as exc:  # a value that cannot be decoded
            value, vm = f"<cannot decode: {exc}>", 1
        return TagRow(
            index,
            depth,
            "element",
            node.tag,
            node.vr,
            vm,
            None if node.length == UNDEFINED else node.length,
            name,
            value,
            private=node.is_private,
            creator=creator,
            meta=meta,
            expandable=node.items is not None or node.frags is not None,
            expanded=id(node) not in self.collapsed,
        )

    def full_value(self, index: int) -> str:
        """The whole value at ``index`` for the detail pane."""
        node = self.node(index)
        if isinstance(node, Item):
            return self.row(index).value
        try:
            return full_value(self.parsed, node)
        except Exception as exc:
            return f"<cannot decode: {exc}>"

    # -- tree ------------------------------------------------------------

    def toggle(self, index: int) -> None:
        """Collapse or expand the sequence or item at ``index``."""
        node = self.node(index)
        if id(node) in self.collapsed:
            self.collapsed.discard(id(node))
        elif isinstance(node, Item) or node.items is not None or node.frags is not None:
            self.collapsed.add(id(node))
        self.refresh()

    def expand_all(self) -> None:
        """Expand every sequence and item."""
        self.collapsed.clear()
        self.refresh()

    def collapse_all(self) -> None:
        """Collapse every sequence (and pixel data fragments)."""
        collapsed: set[int] = set()

        def visit(elems: list[Elem]) -> None:
            for e in elems:
                if e.items is not None:
                    collapsed.add(id(e))
                    for item in e.items:
                        visit(item.elems)
                elif e.frags is not None:
                    collapsed.add(id(e))

        visit(self.parsed.meta)
        visit(self.parsed.data)
        self.collapsed = collapsed
        self.refresh()

    def index_of(self, node: Elem | Item) -> int | None:
        """Where ``node`` is shown (None when hidden or collapsed away)."""
        for i, (_, n) in enumerate(self.nodes):
            if n is node:
                return i
        return None

    def reveal(self, node: Elem | Item) -> None:
        """Expand the sequences and items that hold ``node``."""
        n: Elem | Item | None = node
        while n is not None:
            if isinstance(n, Elem):
                n = n.parent
            else:
                self.collapsed.discard(id(n))
                self.collapsed.discard(id(n.parent))
                n = n.parent.parent
        self.refresh()

    # -- find ------------------------------------------------------------

    def search_index(self) -> list[tuple[Elem, str]]:
        """Every element with its name and value folded for text search.

        Built once per file version (a few hundred ms for 20,000 elements);
        the screen builds it in a thread right after loading, so that each
        find is a scan of prepared strings.
        """
        cached: list[tuple[Elem, str]] | None = self.parsed.cache.get("search")
        if cached is not None:
            return cached
        from dcmtui.services.dataset import walk

        parsed = self.parsed
        out: list[tuple[Elem, str]] = []
        for _, n in walk(parsed.meta + parsed.data):
            if isinstance(n, Item):
                continue
            name, creator = element_name(
                n, siblings_of(parsed, n), buffer_of(parsed, n)
            )
            text = name + "\x00" + creator
            if n.items is None and n.frags is None and n.vr not in BINARY_VRS:
                with contextlib.suppress(Exception):
                    text += "\x00" + "\\".join(decode(parsed, n, 4096)[0])
            out.append((n, text.casefold()))
        parsed.cache["search"] = out
        return out

    def find(self, query: str, start: int, backward: bool = False) -> int | None:
        """The next row (after ``start``) that matches ``query``, wrapping round.

        A query like ``(0010,0010)`` or ``0010,0010`` matches the tag; a keyword
        such as ``PatientName`` matches the element; anything else matches text
        in names and values (case-insensitive). Collapsed sequences are searched
        too, and expanded to show the match.
        """
        tag = parse_tag(query)
        needle = query.casefold()
        index = self.search_index()
        if not index:
            return None
        current = self.node(start) if 0 <= start < len(self.nodes) else None
        if isinstance(current, Item):
            current = current.elems[0] if current.elems else current.parent
        pos = -1
        for i, (n, _) in enumerate(index):
            if n is current:
                pos = i
                break
        count = len(index)
        for step in range(1, count + 1):
            i = (pos - step) % count if backward else (pos + step) % count
            n, text = index[i]
            hit = n.tag == tag if tag is not None else needle in text
            if hit and self._is_shown(n):
                self.reveal(n)
                return self.index_of(n)
        return None

    def _is_shown(self, n: Elem | Item) -> bool:
        if isinstance(n, Item):
            return self._is_shown(n.parent)
        if not self.show_private and n.is_private:
            return False
        if not self.show_group_lengths and n.tag & 0xFFFF == 0:
            return False
        if not self.show_meta and n.parent is None and is_meta(self.parsed, n):
            return False
        return n.parent is None or self._is_shown(n.parent.parent)


def parse_tag(text: str) -> int | None:
    """A tag from ``(0010,0010)``, ``0010,0010`` or a keyword; else None."""
    import re

    m = re.fullmatch(r"\s*\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?\s*", text)
    if m:
        return int(m[1] + m[2], 16)
    from dcmtui.services.dictionary import tag_for_keyword

    return tag_for_keyword(text.strip())


# -- dcmdump-like text -------------------------------------------------------

_UID_VR = "UI"


def _dump_value(
    parsed: Parsed, elem: Elem, encodings: list[str] | None = None
) -> tuple[str, int]:
    """The value as dcmdump prints it, and its VM (decoded once).

    ``encodings``: the character set in force where ``elem`` is, when the
    caller knows it (saves looking it up element by element).
    """
    if elem.length == 0:
        return "(no value available)", 1 if elem.vr in BINARY_VRS else 0
    vr = elem.vr
    if vr in BINARY_VRS:
        values, _ = decode(parsed, elem, 4096, dump=True)
        text = values[0]
        return (text if len(text) <= 48 else text[:48] + "..."), 1
    if vr in TEXT_VRS and elem.length <= MAX_DECODE:
        # The common cases, without decode()'s checks.
        buf = parsed.data_buf if elem.tag >> 16 != 2 else buffer_of(parsed, elem)
        raw = bytes(buf[elem.vstart : elem.end])
        if vr not in CHARSET_VRS:
            text = raw.decode("latin-1").rstrip(" \x00")
            if vr == "UR":
                return f"[{text}]", 1 if text else 0
            values = text.split("\\")
            if vr == _UID_VR and len(values) == 1:
                from dcmtui.services.dictionary import uid_keyword

                if name := uid_keyword(text):
                    return f"={name}", 1
            return f"[{text}]", 0 if not text else len(values)
        if encodings is not None and len(encodings) == 1 and 0x1B not in raw:
            text = raw.decode(encodings[0], errors="replace")
            text = text.rstrip(" \x00") if vr != "UT" else text.rstrip(" ")
            if vr in SINGLE_VALUE_VRS:
                return f"[{text}]", 1
            return f"[{text}]", 0 if not text else text.count("\\") + 1
    if vr in NUMBER_FORMATS:
        vm = elem.length // struct.calcsize(NUMBER_FORMATS[vr])
    else:
        vm = 0
    values, _ = decode(parsed, elem, MAX_DECODE, dump=True)
    if vr not in NUMBER_FORMATS:
        if vr in SINGLE_VALUE_VRS or elem.length > MAX_DECODE:
            vm = 1
        else:
            vm = 0 if values == [""] else len(values)
    if vr == _UID_VR and len(values) == 1:
        from dcmtui.services.dictionary import uid_keyword

        name = uid_keyword(values[0])
        if name:
            return f"={name}", vm
    if vr in TEXT_VRS:
        return "[" + "\\".join(values) + "]", vm
    return "\\".join(values), vm


def _line(
    indent: int, tag: int, vr: str, value: str, length: str, vm: int, name: str
) -> str:
    head = f"{'  ' * indent}({tag >> 16:04x},{tag & 0xFFFF:04x}) {vr} {value}"
    return f"{head:<{55 + 2 * indent}} #{length:>4},{vm:>2} {name}"


def dump_lines(parsed: Parsed) -> Iterator[str]:
    """The file as dcmdump prints it (``dcmdump FILE``), one line at a time.

    Lines name elements with pydicom's dictionaries, so names of private and
    retired elements may differ from DCMTK's; tags, VRs, lengths, VM and values
    are the same.
    """
    from dcmtui.services.dictionary import uid_name

    yield ""
    yield "# Dicom-File-Format"
    yield ""
    yield "# Dicom-Meta-Information-Header"
    yield "# Used TransferSyntax: Little Endian Explicit"
    lines: list[str] = []
    _dump_elems(parsed, parsed.meta, 0, lines)
    yield from lines
    yield ""
    yield "# Dicom-Data-Set"
    yield f"# Used TransferSyntax: {uid_name(parsed.transfer_syntax)}"
    lines = []
    _dump_elems(parsed, parsed.data, 0, lines)
    yield from lines
    if parsed.damaged:
        yield f"# damaged: {parsed.damaged}"


def _dump_elems(parsed: Parsed, elems: list[Elem], indent: int, out: list[str]) -> None:
    """Append the lines of ``elems`` (and of their items) to ``out``."""
    if not elems:
        return
    # One character set for the whole list (it depends on the holder only).
    encodings = encodings_for(parsed, elems[0])
    add = out.append
    creators: dict[int, str] = {}  # private creators by block, in this list
    for e in elems:
        buf = buffer_of(parsed, e)
        name, _ = element_name(e, elems, buf, creators)
        undefined = e.length == UNDEFINED
        length = "u/l" if undefined else str(e.length)
        if e.items is not None:
            kind = "undefined" if undefined else "explicit"
            add(
                _line(
                    indent,
                    e.tag,
                    "SQ",
                    f"(Sequence with {kind} length #={len(e.items)})",
                    length,
                    1,
                    name,
                )
            )
            for item in e.items:
                iu = item.length == UNDEFINED
                ikind = "undefined" if iu else "explicit"
                add(
                    _line(
                        indent + 1,
                        0xFFFEE000,
                        "na",
                        f"(Item with {ikind} length #={len(item.elems)})",
                        "u/l" if iu else str(item.length),
                        1,
                        "Item",
                    )
                )
                _dump_elems(parsed, item.elems, indent + 2, out)
                note = (
                    "ItemDelimitationItem"
                    if iu
                    else ("ItemDelimitationItem for re-encoding")
                )
                add(
                    _line(
                        indent + 1,
                        0xFFFEE00D,
                        "na",
                        f"({note})",
                        "0",
                        0,
                        "ItemDelimitationItem",
                    )
                )
            note = (
                "SequenceDelimitationItem"
                if undefined
                else ("SequenceDelimitationItem for re-encod.")
            )
            add(
                _line(
                    indent,
                    0xFFFEE0DD,
                    "na",
                    f"({note})",
                    "0",
                    0,
                    "SequenceDelimitationItem",
                )
            )
        elif e.frags is not None:
            add(
                _line(
                    indent,
                    e.tag,
                    "OB",
                    f"(PixelSequence #={len(e.frags)})",
                    length,
                    1,
                    name,
                )
            )
            for f in e.frags:
                raw = bytes(parsed.data_buf[f.vstart : min(f.end, f.vstart + 24)])
                value = (
                    "\\".join(f"{b:02x}" for b in raw)
                    if f.length
                    else ("(no value available)")
                )
                if f.length > 24:
                    value += "..."
                add(
                    _line(indent + 1, 0xFFFEE000, "pi", value, str(f.length), 1, "Item")
                )
            add(
                _line(
                    indent,
                    0xFFFEE0DD,
                    "na",
                    "(SequenceDelimitationItem)",
                    "0",
                    0,
                    "SequenceDelimitationItem",
                )
            )
        else:
            try:
                value, vm = _dump_value(parsed, e, encodings)
            except Exception as exc:
                value, vm = f"(cannot decode: {exc})", 1
            add(_line(indent, e.tag, e.vr, value, length, vm, name))
