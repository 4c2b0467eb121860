"""A file's data set in the DICOM JSON model (PS3.18 Annex F), through pydicom."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dcmtui.services.errors import FileReadError


def to_json(path: Path) -> dict[str, Any]:
    """The data set of ``path`` as a DICOM JSON object.

    Raises:
        FileReadError: The file cannot be read, or is damaged.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(path)
        return ds.to_json_dict(bulk_data_threshold=1 << 62)
    except (InvalidDicomError, OSError) as exc:
        raise FileReadError(path, str(exc)) from exc
    except (RecursionError, MemoryError) as exc:
        raise FileReadError(path, f"damaged: {type(exc).__name__}") from exc
    except Exception as exc:
        raise FileReadError(path, f"damaged: {exc}") from exc
