"""Logging to a rotating file in the user's log folder, never to the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FILE = "dcmtui.log"


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
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
    )
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
