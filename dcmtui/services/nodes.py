"""The address book: ``nodes.toml`` in the config folder.

The file is the user's: they may edit it by hand, comment it and order it as
they like. dcmtui rewrites it with tomlkit, so comments, order and formatting
of what it did not change survive, through a temporary file and
``os.replace`` so that a crash never leaves half a file. Each node is a
top-level table named after the node::

    # our PACS
    [PACS1]
    ae_title = "PACS1"
    host = "10.0.0.5"
    port = 104
    retrieve = "C-GET"
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from dcmtui.models import Node
from dcmtui.services.errors import DcmtuiError

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

FILE_NAME = "nodes.toml"
DEFAULT_CALLING_AE = "DCMTUI"
RETRIEVE_METHODS = ("C-MOVE", "C-GET")
_FIELDS = {f.name: f for f in dataclasses.fields(Node) if f.name != "name"}
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class NodeError(DcmtuiError):
    """A node is invalid, unknown, or the address book cannot be read/written."""


def check_ae_title(value: str, what: str = "AE title") -> str:
    """Check a DICOM AE title and return it without surrounding spaces.

    Args:
        value: The AE title as typed.
        what: How to name it in the error message.

    Returns:
        The AE title, stripped.

    Raises:
        NodeError: Empty, longer than 16 characters, or with a backslash or a
            character outside printable ASCII.
    """
    stripped = value.strip(" ")
    if not stripped:
        raise NodeError(f"{what} is empty: type 1 to 16 characters")
    if len(stripped) > 16:
        raise NodeError(
            f"{what} {stripped!r} is {len(stripped)} characters long; "
            "the most DICOM allows is 16"
        )
    if "\\" in stripped:
        raise NodeError(f"{what} {stripped!r} has a backslash, which DICOM forbids")
    if not (stripped.isascii() and stripped.isprintable()):
        raise NodeError(f"{what} {stripped!r} must use printable ASCII characters only")
    return stripped


def check_port(value: int | str) -> int:
    """Check a TCP port number.

    Raises:
        NodeError: Not a whole number from 1 to 65535.
    """
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise NodeError(f"port {value!r} is not a number (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise NodeError(f"port {port} is out of range: use 1 to 65535")
    return port


def validate(node: Node) -> Node:
    """Check every field of ``node``; return it normalised.

    Raises:
        NodeError: The first problem found, in words.
    """
    name = node.name.strip()
    if not name or not name.isprintable():
        raise NodeError(f"node name {node.name!r} must be printable and not empty")
    host = node.host.strip()
    if not host or any(c.isspace() for c in host) or not host.isprintable():
        raise NodeError(f"host {node.host!r} must be a host name or IP address")
    retrieve = node.retrieve.strip().upper() or "C-MOVE"
    if retrieve not in RETRIEVE_METHODS:
        raise NodeError(f"retrieve method {node.retrieve!r} must be C-MOVE or C-GET")
    for uid in node.transfer_syntaxes:
        if not _UID.match(uid) or len(uid) > 64:
            raise NodeError(f"transfer syntax {uid!r} is not a UID")
    if node.max_pdu and not 0 < node.max_pdu <= 2**32 - 1:
        raise NodeError(f"max PDU {node.max_pdu} is out of range")
    for label, path in (
        ("TLS CA", node.tls_ca),
        ("TLS certificate", node.tls_cert),
        ("TLS key", node.tls_key),
    ):
        if path and not path.strip():
            raise NodeError(f"{label} path is blank")
    if bool(node.tls_cert) != bool(node.tls_key):
        raise NodeError("TLS needs both a certificate and its key, or neither")
    return dataclasses.replace(
        node,
        name=name,
        host=host,
        ae_title=check_ae_title(node.ae_title),
        port=check_port(node.port),
        calling_ae=check_ae_title(node.calling_ae, "calling AE title")
        if node.calling_ae.strip()
        else "",
        move_destination=check_ae_title(node.move_destination, "move destination")
        if node.move_destination.strip()
        else "",
        retrieve=retrieve,
    )


_ADDRESS = re.compile(r"^(?P<aet>[^@]+)@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d+)$")


def parse_address(text: str, name: str | None = None) -> Node:
    """Parse ``AET@host:port`` into a Node (``[v6addr]`` works as host).

    Args:
        text: The address.
        name: The node's name (default: the address itself).

    Raises:
        NodeError: Not of that form, or an invalid AE title or port.
    """
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise NodeError(f"{text!r} is not of the form AET@host:port")
    host = match["host"].strip("[]")
    return validate(
        Node(
            name=name or text.strip(),
            ae_title=match["aet"],
            host=host,
            port=int(match["port"]),
        )
    )


def _node_from_table(name: str, table: dict[str, Any], path: Path) -> Node:
    values: dict[str, Any] = {}
    for key, value in table.items():
        field = _FIELDS.get(key)
        if field is None:
            known = ", ".join(_FIELDS)
            raise NodeError(f"{path}: [{name}]: unknown key {key!r} (known: {known})")
        if key == "transfer_syntaxes":
            if not isinstance(value, list) or not all(
                isinstance(v, str) for v in value
            ):
                raise NodeError(f"{path}: [{name}]: {key} must be a list of UIDs")
            value = tuple(str(v) for v in value)
        elif key in ("port", "max_pdu"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise NodeError(f"{path}: [{name}]: {key} must be a number")
            value = int(value)
        elif not isinstance(value, str):
            raise NodeError(f"{path}: [{name}]: {key} must be a string")
        else:
            value = str(value)
        values[key] = value
    for required in ("ae_title", "host", "port"):
        if required not in values:
            raise NodeError(f"{path}: [{name}]: {required} is missing")
    try:
        return validate(Node(name=name, **values))
    except NodeError as exc:
        raise NodeError(f"{path}: [{name}]: {exc}") from None


def _table_values(node: Node) -> dict[str, Any]:
    """The keys to write for ``node``: required ones and non-defaults."""
    out: dict[str, Any] = {}
    for key, field in _FIELDS.items():
        value = getattr(node, key)
        if key in ("ae_title", "host", "port") or value != field.default:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


class NodeBook:
    """The address book in one ``nodes.toml``; every call re-reads the file,
    so hand edits made meanwhile are seen and kept."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_folder(cls, config_dir: Path) -> NodeBook:
        """The address book of a config folder."""
        return cls(config_dir / FILE_NAME)

    def _load_doc(self) -> Any:
        import tomlkit
        from tomlkit.exceptions import ParseError

        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return tomlkit.document()
        except (OSError, UnicodeDecodeError) as exc:
            raise NodeError(f"{self.path}: cannot read: {exc}") from exc
        try:
            return tomlkit.parse(text)
        except ParseError as exc:
            raise NodeError(f"{self.path}: not valid TOML: {exc}") from exc

    def _read_tables(self) -> Mapping[str, Any]:
        """The book's tables, to read: the plain-TOML reader (an address
        book is plain), else ``tomllib``. ``tomlkit``, which keeps comments
        and order, takes a tenth of a second to import and is only needed to
        edit the file (:meth:`_load_doc`)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise NodeError(f"{self.path}: cannot read: {exc}") from exc
        from dcmtui import quicktoml

        tables = quicktoml.loads(text)
        if tables is not None:
            return tables
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise NodeError(f"{self.path}: not valid TOML: {exc}") from exc

    def _save_doc(self, doc: Any) -> None:
        import tempfile  # here: commands that only read the book do not load it

        import tomlkit

        text = tomlkit.dumps(doc)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=".nodes-", suffix=".toml", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def nodes(self) -> list[Node]:
        """Every node, in the file's order.

        Raises:
            NodeError: The file is not valid TOML or a node is invalid; the
                message names the file and the node.
        """
        out: list[Node] = []
        for name, table in self._read_tables().items():
            if not isinstance(table, dict):
                raise NodeError(f"{self.path}: {name!r} must be a table like [{name}]")
            out.append(_node_from_table(str(name), dict(table), self.path))
        return out

    def get(self, name: str) -> Node | None:
        """The node called ``name``, or None."""
        return next((n for n in self.nodes() if n.name == name), None)

    def resolve(self, text: str) -> Node:
        """A node by name, or an ad-hoc ``AET@host:port``.

        Raises:
            NodeError: Neither a known name nor an address.
        """
        if (node := self.get(text)) is not None:
            return node
        if "@" in text:
            return parse_address(text)
        names = ", ".join(n.name for n in self.nodes()) or "none yet"
        raise NodeError(
            f"no node named {text!r} in {self.path} (known: {names}); "
            "give a name or AET@host:port"
        )

    def add(self, node: Node) -> Node:
        """Append a new node.

        Raises:
            NodeError: Invalid, or a node of that name exists.
        """
        import tomlkit

        node = validate(node)
        doc = self._load_doc()
        self._check_all(doc)
        if node.name in doc:
            raise NodeError(f"a node named {node.name!r} already exists")
        table = tomlkit.table()
        for key, value in _table_values(node).items():
            table.add(key, value)
        doc.add(node.name, table)
        self._save_doc(doc)
        return node

    def update(self, old_name: str, node: Node) -> Node:
        """Replace node ``old_name`` by ``node`` in place (renaming if asked),
        keeping its position and the comments inside its table.

        Raises:
            NodeError: Invalid, unknown ``old_name``, or the new name is taken.
        """
        import tomlkit

        node = validate(node)
        doc = self._load_doc()
        self._check_all(doc)
        if old_name not in doc:
            raise NodeError(f"no node named {old_name!r}")
        if node.name != old_name and node.name in doc:
            raise NodeError(f"a node named {node.name!r} already exists")
        table = doc[old_name]
        values = _table_values(node)
        for key in [k for k in table if k not in values]:
            del table[key]
        for key, value in values.items():
            if key not in table or table[key] != value:
                table[key] = value
        if node.name != old_name:
            new_doc = tomlkit.document()
            for key, item in doc.body:
                if key is None:
                    new_doc.add(item)
                elif key.key == old_name:
                    new_doc.add(node.name, table)
                else:
                    new_doc.add(key, item)
            doc = new_doc
        self._save_doc(doc)
        return node

    def remove(self, name: str) -> None:
        """Delete node ``name``.

        Raises:
            NodeError: No such node.
        """
        doc = self._load_doc()
        if name not in doc:
            raise NodeError(f"no node named {name!r} in {self.path}")
        del doc[name]
        self._save_doc(doc)

    def _check_all(self, doc: Any) -> None:
        for name, table in doc.items():
            if not isinstance(table, dict):
                raise NodeError(f"{self.path}: {name!r} must be a table like [{name}]")
            _node_from_table(str(name), dict(table), self.path)
