"""``python -m dcmtui``."""

from __future__ import annotations

from dcmtui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
