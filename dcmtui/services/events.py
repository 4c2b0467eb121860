"""The association-event stream: every association, in and out, in one bus.

Producers (the receiver's pynetdicom handlers, the network client) call
``emit`` from any thread. Consumers (screens) iterate ``subscribe()`` on the
event loop; sinks (the JSON-lines log) are called synchronously in the
producer's thread and must be quick and never raise.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Callable

from dcmtui.models import AssocEvent

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import asyncio

Sink = Callable[[AssocEvent], None]


class EventBus:
    """Fan-out of AssocEvents to async subscribers and synchronous sinks."""

    def __init__(self, history: int = 5000) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[
            tuple[asyncio.AbstractEventLoop, asyncio.Queue[AssocEvent]]
        ] = []
        self._sinks: list[Sink] = []
        self._history: list[AssocEvent] = []
        self._history_max = history
        self._ids = itertools.count(1)

    def new_id(self, direction: str) -> str:
        """A fresh association id such as ``out-7``."""
        return f"{direction}-{next(self._ids)}"

    def add_sink(self, sink: Sink) -> None:
        """Call ``sink`` for every event, in the producer's thread."""
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Stop calling ``sink`` (no error if it was not added)."""
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def history(self) -> list[AssocEvent]:
        """The most recent events (oldest first), for a screen that opens late."""
        with self._lock:
            return list(self._history)

    def emit(self, event: AssocEvent) -> None:
        """Publish an event; safe from any thread, never raises."""
        with self._lock:
            self._history.append(event)
            if len(self._history) > self._history_max:
                del self._history[: len(self._history) - self._history_max]
            subscribers = list(self._subscribers)
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink(event)
            except Exception:
                import logging  # here: most runs never need it (see dcmtui.logs)

                logging.getLogger(__name__).exception("event sink failed")
        for loop, queue in subscribers:
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                    loop.call_soon_threadsafe(queue.put_nowait, event)

    async def subscribe(self) -> AsyncIterator[AssocEvent]:
        """Yield every event emitted from now on, until the caller stops."""
        import asyncio  # here: a command that never subscribes does not load it

        queue: asyncio.Queue[AssocEvent] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.remove(entry)
