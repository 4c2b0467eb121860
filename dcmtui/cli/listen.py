"""``dcmtui listen`` (the receiver as a service) and ``dcmtui monitor``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import replace
from pathlib import Path

from dcmtui.cli import Command
from dcmtui.config import Settings
from dcmtui.services.errors import DcmtuiError

EXIT_OK = 0
EXIT_START_FAILED = 1


def _configure_listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="TCP port (default: receiver.port)")
    parser.add_argument("--aet", help="our AE title (default: receiver.ae_title)")
    parser.add_argument(
        "--store", type=Path, help="store folder (default: receiver.store_dir)"
    )
    parser.add_argument("--bind", help="address to listen on (default: receiver.bind)")
    parser.add_argument(
        "--layout",
        choices=("hierarchy", "study", "flat"),
        help="folders of the store (default: receiver.layout)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds transfers in flight get to finish on SIGTERM/SIGINT (10)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no event lines on stderr"
    )


def _run_listen(args: argparse.Namespace, settings: Settings) -> int:
    from dcmtui.services.assoc_log import LOG_NAME, JsonlSink, format_line
    from dcmtui.services.events import EventBus
    from dcmtui.services.scp import StoreScp

    cfg = settings.receiver
    if args.layout:
        cfg = replace(cfg, layout=args.layout)
    if args.port is not None and not 0 <= args.port <= 65535:
        print("dcmtui: error: --port must be 0..65535", file=sys.stderr)
        return 2
    bus = EventBus(history=100)
    try:
        sink = JsonlSink(
            settings.log_dir / LOG_NAME, cfg.log_max_bytes, cfg.log_backups
        )
    except OSError as exc:
        raise DcmtuiError(
            f"cannot write {settings.log_dir / LOG_NAME}: {exc.strerror or exc}"
        ) from exc
    bus.add_sink(sink)
    if not args.quiet:

        def to_stderr(event: object) -> None:
            print(format_line(event), file=sys.stderr, flush=True)  # type: ignore[arg-type]

        bus.add_sink(to_stderr)
    scp = StoreScp(
        settings,
        bus,
        port=args.port,
        ae_title=args.aet,
        bind=args.bind,
        store_dir=args.store.absolute() if args.store else None,
        config=cfg,
    )

    async def serve() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        port = await scp.start()
        print(
            f"dcmtui: listening as {scp.ae_title} on {scp.bind}:{port}, "
            f"store {scp.store.root}, log {sink.path}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        print(
            f"dcmtui: stopping (transfers in flight get {args.grace:g} s)",
            file=sys.stderr,
            flush=True,
        )
        await scp.stop(grace=args.grace)
        status = scp.status()
        print(
            f"dcmtui: stopped; {status.associations} associations, "
            f"{status.instances} objects, {status.failures} failures",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_OK

    try:
        return asyncio.run(serve())
    finally:
        sink.close()


def _configure_monitor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        type=Path,
        help="the JSON-lines log to follow (default: associations.jsonl in the "
        "log folder)",
    )
    parser.add_argument(
        "--from-start", action="store_true", help="show what is already logged first"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON lines")


def _run_monitor(args: argparse.Namespace, settings: Settings) -> int:
    import threading

    from dcmtui.services.assoc_log import LOG_NAME, follow, format_line, to_json

    path = args.file or settings.log_dir / LOG_NAME
    stop = threading.Event()
    # Explicit handlers: a process started in the background inherits SIGINT
    # ignored, and a service manager stops with SIGTERM.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"dcmtui: following {path} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        for event in follow(path, from_start=args.from_start, stop=stop):
            print(to_json(event) if args.json else format_line(event), flush=True)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "listen": Command(
        help="run the receiver (Storage SCP + Verification) as a service",
        configure=_configure_listen,
        run=_run_listen,
        epilog="Every association event goes to associations.jsonl in the log "
        "folder, and one line per event to stderr.\nSIGTERM or SIGINT stop it "
        "cleanly: exit 0. It exits 1 when it cannot start (port in use...).\n\n"
        "examples:\n  dcmtui listen --port 11112 --aet STORE\n"
        "  dcmtui listen --store /srv/dicom --bind 127.0.0.1",
    ),
    "monitor": Command(
        help="follow the receiver's association log (tail -f style)",
        configure=_configure_monitor,
        run=_run_monitor,
        epilog="examples:\n  dcmtui monitor\n  dcmtui monitor --from-start --json",
    ),
}
