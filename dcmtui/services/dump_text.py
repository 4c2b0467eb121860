"""A file as editable text and back: the dcmdump / dump2dcm round trip.

:func:`to_text` writes every byte of a file as lines a person can edit::

    %preamble zeros
    %encoding 1.2.840.10008.1.2.1
    (0002,0000) UL auto                                  # group length
    (0010,0010) PN [DOE^JOHN]                            # PatientName
    (0028,0010) US 512                                   # Rows
    (0008,1115) SQ undefined                             # ReferencedSeriesSequence
      (fffe,e000) item undefined
        (0020,000e) UI [1.2.3.4]                         # SeriesInstanceUID
      (fffe,e00d) end item
    (fffe,e0dd) end sequence
    (7fe0,0010) OB encapsulated                          # PixelData
      (fffe,e000) fragment hex:
      (fffe,e000) fragment hex:ffd8ffe0...
    (fffe,e0dd) end sequence

Text values stand between brackets (or, when they hold line breaks or other
characters that are not printable, follow ``json:`` as a JSON string), numbers
and tags follow the VR, binary values are ``hex:`` bytes; ``auto`` group
lengths are counted again; ``defined``/``undefined`` say how a sequence or
item is delimited. An element whose bytes this form cannot give back exactly
(an odd header, a value the character set does not round-trip) is written as
``raw:`` bytes, header included. :func:`to_text` checks its own output: it
refuses a file it could not give back byte for byte.

:func:`parse_text` reads the text back; :func:`build` makes the file's bytes
from it (``dcmtui undump -o``); :func:`apply_text` carries the differences
between a file and an edited text into a :class:`~dcmtui.services.edit.Document`
as ordinary edits (the same checks and lossless splicing as the Dataset
screen's, ``dcmtui undump --apply-to``).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from dcmtui.services.dataset import (
    EXPLICIT_BE,
    IMPLICIT_LE,
    ITEM,
    ITEM_END,
    LONG_VRS,
    SEQ_END,
    UNDEFINED,
    Elem,
    Item,
    Parsed,
    parse,
    parse_bytes,
)
from dcmtui.services.edit import Change, Document, EditRefused
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.values import ValueRefused

HEADER = "# dcmtui editable dump, format 1"
TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
     "UC", "UI", "UR", "UT"}
)  # fmt: skip
CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
NUMBERS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "UV": "Q", "SV": "q"}
FLOATS = {"FL": "f", "FD": "d"}
KNOWN = TEXT_VRS | set(NUMBERS) | set(FLOATS) | {"AT", "SQ"} | {
    "OB", "OD", "OF", "OL", "OV", "OW", "UN",
}  # fmt: skip
_LINE = re.compile(r"\s*\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)\s+(\S+)\s*(.*)")
_AT = re.compile(r"\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?")
COMMENT_COLUMN = 56
MAX_TEXT_FILE = 256 * 1000 * 1000
"""Files larger than this are not written as text (it would be twice as large)."""
Buffer = bytes | mmap.mmap


class DumpTextError(DcmtuiError):
    """The text cannot be read, or cannot be turned back into the file."""


# -- the model of the text ----------------------------------------------------


@dataclass
class TItem:
    """An item of a sequence, or a fragment of encapsulated pixel data."""

    undefined: bool = False
    elems: list[TElem] = field(default_factory=list)
    fragment: bytes | None = None
    line: int = 0


@dataclass
class TElem:
    """One element line (and, for a sequence, its items)."""

    tag: int
    vr: str
    form: str
    """``text``, ``numbers``, ``hex``, ``auto``, ``seq``, ``encap`` or ``raw``."""
    value: str = ""
    """The value as written: text between the brackets, numbers, hex digits."""
    undefined: bool = False
    items: list[TItem] = field(default_factory=list)
    line: int = 0

    def same(self, other: TElem) -> bool:
        """True when the two lines say the same (items aside)."""
        return (self.vr, self.form, self.value, self.undefined) == (
            other.vr,
            other.form,
            other.value,
            other.undefined,
        )


@dataclass
class TextDataset:
    """A whole file as read from its text."""

    preamble: bytes | None
    encoding: str
    meta: list[TElem]
    data: list[TElem]
    trailing: bytes = b""


# -- encoding helpers (shared by the dump's self-check and the build) --------


@dataclass(frozen=True)
class _Ctx:
    """How the text being read is encoded: byte order and VR form."""

    little: bool
    implicit: bool
    encodings: tuple[str, ...]

    @property
    def order(self) -> str:
        return "<" if self.little else ">"


def _encodings_of(raw: bytes) -> tuple[str, ...]:
    """Python encodings of a Specific Character Set value (as the viewer reads it)."""
    from pydicom.charset import convert_encodings

    terms = [t.strip(" \x00") for t in raw.decode("latin-1").split("\\")]
    if terms and not terms[0] and len(terms) > 1:
        terms[0] = "ISO_IR 6"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(convert_encodings([t or "ISO_IR 6" for t in terms]))


def _encode_text(text: str, vr: str, encodings: tuple[str, ...]) -> bytes:
    """Text to bytes, padded to an even length; ValueError when lossy."""
    if vr in CHARSET_VRS:
        from pydicom.charset import encode_string

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if vr == "PN" and len(encodings) > 1:
                # ISO 2022: each component group starts in the default set.
                from pydicom.valuerep import PersonName

                raw = PersonName(text).encode(list(encodings))
            else:
                raw = encode_string(text, list(encodings))
        if caught:
            raise ValueError(f"the character set cannot hold {text!r}")
    else:
        raw = text.encode("latin-1")
    if len(raw) % 2:
        raw += b"\x00" if vr == "UI" else b" "
    return raw


def _decode_text(raw: bytes, vr: str, encodings: tuple[str, ...]) -> str:
    if vr not in CHARSET_VRS:
        return raw.decode("latin-1")
    from pydicom.charset import decode_bytes

    delims = {0x5C, 0x3D, 0x5E} if vr == "PN" else {0x5C}
    if vr in ("LT", "ST", "UT"):
        delims = {0x0D, 0x0A, 0x09, 0x0C}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(decode_bytes(raw, list(encodings), delims))


def _quote(text: str) -> str:
    """A JSON string of ``text`` in which every character is printable."""
    out = []
    for char in json.dumps(text, ensure_ascii=False):
        if char.isprintable():
            out.append(char)
        elif ord(char) > 0xFFFF:
            code = ord(char) - 0x10000
            out.append(
                f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
            )
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def _unquote(value: str) -> str:
    text = json.loads(value)
    if not isinstance(text, str):
        raise ValueError("json: is followed by a string in double quotes")
    return text


def _value_bytes(elem: TElem, ctx: _Ctx) -> bytes:
    """The value bytes of a leaf element line.

    Raises:
        ValueError: The value does not fit its VR.
    """
    vr, value = elem.vr, elem.value
    if elem.form == "hex":
        return bytes.fromhex(value)
    if elem.form == "text":
        return _encode_text(value, vr, ctx.encodings)
    if elem.form == "json":
        return _encode_text(_unquote(value), vr, ctx.encodings)
    values = [v.strip() for v in value.split("\\")] if value.strip() else []
    if vr in NUMBERS:
        code = NUMBERS[vr]
        bits = struct.calcsize(code) * 8
        low, high = (
            (0, 2**bits - 1)
            if code.isupper()
            else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        )
        numbers = []
        for v in values:
            try:
                n = int(v, 0)
            except ValueError:
                raise ValueError(f"{v!r} is not an integer") from None
            if not low <= n <= high:
                raise ValueError(f"{vr} is between {low} and {high}")
            numbers.append(n)
        return struct.pack(ctx.order + code * len(numbers), *numbers)
    if vr in FLOATS:
        try:
            floats = [float(v) for v in values]
        except ValueError:
            raise ValueError(f"{value!r} is not a list of numbers") from None
        return struct.pack(ctx.order + FLOATS[vr] * len(floats), *floats)
    if vr == "AT":
        out = b""
        for v in values:
            m = _AT.fullmatch(v)
            if m is None:
                raise ValueError(f"{v!r} is not a tag like (0010,0010)")
            out += struct.pack(ctx.order + "HH", int(m[1], 16), int(m[2], 16))
        return out
    raise ValueError(f"{vr} values are written as [text] or hex:")


def _header(tag: int, vr: str, length: int, ctx: _Ctx) -> bytes:
    o = ctx.order
    head = struct.pack(o + "HH", tag >> 16, tag & 0xFFFF)
    if ctx.implicit:
        return head + struct.pack(o + "I", length)
    if vr in LONG_VRS:
        return head + vr.encode() + b"\x00\x00" + struct.pack(o + "I", length)
    if length > 0xFFFF:
        raise ValueError(f"a {vr} value holds at most 65,534 bytes")
    return head + vr.encode() + struct.pack(o + "H", length)


def _item_header(tag: int, length: int, ctx: _Ctx) -> bytes:
    return struct.pack(ctx.order + "HHI", tag >> 16, tag & 0xFFFF, length)


# -- text from a file ---------------------------------------------------------


def _name(tag: int) -> str:
    from dcmtui.services.dataset_view import public_name

    if tag & 0x10000:
        return "private" if tag & 0xFFFF >= 0x10 else "private group"
    if tag & 0xFFFF == 0:
        return "group length"
    return public_name(tag)[0] or "unknown"


def _with_comment(line: str, tag: int) -> str:
    name = _name(tag).replace("]", ")")
    return f"{line:<{COMMENT_COLUMN}} # {name}"


class _Dumper:
    """Writes the lines of one parsed file, checking each element as it goes."""

    def __init__(self, parsed: Parsed) -> None:
        self.p = parsed

    def lines(self) -> Iterator[str]:
        p = self.p
        yield HEADER
        yield "# Edit values: text between [ ], numbers after the VR, binary as hex:."
        yield "# Back to DICOM: dcmtui undump THIS -o NEW.dcm, or --apply-to FILE"
        if not p.preamble:
            yield "%preamble none"
        elif bytes(p.buf[:128]) == bytes(128):
            yield "%preamble zeros"
        else:
            yield f"%preamble hex:{bytes(p.buf[:128]).hex()}"
        yield f"%encoding {p.transfer_syntax}"
        if p.trailing:
            tail = bytes(p.data_buf[len(p.data_buf) - p.trailing :])
            yield f"%trailing hex:{tail.hex()}"
        yield from self.elems(p.meta, p.buf, _Ctx(True, False, ("iso8859",)), 0, True)
        data_ctx = _Ctx(p.little, p.implicit, ("iso8859",))
        yield from self.elems(p.data, p.data_buf, data_ctx, 0, False)

    def elems(
        self,
        elems: list[Elem],
        buf: Buffer,
        ctx: _Ctx,
        depth: int,
        meta: bool,
        in_un: bool = False,
    ) -> Iterator[str]:
        """Lines of the elements of one level (``ctx``: its encoding)."""
        for e in elems:
            if e.tag == 0x00080005 and not meta:
                encodings = _encodings_of(bytes(buf[e.vstart : e.end]))
                ctx = _Ctx(ctx.little, ctx.implicit, encodings)
            yield from self.elem(e, elems, buf, ctx, depth, meta, in_un)

    def elem(
        self,
        e: Elem,
        siblings: list[Elem],
        buf: Buffer,
        ctx: _Ctx,
        depth: int,
        meta: bool,
        in_un: bool,
    ) -> Iterator[str]:
        pad = "  " * depth
        tag_text = f"({e.tag >> 16:04x},{e.tag & 0xFFFF:04x})"
        whole = bytes(buf[e.hstart : e.end])
        if e.items is not None or e.frags is not None:
            lines = list(self.container(e, buf, ctx, depth, meta, in_un))
            if lines:
                yield from lines
                return
        else:
            line = self.leaf(e, siblings, buf, ctx)
            if line is not None:
                yield _with_comment(f"{pad}{tag_text} {e.vr} {line}", e.tag)
                return
        yield _with_comment(f"{pad}{tag_text} {e.vr} raw:{whole.hex()}", e.tag)

    def leaf(self, e: Elem, siblings: list[Elem], buf: Buffer, ctx: _Ctx) -> str | None:
        """The value part of a leaf line, or None when only raw: is exact."""
        if e.vr not in KNOWN or e.vr == "SQ":
            return None
        head = bytes(buf[e.hstart : e.vstart])
        raw = bytes(buf[e.vstart : e.end])
        try:
            if _header(e.tag, e.vr, len(raw), ctx) != head:
                return None
        except ValueError:
            return None
        if e.tag & 0xFFFF == 0 and e.vr == "UL" and len(raw) == 4:
            counted = self._group_bytes(e, siblings)
            if struct.unpack(ctx.order + "I", raw)[0] == counted:
                return "auto"
        for form, value in self._candidates(e.vr, raw, ctx):
            probe = TElem(e.tag, e.vr, form, value)
            try:
                if _value_bytes(probe, ctx) == raw:
                    if form == "text":
                        return f"[{value}]"
                    return f"json:{value}" if form == "json" else value
            except (ValueError, struct.error, OverflowError):
                continue
        return f"hex:{raw.hex()}"

    @staticmethod
    def _group_bytes(e: Elem, siblings: list[Elem]) -> int:
        group = e.tag >> 16
        same = [s for s in siblings if s.tag >> 16 == group and s is not e]
        after = [s for s in same if s.hstart > e.hstart]
        if not after:
            return 0
        return after[-1].end - e.end

    @staticmethod
    def _candidates(vr: str, raw: bytes, ctx: _Ctx) -> Iterator[tuple[str, str]]:
        from dcmtui.services.text import visible

        if vr in TEXT_VRS:
            try:
                text = _decode_text(raw, vr, ctx.encodings)
            except Exception:
                return
            pad = "\x00" if vr == "UI" else " "
            padded = text.endswith(pad) or (vr == "UI" and text.endswith(" "))
            if padded and visible(text[:-1]) == text[:-1]:
                yield "text", text[:-1]
            if visible(text) == text:
                yield "text", text
            else:  # line breaks, escapes: a JSON string shows them
                if padded:
                    yield "json", _quote(text[:-1])
                yield "json", _quote(text)
        elif vr in NUMBERS or vr in FLOATS:
            fmt = NUMBERS.get(vr) or FLOATS[vr]
            size = struct.calcsize(fmt)
            if len(raw) % size:
                return
            values = struct.unpack(ctx.order + fmt * (len(raw) // size), raw)
            yield "numbers", "\\".join(repr(v) for v in values)
        elif vr == "AT" and len(raw) % 4 == 0:
            values = struct.unpack(ctx.order + "HH" * (len(raw) // 4), raw)
            tags = [
                f"({values[i]:04x},{values[i + 1]:04x})"
                for i in range(0, len(values), 2)
            ]
            yield "numbers", "\\".join(tags)

    def container(
        self, e: Elem, buf: Buffer, ctx: _Ctx, depth: int, meta: bool, in_un: bool
    ) -> Iterator[str]:
        """Lines of a sequence or encapsulated pixel data ([] when not exact)."""
        pad = "  " * depth
        tag_text = f"({e.tag >> 16:04x},{e.tag & 0xFFFF:04x})"
        undefined = e.length == UNDEFINED
        head = bytes(buf[e.hstart : e.vstart])
        if e.vr not in ("SQ", "UN", "OB", "OW"):
            return
        if e.vr == "UN" and not undefined:
            return
        try:
            if _header(e.tag, e.vr, e.length, ctx) != head:
                return
        except ValueError:
            return
        out: list[str] = []
        if e.frags is not None:
            if not undefined:
                return
            out.append(_with_comment(f"{pad}{tag_text} {e.vr} encapsulated", e.tag))
            for f in e.frags:
                fh = bytes(buf[f.hstart : f.vstart])
                if fh != _item_header(ITEM, f.length, ctx) or f.length == UNDEFINED:
                    return
                value = bytes(buf[f.vstart : f.end]).hex()
                out.append(f"{pad}  (fffe,e000) fragment hex:{value}")
        else:
            kind = "undefined" if undefined else "defined"
            out.append(_with_comment(f"{pad}{tag_text} {e.vr} {kind}", e.tag))
            inner_un = in_un or e.vr == "UN"
            for item in e.items or []:
                ih = bytes(buf[item.hstart : item.vstart])
                if ih != _item_header(ITEM, item.length, self._inner(ctx, inner_un)):
                    return
                item_kind = "undefined" if item.length == UNDEFINED else "defined"
                out.append(f"{pad}  (fffe,e000) item {item_kind}")
                inner = self._inner(ctx, inner_un)
                out.extend(
                    self.elems(item.elems, buf, inner, depth + 2, meta, inner_un)
                )
                if item.length == UNDEFINED:
                    end = bytes(buf[item.end - 8 : item.end])
                    if end != _item_header(ITEM_END, 0, inner):
                        return
                out.append(f"{pad}  (fffe,e00d) end item")
        if undefined:
            end_at = e.end
            tail = bytes(buf[end_at - 8 : end_at])
            if tail != _item_header(SEQ_END, 0, self._inner(ctx, e.vr == "UN")):
                return
        out.append(f"{pad}(fffe,e0dd) end sequence")
        yield from out

    def _inner(self, ctx: _Ctx, in_un: bool) -> _Ctx:
        if in_un:
            return _Ctx(True, True, ctx.encodings)
        return ctx


def to_text(path: Path) -> str:
    """The editable text of ``path``, checked to give the file back exactly.

    Raises:
        FileReadError: The file cannot be read.
        DumpTextError: The file is damaged or deflated, or (a bug) its text
            would not give it back byte for byte.
    """
    parsed = parse(path)
    try:
        if parsed.size > MAX_TEXT_FILE:
            raise DumpTextError(
                f"{path}: {parsed.size / 1e6:.0f} MB is too large to edit as text "
                f"(the limit is {MAX_TEXT_FILE / 1e6:.0f} MB); use dcmtui modify"
            )
        if parsed.damaged:
            raise DumpTextError(f"{path}: damaged ({parsed.damaged}); not dumped")
        if parsed.deflated:
            raise DumpTextError(
                f"{path}: deflated data set; convert it first (dcmconv +te)"
            )
        text = "\n".join(_Dumper(parsed).lines()) + "\n"
        original = bytes(parsed.buf)
    finally:
        parsed.close()
    if build(parse_text(text)) != original:
        raise DumpTextError(
            f"{path}: this file cannot be written as editable text without loss"
        )
    return text


def document_text(doc: Document) -> str:
    """The editable text of a document as edited so far (for ``$EDITOR``).

    Give the edited text back to :func:`apply_text` with the same document:
    only what the user changed becomes new edits (undoable, shown in the diff
    of pending changes, saved by the ordinary lossless save).
    """
    return "\n".join(_Dumper(doc.current).lines()) + "\n"


# -- reading the text -----------------------------------------------------------


def _fail(line: int, message: str) -> DumpTextError:
    return DumpTextError(f"line {line}: {message}")


def _hex(text: str, line: int) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise _fail(line, "hex: must be followed by pairs of hex digits") from exc


def _value_part(rest: str) -> tuple[str, str]:
    """(form, value) of what follows the VR on an element line."""
    rest = rest.strip()
    if rest.startswith("["):
        end = rest.rfind("]")
        if end < 0:
            raise ValueError("a text value needs its closing ]")
        after = rest[end + 1 :].strip()
        if after and not after.startswith("#"):
            raise ValueError(f"unexpected {after!r} after the value")
        return "text", rest[1:end]
    if rest.startswith("json:"):
        try:
            _, end = json.JSONDecoder().raw_decode(rest, 5)
        except ValueError as exc:
            raise ValueError("json: is followed by a string in double quotes") from exc
        after = rest[end:].strip()
        if after and not after.startswith("#"):
            raise ValueError(f"unexpected {after!r} after the value")
        return "json", rest[5:end]
    value = re.split(r"\s#|^#", rest, maxsplit=1)[0].strip()
    for prefix, form in (("hex:", "hex"), ("raw:", "raw")):
        if value.startswith(prefix):
            return form, value[len(prefix) :].strip()
    if value in ("auto", "undefined", "defined", "encapsulated"):
        return value, ""
    return "numbers", value


def parse_text(text: str) -> TextDataset:
    """Read the text form back.

    Raises:
        DumpTextError: A line cannot be read; the message gives its number.
    """
    preamble: bytes | None = bytes(128)
    encoding = ""
    trailing = b""
    top: list[TElem] = []
    # Stack of open containers: (sequence element, its current item or None).
    stack: list[tuple[TElem, TItem | None]] = []

    def current() -> list[TElem]:
        if not stack:
            return top
        item = stack[-1][1]
        if item is None:
            raise _fail(number, "an element inside a sequence needs an item line")
        return item.elems

    number = 0
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("%"):
            key, _, value = line[1:].partition(" ")
            value = value.strip()
            if key == "preamble":
                if value == "none":
                    preamble = None
                elif value == "zeros":
                    preamble = bytes(128)
                elif value.startswith("hex:") and len(value) == 4 + 256:
                    preamble = _hex(value[4:], number)
                else:
                    raise _fail(number, "%preamble is none, zeros or hex:(128 bytes)")
            elif key == "encoding":
                encoding = value
            elif key == "trailing":
                trailing = _hex(value.removeprefix("hex:"), number)
            else:
                raise _fail(number, f"unknown directive %{key}")
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise _fail(number, f"cannot read {raw_line.strip()[:60]!r}")
        tag = int(m[1] + m[2], 16)
        word, rest = m[3], m[4]
        if tag == ITEM:
            if not stack:
                raise _fail(number, "an item outside a sequence")
            seq, item = stack[-1]
            if seq.form == "encap":
                if word != "fragment":
                    raise _fail(number, "encapsulated pixel data holds fragments")
                form, value = _value_part(rest)
                if form != "hex":
                    raise _fail(number, "a fragment is hex:")
                seq.items.append(TItem(fragment=_hex(value, number), line=number))
                continue
            if item is not None:
                raise _fail(number, "the item before has no end item line")
            if word != "item" or rest.split("#")[0].strip() not in (
                "defined",
                "undefined",
            ):
                raise _fail(
                    number, "an item line is: (fffe,e000) item defined|undefined"
                )
            new = TItem(undefined=rest.split()[0] == "undefined", line=number)
            seq.items.append(new)
            stack[-1] = (seq, new)
            continue
        if tag == ITEM_END:
            if not stack or stack[-1][1] is None:
                raise _fail(number, "end item without an item")
            stack[-1] = (stack[-1][0], None)
            continue
        if tag == SEQ_END:
            if not stack or stack[-1][1] is not None:
                raise _fail(number, "end sequence inside an item (end the item first)")
            stack.pop()
            continue
        vr = word.upper()
        try:
            form, value = _value_part(rest)
        except ValueError as exc:
            raise _fail(number, str(exc)) from exc
        elem = TElem(tag, vr, form, value, line=number)
        if form in ("defined", "undefined"):
            if vr not in ("SQ", "UN"):
                raise _fail(number, f"{vr} is not a sequence")
            elem.form, elem.undefined = "seq", form == "undefined"
        elif form == "encapsulated":
            elem.form, elem.undefined = "encap", True
        elif form in ("hex", "raw"):
            _hex(value, number)
        elif vr not in KNOWN:
            raise _fail(number, f"unknown VR {word!r}")
        elif form == "auto" and not (tag & 0xFFFF == 0 and vr == "UL"):
            raise _fail(number, "only group lengths (gggg,0000) UL can be auto")
        elif form == "json" and vr not in TEXT_VRS:
            raise _fail(number, f"{vr} values are not text: write numbers or hex:")
        elif form == "json":
            try:
                _unquote(value)
            except ValueError as exc:
                raise _fail(number, str(exc)) from exc
        elif form == "text" and vr not in TEXT_VRS:
            raise _fail(number, f"{vr} values are not [text]: write numbers or hex:")
        elif form == "numbers" and vr in TEXT_VRS:
            raise _fail(number, f"{vr} values stand between [ ]")
        elif form == "numbers" and vr in ("OB", "OD", "OF", "OL", "OV", "OW", "UN"):
            raise _fail(number, f"{vr} values are hex:")
        current().append(elem)
        if elem.form in ("seq", "encap"):
            stack.append((elem, None))
    if stack:
        raise _fail(stack[-1][0].line, "this sequence has no end sequence line")
    meta: list[TElem] = []
    while top and top[0].tag >> 16 == 2:
        meta.append(top.pop(0))
    if not encoding:
        encoding = (
            next(
                (e.value for e in meta if e.tag == 0x00020010 and e.form == "text"), ""
            ).strip("\x00 ")
            or IMPLICIT_LE
        )
    return TextDataset(preamble, encoding, meta, top, trailing)


# -- building the file ----------------------------------------------------------


def _encode_level(elems: list[TElem], ctx: _Ctx) -> bytes:
    """The bytes of one data set or item, group lengths counted."""
    parts: list[bytes] = []
    encodings = ctx.encodings
    for e in elems:
        if e.tag == 0x00080005 and e.form in ("text", "hex"):
            with contextlib.suppress(ValueError):
                encodings = _encodings_of(_value_bytes(e, ctx))
        here = _Ctx(ctx.little, ctx.implicit, encodings)
        try:
            parts.append(_encode_elem(e, here))
        except (ValueError, struct.error, OverflowError) as exc:
            raise _fail(e.line, str(exc)) from exc
    for i, e in enumerate(elems):
        if e.form != "auto":
            continue
        group = e.tag >> 16
        count = sum(
            len(parts[j])
            for j in range(i + 1, len(elems))
            if elems[j].tag >> 16 == group
        )
        value = struct.pack(ctx.order + "I", count)
        parts[i] = _header(e.tag, "UL", 4, ctx) + value
    return b"".join(parts)


def _encode_elem(e: TElem, ctx: _Ctx) -> bytes:
    if e.form == "raw":
        return bytes.fromhex(e.value)
    if e.form == "auto":
        return _header(e.tag, "UL", 4, ctx) + bytes(4)  # counted by the caller
    if e.form == "encap":
        body = b"".join(
            _item_header(ITEM, len(i.fragment or b""), ctx) + (i.fragment or b"")
            for i in e.items
        )
        return (
            _header(e.tag, e.vr, UNDEFINED, ctx) + body + _item_header(SEQ_END, 0, ctx)
        )
    if e.form == "seq":
        inner = _Ctx(True, True, ctx.encodings) if e.vr == "UN" else ctx
        body = b""
        for item in e.items:
            content = _encode_level(item.elems, inner)
            if item.undefined:
                body += (
                    _item_header(ITEM, UNDEFINED, inner)
                    + content
                    + _item_header(ITEM_END, 0, inner)
                )
            else:
                body += _item_header(ITEM, len(content), inner) + content
        if e.undefined:
            return (
                _header(e.tag, e.vr, UNDEFINED, ctx)
                + body
                + _item_header(SEQ_END, 0, inner)
            )
        return _header(e.tag, e.vr, len(body), ctx) + body
    value = _value_bytes(e, ctx)
    return _header(e.tag, e.vr, len(value), ctx) + value


def build(ds: TextDataset) -> bytes:
    """The bytes of the file the text describes.

    Raises:
        DumpTextError: A value does not fit its VR, or the encoding is unknown.
    """
    if ds.encoding in ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95"):
        raise DumpTextError("a deflated data set cannot be written from text")
    out = bytearray()
    if ds.preamble is not None:
        out += ds.preamble + b"DICM"
    out += _encode_level(ds.meta, _Ctx(True, False, ("iso8859",)))
    little = ds.encoding != EXPLICIT_BE
    implicit = ds.encoding == IMPLICIT_LE
    out += _encode_level(ds.data, _Ctx(little, implicit, ("iso8859",)))
    out += ds.trailing
    return bytes(out)


def build_checked(ds: TextDataset, path: Path) -> bytes:
    """:func:`build`, refusing a result that does not read back whole."""
    data = build(ds)
    parsed = parse_bytes(path, data, len(data), 0)
    if parsed.damaged:
        raise DumpTextError(f"the result would be damaged: {parsed.damaged}")
    return data


# -- applying an edited text as edits ---------------------------------------------


Step = tuple[int, int]
"""(sequence tag, item index): one step down from the top level."""


def _container(doc: Document, steps: list[Step]) -> Item | None:
    level: Item | None = None
    for tag, index in steps:
        elems = level.elems if level is not None else doc.current.data
        seq = next(e for e in elems if e.tag == tag)
        level = (seq.items or [])[index]
    return level


def _find(doc: Document, steps: list[Step], tag: int, meta: bool) -> Elem:
    if meta:
        return next(e for e in doc.current.meta if e.tag == tag)
    level = _container(doc, steps)
    elems = level.elems if level is not None else doc.current.data
    return next(e for e in elems if e.tag == tag)


def _where(steps: list[Step], tag: int) -> str:
    parts = [f"({t >> 16:04X},{t & 0xFFFF:04X})[{i}]" for t, i in steps]
    return ".".join([*parts, f"({tag >> 16:04X},{tag & 0xFFFF:04X})"])


def _as_typed(e: TElem) -> str:
    """The value as the editor takes it typed."""
    if e.form == "text":
        return e.value
    if e.form == "json":
        return _unquote(e.value)
    if e.form == "numbers":
        return e.value
    if e.vr in TEXT_VRS:
        raise EditRefused(
            f"line {e.line}: this {e.vr} value is written as hex: (its bytes do not "
            "read back as the same text); use dcmtui undump -o to write a new file"
        )
    raise EditRefused(
        f"line {e.line}: {e.vr} values are binary and cannot be edited as text; "
        "use dcmtui undump -o to write a new file"
    )


class _Applier:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.changes: list[Change] = []

    def _do(self, line: int, make: Callable[[], Change]) -> None:
        """Make one edit; a refusal names the line of the text."""
        try:
            self.changes.append(make())
        except ValueRefused as exc:
            raise ValueRefused(f"line {line}: {exc}") from exc
        except EditRefused as exc:
            text = str(exc)
            raise EditRefused(
                text if text.startswith("line ") else f"line {line}: {text}"
            ) from exc

    def level(
        self, old: list[TElem], new: list[TElem], steps: list[Step], meta: bool
    ) -> None:
        for elems in (old, new):
            seen: set[int] = set()
            for e in elems:
                if e.tag in seen:
                    raise EditRefused(
                        f"line {e.line}: {_where(steps, e.tag)} is there twice"
                    )
                seen.add(e.tag)
        before = {e.tag: e for e in old}
        after = {e.tag: e for e in new}
        for tag in sorted(before.keys() | after.keys()):
            a, b = before.get(tag), after.get(tag)
            if tag & 0xFFFF == 0:
                continue  # group lengths follow the edits
            if a is not None and b is not None:
                self.both(a, b, steps, meta)
            elif a is not None:
                self.delete(a, steps, meta)
            elif b is not None:
                self.insert(b, steps, meta)

    def both(self, a: TElem, b: TElem, steps: list[Step], meta: bool) -> None:
        if a.form == "seq" and b.form == "seq" and a.vr == b.vr:
            if a.undefined != b.undefined:
                raise EditRefused(
                    f"line {b.line}: changing how a sequence is delimited is not an "
                    "edit; use dcmtui undump -o"
                )
            self.items(a, b, steps)
            return
        if a.same(b) and not (a.items or b.items):
            return
        if a.form in ("encap", "raw") or b.form in ("encap", "raw"):
            if a.same(b) and a.form == "encap" and _frags(a) == _frags(b):
                return
            raise EditRefused(
                f"line {b.line}: pixel data fragments and raw: elements are kept as "
                "they are; use dcmtui undump -o"
            )
        if a.vr != b.vr or a.form == "seq" or b.form == "seq":
            self.delete(a, steps, meta)
            self.insert(b, steps, meta)
            return
        if _as_typed(a) == _as_typed(b):
            return
        elem = _find(self.doc, steps, b.tag, meta)
        self._do(b.line, lambda: self.doc.set_value(elem, _as_typed(b)))

    def items(self, a: TElem, b: TElem, steps: list[Step]) -> None:
        for i in range(min(len(a.items), len(b.items))):
            ai, bi = a.items[i], b.items[i]
            if ai.undefined != bi.undefined:
                raise EditRefused(
                    f"line {bi.line}: changing how an item is delimited is not an "
                    "edit; use dcmtui undump -o"
                )
            self.level(ai.elems, bi.elems, [*steps, (b.tag, i)], False)
        for i in range(len(a.items), len(b.items)):
            seq = _find(self.doc, steps, b.tag, False)
            self._do(b.items[i].line, partial(self.doc.add_item, seq))
            self.level([], b.items[i].elems, [*steps, (b.tag, i)], False)
        for i in range(len(a.items) - 1, len(b.items) - 1, -1):
            item = (_find(self.doc, steps, b.tag, False).items or [])[i]
            self._do(b.line, partial(self.doc.delete, item))

    def delete(self, a: TElem, steps: list[Step], meta: bool) -> None:
        elem = _find(self.doc, steps, a.tag, meta)
        self._do(a.line, lambda: self.doc.delete(elem))

    def insert(self, b: TElem, steps: list[Step], meta: bool) -> None:
        if meta:
            raise EditRefused(f"line {b.line}: the file meta group is kept as it is")
        container = _container(self.doc, steps)
        if b.form == "seq":
            self._do(b.line, lambda: self.doc.insert(container, b.tag, b.vr, ""))
            empty = TElem(b.tag, b.vr, "seq", undefined=b.undefined)
            self.items(empty, b, steps)
            return
        if b.form in ("encap", "raw", "auto"):
            raise EditRefused(
                f"line {b.line}: this element cannot be inserted as an edit; "
                "use dcmtui undump -o"
            )
        text = _as_typed(b)
        self._do(b.line, lambda: self.doc.insert(container, b.tag, b.vr, text))


def _frags(e: TElem) -> list[bytes | None]:
    return [i.fragment for i in e.items]


def apply_text(doc: Document, edited: TextDataset) -> list[Change]:
    """Make the edits that turn ``doc`` into what ``edited`` describes.

    Each difference becomes one edit of the document (modify, insert, erase,
    add or remove an item), with the editor's checks of VR, VM and character
    set and its lossless splicing; nothing else of the file changes.

    Raises:
        EditRefused: A difference cannot be made as an edit (preamble,
            encoding, binary values, pixel data fragments, delimiters).
        ValueRefused: A value does not fit its VR, VM or character set.
        DumpTextError: The document cannot be read as text.
    """
    original = _Dumper(doc.current)
    base = parse_text("\n".join(original.lines()))
    if base.preamble != edited.preamble:
        raise EditRefused("the preamble cannot be changed by an edit")
    if base.encoding != edited.encoding:
        raise EditRefused(
            "%encoding (how the data set is written) cannot be changed by an edit; "
            "convert the file instead"
        )
    if base.trailing != edited.trailing:
        raise EditRefused("trailing bytes cannot be changed by an edit")
    applier = _Applier(doc)
    try:
        applier.level(base.meta, edited.meta, [], True)
        applier.level(base.data, edited.data, [], False)
    except BaseException:
        for _ in applier.changes:  # all or nothing
            doc.undo()
        raise
    return applier.changes


def run_editor(text: str, name: str, editor: str = "") -> str:
    """Let the user edit ``text`` in their editor; return what they saved.

    Blocks until the editor exits and uses the terminal: a screen calls it
    inside ``App.suspend()``. The text lives in a private temporary folder
    (it holds patient data) that is removed afterwards.

    Args:
        text: The text to edit.
        name: A file name for it (editors pick their mode from it).
        editor: The command (default: ``$VISUAL``, ``$EDITOR``, else ``vi``).

    Raises:
        DumpTextError: The editor cannot be started or failed.
    """
    import os
    import shlex
    import subprocess
    import tempfile

    command = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise DumpTextError(f"cannot read the editor command {command!r}") from exc
    safe = re.sub(r"[^\w.-]", "_", name)[:80] or "dataset"
    with tempfile.TemporaryDirectory(prefix="dcmtui-edit-") as folder:
        path = Path(folder) / f"{safe}.txt"
        path.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([*argv, str(path)], check=False)
        except OSError as exc:
            raise DumpTextError(
                f"cannot start the editor {argv[0]!r}: {exc.strerror or exc}; "
                "set $EDITOR"
            ) from exc
        if done.returncode != 0:
            raise DumpTextError(
                f"the editor {argv[0]!r} ended with status {done.returncode}; "
                "nothing changed"
            )
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DumpTextError(f"cannot read the edited text back: {exc}") from exc
