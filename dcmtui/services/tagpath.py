"""dcmodify's tag paths: ``(0040,0275)[0].(0040,0009)``, keywords, ``[*]``.

A path is components separated by dots; each is a tag, written ``(gggg,eeee)``,
``gggg,eeee`` or as a keyword (``PatientName``), and every component but the
last names a sequence and has an item index, ``[n]`` (from 0) or ``[*]`` for
every item. A last component with an index names an item (``-e`` removes it).

:func:`apply` carries out one dcmodify-style operation on a
:class:`~dcmtui.services.edit.Document`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dcmtui.services.dataset import Elem, Item
from dcmtui.services.edit import Change, Document, EditRefused
from dcmtui.services.errors import DcmtuiError


class TagPathError(DcmtuiError):
    """A tag path cannot be read, or names nothing in the file."""


_COMPONENT = re.compile(
    r"\s*(?:\(\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)|([0-9A-Fa-f]{4}),"
    r"([0-9A-Fa-f]{4})|([A-Za-z][A-Za-z0-9]*))\s*(?:\[\s*(\d+|\*)\s*\])?\s*"
)


@dataclass(frozen=True)
class Step:
    """One component of a path."""

    tag: int
    index: int | None
    """Item number; None for none given; -1 for ``[*]``."""


def parse_tag(text: str) -> int:
    """A tag from ``(gggg,eeee)``, ``gggg,eeee`` or a keyword.

    Raises:
        TagPathError: Not a tag and not a known keyword.
    """
    steps = parse_path(text)
    if len(steps) != 1 or steps[0].index is not None:
        raise TagPathError(f"{text!r} is not a single tag")
    return steps[0].tag


def parse_path(text: str) -> list[Step]:
    """Read a dcmodify tag path.

    Raises:
        TagPathError: The path is malformed or names an unknown keyword.
    """
    from pydicom.datadict import tag_for_keyword

    if not text.strip():
        raise TagPathError("empty tag path")
    steps: list[Step] = []
    parts = text.split(".")
    for number, part in enumerate(parts):
        m = _COMPONENT.fullmatch(part)
        if not m:
            raise TagPathError(f"cannot read {part!r} in tag path {text!r}")
        if m[5]:
            tag = tag_for_keyword(m[5])
            if tag is None:
                raise TagPathError(f"unknown keyword {m[5]!r} in {text!r}")
        else:
            tag = int((m[1] or m[3]) + (m[2] or m[4]), 16)
        index = None if m[6] is None else (-1 if m[6] == "*" else int(m[6]))
        if number < len(parts) - 1 and index is None:
            raise TagPathError(f"{part!r} in {text!r} needs an item index like [0]")
        steps.append(Step(tag, index))
    return steps


def resolve(doc: Document, steps: list[Step]) -> list[Elem | Item]:
    """Every element (or item) the path names in the document as it is now."""
    levels: list[Item | None] = [None]
    for number, step in enumerate(steps):
        last = number == len(steps) - 1
        found: list[Elem | Item] = []
        for level in levels:
            elems = level.elems if level is not None else doc.current.data
            elem = next((e for e in elems if e.tag == step.tag), None)
            if elem is None:
                continue
            if step.index is None:
                found.append(elem)
                continue
            items = elem.items or []
            if step.index == -1:
                found.extend(items)
            elif step.index < len(items):
                found.append(items[step.index])
        if last:
            return found
        levels = [n for n in found if isinstance(n, Item)]
    return []


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def vr_for_insert(doc: Document, container: Item | None, tag: int) -> str:
    """The VR of a new element: the dictionary's (private: under its creator).

    Raises:
        EditRefused: The VR is not known (a private tag of an unknown creator).
    """
    from dcmtui.services.dataset import _resolve
    from dcmtui.services.dataset_view import private_creator

    group, el = tag >> 16, tag & 0xFFFF
    if el == 0:
        return "UL"
    if group & 1:
        if 0x10 <= el <= 0xFF:
            return "LO"
        elems = container.elems if container is not None else doc.current.data
        creator = private_creator(tag, elems, doc.current.data_buf)
        if not creator:
            block = (group << 16) | (el >> 8)
            raise EditRefused(
                f"no private creator {_tag(block)} reserves the block of {_tag(tag)}; "
                "insert the creator first"
            )
        from pydicom.datadict import private_dictionary_VR

        try:
            return _resolve(private_dictionary_VR(tag, creator))
        except KeyError:
            raise EditRefused(
                f"the VR of private {_tag(tag)} (creator {creator or 'none'!r}) is "
                "not in the dictionary"
            ) from None
    from pydicom.datadict import dictionary_VR

    try:
        return _resolve(dictionary_VR(tag))
    except KeyError:
        raise EditRefused(f"{_tag(tag)} is not in the DICOM dictionary") from None


def apply(
    doc: Document,
    op: str,
    path: str,
    value: str | None = None,
    *,
    check_reservation: bool = True,
) -> list[Change]:
    """Carry out one dcmodify operation.

    Args:
        doc: The document to edit.
        op: ``modify`` (-m), ``insert`` (-i), ``erase`` (-e), ``modify-all``
            (-ma), ``erase-all`` (-ea).
        path: The tag path (a single tag for the ``-all`` forms).
        value: The new value (modify and insert).
        check_reservation: Refuse private tags without a creator (not -nrc).

    Returns:
        The changes made.

    Raises:
        TagPathError: The path is malformed, or names nothing (-m, -e).
        EditRefused, ValueRefused: The edit cannot be made.
    """
    steps = parse_path(path)
    if op in ("modify-all", "erase-all"):
        if len(steps) != 1 or steps[0].index is not None:
            raise TagPathError(f"{op} takes a tag, not a path: {path!r}")
        return _all(doc, op, steps[0].tag, value)
    if op == "modify":
        targets = resolve(doc, steps)
        if not targets:
            raise TagPathError(f"{path}: tag not found")
        changes = []
        for index in range(len(targets)):
            node = resolve(doc, steps)[index]
            if isinstance(node, Item):
                raise TagPathError(f"{path} names an item, which has no value")
            changes.append(doc.set_value(node, value or ""))
        return changes
    if op == "erase":
        targets = resolve(doc, steps)
        if not targets:
            raise TagPathError(f"{path}: tag not found")
        changes = []
        # From the last, so that earlier items keep their numbers.
        for index in reversed(range(len(targets))):
            changes.append(doc.delete(resolve(doc, steps)[index]))
        return changes
    if op == "insert":
        return _insert(doc, steps, value or "", check_reservation)
    raise TagPathError(f"unknown operation {op!r}")


def _insert(
    doc: Document, steps: list[Step], value: str, check_reservation: bool
) -> list[Change]:
    """Insert or overwrite, creating missing sequences and items on the way."""
    changes: list[Change] = []
    last = steps[-1]
    # A path ending with an item, as dcmodify -i "(0008,1110)[1]": make the
    # item (and what leads to it), nothing more.
    ends_with_item = last.index is not None
    if last.index == -1:
        raise TagPathError("an inserted item needs its number, not [*]")
    # Make the containers exist: sequences, then items up to the index.
    for depth in range(len(steps) if ends_with_item else len(steps) - 1):
        step = steps[depth]
        for _ in range(1000):
            holders = resolve(doc, steps[:depth]) if depth else [None]
            containers = [h for h in holders if not isinstance(h, Elem)]
            missing_seq = next(
                (
                    c
                    for c in containers
                    if not any(
                        e.tag == step.tag
                        for e in (c.elems if c is not None else doc.current.data)
                    )
                ),
                "none",
            )
            if missing_seq != "none":
                assert not isinstance(missing_seq, str)
                changes.append(doc.insert(missing_seq, step.tag, "SQ", ""))
                continue
            seqs = [
                n
                for n in resolve(doc, [*steps[:depth], Step(step.tag, None)])
                if isinstance(n, Elem)
            ]
            short = next(
                (
                    s
                    for s in seqs
                    if step.index is not None
                    and step.index >= 0
                    and len(s.items or []) <= step.index
                ),
                None,
            )
            if short is None:
                break
            # As dcmodify: missing items up to the index are created (empty).
            changes.append(doc.add_item(short))
    if ends_with_item:
        return changes
    count = len(resolve(doc, steps[:-1])) if len(steps) > 1 else 1
    for index in range(count):
        targets: list[Elem | Item | None] = (
            list(resolve(doc, steps[:-1])) if len(steps) > 1 else [None]
        )
        container = targets[index]
        if isinstance(container, Elem):
            continue
        elems = container.elems if container is not None else doc.current.data
        existing = next((e for e in elems if e.tag == last.tag), None)
        if existing is not None:
            changes.append(doc.set_value(existing, value))
        else:
            vr = vr_for_insert(doc, container, last.tag)
            changes.append(
                doc.insert(
                    container, last.tag, vr, value, check_reservation=check_reservation
                )
            )
    return changes


def _all(doc: Document, op: str, tag: int, value: str | None) -> list[Change]:
    from dcmtui.services.dataset import walk

    changes: list[Change] = []
    done = 0
    while True:
        matches = [
            n for _, n in walk(doc.current.data) if isinstance(n, Elem) and n.tag == tag
        ]
        if op == "erase-all":
            if not matches:
                if not changes:  # as dcmodify: nothing to erase is an error
                    raise TagPathError(f"{_tag(tag)}: tag not found")
                return changes
            changes.append(doc.delete(matches[-1]))
            continue
        if done >= len(matches):
            if not matches:
                raise TagPathError(f"{_tag(tag)}: tag not found")
            return changes
        changes.append(doc.set_value(matches[done], value or ""))
        done += 1
