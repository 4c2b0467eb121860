"""One change applied to many files, each with the editor's safety rules.

Every file is opened, edited and saved on its own, through the same
:class:`~dcmtui.services.edit.Document` and atomic save as the Dataset screen
and ``dcmtui modify``: a file that cannot take the change (damaged, deflated,
the tag missing, a value its character set cannot hold) is left untouched and
reported with the reason; the others go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.errors import DcmtuiError


@dataclass(frozen=True)
class Operation:
    """One dcmodify-style operation."""

    op: str
    """``modify``, ``insert``, ``erase``, ``modify-all`` or ``erase-all``."""
    path: str
    value: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """What happened to one file."""

    path: str
    ok: bool
    detail: str
    """The changes made, or why the file was left as it was."""
    done: int
    total: int


def modify_file(
    path: Path,
    operations: Sequence[Operation],
    *,
    backup: bool = True,
    check_reservation: bool = True,
    force: bool = False,
) -> int:
    """Apply ``operations`` to one file and save it; returns the change count.

    Raises:
        DcmtuiError: The file was left as it was; the message says why.
    """
    from dcmtui.services.edit import open_document
    from dcmtui.services.save import save_document
    from dcmtui.services.tagpath import apply

    doc = open_document(path)
    if why := doc.readonly_reason:
        raise DcmtuiError(why)
    count = 0
    for operation in operations:
        count += len(
            apply(
                doc,
                operation.op,
                operation.path,
                operation.value,
                check_reservation=check_reservation,
            )
        )
    if count:
        save_document(doc, backup=backup, force=force)
    return count


def _run(
    paths: Sequence[Path], operations: Sequence[Operation], backup: bool
) -> Iterator[BatchResult]:
    total = len(paths)
    for number, path in enumerate(paths, 1):
        try:
            count = modify_file(path, operations, backup=backup)
        except DcmtuiError as exc:
            yield BatchResult(str(path), False, str(exc), number, total)
        except (RecursionError, MemoryError) as exc:
            reason = f"damaged: {type(exc).__name__}"
            yield BatchResult(str(path), False, reason, number, total)
        else:
            detail = f"{count} change{'s' * (count != 1)}" if count else "no change"
            yield BatchResult(str(path), True, detail, number, total)


async def modify_files(
    paths: Sequence[Path], operations: Sequence[Operation], *, backup: bool = True
) -> AsyncIterator[BatchResult]:
    """Apply ``operations`` to every file in turn, yielding a result per file."""
    async for result in iterate_in_thread(lambda: _run(paths, operations, backup)):
        yield result
