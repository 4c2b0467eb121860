"""Shared fixtures: every test gets its own config, data and log folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import write_dicom  # re-exported for tests
from tests.peers import strict

__all__ = ["write_dicom"]


def _offline(*args: object, **kwargs: object) -> None:
    raise OSError("the tests use pydicom's bundled files and pydicom-data only")


def _no_downloads() -> None:
    """pydicom's get_testdata_file(s) download what is not installed, retrying
    with sleeps (21 s a file without ``requests``): on a machine without that
    network, a run would take hours. The tests use the files pydicom and the
    pydicom-data package ship, the same everywhere."""
    import warnings

    import pydicom.data.data_manager as data_manager

    data_manager.data_path_with_download = _offline  # type: ignore[assignment]
    warnings.filterwarnings("ignore", "One or more download failures occurred")


_no_downloads()  # at import: some tests list the files while being collected


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point DCMTUI_CONFIG_DIR / DATA_DIR / LOG_DIR / CACHE_DIR at a fresh folder."""
    home = tmp_path / "dcmtui-home"
    for name in ("config", "data", "log", "cache"):
        (home / name).mkdir(parents=True)
        monkeypatch.setenv(f"DCMTUI_{name.upper()}_DIR", str(home / name))
    yield home


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failed run: every peer must be there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not strict():
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"CI: {len(skipped)} test(s) skipped; every peer must be installed.",
            red=True,
        )
        session.exitstatus = 1
