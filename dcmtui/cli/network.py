"""``dcmtui echo|send|find|move|get``: the network client without the screens."""

from __future__ import annotations

import sys

from dcmtui.cli import Command

TYPE_CHECKING = False  # typing itself costs milliseconds to import
if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Mapping
    from types import SimpleNamespace

    from dcmtui.config import Settings
    from dcmtui.models import Node, RetrieveProgress, SendProgress
    from dcmtui.services.echo_fast import QuickEchoFailed
    from dcmtui.services.scu import Scu


def _node_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("node", help="a name from the address book, or AET@HOST:PORT")
    parser.add_argument(
        "-aet", "--calling-ae", default="", help="our AE title (default: DCMTUI)"
    )
    parser.add_argument(
        "-to",
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the node (default 10)",
    )
    parser.add_argument(
        "--dcmtk",
        action="store_true",
        help="print the equivalent DCMTK command line on stderr first",
    )


def _setup(args: argparse.Namespace, settings: Settings) -> tuple[Node, Scu]:
    from dataclasses import replace

    from dcmtui.services.nodes import NodeBook, check_ae_title, parse_address
    from dcmtui.services.scu import Scu

    book = NodeBook.in_folder(settings.config_dir)
    if "@" in args.node and not book.path.exists():
        # what resolve() comes to without a book, without importing tomlkit
        node = parse_address(args.node)
    else:
        node = book.resolve(args.node)
    if args.calling_ae:
        node = replace(node, calling_ae=check_ae_title(args.calling_ae))
    return node, Scu(timeout=args.timeout)


def _show_dcmtk(args: argparse.Namespace, line: str) -> None:
    if args.dcmtk:
        print(f"# {line}", file=sys.stderr)


def _configure_echo(parser: argparse.ArgumentParser) -> None:
    _node_args(parser)
    parser.add_argument(
        "-r", "--repeat", type=int, default=1, help="echo N times (default 1)"
    )


def _ae_or_none(value: str) -> str | None:
    """``value`` stripped when nodes.check_ae_title would accept it as it is
    (None when it would raise: the general path then says why)."""
    stripped = value.strip(" ")
    ok = (
        0 < len(stripped) <= 16
        and "\\" not in stripped
        and stripped.isascii()
        and stripped.isprintable()
    )
    return stripped if ok else None


def quick_address(text: str) -> tuple[str, str, int] | None:
    """(AE title, host, port) of an ``AET@host:port`` that nodes.parse_address
    would accept as it is, or None (then the general path parses it, and says
    what is wrong). tests/cli/test_echo_quick.py holds the two together."""
    # nodes._ADDRESS, ^([^@]+)@(\[[^\]]+\]|[^:@]+):(\d+)$, without re
    text = text.strip()
    aet, _, rest = text.partition("@")
    if rest.startswith("["):
        close = rest.find("]")
        if close < 2:
            return None
        host, digits = rest[: close + 1], rest[close + 1 :]
        if not digits.startswith(":"):
            return None
        digits = digits[1:]
    else:
        host, _, digits = rest.partition(":")
        if "@" in host or not host:
            return None
    if not (aet and digits.isdecimal() and text.isprintable()):
        return None
    host, port = host.strip("[]").strip(), int(digits)
    if not host or any(c.isspace() for c in host) or not host.isprintable():
        return None
    ae = _ae_or_none(aet)
    if ae is None or not 1 <= port <= 65535:
        return None
    return ae, host, port


_UID_CHARS = frozenset("0123456789.")


