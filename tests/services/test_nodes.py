"""The address book: nodes.toml read and rewritten keeping the user's text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dcmtui.models import Node
from dcmtui.services.nodes import (
    NodeBook,
    NodeError,
    check_ae_title,
    check_port,
    parse_address,
)

HAND_WRITTEN = """\
# My nodes, by hand.

# The main archive
[PACS1]  # keep me
ae_title = "PACS1"   # its title
host = "10.0.0.5"
port = 104

[MODALITY]
ae_title = "CT01"
host = "ct01.local"
port = 11112
retrieve = "C-GET"
"""


@pytest.fixture
def book(tmp_path: Path) -> NodeBook:
    path = tmp_path / "nodes.toml"
    path.write_text(HAND_WRITTEN)
    return NodeBook(path)


def test_reads_nodes_in_file_order(book: NodeBook) -> None:
    nodes = book.nodes()
    assert [n.name for n in nodes] == ["PACS1", "MODALITY"]
    assert nodes[1] == Node(
        name="MODALITY",
        ae_title="CT01",
        host="ct01.local",
        port=11112,
        retrieve="C-GET",
    )


def test_missing_file_is_an_empty_book(tmp_path: Path) -> None:
    assert NodeBook(tmp_path / "nodes.toml").nodes() == []


def test_add_keeps_comments_and_order(book: NodeBook) -> None:
    book.add(parse_address("STORESCP@127.0.0.1:11112", name="local"))
    text = book.path.read_text()
    assert text.startswith(HAND_WRITTEN)
    assert '[local]\nae_title = "STORESCP"' in text
    assert [n.name for n in book.nodes()] == ["PACS1", "MODALITY", "local"]


def test_update_changes_only_that_node(book: NodeBook) -> None:
    node = book.get("PACS1")
    assert node is not None
    book.update("PACS1", replace(node, port=105, notes="moved"))
    text = book.path.read_text()
    assert "[PACS1]  # keep me" in text
    assert 'ae_title = "PACS1"   # its title' in text
    assert "port = 105" in text
    assert "# The main archive" in text
    assert text.endswith(HAND_WRITTEN.split("[MODALITY]")[1])
    assert book.get("PACS1") == replace(node, port=105, notes="moved")


def test_rename_keeps_position(book: NodeBook) -> None:
    node = book.get("PACS1")
    assert node is not None
    book.update("PACS1", replace(node, name="ARCHIVE"))
    assert [n.name for n in book.nodes()] == ["ARCHIVE", "MODALITY"]
    assert "# keep me" in book.path.read_text()


def test_remove(book: NodeBook) -> None:
    book.remove("MODALITY")
    assert [n.name for n in book.nodes()] == ["PACS1"]
    assert "# The main archive" in book.path.read_text()
    with pytest.raises(NodeError, match="no node named"):
        book.remove("MODALITY")


def test_duplicate_name_refused(book: NodeBook) -> None:
    with pytest.raises(NodeError, match="already exists"):
        book.add(parse_address("X@h:1", name="PACS1"))


def test_write_is_atomic_no_temp_left(book: NodeBook) -> None:
    book.add(parse_address("X@h:1", name="x"))
    assert not list(book.path.parent.glob(".nodes-*"))


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "empty"),
        ("ABCDEFGHIJKLMNOPQ", "16"),
        ("A\\B", "backslash"),
        ("A\tB", "printable"),
        ("ÄÖ", "printable"),
    ],
)
def test_bad_ae_titles(title: str, message: str) -> None:
    with pytest.raises(NodeError, match=message):
        check_ae_title(title)


def test_good_ae_title_is_stripped() -> None:
    assert check_ae_title(" PACS 1 ") == "PACS 1"
    assert check_ae_title("A" * 16) == "A" * 16


@pytest.mark.parametrize("port", [0, 65536, -1, "x"])
def test_bad_ports(port: int | str) -> None:
    with pytest.raises(NodeError):
        check_port(port)


def test_invalid_node_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nodes.toml"
    path.write_text('[bad]\nae_title = "A"\nhost = "h"\nport = 99999\n')
    with pytest.raises(NodeError, match=r"nodes.toml: \[bad\]: port 99999"):
        NodeBook(path).nodes()
    path.write_text('[bad]\nae_title = "A"\nhost = "h"\nport = 1\ncolour = "red"\n')
    with pytest.raises(NodeError, match="unknown key 'colour'"):
        NodeBook(path).nodes()
    path.write_text("[bad\n")
    with pytest.raises(NodeError, match="not valid TOML"):
        NodeBook(path).nodes()


def test_a_book_beyond_plain_toml_is_read_too(tmp_path: Path) -> None:
    """What the quick reader declines (a comment after a value, an escape)
    is read by tomllib: same nodes."""
    path = tmp_path / "nodes.toml"
    path.write_text(
        '[pacs]  # the archive\nae_title = "PACS" # ours\nhost = "10.0.0.1"\n'
        'port = 104\nnotes = "tab\\there"\n'
    )
    (node,) = NodeBook(path).nodes()
    assert (node.name, node.ae_title, node.port, node.notes) == (
        "pacs",
        "PACS",
        104,
        "tab\there",
    )


def test_resolve_name_or_address(book: NodeBook) -> None:
    assert book.resolve("PACS1").host == "10.0.0.5"
    node = book.resolve("ORTHANC@[::1]:4242")
    assert (node.ae_title, node.host, node.port) == ("ORTHANC", "::1", 4242)
    with pytest.raises(NodeError, match="no node named 'nope'"):
        book.resolve("nope")


def test_tls_needs_cert_and_key() -> None:
    node = parse_address("A@h:1")
    with pytest.raises(NodeError, match="certificate and its key"):
        NodeBook(Path("/nonexistent/nodes.toml")).add(replace(node, tls_cert="c.pem"))
