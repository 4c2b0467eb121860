"""DICOM TLS on the receiver, against DCMTK's echoscu and storescu."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.factories import write_dicom
from tests.netpeers import dcmtk
from tests.peers import require
from tests.services.test_scp import (
    dataset_bytes,
    make_settings,
    run,
    send_with_nagle,
    start_receiver,
    stored,
)


def openssl(*args: str, cwd: Path) -> None:
    program = require("openssl")
    subprocess.run([program, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    where = tmp_path_factory.mktemp("pki")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        cwd=where,
    )
    (where / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl(
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
            cwd=where,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
            cwd=where,
        )
    return where


async def test_tls_without_client_certificates(pki: Path, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, tls_cert=str(pki / "server.crt"), tls_key=str(pki / "server.key")
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        assert rx.scp.status().tls
        ok = await run(
            dcmtk("echoscu"),
            "+tla",
            "+cf",
            str(pki / "ca.crt"),
            "127.0.0.1",
            str(rx.port),
        )
        assert ok.returncode == 0, ok.stderr
        sent = write_dicom(tmp_path / "x.dcm")
        done = await run(
            dcmtk("storescu"),
            "+tla",
            "+cf",
            str(pki / "ca.crt"),
            "127.0.0.1",
            str(rx.port),
            str(sent),
        )
        assert done.returncode == 0, done.stderr
        await rx.wait_for("released", 2)
        (got,) = stored(rx)
        assert dataset_bytes(got) == dataset_bytes(sent)
        plain = await run(dcmtk("echoscu"), "127.0.0.1", str(rx.port))
        assert plain.returncode != 0  # plain TCP to a TLS port
        await rx.wait_for("failed")
    finally:
        await rx.scp.stop(grace=1)


async def test_tls_sender_with_nagle_on_is_not_held_up(
    pki: Path, tmp_path: Path
) -> None:
    """Over TLS too, the receiver acknowledges at once what came while the
    rest of an object is awaited (test_scp: a sender with Nagle's algorithm
    on, storescu as Debian ships it)."""
    settings = make_settings(
        tmp_path, tls_cert=str(pki / "server.crt"), tls_key=str(pki / "server.key")
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        files = [write_dicom(tmp_path / "src" / f"{i}.dcm") for i in range(40)]
        tls = ("+tla", "+cf", str(pki / "ca.crt"))
        delayed = await send_with_nagle(rx.port, files, *tls)
        await rx.wait_for("released")
        assert len(stored(rx)) == 40
        assert rx.scp.fast_objects == 40
        assert delayed < 10  # without: at least one per object
    finally:
        await rx.scp.stop(grace=1)


async def test_tls_requiring_client_certificates(pki: Path, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        tls_cert=str(pki / "server.crt"),
        tls_key=str(pki / "server.key"),
        tls_ca=str(pki / "ca.crt"),
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        anonymous = await run(
            dcmtk("echoscu"),
            "+tla",
            "+cf",
            str(pki / "ca.crt"),
            "127.0.0.1",
            str(rx.port),
        )
        assert anonymous.returncode != 0
        with_cert = await run(
            dcmtk("echoscu"),
            "+tls",
            str(pki / "client.key"),
            str(pki / "client.crt"),
            "+cf",
            str(pki / "ca.crt"),
            "127.0.0.1",
            str(rx.port),
        )
        assert with_cert.returncode == 0, with_cert.stderr
        await rx.wait_for("released")
    finally:
        await rx.scp.stop(grace=1)


async def test_silent_tls_peer_does_not_block_others(pki: Path, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        tls_cert=str(pki / "server.crt"),
        tls_key=str(pki / "server.key"),
        idle_timeout=30.0,
    )
    rx = await start_receiver(settings, tmp_path / "store")
    try:
        with socket.create_connection(("127.0.0.1", rx.port)):  # says nothing
            t0 = time.monotonic()
            ok = await run(
                dcmtk("echoscu"),
                "+tla",
                "+cf",
                str(pki / "ca.crt"),
                "127.0.0.1",
                str(rx.port),
            )
            assert ok.returncode == 0, ok.stderr
            assert time.monotonic() - t0 < 5
    finally:
        await rx.scp.stop(grace=1)
    await asyncio.sleep(0)
