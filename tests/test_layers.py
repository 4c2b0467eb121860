"""The service layer must not import the UI (textual, rich)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dcmtui.services

SERVICE_MODULES = sorted(
    f"dcmtui.services.{path.stem}"
    for path in Path(dcmtui.services.__file__).parent.glob("*.py")
    if path.stem != "__init__"
)


def test_services_import_no_ui() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {SERVICE_MODULES!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert len(SERVICE_MODULES) >= 5
    assert out.stdout.strip() == ""


def test_version_is_cheap() -> None:
    """`dcmtui --version` must not import pydicom, textual or pynetdicom."""
    code = (
        "import sys\n"
        "from dcmtui.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit: pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'rich', 'pydicom', 'pynetdicom'))\n"
        "print('heavy:' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "dcmtui " in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "heavy:"
