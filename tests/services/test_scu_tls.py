"""DICOM TLS against DCMTK's storescp with ``+tls``, with a test CA that the
test makes with the openssl command line tool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dcmtui.models import Node
from dcmtui.services.events import EventBus
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import AssociationFailed, Scu
from dcmtui.services.scu_send import Sender
from tests.factories import write_dicom
from tests.netpeers import Peer, free_port, start
from tests.netpeers import dcmtk as dcmtk_tool
from tests.peers import require


def make_pki(folder: Path, ca_name: str = "ca") -> dict[str, Path]:
    """A CA, and a server and a client certificate it signs."""
    openssl = shutil.which("openssl") or require("openssl")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{ca_name}.key",
        "-out",
        f"{ca_name}.crt",
        "-days",
        "2",
        "-subj",
        f"/CN={ca_name}",
    )
    for name in ("server", "client"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
        )
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            f"{ca_name}.crt",
            "-CAkey",
            f"{ca_name}.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
        )
    return {p.stem + p.suffix: p for p in folder.iterdir()}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_storescp(tmp_path: Path, pki: dict[str, Path]) -> Iterator[Peer]:
    port = free_port()
    (tmp_path / "in").mkdir()
    peer = start(
        [
            dcmtk_tool("storescp"),
            "-aet",
            "TLSSCP",
            "+tls",
            str(pki["server.key"]),
            str(pki["server.crt"]),
            "+cf",
            str(pki["ca.crt"]),
            "-od",
            str(tmp_path / "in"),
            str(port),
        ],
        port,
        tmp_path / "storescp.log",
    )
    yield peer
    peer.stop()


def tls_node(peer: Peer, pki: dict[str, Path]) -> Node:
    return replace(
        parse_address(f"TLSSCP@127.0.0.1:{peer.port}", name="secure"),
        tls_ca=str(pki["ca.crt"]),
        tls_cert=str(pki["client.crt"]),
        tls_key=str(pki["client.key"]),
    )


async def test_echo_and_send_over_tls(
    tmp_path: Path, tls_storescp: Peer, pki: dict[str, Path]
) -> None:
    node = tls_node(tls_storescp, pki)
    bus = EventBus()
    scu = Scu(bus)
    echo = await scu.echo(node)
    assert echo.ok, echo.detail
    path = write_dicom(tmp_path / "src" / "a.dcm")
    last = list(Sender(scu, tmp_path / "j").send_iter(node, [path]))[-1]
    assert last.sent == 1, last.last
    assert len(list((tmp_path / "in").iterdir())) == 1


async def test_plain_connection_to_tls_port_fails_in_words(
    tls_storescp: Peer,
) -> None:
    result = await Scu(timeout=3).echo(node_at(tls_storescp))
    assert not result.ok
    assert "TLS" in result.detail


def node_at(peer: Peer) -> Node:
    return parse_address(f"TLSSCP@127.0.0.1:{peer.port}")


async def test_untrusted_server_certificate(
    tmp_path: Path, tls_storescp: Peer, pki: dict[str, Path]
) -> None:
    other = make_pki(tmp_path / "other", ca_name="otherca")
    node = replace(tls_node(tls_storescp, pki), tls_ca=str(other["otherca.crt"]))
    result = await Scu(timeout=3).echo(node)
    assert not result.ok
    assert "TLS connection failed" in result.detail
    assert "signed by the CA given" in result.detail
    path = write_dicom(tmp_path / "src" / "a.dcm")
    with pytest.raises(AssociationFailed, match="TLS connection failed"):
        list(Sender(Scu(timeout=3), tmp_path / "j").send_iter(node, [path]))


async def test_tls_files_missing(tls_storescp: Peer, pki: dict[str, Path]) -> None:
    node = replace(tls_node(tls_storescp, pki), tls_cert="/nonexistent/client.crt")
    result = await Scu().echo(node)
    assert not result.ok
    assert "cannot load the TLS files" in result.detail
