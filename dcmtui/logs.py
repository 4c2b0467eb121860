"""Logging to a rotating file in the user's log folder, never to the terminal."""

from __future__ import annotations

import logging

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from pathlib import Path

LOG_FILE = "dcmtui.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class _RotatingOnFirstRecord(logging.Handler):
    """A ``RotatingFileHandler`` made at the first record: a short command
    that logs nothing neither opens the file nor imports ``logging.handlers``
    (socket, pickle and queue come with it: milliseconds at every start)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle holds self.lock here: one thread makes the file
        if self._file is None:
            import logging.handlers

            self._file = logging.handlers.RotatingFileHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
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


def setup_logging(folder: Path, level: str = "INFO") -> Path:
    """Send every log record to ``folder/dcmtui.log`` (rotating) and nowhere else.

    Args:
        folder: The log folder; created if missing.
        level: The level name for dcmtui's own loggers.

    Returns:
        The path of the log file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    handler = _RotatingOnFirstRecord(path)
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
    return path
