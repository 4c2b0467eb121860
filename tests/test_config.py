"""config.toml, folders and their environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmtui.config import config_dir, data_dir, load_settings, log_dir
from dcmtui.services.errors import ConfigError


def test_env_overrides_every_folder(isolated_dirs: Path) -> None:
    assert config_dir() == isolated_dirs / "config"
    assert data_dir() == isolated_dirs / "data"
    assert log_dir() == isolated_dirs / "log"
    settings = load_settings()
    assert settings.index_path == isolated_dirs / "data" / "index.sqlite"


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.follow_symlinks is True and settings.keymap == {}


def test_values_and_keymap_are_read(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        'theme = "nord"\nshow_hidden = true\nlog_level = "debug"\n'
        '[keymap]\n"files.filter" = "ctrl+f"\n'
    )
    settings = load_settings()
    assert (settings.theme, settings.show_hidden, settings.log_level) == (
        "nord",
        True,
        "DEBUG",
    )
    assert settings.keymap == {"files.filter": "ctrl+f"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ("show_hidden = 'yes'\n", "'show_hidden' must be a bool"),
        ("log_level = 'LOUD'\n", "'log_level' must be one of"),
        ("theme = \n", "not valid TOML"),
        ("[keymap]\n'files.filter' = 3\n", "keymap.files.filter must be a string"),
    ],
)
def test_bad_config_names_file_and_key(
    isolated_dirs: Path, text: str, message: str
) -> None:
    path = isolated_dirs / "config" / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_nothing_is_created_at_import_or_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CONFIG", "DATA", "LOG"):
        monkeypatch.setenv(f"DCMTUI_{name}_DIR", str(tmp_path / name.lower()))
    load_settings()
    assert not any((tmp_path / n).exists() for n in ("config", "data", "log"))
