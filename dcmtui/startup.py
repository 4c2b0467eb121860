"""Start-up costs of the headless commands.

A short command's time is mostly Python's start-up and imports. ``dataclasses``
imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``: several
milliseconds) and uses it only to write a docstring for a dataclass that has
none; every dataclass of dcmtui has one. ``defer_inspect`` lets that import
wait until something really uses ``inspect``.
"""

from __future__ import annotations

import _thread
import sys
from types import ModuleType

_LOCK = _thread.allocate_lock()


class _DeferredInspect(ModuleType):
    """Stands in ``sys.modules`` for ``inspect`` until an attribute is asked
    for; then imports the real module and takes on its attributes, so that a
    module which imported the stand-in sees the real functions."""

    def __getattr__(self, name: str) -> object:
        with _LOCK:
            if sys.modules.get("inspect") is self:
                del sys.modules["inspect"]
            real = __import__("inspect")
            self.__dict__.update(real.__dict__)
        return getattr(real, name)


def defer_inspect() -> None:
    """Put the stand-in for ``inspect`` in place, unless it is imported already."""
    if "inspect" not in sys.modules:
        sys.modules["inspect"] = _DeferredInspect("inspect")
