"""Run blocking pydicom/pynetdicom work in threads, seen from asyncio."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield, on the event loop, what a blocking generator yields in a thread.

    Args:
        make: Builds the generator; called in the worker thread.

    Yields:
        Each item of the generator, in order. An exception raised by the
        generator is raised here.
    """
    import asyncio  # here: blocking callers of the services do not load it

    loop, queue = asyncio.get_running_loop(), asyncio.Queue[object]()

    def put(item: object) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for item in make():
                put(item)
        except BaseException as exc:
            put(exc)
        finally:
            put(_DONE)

    threading.Thread(target=pump, daemon=True, name="dcmtui-iter").start()
    while (item := await queue.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]
