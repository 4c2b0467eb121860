"""Start-up costs of the headless commands.

A short command's time is mostly Python's start-up and imports. ``dataclasses``
imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``: several
milliseconds) and uses it only to write a docstring for a dataclass that has
none; every dataclass of dcmtui has one. ``defer_inspect`` lets that import
wait until something really uses ``inspect``; ``defer_logging`` does the same
for ``logging`` (about 5 ms with ``traceback``, ``linecache``, ``tokenize`` and
``string``), which most runs of a command never use: its set-up is applied
when something first does.

``dataclasses`` also writes each class's methods (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__``...) as source text and compiles them,
one ``compile`` per method, at every start: about 15 ms of ``dcmtui send``'s
start-up went there. ``cache_dataclass_code`` keeps the compiled code, keyed by
that exact text, in dcmtui's cache folder, so that a later start loads it
instead (as Python keeps a module's bytecode in ``.pyc`` files).
"""

from __future__ import annotations

import _thread
import marshal
import os
import sys
from types import CodeType, ModuleType

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Callable

_LOCK = _thread.RLock()
"""Re-entrant: importing one deferred module may touch another."""
_THEN: dict[str, Callable[[], None]] = {}
"""What to run once a deferred module is really imported (see defer)."""


class _Deferred(ModuleType):
    """Stands in ``sys.modules`` for a module until an attribute is asked for
    (``__path__`` too: ``import logging.handlers`` asks its parent for it);
    then imports the real module, runs what was to follow it (``_THEN``) and
    takes on its attributes, so that a module which imported the stand-in
    sees the real functions."""

    def __getattr__(self, name: str) -> object:
        module = self.__dict__.get("__name__", "")
        with _LOCK:
            if sys.modules.get(module) is self:
                del sys.modules[module]
            real = __import__(module)
            self.__dict__.update(real.__dict__)
            then = _THEN.pop(module, None)
            if then is not None:
                then()
        return getattr(real, name)


class _DeferredInspect(_Deferred):
    """The stand-in for ``inspect``."""


class _DeferredLogging(_Deferred):
    """The stand-in for ``logging`` (see dcmtui.logs.setup_logging)."""


def defer_inspect() -> None:
    """Put the stand-in for ``inspect`` in place, unless it is imported already."""
    if "inspect" not in sys.modules:
        sys.modules["inspect"] = _DeferredInspect("inspect")


def defer_logging(then: Callable[[], None]) -> bool:
    """Put the stand-in for ``logging`` in place, to run ``then`` (the log
    set-up) as soon as anything really uses logging.

    Returns:
        False when logging is imported already (then run ``then`` now)."""
    with _LOCK:
        current = sys.modules.get("logging")
        if current is not None and not isinstance(current, _DeferredLogging):
            return False
        _THEN["logging"] = then
        if current is None:
            sys.modules["logging"] = _DeferredLogging("logging")
        return True


def deferred(name: str) -> bool:
    """Whether ``name`` is still a stand-in, not really imported."""
    return isinstance(sys.modules.get(name), _Deferred)


_CODE: dict[str, CodeType] = {}
"""Compiled dataclass code by its source text (see cache_dataclass_code)."""
_USED: set[str] = set()
"""Texts this process has made a class method from."""
_NEW: list[str] = []
"""Texts compiled in this process, not yet in the cache file."""
_FILE: list[str] = []
"""The cache file of this process (set by cache_dataclass_code)."""
_CACHE_LIMIT = 2000
"""Entries a cache file keeps; beyond, only those this run used (texts from
earlier dcmtui versions would otherwise add up, and loading costs about
4 us an entry)."""


def _code_cache_file(kind: str) -> str:
    """One file per kind of run (each command, the app: each loads only
    what it uses) and per interpreter build (marshal's format and the
    bytecode belong to it)."""
    from dcmtui.paths import cache_folder

    name = "".join(c if c.isalnum() else "-" for c in kind)[:40]
    return os.path.join(
        cache_folder(), f"dataclass-code-{name}-{sys.hexversion:x}.marshal"
    )


def _cached_exec(source: object, globals: object = None, locals: object = None) -> None:
    """``exec`` as ``dataclasses`` calls it, compiling each text once."""
    if isinstance(source, str):
        code = _CODE.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            _CODE[source] = code
            _NEW.append(source)
        _USED.add(source)
        source = code
    exec(source, globals, locals)  # type: ignore[arg-type]


def cache_dataclass_code(kind: str) -> None:
    """Load the compiled dataclass code kept by earlier runs of this
    ``kind`` (a command's name, or ``app``), and have ``dataclasses`` use it
    (before it is imported by anything else).

    ``compile`` is a pure function of the text, so a text found in the cache
    gives the same code; a missing, unreadable or foreign file only means
    compiling as before. Python's own ``exec`` stays in place everywhere else:
    the name is shadowed in the ``dataclasses`` module alone."""
    import dataclasses

    if getattr(dataclasses, "exec", None) is _cached_exec:
        return
    _FILE[:] = [_code_cache_file(kind)]
    try:
        with open(_FILE[0], "rb") as handle:
            loaded = marshal.load(handle)
        if isinstance(loaded, dict):
            _CODE.update(loaded)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    dataclasses.exec = _cached_exec  # type: ignore[attr-defined]


def save_dataclass_code() -> None:
    """Write the cache file when this run compiled something new;
    atomically, and quietly: a folder that cannot be written to just keeps
    the cache from helping."""
    if not _NEW or not _FILE:
        return
    path = _FILE[0]
    entries = _CODE if len(_CODE) <= _CACHE_LIMIT else {t: _CODE[t] for t in _USED}
    _NEW.clear()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as handle:
            marshal.dump(entries, handle)
        os.replace(tmp, path)
    except (OSError, ValueError):
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)
