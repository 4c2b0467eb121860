"""``dcmtui nodes list|add|remove``: the address book without the screen."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace

from dcmtui.cli import Command
from dcmtui.config import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="list the nodes of nodes.toml")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    add = sub.add_parser("add", help="add a node")
    add.add_argument("name", help="the node's name in the address book")
    add.add_argument("address", help="AET@HOST:PORT")
    add.add_argument("--calling-ae", default="", help="our AE title for this node")
    add.add_argument("--tls-ca", default="", help="CA certificate (PEM) of the node")
    add.add_argument("--tls-cert", default="", help="our client certificate (PEM)")
    add.add_argument("--tls-key", default="", help="the key of our certificate")
    add.add_argument(
        "--ts",
        action="append",
        default=[],
        metavar="UID",
        help="preferred transfer syntax UID (repeat, best first)",
    )
    add.add_argument("--max-pdu", type=int, default=0, help="largest PDU we accept")
    add.add_argument(
        "--retrieve",
        choices=("C-MOVE", "C-GET"),
        default="C-MOVE",
        help="how to retrieve from this node",
    )
    add.add_argument("--move-dest", default="", help="C-MOVE destination AE title")
    add.add_argument("--notes", default="", help="free text")
    remove = sub.add_parser("remove", help="remove a node")
    remove.add_argument("name")


def _absolute(path: str) -> str:
    """A TLS file as an absolute path (nodes.toml is read from anywhere)."""
    from pathlib import Path

    return str(Path(path).expanduser().resolve()) if path else ""


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.nodes import NodeBook, parse_address
    from dcmtui.services.text import visible

    book = NodeBook.in_folder(settings.config_dir)
    if args.action == "list":
        for node in book.nodes():
            if args.json:
                print(json.dumps(asdict(node)))
            else:
                extra = []
                if node.calling_ae:
                    extra.append(f"as {node.calling_ae}")
                if node.tls:
                    extra.append("TLS")
                extra.append(node.retrieve)
                print(
                    f"{visible(node.name):<16} {visible(node.address):<40} "
                    f"{' '.join(extra)}"
                    + (f"  # {visible(node.notes)}" if node.notes else "")
                )
        return 0
    if args.action == "add":
        node = replace(
            parse_address(args.address, name=args.name),
            calling_ae=args.calling_ae,
            tls_ca=_absolute(args.tls_ca),
            tls_cert=_absolute(args.tls_cert),
            tls_key=_absolute(args.tls_key),
            transfer_syntaxes=tuple(args.ts),
            max_pdu=args.max_pdu,
            retrieve=args.retrieve,
            move_destination=args.move_dest,
            notes=args.notes,
        )
        node = book.add(node)
        print(f"added {visible(node.name)}: {visible(node.address)}")
        return 0
    book.remove(args.name)
    print(f"removed {visible(args.name)}")
    return 0


COMMANDS: dict[str, Command] = {
    "nodes": Command(
        help="list, add or remove nodes of the address book (nodes.toml)",
        configure=_configure,
        run=_run,
        epilog="examples:\n  dcmtui nodes list\n"
        "  dcmtui nodes add PACS PACS1@10.0.0.5:104 --retrieve C-GET\n"
        "  dcmtui nodes remove PACS",
    ),
}