def quick_table(name: str, table: object) -> tuple[str, str, int, str, int] | None:
    """(AE title, host, port, calling AE, max PDU) of an address-book table
    that nodes.py would accept as it is, without TLS; None for anything else
    (then NodeBook reads the book, and says what is wrong).
    tests/cli/test_echo_quick.py holds the two together."""
    if not isinstance(table, dict) or not name.strip() == name != "":
        return None
    if not name.isprintable():
        return None
    strings = (
        "ae_title",
        "host",
        "calling_ae",
        "notes",
        "retrieve",
        "move_destination",
    )
    for key, value in table.items():
        if key in strings:
            ok = isinstance(value, str)
        elif key in ("port", "max_pdu"):
            ok = type(value) is int
        elif key == "transfer_syntaxes":
            ok = isinstance(value, list) and all(
                isinstance(v, str)
                and v
                and len(v) <= 64
                and set(v) <= _UID_CHARS
                and "" not in v.split(".")
                for v in value
            )
        else:  # TLS, or a key nodes.py refuses
            ok = False
        if not ok:
            return None
    if not {"ae_title", "host", "port"} <= table.keys():
        return None
    host = table["host"].strip()
    ae = _ae_or_none(table["ae_title"])
    calling = table.get("calling_ae", "")
    move = table.get("move_destination", "")
    port, max_pdu = table["port"], table.get("max_pdu", 0)
    ok = (
        bool(host)
        and not any(c.isspace() for c in host)
        and host.isprintable()
        and ae is not None
        and 1 <= port <= 65535
        and 0 <= max_pdu <= 2**32 - 1
        and (not calling.strip() or _ae_or_none(calling) is not None)
        and (not move.strip() or _ae_or_none(move) is not None)
        and (table.get("retrieve", "").strip().upper() or "C-MOVE")
        in ("C-MOVE", "C-GET")
    )
    if not ok or ae is None:
        return None
    return ae, host, port, _ae_or_none(calling) or "", max_pdu


