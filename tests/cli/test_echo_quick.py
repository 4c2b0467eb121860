"""``dcmtui echo AET@host:port``'s quick path (services/echo_fast, no settings
loaded): it answers like the general path (``Scu.echo_sync``), word for word,
against real peers and every failure provoked for real; and it steps aside
whenever it cannot be sure to (names, --dcmtk, a config.toml, an address
book that may name the address)."""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    Verification,
)

from dcmtui.cli import _command, _command_parser, main
from dcmtui.cli.network import quick_address
from dcmtui.services import echo_fast
from dcmtui.services.dimse_fast import Proposal, associate_rq
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.nodes import parse_address
from dcmtui.services.scu import Scu
from tests.netpeers import free_port, start_dcmqrscp, start_storescp


def quick(argv: list[str]) -> int | None:
    """Run only the quick path of ``dcmtui echo ARGV`` (None: it stepped aside)."""
    command = _command("echo")
    assert command.quick is not None
    return command.quick(_command_parser("echo", command).parse_args(argv))


def general_detail(address: str, *, calling: str = "", timeout: float = 10) -> str:
    node = parse_address(address)
    if calling:
        node = replace(node, calling_ae=calling)
    result = Scu(timeout=timeout).echo_sync(node)
    assert not result.ok
    return result.detail


