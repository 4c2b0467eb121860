"""Typed errors whose messages are fit to show to a user as they are."""

from __future__ import annotations

from pathlib import Path


class DcmtuiError(Exception):
    """Base of every error dcmtui reports to the user: one clear sentence."""


class ConfigError(DcmtuiError):
    """A configuration file is wrong; the message names the file and the key."""


class FileReadError(DcmtuiError):
    """A file could not be read as DICOM."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ScanError(DcmtuiError):
    """A folder could not be indexed at all (it does not exist, for one)."""