def _quick_target(text: str, folder: str) -> tuple[str, str, int, str, int] | None:
    """What ``dcmtui echo TEXT`` talks to, the way NodeBook.resolve finds it
    (a node of that name first, then an address), when every node of the
    book is plain (quick_table); None otherwise."""
    import os

    try:
        with open(os.path.join(folder, "nodes.toml"), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        address = quick_address(text) if "@" in text else None
        return (*address, "", 0) if address else None
    except OSError:
        return None
    from dcmtui import quicktoml

    try:
        text_of_book = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    book: Mapping[str, object] | None = quicktoml.loads(text_of_book)
    if book is None:  # not plain TOML: tomllib reads it (typing, datetime...)
        import tomllib

        try:
            book = tomllib.loads(text_of_book)
        except tomllib.TOMLDecodeError:
            return None
    found = None
    for name, table in book.items():
        node = quick_table(name, table)
        if node is None:
            return None
        if name == text:
            found = node
    if found is None and "@" in text:
        address = quick_address(text)
        found = (*address, "", 0) if address else None
    return found


_ECHO_OPTIONS = {
    "-aet": ("calling_ae", str),
    "--calling-ae": ("calling_ae", str),
    "-to": ("timeout", float),
    "--timeout": ("timeout", float),
    "-r": ("repeat", int),
    "--repeat": ("repeat", int),
}


def quick_echo_args(argv: list[str]) -> SimpleNamespace | None:
    """``dcmtui echo``'s arguments read without argparse (which, with re and
    gettext, is a sixth of the quick echo's start-up) when they are plain:
    NODE and ``-aet``/``-to``/``-r`` each at most once, with values that do
    not start with ``-``. None for anything else (help, --dcmtk, ``--x=y``,
    abbreviations, a bad number...): argparse then reads them and says what is
    wrong. tests/cli/test_echo_quick.py checks both give the same values."""
    from types import SimpleNamespace

    values: dict[str, object] = {"calling_ae": "", "timeout": 10.0, "repeat": 1}
    node = None
    given: set[str] = set()
    index = 0
    while index < len(argv):
        arg = argv[index]
        option = _ECHO_OPTIONS.get(arg)
        if option is not None:
            key, kind = option
            if index + 1 >= len(argv) or key in given:
                return None
            value = argv[index + 1]
            if value.startswith("-"):
                return None
            try:
                values[key] = kind(value)
            except ValueError:
                return None
            given.add(key)
            index += 2
        elif arg.startswith("-") or node is not None:
            return None
        else:
            node = arg
            index += 1
    if node is None:
        return None
    return SimpleNamespace(node=node, dcmtk=False, **values)


def _quick_echo(args: argparse.Namespace) -> int | None:
    """``dcmtui echo NODE`` over services.echo_fast, before any settings are
    loaded: None when this invocation needs the general path (TLS, --dcmtk, a
    config.toml to check, a name or book it does not know, anything unusual)."""
    import os

    from dcmtui.paths import CONFIG_FILE, config_folder

    if args.dcmtk or not args.timeout > 0:  # NaN too: the general path
        return None
    folder = config_folder()
    if os.path.exists(os.path.join(folder, CONFIG_FILE)):
        return None
    target = _quick_target(args.node, folder)
    if target is None:
        return None
    ae, host, port, calling, max_pdu = target
    if args.calling_ae:
        calling = _ae_or_none(args.calling_ae) or ""
        if not calling:
            return None
    from dcmtui.services import echo_fast
    from dcmtui.services.text import visible

    failed = 0
    for _ in range(max(1, args.repeat)):
        started = _monotonic()
        try:
            ms = echo_fast.echo(
                host,
                port,
                calling=calling or "DCMTUI",  # nodes.DEFAULT_CALLING_AE
                called=ae,
                timeout=args.timeout,
                max_pdu=max_pdu or 1_048_576,  # scu.DEFAULT_MAX_PDU
            )
        except echo_fast.QuickEchoFailed as failure:
            failed += 1
            detail = _quick_failure_words(args, failure, started)
            print(f"dcmtui: error: {visible(detail)}", file=sys.stderr)
            continue
        print(f"{visible(f'{ae}@{host}:{port}')}: C-ECHO OK in {ms:.1f} ms")
    return 1 if failed else 0


def _monotonic() -> float:
    import time

    return time.monotonic()


def _quick_failure_words(
    args: argparse.Namespace, failure: QuickEchoFailed, started: float
) -> str:
    """What the general path (Scu.echo_sync) says for the same failure."""
    from dataclasses import replace
    from pathlib import Path

    from dcmtui.paths import config_folder
    from dcmtui.services.nodes import NodeBook
    from dcmtui.services.scu import DEFAULT_MAX_PDU, Scu

    assert DEFAULT_MAX_PDU == 1_048_576
    node = NodeBook.in_folder(Path(config_folder())).resolve(args.node)
    if args.calling_ae:
        node = replace(node, calling_ae=args.calling_ae.strip(" "))
    scu = Scu(timeout=args.timeout)
    if failure.stage == "request":
        assert failure.error is not None
        error, _ = scu.request_failure(node, failure.error, started)
    elif failure.stage == "nothing-accepted":
        error = scu.nothing_accepted(node, failure.contexts)
    elif failure.stage == "echo":
        error = scu.aborted(node, "the C-ECHO")
    else:
        error = scu.echo_status_failure(node, failure.status)
    return str(error)


def _run_echo(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.text import visible

    node, scu = _setup(args, settings)
    _show_dcmtk(args, dcmtk_cmd.echoscu(node, scu.calling_for(node)))
    failed = 0
    for _ in range(max(1, args.repeat)):
        result = scu.echo_sync(node)
        if result.ok:
            print(f"{visible(node.address)}: C-ECHO OK in {result.ms:.1f} ms")
        else:
            failed += 1
            print(f"dcmtui: error: {visible(result.detail)}", file=sys.stderr)
    return 1 if failed else 0


def _configure_send(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path

    _node_args(parser)
    parser.add_argument("paths", nargs="+", type=Path, help="files and folders")
    parser.add_argument(
        "-r", "--recurse", action="store_true", help="descend into sub-folders"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="pre-flight: say which files the node accepts, send nothing",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="send everything again, even what an interrupted send delivered",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print failures and the summary only"
    )


def _run_send(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.scu_send import Sender, human_rate, journal_folder
    from dcmtui.services.text import visible

    node, scu = _setup(args, settings)
    if args.dcmtk:
        from dcmtui.services import dcmtk_cmd

        _show_dcmtk(
            args,
            dcmtk_cmd.storescu(
                node, scu.calling_for(node), [str(p) for p in args.paths], args.recurse
            ),
        )
    sender = Sender(scu, journal_folder(settings.data_dir))
    if args.check:
        statuses = sender.check_sync(node, args.paths, args.recurse)
        refused = skipped = 0
        for status in statuses:
            refused += status.state in ("refused", "failed")
            skipped += status.state == "skipped"
            print(f"{status.state:<8} {visible(status.path)}: {visible(status.detail)}")
        total = len(statuses) - skipped
        print(
            f"{total - refused} of {total} files would be accepted"
            + (f" ({skipped} skipped: not DICOM)" if skipped else "")
        )
        return 1 if refused else 0

    def run() -> SendProgress | None:
        # the blocking generator directly: no event loop, no thread hops
        last = None
        for progress in sender.send_iter(
            node, args.paths, recursive=args.recurse, resume=not args.no_resume
        ):
            last = progress
            status = progress.last
            if status is None or progress.done:
                continue
            if status.state == "failed" or not args.quiet:
                detail = f": {visible(status.detail)}" if status.detail else ""
                print(f"{status.state:<9} {visible(status.path)}{detail}", flush=True)
        return last

    last = run()
    assert last is not None
    print(
        f"{last.sent} sent ({last.converted} converted, {last.warnings} with "
        f"warnings), {last.skipped} skipped (sent before, or not DICOM), "
        f"{last.failed} failed; "
        f"{human_rate(last)} in {last.elapsed:.2f} s"
    )
    return 1 if last.failed else 0


def _query_args(parser: argparse.ArgumentParser) -> None:
    _node_args(parser)
    parser.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="matching key (keyword or gggg,eeee; wildcards * and ?, "
        "ranges 20240101-20240131); a key without = is returned",
    )
    parser.add_argument(
        "-L",
        "--level",
        default="STUDY",
        type=str.upper,
        choices=("PATIENT", "STUDY", "SERIES", "IMAGE"),
        help="query/retrieve level (default STUDY)",
    )
    root = parser.add_mutually_exclusive_group()
    root.add_argument(
        "-P", dest="root", action="store_const", const="patient", help="patient root"
    )
    root.add_argument(
        "-S",
        dest="root",
        action="store_const",
        const="study",
        help="study root (default)",
    )


def _keys(args: argparse.Namespace) -> list[tuple[str, str]]:
    from dcmtui.services.scu_qr import parse_key

    return [parse_key(k) for k in args.key]


def _configure_find(parser: argparse.ArgumentParser) -> None:
    _query_args(parser)
    parser.add_argument(
        "-W",
        dest="root",
        action="store_const",
        const="worklist",
        help="modality worklist",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object a match")


def _run_find(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json

    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.scu_qr import Retriever
    from dcmtui.services.text import visible

    node, scu = _setup(args, settings)
    root = args.root or "study"
    keys = _keys(args)
    _show_dcmtk(
        args,
        dcmtk_cmd.findscu(node, scu.calling_for(node), root, args.level, keys),
    )

    async def run() -> int:
        count = 0
        async for match in Retriever(scu).find(node, args.level, keys, root=root):
            count += 1
            if args.json:
                print(json.dumps(match.values, ensure_ascii=False), flush=True)
            else:
                fields = (
                    f"{k}={visible(v)}"
                    for k, v in match.values.items()
                    if k not in ("QueryRetrieveLevel", "SpecificCharacterSet")
                )
                print("  ".join(fields), flush=True)
        return count

    count = asyncio.run(run())
    print(f"{count} matches", file=sys.stderr)
    return 0


def _progress_line(progress: RetrieveProgress) -> str:
    remaining = "?" if progress.remaining is None else progress.remaining
    return (
        f"remaining {remaining}, completed {progress.completed}, "
        f"failed {progress.failed}, warning {progress.warning}"
    )


def _retrieve(
    args: argparse.Namespace, iterator: AsyncIterator[RetrieveProgress]
) -> int:
    import asyncio

    async def run() -> RetrieveProgress | None:
        last = None
        async for progress in iterator:
            last = progress
            if not args.quiet or progress.done:
                print(_progress_line(progress), flush=True)
        return last

    last = asyncio.run(run())
    if last is None:
        return 1
    if last.detail:
        print(f"dcmtui: warning: {last.detail}", file=sys.stderr)
    return 1 if last.failed else 0


def _configure_move(parser: argparse.ArgumentParser) -> None:
    _query_args(parser)
    parser.add_argument(
        "--dest",
        "-aem",
        default="",
        help="AE title to send the objects to (default: the node's move destination)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="final line only")


def _run_move(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.nodes import check_ae_title
    from dcmtui.services.scu_qr import Retriever

    node, scu = _setup(args, settings)
    dest = args.dest or node.move_destination
    if not dest:
        from dcmtui.services.errors import DcmtuiError

        raise DcmtuiError("give the move destination with --dest AE")
    dest = check_ae_title(dest, "move destination")
    root = args.root or "study"
    keys = _keys(args)
    _show_dcmtk(
        args,
        dcmtk_cmd.movescu(node, scu.calling_for(node), root, args.level, keys, dest),
    )
    return _retrieve(args, Retriever(scu).move(node, args.level, keys, dest, root=root))


def _configure_get(parser: argparse.ArgumentParser) -> None:
    from pathlib import Path

    _query_args(parser)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="folder for the objects (default: into the receiver's store and "
        "its index, like received objects)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="final line only")


def _run_get(args: argparse.Namespace, settings: Settings) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from dcmtui.services import dcmtk_cmd
    from dcmtui.services.scu_qr import Retriever

    node, scu = _setup(args, settings)
    root = args.root or "study"
    keys = _keys(args)
    into_store = args.output is None
    if into_store:  # a folder of our own first, then into the store
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        output = Path(tempfile.mkdtemp(prefix="get-", dir=settings.data_dir))
    else:
        output = args.output
    _show_dcmtk(
        args,
        dcmtk_cmd.getscu(
            node, scu.calling_for(node), root, args.level, keys, str(output)
        ),
    )
    try:
        code = _retrieve(
            args, Retriever(scu).get(node, args.level, keys, output, root=root)
        )
        if into_store:
            from dcmtui.services.store_admin import StoreAdmin

            result = StoreAdmin(settings).import_folder(output)
            print(
                f"{result.added} new in the store ({StoreAdmin(settings).root}), "
                f"{result.duplicates} already there"
                + (f", {result.refused} refused: store full" if result.refused else "")
            )
    finally:
        if into_store:
            shutil.rmtree(output, ignore_errors=True)
    return code


COMMANDS: dict[str, Command] = {
    "echo": Command(
        help="C-ECHO a node: is it there, does it answer, how fast",
        configure=_configure_echo,
        run=_run_echo,
        quick=_quick_echo,
        quick_args=quick_echo_args,
        epilog="examples:\n  dcmtui echo PACS\n  dcmtui echo ORTHANC@10.0.0.7:4242",
    ),
    "send": Command(
        help="send files to a node (C-STORE), converting where the node must have it",
        configure=_configure_send,
        run=_run_send,
        epilog="examples:\n  dcmtui send PACS study/ -r\n"
        "  dcmtui send PACS a.dcm b.dcm --check",
        exits_at_once=True,
    ),
    "find": Command(
        help="query a node (C-FIND) at patient, study, series or image level",
        configure=_configure_find,
        run=_run_find,
        epilog="examples:\n  dcmtui find PACS -k PatientName='DOE*'\n"
        "  dcmtui find PACS -L SERIES -k StudyInstanceUID=1.2.3 --json\n"
        "  dcmtui find PACS -k StudyDate=20240101-20240131 -k ModalitiesInStudy=CT",
    ),
    "move": Command(
        help="have a node send matching objects to an AE title (C-MOVE)",
        configure=_configure_move,
        run=_run_move,
        epilog="example:\n  dcmtui move PACS --dest DCMTUI -k StudyInstanceUID=1.2.3",
    ),
    "get": Command(
        help="fetch matching objects from a node into a folder (C-GET)",
        configure=_configure_get,
        run=_run_get,
        epilog="example:\n  dcmtui get PACS -k StudyInstanceUID=1.2.3 -o ./study",
    ),
}