def quick_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], *, code: int = 1
) -> str:
    capsys.readouterr()
    assert quick(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("dcmtui: error: ") and err.count("\n") == 1
    return err.removeprefix("dcmtui: error: ").rstrip("\n")


def test_request_is_dimse_fasts() -> None:
    """The quick path proposes exactly what the general one does."""
    for calling, called, pdu in (("DCMTUI", "STORESCP", 1_048_576), ("A", "B", 0)):
        assert echo_fast.associate_rq(calling, called, pdu) == associate_rq(
            calling,
            called,
            [Proposal(1, echo_fast.VERIFICATION, (echo_fast.IMPLICIT_LE,))],
            pdu,
        )


@pytest.mark.parametrize(
    "text",
    [
        "STORESCP@127.0.0.1:104",
        "  AE@host.example:11112 ",
        "AE@[::1]:104",
        " A B @h:1",
        "AE@h:0",
        "AE@h:65536",
        "AE@h:١٠٤",
        "A\\B@h:104",
        "ABCDEFGHIJKLMNOPQ@h:104",
        "@h:104",
        "AE@:104",
        "AE@h",
        "AE@h o:104",
        "AE@[ ]:104",
        "Ä@h:104",
        "AE@h\x1b:104",
        "AE@[h]x:104",
        "AE@[[h]:104",
        "AE@h]:104",
        "AE@[h:104",
        "AE@[]:104",
        "AE@[x@y]:104",
        "AE@h:1:2",
        "AE@h:",
        "AE@h:²",
        "AE@@h:104",
        "no-address",
    ],
)
def test_quick_address_agrees_with_parse_address(text: str) -> None:
    """Whatever the quick parser accepts, parse_address makes the same node
    of; whatever it refuses is left to parse_address (which may accept it)."""
    parsed = quick_address(text)
    if parsed is None:
        return
    node = parse_address(text)
    assert parsed == (node.ae_title, node.host, node.port)


def test_quick_address_refuses_what_parse_address_refuses() -> None:
    for text in ("AE@h:0", "A\\B@h:104", "@h:104", "AE@h o:104", "Ä@h:104"):
        with pytest.raises(DcmtuiError):
            parse_address(text)
        assert quick_address(text) is None


def test_ok_against_storescp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = start_storescp(tmp_path / "in")
    try:
        assert quick([f"STORESCP@127.0.0.1:{peer.port}", "-r", "2"]) == 0
        assert quick([f" STORESCP@[127.0.0.1]:{peer.port}", "-aet", "ME"]) == 0
    finally:
        peer.stop()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.startswith(f"STORESCP@127.0.0.1:{peer.port}: C-ECHO OK in ")
        assert line.endswith(" ms")


def test_refused(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"X@127.0.0.1:{free_port()}"
    words = quick_error(capsys, [address, "-to", "3"])
    assert "connection refused" in words
    assert words == general_detail(address, timeout=3)


def test_unknown_host(capsys: pytest.CaptureFixture[str]) -> None:
    address = "X@no-such-host.invalid:104"
    words = quick_error(capsys, [address, "-to", "3"])
    assert words == general_detail(address, timeout=3)
    assert "unknown host 'no-such-host.invalid'" in words


def test_rejected_no_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer = start_storescp(tmp_path / "in", "--refuse")
    try:
        address = f"STORESCP@127.0.0.1:{peer.port}"
        words = quick_error(capsys, [address])
        assert words == general_detail(address)
    finally:
        peer.stop()
    assert "rejected the association and gave no reason" in words


def test_rejected_called_ae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer = start_dcmqrscp(tmp_path / "qr")
    try:
        assert quick([f"QRSCP@127.0.0.1:{peer.port}"]) == 0
        address = f"NOSUCHAE@127.0.0.1:{peer.port}"
        words = quick_error(capsys, [address])
        assert words == general_detail(address)
    finally:
        peer.stop()
    assert "called AE title not recognised" in words
    assert "does not answer to NOSUCHAE" in words


@pytest.fixture
def pynetdicom_scp() -> Iterator[Callable[..., int]]:
    """Start pynetdicom SCPs on free ports: (contexts, handlers, calling AEs)."""
    servers: list[Any] = []

    def start(
        contexts: list[str] = [Verification],  # noqa: B006 - read only
        handlers: list[Any] | None = None,
        calling: list[str] | None = None,
    ) -> int:
        ae = AE(ae_title="PEER")
        for uid in contexts:
            ae.add_supported_context(uid)
        if calling:
            ae.require_calling_aet = calling
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=handlers or []
        )
        assert server is not None
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()


def test_rejected_calling_ae(
    pynetdicom_scp: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"PEER@127.0.0.1:{pynetdicom_scp(calling=['FRIEND'])}"
    words = quick_error(capsys, [address, "-aet", "STRANGER"])
    assert words == general_detail(address, calling="STRANGER")
    assert "calling AE title not recognised" in words
    assert "Add our AE title (STRANGER)" in words
    assert quick([address, "-aet", "FRIEND"]) == 0


def test_nothing_accepted(
    pynetdicom_scp: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"PEER@127.0.0.1:{pynetdicom_scp(contexts=[CTImageStorage])}"
    words = quick_error(capsys, [address])
    assert words == general_detail(address)
    assert "no presentation context accepted" in words
    assert "Verification SOP Class" in words


def test_status_other_than_success(
    pynetdicom_scp: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    port = pynetdicom_scp(handlers=[(evt.EVT_C_ECHO, lambda event: 0x0122)])
    address = f"PEER@127.0.0.1:{port}"
    words = quick_error(capsys, [address])
    assert words == general_detail(address)
    assert "C-ECHO answered with status 0x0122" in words


def test_aborted_during_the_echo(
    pynetdicom_scp: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    def abort(event: Any) -> int:
        event.assoc.abort()
        return 0

    address = f"PEER@127.0.0.1:{pynetdicom_scp(handlers=[(evt.EVT_C_ECHO, abort)])}"
    words = quick_error(capsys, [address])
    assert words == general_detail(address)
    assert "the node aborted the association during the C-ECHO" in words


class RawPeer:
    """A TCP peer that answers every connection with ``reply`` (None: silence)."""

    def __init__(self, reply: bytes | None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.reply = reply
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.reply is not None:
                conn.recv(65536)
                conn.sendall(self.reply)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()
        self.thread.join(2)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (None, "did not answer the association request within 1 s"),
        (
            struct.pack(">BBIBBBB", 0x07, 0, 4, 0, 0, 0, 0),
            "aborted or closed the connection without answering",
        ),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "did not answer the association"),
    ],
)
def test_no_answer(
    reply: bytes | None, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = RawPeer(reply)
    try:
        address = f"PEER@127.0.0.1:{peer.port}"
        words = quick_error(capsys, [address, "-to", "1"])
        assert words == general_detail(address, timeout=1)
    finally:
        peer.close()
    assert expected in words


def test_steps_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Names, --dcmtk, odd addresses or AE titles, a config.toml to check, and
    an address book that may name the address go the general way."""
    import os

    config = Path(os.environ["DCMTUI_CONFIG_DIR"])
    address = f"STORESCP@127.0.0.1:{free_port()}"
    assert quick(["PACS"]) is None
    assert quick([address, "--dcmtk"]) is None
    assert quick(["AE@h:0"]) is None
    assert quick([address, "-aet", "A\\B"]) is None
    assert quick([address, "-to", "0"]) is None
    config.mkdir(parents=True, exist_ok=True)
    (config / "nodes.toml").write_text(f'["{address}"]\nae_title = "X"\n')
    assert quick([address]) is None
    (config / "nodes.toml").write_text('[PACS]\nae_title = "X"\n')  # invalid
    assert quick([address]) is None
    (config / "nodes.toml").write_text(
        '[PACS]\nae_title = "X"\nhost = "h"\nport = 104\ntls_ca = "ca.pem"\n'
    )
    assert quick(["PACS"]) is None  # TLS
    assert quick([address]) is None  # a book the quick path cannot vouch for
    (config / "nodes.toml").write_text('[PACS]\nae_title = "X"\nhost = "h"\nport = 1\n')
    assert quick(["OTHER"]) is None  # unknown: the general path says so
    assert quick([address, "-to", "1"]) == 1  # refused, by the quick path
    (config / "config.toml").write_text('theme = "textual-dark"\n')
    assert quick([address]) is None
    capsys.readouterr()


def test_a_named_node_that_looks_like_an_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node named like an address wins over the address (NodeBook.resolve)."""
    peer = start_storescp(tmp_path / "in")
    try:
        name = f"OTHER@127.0.0.1:{free_port()}"
        assert main(["nodes", "add", name, f"STORESCP@127.0.0.1:{peer.port}"]) == 0
        capsys.readouterr()
        assert main(["echo", name]) == 0
    finally:
        peer.stop()
    assert "C-ECHO OK" in capsys.readouterr().out


def test_a_named_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peer = start_storescp(tmp_path / "in", "-d")
    try:
        address = f"STORESCP@127.0.0.1:{peer.port}"
        assert main(["nodes", "add", "local", address, "--calling-ae", "ME"]) == 0
        capsys.readouterr()
        assert quick(["local"]) == 0
        assert capsys.readouterr().out.startswith(f"{address}: C-ECHO OK in ")
    finally:
        peer.stop()
    assert re.search(r"Calling Application Name: +ME\n", peer.log.read_text())


TABLES: list[tuple[str, dict[str, Any]]] = [
    ("PACS", {"ae_title": "PACS", "host": "10.0.0.5", "port": 104}),
    (
        "full",
        {
            "ae_title": " PACS ",
            "host": " pacs.example ",
            "port": 11112,
            "calling_ae": "ME",
            "max_pdu": 32768,
            "notes": "x",
            "retrieve": "c-get",
            "move_destination": "DEST",
            "transfer_syntaxes": ["1.2.840.10008.1.2.1"],
        },
    ),
    ("blank calling", {"ae_title": "A", "host": "h", "port": 1, "calling_ae": "  "}),
    ("", {"ae_title": "A", "host": "h", "port": 1}),
    (" padded", {"ae_title": "A", "host": "h", "port": 1}),
    ("bool port", {"ae_title": "A", "host": "h", "port": True}),
    ("zero port", {"ae_title": "A", "host": "h", "port": 0}),
    ("big pdu", {"ae_title": "A", "host": "h", "port": 1, "max_pdu": 2**32}),
    ("neg pdu", {"ae_title": "A", "host": "h", "port": 1, "max_pdu": -1}),
    ("long ae", {"ae_title": "A" * 17, "host": "h", "port": 1}),
    ("ctrl calling", {"ae_title": "A", "host": "h", "port": 1, "calling_ae": "a\x01"}),
    ("bad move", {"ae_title": "A", "host": "h", "port": 1, "move_destination": "a\\b"}),
    ("bad retrieve", {"ae_title": "A", "host": "h", "port": 1, "retrieve": "C-PUT"}),
    (
        "bad ts",
        {"ae_title": "A", "host": "h", "port": 1, "transfer_syntaxes": ["1..2"]},
    ),
    ("no host", {"ae_title": "A", "port": 1}),
    ("space host", {"ae_title": "A", "host": "h h", "port": 1}),
    ("unknown", {"ae_title": "A", "host": "h", "port": 1, "colour": "red"}),
    ("tls", {"ae_title": "A", "host": "h", "port": 1, "tls_ca": "ca.pem"}),
]


@pytest.mark.parametrize(
    ("name", "table"), TABLES, ids=[t[0] or "empty" for t in TABLES]
)
def test_quick_table_agrees_with_the_node_book(
    name: str, table: dict[str, Any], tmp_path: Path
) -> None:
    """Whatever table the quick reader takes, NodeBook makes the same node of;
    whatever it leaves, NodeBook reads (or refuses) itself."""
    import tomlkit

    from dcmtui.cli.network import quick_table
    from dcmtui.services.nodes import NodeBook

    quick_node = quick_table(name, table)
    if quick_node is None:
        return
    book = NodeBook(tmp_path / "nodes.toml")
    book.path.write_text(tomlkit.dumps({name: table}))
    node = book.get(name)
    assert node is not None
    assert quick_node == (
        node.ae_title,
        node.host,
        node.port,
        node.calling_ae,
        node.max_pdu,
    )


def test_quick_table_leaves_what_the_node_book_refuses(tmp_path: Path) -> None:
    import tomlkit

    from dcmtui.cli.network import quick_table
    from dcmtui.services.nodes import NodeBook

    for name, table in TABLES[3:]:
        assert quick_table(name, table) is None, name
        if name in ("", " padded", "tls"):
            continue  # accepted by NodeBook, or under another name: general path
        book = NodeBook(tmp_path / "nodes.toml")
        book.path.write_text(tomlkit.dumps({name: table}))
        with pytest.raises(DcmtuiError):
            book.nodes()


@pytest.mark.parametrize(
    "argv",
    [
        ["PACS"],
        ["AE@h:104", "-aet", "ME", "-to", "2.5", "-r", "3"],
        ["-to", "1e1", "--calling-ae", "", "PACS", "--repeat", " 2 "],
        ["--timeout", "-5", "PACS"],
        ["PACS", "--dcmtk"],
        ["PACS", "-h"],
        ["PACS", "--calling-ae=ME"],
        ["PACS", "--calling", "ME"],
        ["PACS", "-aetME"],
        ["PACS", "-r", "1.5"],
        ["PACS", "-r"],
        ["PACS", "-r", "1", "-r", "2"],
        ["PACS", "OTHER"],
        ["-", "PACS"],
        ["--", "PACS"],
        [],
    ],
)
def test_quick_args_agree_with_argparse(argv: list[str]) -> None:
    """Whatever the quick reader takes, argparse reads the same values from;
    whatever it leaves, argparse reads (or refuses) itself."""
    from dcmtui.cli.network import quick_echo_args

    quick_args = quick_echo_args(argv)
    if quick_args is None:
        return
    parsed = _command_parser("echo", _command("echo")).parse_args(argv)
    assert vars(quick_args) == vars(parsed)


def test_quick_args_take_the_plain_cases() -> None:
    from dcmtui.cli.network import quick_echo_args

    assert quick_echo_args(["PACS"]) is not None
    assert quick_echo_args(["AE@h:104", "-aet", "ME", "-to", "2.5", "-r", "3"])
    for argv in (["PACS", "--dcmtk"], ["PACS", "-h"], ["PACS", "-r", "x"], []):
        assert quick_echo_args(argv) is None
