"""Logging to a rotating file in the user's log folder, never to the terminal.

Most runs of a command log nothing, and ``logging`` costs about 5 ms to import
(with ``traceback``, ``linecache``, ``tokenize`` and ``string``). So when it is
not imported yet, :func:`setup_logging` leaves a stand-in in its place
(``startup.defer_logging``) and the set-up is applied the moment anything uses
logging: a record of ours, a library's ``getLogger``, or a warning (which
logging then takes, as ``logging.captureWarnings`` does).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import logging
    from pathlib import Path

LOG_FILE = "dcmtui.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


def _rotating_on_first_record(path: Path) -> logging.Handler:
    """A handler that makes a ``RotatingFileHandler`` at the first record: a
    short command that logs nothing neither opens the file nor imports
    ``logging.handlers`` (socket, pickle and queue come with it)."""
    import logging

    class RotatingOnFirstRecord(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.path = path
            self._file: logging.Handler | None = None

        def emit(self, record: logging.LogRecord) -> None:
            # Handler.handle holds self.lock here: one thread makes the file
            if self._file is None:
                import logging.handlers

                self._file = logging.handlers.RotatingFileHandler(
                    self.path,
                    maxBytes=MAX_BYTES,
                    backupCount=BACKUPS,
                    encoding="utf-8",
                )
                self._file.setFormatter(self.formatter)
            self._file.emit(record)

        def flush(self) -> None:
            if self._file is not None:
                self._file.flush()

        def close(self) -> None:
            if self._file is not None:
                self._file.close()
            super().close()

    return RotatingOnFirstRecord()


def _configure(path: Path, level: str) -> None:
    import logging

    _unhook_warnings()  # before captureWarnings keeps the function it replaces
    handler = _rotating_on_first_record(path)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("dcmtui").setLevel(level)
    logging.captureWarnings(True)


_HOOKED: list[object] = []
"""The ``warnings.showwarning`` that :func:`_first_warning` stands in for."""


def _first_warning(*args: object, **kwargs: object) -> None:
    """``warnings.showwarning`` while logging is deferred: a warning uses
    logging, which applies the set-up (its captureWarnings takes warnings
    over); then the warning goes where logging sends it."""
    import logging
    import warnings

    logging.getLogger("py.warnings")
    _unhook_warnings()  # in case the set-up did not run (undone meanwhile)
    warnings.showwarning(*args, **kwargs)  # type: ignore[arg-type]


def _unhook_warnings() -> None:
    import warnings

    if warnings.showwarning is _first_warning and _HOOKED:
        warnings.showwarning = _HOOKED.pop()  # type: ignore[assignment]


def setup_logging(folder: Path, level: str = "INFO") -> Path:
    """Send every log record to ``folder/dcmtui.log`` (rotating) and nowhere else.

    Args:
        folder: The log folder; created if missing.
        level: The level name for dcmtui's own loggers.

    Returns:
        The path of the log file.
    """
    from dcmtui.startup import defer_logging

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    if not defer_logging(lambda: _configure(path, level)):
        _configure(path, level)
        return path
    import warnings  # imported by the interpreter at start: costs nothing

    if warnings.showwarning is not _first_warning:
        _HOOKED[:] = [warnings.showwarning]
        warnings.showwarning = _first_warning
    return path
