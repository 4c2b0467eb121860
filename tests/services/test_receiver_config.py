"""The [receiver] table of config.toml, and the address-book allow-list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dcmtui.config import load_settings
from dcmtui.services.errors import ConfigError
from tests.services.test_scp import echo, make_settings, start_receiver


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.write_text(text)
    return path


def test_receiver_table_is_read(isolated_dirs: Path) -> None:
    write_config(
        isolated_dirs,
        '[receiver]\nae_title = "STORE"\nport = 104\nlayout = "flat"\n'
        "max_associations = 3\nassociation_deadline = 60\n"
        'post_store_command = ["/bin/true", "{path}"]\n',
    )
    cfg = load_settings().receiver
    assert (cfg.ae_title, cfg.port, cfg.layout, cfg.max_associations) == (
        "STORE",
        104,
        "flat",
        3,
    )
    assert cfg.association_deadline == 60.0
    assert cfg.post_store_command == ["/bin/true", "{path}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[receiver]\nport_number = 1\n", "unknown key 'receiver.port_number'"),
        ('[receiver]\nport = "104"\n', "'receiver.port' must be a int"),
        ("[receiver]\nport = 70000\n", "'receiver.port' is out of range"),
        ('[receiver]\nlayout = "tree"\n', "'receiver.layout' must be one of"),
        ("[receiver]\ncheck_called_ae = 1\n", "must be a bool"),
        ('[receiver]\npost_store_command = "rm -rf /"\n', "must be a list"),
    ],
)
def test_bad_receiver_settings_name_the_key(
    isolated_dirs: Path, text: str, message: str
) -> None:
    path = write_config(isolated_dirs, text)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(path) in str(error.value) and message in str(error.value)


async def test_allow_list_comes_from_the_address_book(
    isolated_dirs: Path, tmp_path: Path
) -> None:
    added = add_node("ct", "CTSCANNER@10.0.0.5:104")
    assert added.returncode == 0, added.stderr
    settings = make_settings(tmp_path, allow_known_calling_aes=True)
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        assert (await echo(rx, "-aet", "CTSCANNER")).returncode == 0
        assert (await echo(rx, "-aet", "UNKNOWN")).returncode != 0
        await rx.wait_for("rejected")
    finally:
        await rx.scp.stop(grace=1)


def add_node(name: str, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcmtui", "nodes", "add", name, address],
        capture_output=True,
        text=True,
    )
