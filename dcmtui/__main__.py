"""``python -m dcmtui``."""

from __future__ import annotations

from dcmtui.cli import run

if __name__ == "__main__":
    run()
