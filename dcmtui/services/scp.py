"""The built-in Storage SCP (with Verification): storescp as a service.

pynetdicom runs each association on its own threads; the handlers here turn
what happens into AssocEvents on the EventBus, return DICOM statuses and never
raise. Objects are received in chunks straight into a spool file in the store
(never decoded and re-encoded), then linked to their final name
(services.store). Every limit of the receiver rules lives here: associations
in total and per peer, a deadline per association, idle time, PDU size,
object size, free disk, calling/called AE checks, TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import queue
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmtui.config import ReceiverSettings, Settings
from dcmtui.models import AssocEvent, ContextResult, FileKind, FileRecord
from dcmtui.services import tcp
from dcmtui.services.errors import DcmtuiError
from dcmtui.services.events import EventBus
from dcmtui.services.fastread import record_from_bytes
from dcmtui.services.scp_hub import Hub
from dcmtui.services.store import (
    IndexWriter,
    PathFields,
    Placed,
    Spool,
    Store,
    path_fields,
    read_stored,
)

if TYPE_CHECKING:
    from pynetdicom.transport import ThreadedAssociationServer

LOGGER = logging.getLogger(__name__)

VERIFICATION = "1.2.840.10008.1.1"
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000

REJECT_REASONS: dict[tuple[int, int], str] = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised",
    (1, 7): "called AE title not recognised",
    (2, 1): "no reason given (ACSE)",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}
CONTEXT_RESULTS = {
    0: "accepted",
    1: "user rejection",
    2: "no reason",
    3: "abstract syntax not supported",
    4: "transfer syntaxes not supported",
}


class ReceiverError(DcmtuiError):
    """The receiver could not start (port taken, bad TLS files, ...)."""


@dataclass
class ReceiverStatus:
    """What the Associations screen shows about the receiver."""

    running: bool = False
    ae_title: str = ""
    host: str = ""
    port: int = 0
    store: str = ""
    tls: bool = False
    active: int = 0
    associations: int = 0
    instances: int = 0
    nbytes: int = 0
    failures: int = 0


@dataclass(eq=False)
class _Assoc:
    """What the receiver keeps about one incoming connection."""

    assoc_id: str
    host: str
    port: int
    opened: float = field(default_factory=time.time)
    calling: str = ""
    called: str = ""
    requested: bool = False
    ended: bool = False
    abort_reason: str = ""
    stores: int = 0
    spools: set[Spool] = field(default_factory=set)
    spare: Spool | None = None
    """The fast path's next spool file, opened while the peer was busy."""
    studies: dict[str, list[str]] = field(default_factory=dict)
    """Study UID -> paths stored in this association (for post-store ``study``)."""
    timer: threading.Timer | None = None
    raw_socket: socket.socket | None = None
    pipe: tuple[int, int] | None = None
    fast: bool = False
    """Only storage and verification: P-DATA is read by the fast path."""
    reader: Any = None
    """The fast path's reader (services.scp_fast.FastReader), if installed."""
    accepted: threading.Event = field(default_factory=threading.Event)
    """Set once the ``accepted`` event is out (operations come after it)."""
    """Read and write ends of the pipe that wakes the DUL reactor."""


# --- process-wide hooks into pynetdicom -------------------------------------
# pynetdicom's chunked receive opens a NamedTemporaryFile in the system temp
# folder and writes the meta header with pydicom Datasets. We hand it a Spool
# in the store of the receiver that owns the association's DUL thread (found
# by thread), and write the meta header with a tiny encoder. Associations of
# other code in the process (the network client's C-GET) get the originals.

_SPOOLERS: dict[threading.Thread, tuple[Store, _Assoc]] = {}
_SPOOLERS_LOCK = threading.Lock()
_PATCHED = False
_registered_uids: set[str] = set()


def _install_hooks() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from pynetdicom import _config, dimse_messages

    # Chunked receive for our associations only: a global switch would take
    # the data set away from other code's C-STORE handlers (event.dataset).
    chunked: Any = dimse_messages
    chunked._config = _ChunkedForOurThreads(_config)
    original_ntf = dimse_messages.NamedTemporaryFile
    original_create = dimse_messages.create_file_meta
    original_write = dimse_messages.write_file_meta_info

    def spool_file(*args: Any, **kwargs: Any) -> Any:
        with _SPOOLERS_LOCK:
            owner = _SPOOLERS.get(threading.current_thread())
        if owner is None:
            return original_ntf(*args, **kwargs)
        store, state = owner
        spool = store.new_spool()
        state.spools.add(spool)
        return spool

    def create_file_meta(**kwargs: Any) -> Any:
        return _LazyMeta(kwargs, original_create)

    def write_file_meta_info(fp: Any, meta: Any, *args: Any) -> None:
        if isinstance(meta, _LazyMeta):
            if isinstance(fp, Spool):
                fp.write(meta.encode())
                return
            meta = meta.dataset()
        original_write(fp, meta, *args)

    from pynetdicom import association, dul

    # pynetdicom's reactors poll with time.sleep(0.001) between looks: about
    # 2 ms of waiting per request/response. Our associations wake instead.
    waking: Any = _WakingTime()
    for module in (association, dul):
        cast_module: Any = module
        cast_module.time = waking

    patched: Any = dimse_messages  # module attributes replaced on purpose
    patched.NamedTemporaryFile = spool_file
    patched.create_file_meta = create_file_meta
    patched.write_file_meta_info = write_file_meta_info
    _PATCHED = True


_WAITERS: dict[threading.Thread, Callable[[float], None]] = {}


class _WakingTime:
    """The ``time`` module for pynetdicom's reactors, whose ``sleep`` (their
    1 ms poll between looks) returns as soon as there is something to do: data
    from the peer or a PDU to send (DUL thread), a DIMSE message to serve
    (association thread). Threads of other associations sleep as before."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        waiter = _WAITERS.get(threading.current_thread())
        if waiter is None or seconds > 0.002:
            time.sleep(seconds)
        else:
            waiter(seconds)


_PREAMBLE = b"\0" * 128 + b"DICM"
_GC_EVERY = 30.0
"""Seconds between the full garbage collections of an idle receiver."""

_IDLE_WAIT = 0.01
"""Longest nap of a woken reactor: only timers and kill flags wait that long."""
_LENT_WAIT = 0.05
"""Nap of a DUL thread whose reader the hub serves (timers and kill flags)."""
_ASSOC_IDLE_WAIT = 0.05
"""The association thread is woken for every message and PDU it must act
on; its naps only pace its timer checks (less waking while objects stream)."""


def _dul_waiter(
    raw: socket.socket, wake: int, state: _Assoc
) -> Callable[[float], None]:
    fd = raw.fileno()
    pending = raw.pending if isinstance(raw, ssl.SSLSocket) else None

    def wait(seconds: float) -> None:
        if pending is not None and pending():  # decrypted, select cannot see it
            return
        reader = state.reader
        lent = reader is not None and reader.hub is not None
        try:
            if lent:  # the hub reads the socket: wait to be woken
                ready, _, _ = select.select([wake], [], [], _LENT_WAIT)
            else:
                ready, _, _ = select.select([fd, wake], [], [], _IDLE_WAIT)
        except (OSError, ValueError):
            time.sleep(seconds)
            return
        if wake in ready:
            if state.reader is not None:
                state.reader.woken = False  # see FastReader._fill
            with contextlib.suppress(OSError):
                os.read(wake, 4096)

    return wait


def _queue_waiter(messages: queue.Queue[Any]) -> Callable[[float], None]:
    def wait(seconds: float) -> None:
        with messages.not_empty:
            if not messages._qsize():
                messages.not_empty.wait(_ASSOC_IDLE_WAIT)

    return wait


class _ChunkedForOurThreads:
    """pynetdicom's ``_config`` as dimse_messages sees it: chunked receive on
    for the DUL threads of our receiver, as configured for everyone else."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @property
    def STORE_RECV_CHUNKED_DATASET(self) -> bool:
        return threading.current_thread() in _SPOOLERS or bool(
            self._real.STORE_RECV_CHUNKED_DATASET
        )


class _LazyMeta:
    """File meta information, encoded without building a pydicom Dataset."""

    def __init__(self, values: dict[str, Any], make: Callable[..., Any]) -> None:
        self._values = values
        self._make = make

    def dataset(self) -> Any:
        return self._make(**self._values)

    def encode(self) -> bytes:
        return meta_group(
            str(self._values["sop_class_uid"]),
            str(self._values["sop_instance_uid"]),
            str(self._values["transfer_syntax"]),
        )


def meta_group(sop_class: str, sop_instance: str, syntax: str) -> bytes:
    """The file meta information group of a received object (explicit VR LE)."""
    head, tail, fixed = _meta_parts(sop_class, syntax)
    instance = _ui_element(0x0003, sop_instance)
    return b"".join(
        (
            b"\x02\x00\x00\x00UL\x04\x00",
            (fixed + len(instance)).to_bytes(4, "little"),
            head,
            instance,
            tail,
        )
    )


@functools.lru_cache(maxsize=256)
def _meta_parts(sop_class: str, syntax: str) -> tuple[bytes, bytes, int]:
    """The meta elements before and after the SOP Instance UID, and their size
    (the same for every object of a class and transfer syntax)."""
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID as impl_uid
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_VERSION as impl_version

    version = impl_version.encode("ascii", "replace")
    if len(version) % 2:
        version += b" "
    head = b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01" + _ui_element(
        0x0002, sop_class
    )
    tail = (
        _ui_element(0x0010, syntax)
        + _ui_element(0x0012, str(impl_uid))
        + _element(0x0013, b"SH", version)
    )
    return head, tail, len(head) + len(tail)


def _meta_as_read(
    dataset_at: int, syntax: str, sop_class: str, sop_uid: str
) -> tuple[int, str, str, str] | None:
    """What the index reader decodes from the :func:`meta_group` of these
    UIDs, for a record read from memory (services.fastread.record_from_bytes);
    None when a value is too long to be sure (the group is then parsed)."""
    if max(len(syntax), len(sop_class), len(sop_uid)) > 64:
        return None

    def as_read(uid: str) -> str:
        return uid.encode("ascii", "replace").rstrip(b" \0").decode("latin-1")

    return dataset_at, as_read(syntax), as_read(sop_class), as_read(sop_uid)


def _ui_element(elem: int, value: str) -> bytes:
    raw = value.encode("ascii", "replace")
    if len(raw) % 2:
        raw += b"\0"
    return _element(elem, b"UI", raw)


def _element(elem: int, vr: bytes, value: bytes) -> bytes:
    return (
        b"\x02\x00"
        + elem.to_bytes(2, "little")
        + vr
        + len(value).to_bytes(2, "little")
        + value
    )


class _LazyHandshake:
    """An SSLContext whose server sockets shake hands on first use.

    pynetdicom wraps accepted sockets in its accept loop, where the handshake
    would run with no timeout: one silent peer would stop every other from
    connecting. Deferred, the handshake runs in the association's own thread,
    bounded by the idle timeout, and a failure is that association's alone.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def wrap_socket(self, sock: socket.socket, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["do_handshake_on_connect"] = False
        return self._context.wrap_socket(sock, **kwargs)


def _fast_recv(
    raw: socket.socket,
    cap: int,
    refused: Callable[[str], None],
    closed: Callable[[], None],
) -> Callable[[int], bytearray]:
    """A replacement for AssociationSocket.recv: one buffer, and a size cap.

    pynetdicom reads a PDU by asking for the length the peer declared; a peer
    declaring 4 GB would make it buffer 4 GB. Above ``cap`` we refuse (the
    OSError makes pynetdicom close the connection: event 17). The bytes are
    read by tcp.recv_exactly, which acknowledges what came before it waits,
    so that a sender with Nagle's algorithm on does not hold the rest back
    for 40 ms.
    """

    def recv(nr_bytes: int) -> bytearray:
        if nr_bytes > cap:
            why = (
                f"aborted by us: the peer declared a PDU of {nr_bytes} bytes, "
                f"above our limit of {cap} (receiver.max_pdu)"
            )
            refused(why)
            raise OSError(why)
        try:
            data = tcp.recv_exactly(raw, nr_bytes)
        except OSError:
            closed()
            raise
        if len(data) < nr_bytes:
            closed()
        return data

    return recv


def explain_rejection(result: int, source: int, diagnostic: int) -> str:
    """The reason of an A-ASSOCIATE-RJ in words (Part 8, 9.3.4)."""
    kind = "permanent" if result == 1 else "transient"
    reason = REJECT_REASONS.get((source, diagnostic), f"diagnostic {diagnostic}")
    return f"rejected ({kind}): {reason}"


def _ae(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip()


class StoreScp:
    """The receiver: start it, it stores what peers send and reports events."""

    def __init__(
        self,
        settings: Settings,
        events: EventBus,
        *,
        port: int | None = None,
        ae_title: str | None = None,
        bind: str | None = None,
        store_dir: Path | None = None,
        config: ReceiverSettings | None = None,
    ) -> None:
        cfg = config or settings.receiver
        self.settings = settings
        self.config = cfg
        self.events = events
        self.ae_title = ae_title or cfg.ae_title
        self.bind = bind if bind is not None else cfg.bind
        self.port = cfg.port if port is None else port
        root = store_dir or (
            Path(cfg.store_dir).expanduser() if cfg.store_dir else None
        )
        self.store = Store(
            (root or settings.data_dir / "store").absolute(),
            layout=cfg.layout,
            duplicates=cfg.duplicates,
            max_object_bytes=cfg.max_object_bytes,
            min_free_bytes=cfg.min_free_bytes,
        )
        self._server: ThreadedAssociationServer | None = None
        self._index: IndexWriter | None = None
        self._lock = threading.Lock()
        self._assocs: dict[int, _Assoc] = {}
        self._closed: dict[int, _Assoc] = {}
        self._status = ReceiverStatus()
        self._stopping = False
        self._post: _PostStore | None = None
        self._ended_since_gc = 0
        self._last_gc = 0.0
        self.fast_path = True
        """Read C-STORE/C-ECHO off the socket ourselves (services.scp_fast)."""
        self.fast_objects = 0
        """Objects received by the fast path (the rest went through pynetdicom)."""
        self.hub_enabled = True
        """Serve the fast path of plain-TCP associations from one thread
        (services.scp_hub) instead of each association's own."""
        self._hub: Hub | None = None
        self.extensions: list[Any] | None = None
        """Other services on the same port (query/retrieve, worklist: see
        services.qrscp); None: the default ones, attached at start()."""

    # --- lifecycle -----------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._server is not None

    async def start(self) -> int:
        """Start listening; return the real port (useful with port 0).

        Raises:
            ReceiverError: The port cannot be bound, the store cannot be
                created, or the TLS files cannot be read.
        """
        if self._server is not None:
            return self.port
        return await asyncio.to_thread(self._start)

    def _start(self) -> int:
        from pynetdicom import AE, evt

        from dcmtui.services.uid_validation import cache_uid_validation

        _install_hooks()
        cache_uid_validation()  # association requests propose hundreds of UIDs
        try:
            self.store.prepare()
        except OSError as exc:
            raise ReceiverError(
                f"cannot use the store folder {self.store.root}: {exc.strerror or exc}"
            ) from exc
        cfg = self.config
        try:
            ae = AE(ae_title=self.ae_title)
        except ValueError as exc:
            raise ReceiverError(
                f"{self.ae_title!r} is not a valid AE title: 1 to 16 characters, "
                "no control characters or backslashes"
            ) from exc
        ae.maximum_pdu_size = cfg.max_pdu
        ae.maximum_associations = cfg.max_associations + 4  # our own check is first
        ae.acse_timeout = cfg.idle_timeout
        ae.dimse_timeout = cfg.idle_timeout
        ae.network_timeout = cfg.idle_timeout
        # Placeholders: the real contexts are chosen per association (on_requested).
        ae.add_supported_context(VERIFICATION)
        ssl_context = self._ssl_context()
        handlers = [
            (evt.EVT_CONN_OPEN, self._on_conn_open),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
        ]
        if self.extensions is None:
            try:
                from dcmtui.services.qrscp import extensions_for
            except ImportError:  # no query/retrieve SCP in this tree (yet)
                self.extensions = []
            else:
                self.extensions = extensions_for(self)
        for extension in self.extensions:
            handlers.extend(extension.handlers())
        try:
            server = ae.start_server(
                (self.bind, self.port),
                block=False,
                evt_handlers=handlers,  # type: ignore[arg-type]
                ssl_context=ssl_context,
            )
        except OSError as exc:
            raise ReceiverError(
                f"cannot listen on {self.bind}:{self.port}: {exc.strerror or exc}"
            ) from exc
        assert server is not None  # block=False returns the server
        # pynetdicom's accept loop runs a full gc.collect() every 60th turn
        # (a connection, or 0.5 s idle): a pause of 50-500 ms in the middle of
        # transfers. We collect when no association is open instead.
        server.service_actions = self._service_actions  # type: ignore[method-assign]
        self._server = server
        self._stopping = False
        self.port = int(server.server_address[1])
        if self.hub_enabled and self.fast_path:
            self._hub = Hub()
        self._index = IndexWriter(self.settings.index_path)
        if cfg.post_store_command:
            self._post = _PostStore(cfg.post_store_command)
        self._status = ReceiverStatus(
            running=True,
            ae_title=self.ae_title,
            host=self.bind,
            port=self.port,
            store=str(self.store.root),
            tls=ssl_context is not None,
        )
        LOGGER.info(
            "receiver %s listening on %s:%d, store %s",
            self.ae_title,
            self.bind,
            self.port,
            self.store.root,
        )
        return self.port

    def _service_actions(self) -> None:
        """Called by the accept loop after each connection and idle poll."""
        if self._ended_since_gc and time.monotonic() - self._last_gc > _GC_EVERY:
            with self._lock:
                idle = not self._assocs
            if idle:
                self._ended_since_gc = 0
                self._last_gc = time.monotonic()
                gc.collect()

    def _ssl_context(self) -> ssl.SSLContext | None:
        cfg = self.config
        if not cfg.tls_cert:
            return None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key or None)
            if cfg.tls_ca:
                ctx.load_verify_locations(cafile=cfg.tls_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise ReceiverError(
                f"cannot load the TLS certificate or key: {exc}"
            ) from exc
        return _LazyHandshake(ctx)  # type: ignore[return-value]

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let transfers in flight finish (up to ``grace``
        seconds, then abort them), and stop."""
        if self._server is None:
            return
        await asyncio.to_thread(self._stop, grace)

    def _stop(self, grace: float) -> None:
        server = self._server
        if server is None:
            return
        self._stopping = True
        server.shutdown()  # no new connections; the listening socket is closed
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
            a.is_established for a in server.active_associations
        ):
            time.sleep(0.05)
        active = server.active_associations
        for assoc in active:
            with contextlib.suppress(Exception):
                if assoc.is_established:
                    assoc.abort()
                else:
                    assoc.kill()
                    assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]
        for assoc in active:
            assoc.join(timeout=5)
        self._server = None
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._post is not None:
            self._post.close()
            self._post = None
        self._status.running = False
        LOGGER.info("receiver %s stopped", self.ae_title)

    def status(self) -> ReceiverStatus:
        """A copy of the receiver's counters."""
        with self._lock:
            status = ReceiverStatus(**vars(self._status))
            status.active = sum(1 for a in self._assocs.values() if a.requested)
        return status

    # --- helpers ---------------------------------------------------------------

    def _state(self, assoc: Any) -> _Assoc:
        with self._lock:
            state = self._assocs.get(id(assoc)) or self._closed.get(id(assoc))
            if state is None:  # should not happen: CONN_OPEN comes first
                state = _Assoc(self.events.new_id("in"), "", 0)
                self._assocs[id(assoc)] = state
            return state

    def emit_for(self, assoc: Any, kind: str, **values: Any) -> None:
        """Emit an AssocEvent of kind ``kind`` for a pynetdicom association
        (for extensions: query/retrieve operations)."""
        self._emit(self._state(assoc), kind, **values)

    def _emit(self, state: _Assoc, kind: str, **values: Any) -> None:
        self.events.emit(
            AssocEvent(
                time=time.time(),
                assoc_id=state.assoc_id,
                direction="in",
                kind=kind,
                peer_host=state.host,
                peer_port=state.port,
                calling_ae=state.calling,
                called_ae=state.called,
                **values,
            )
        )

    def _reject(
        self, assoc: Any, state: _Assoc, rsd: tuple[int, int, int], why: str
    ) -> None:
        assoc.acse.send_reject(*rsd)
        with self._lock:
            self._status.failures += 1
        state.ended = True
        self._emit(state, "rejected", detail=f"{explain_rejection(*rsd)}: {why}")
        assoc.kill()

    # --- pynetdicom handlers (association threads; never raise) ----------------

    def _on_conn_open(self, event: Any) -> None:
        try:
            assoc = event.assoc
            host, port = (event.address[0], int(event.address[1]))
            state = _Assoc(self.events.new_id("in"), str(host), port)
            with self._lock:
                self._assocs[id(assoc)] = state
            sock = assoc.dul.socket
            raw = sock.socket if sock is not None else None
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                raw.settimeout(self.config.idle_timeout or None)
                cap = max(self.config.max_pdu, 65536) + 16
                sock.recv = _fast_recv(
                    raw,
                    cap,
                    lambda why: setattr(state, "abort_reason", why),
                    lambda: self._peer_gone(assoc, state),
                )
                state.raw_socket = raw
            with _SPOOLERS_LOCK:
                _SPOOLERS[assoc.dul] = (self.store, state)
            if raw is not None:
                self._wake_up_reactors(assoc, raw, state)
                self._install_fast_reader(assoc, state, raw, cap)
            # The end of the association thread is the one sure end of every
            # connection (pynetdicom does not always trigger EVT_CONN_CLOSE).
            target = assoc._target

            def run_then_finish() -> None:
                try:
                    target()
                finally:
                    self._finish(assoc)

            assoc._target = run_then_finish
            if self.config.association_deadline:
                timer = threading.Timer(
                    self.config.association_deadline, self._deadline, (state,)
                )
                timer.daemon = True
                timer.start()
                state.timer = timer
        except Exception:
            LOGGER.exception("receiver: connection setup failed")

    @staticmethod
    def _wake_up_reactors(assoc: Any, raw: socket.socket, state: _Assoc) -> None:
        """Let pynetdicom's reactors wait for work instead of polling."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        state.pipe = (wake_r, wake_w)
        dul = assoc.dul
        send_pdu = dul.send_pdu

        def send_and_wake(primitive: Any) -> None:
            reader = state.reader
            if reader is not None and reader.hub is not None:
                reader.hub.detach(reader)  # the DUL thread writes from now on
            send_pdu(primitive)
            if reader is not None:
                reader.woken = True  # before the byte: see FastReader._fill
            with contextlib.suppress(OSError):
                os.write(wake_w, b"\0")

        dul.send_pdu = send_and_wake
        # The association reactor also wakes for what the DUL hands it
        # (release request, abort), not only for DIMSE messages.
        messages = assoc.dimse.msg_queue
        user_queue = dul.to_user_queue
        put = user_queue.put

        def put_and_wake(item: Any, *args: Any, **kwargs: Any) -> None:
            put(item, *args, **kwargs)
            with messages.not_empty:
                messages.not_empty.notify_all()

        user_queue.put = put_and_wake
        _WAITERS[dul] = _dul_waiter(raw, wake_r, state)
        _WAITERS[assoc] = _queue_waiter(messages)

    def _install_fast_reader(
        self, assoc: Any, state: _Assoc, raw: socket.socket, cap: int
    ) -> None:
        from dcmtui.services.scp_fast import FastReader

        dul = assoc.dul

        def enabled() -> bool:
            if not state.fast or dul.state_machine.current_state != "Sta6":
                return False
            # EVT_ACCEPTED runs in the association thread just after the
            # A-ASSOCIATE-AC went out: keep "accepted" before the operations.
            state.accepted.wait(2.0)
            return True

        def new_spool(sop_class: str, sop_uid: str, syntax: str) -> Spool:
            spare, state.spare = state.spare, None
            spool = self.store.new_spool(spare)
            if spare is not None and spool is not spare:
                state.spools.discard(spare)
            state.spools.add(spool)
            spool.write(_PREAMBLE)
            spool.write(meta_group(sop_class, sop_uid, syntax))
            spool.syntax = syntax
            spool.meta = _meta_as_read(spool.nbytes, syntax, sop_class, sop_uid)
            return spool

        def stored(spool: Spool, sop_uid: str) -> tuple[int, Callable[[], None] | None]:
            state.spools.discard(spool)
            self.fast_objects += 1
            status, after = self._store_spool(state, spool, sop_uid)
            if after is None:  # refused: nothing to do, no spare (disk trouble?)
                return status, None

            def then() -> None:  # once the answer is out
                after()
                if state.spare is None and not state.ended:
                    try:
                        spare = self.store.new_spool()
                    except OSError:
                        return  # made when the next object comes, or refused then
                    if not spare.problem:
                        state.spare = spare
                        state.spools.add(spare)

            return status, then

        def echoed() -> None:
            self._emit(state, "c-echo", status=0)

        assert state.pipe is not None
        reader = FastReader(
            dul,
            raw,
            state.pipe[0],
            cap,
            lambda why: setattr(state, "abort_reason", why),
            enabled,
            new_spool,
            stored,
            echoed,
            idle=_IDLE_WAIT,
        )
        dul._read_pdu_data = reader
        state.reader = reader
        transport_event = dul._is_transport_event
        pipe_w = state.pipe[1]
        # Lent to the hub once: a plain socket whose reads do not block
        # (pynetdicom's timeout makes it non-blocking).
        lendable = (
            self._hub is not None and not reader.tls and raw.gettimeout() is not None
        )

        def handed_back() -> None:
            with contextlib.suppress(OSError):
                os.write(pipe_w, b"\0")

        def is_transport_event() -> bool:
            nonlocal lendable
            if reader.hub is not None:  # the hub reads the socket
                return False
            if lendable and enabled():
                lendable = False
                hub = self._hub
                if hub is not None and hub.attach(reader, handed_back):
                    return False
            if reader.has_pdu() or reader.failed is not None or reader.unsent:
                reader()  # read ahead, or left over by the hub
                return True
            return bool(transport_event())

        dul._is_transport_event = is_transport_event

    @staticmethod
    def _peer_gone(assoc: Any, state: _Assoc) -> None:
        """The connection is gone: if no association request came, wake the
        reactor, which otherwise waits for one for the whole ACSE timeout."""
        if not state.requested:
            with contextlib.suppress(Exception):
                assoc.dul.to_user_queue.put(None)

    def _deadline(self, state: _Assoc) -> None:
        state.abort_reason = (
            f"aborted by us: the association lasted more than "
            f"{self.config.association_deadline:g} s (receiver.association_deadline)"
        )
        if state.raw_socket is not None:
            with contextlib.suppress(OSError):
                state.raw_socket.shutdown(socket.SHUT_RDWR)

    def _finish(self, assoc: Any) -> None:
        try:
            with _SPOOLERS_LOCK:
                _SPOOLERS.pop(assoc.dul, None)
            _WAITERS.pop(assoc, None)
            _WAITERS.pop(assoc.dul, None)
            self._ended_since_gc += 1
            with self._lock:
                state = self._assocs.pop(id(assoc), None)
                if state is not None:  # late handlers (EVT_ABORTED) still find it
                    self._closed[id(assoc)] = state
                    while len(self._closed) > 256:
                        del self._closed[next(iter(self._closed))]
            if state is None:
                return
            if state.timer is not None:
                state.timer.cancel()
            reader = state.reader
            if reader is not None and reader.hub is not None:
                reader.hub.detach(reader)
            if state.pipe is not None:
                pipe, state.pipe = state.pipe, None
                assoc.dul.join(timeout=1)
                if assoc.dul.is_alive():  # close only once nothing can use it
                    threading.Thread(
                        target=_close_when_done,
                        args=(assoc.dul, pipe, state.reader),
                        daemon=True,
                        name="dcmtui-pipe-close",
                    ).start()
                else:
                    _close_when_done(assoc.dul, pipe, state.reader)
                state.reader = None
            for spool in list(state.spools):
                spool.discard()
            state.spools.clear()
            if not state.ended:
                state.ended = True
                with self._lock:
                    self._status.failures += 1
                if state.requested:
                    self._emit(
                        state,
                        "aborted",
                        detail=state.abort_reason
                        or "aborted by the peer (A-ABORT, or the connection "
                        "closed without a release)",
                    )
                else:
                    self._emit(
                        state,
                        "failed",
                        detail=state.abort_reason
                        or "the connection closed before a valid association "
                        "request (not DICOM, malformed, or silent)",
                    )
            self._run_study_commands(state)
        except Exception:
            LOGGER.exception("receiver: connection close handling failed")

    def _on_requested(self, event: Any) -> None:
        try:
            assoc = event.assoc
            state = self._state(assoc)
            rq = assoc.requestor.primitive
            state.calling = _ae(rq.calling_ae_title)
            state.called = _ae(rq.called_ae_title)
            state.requested = True
            with self._lock:
                self._status.associations += 1
                active = [
                    a for a in self._assocs.values() if a.requested and not a.ended
                ]
            contexts = assoc.requestor.requested_contexts
            self._emit(
                state,
                "requested",
                detail=f"{len(contexts)} presentation contexts proposed",
            )
            cfg = self.config
            if self._stopping:
                self._reject(assoc, state, (2, 3, 1), "the receiver is shutting down")
                return
            if len(active) > cfg.max_associations:
                self._reject(
                    assoc,
                    state,
                    (2, 3, 2),
                    f"{len(active) - 1} associations already open "
                    "(receiver.max_associations)",
                )
                return
            same_peer = sum(1 for a in active if a.host == state.host)
            if same_peer > cfg.max_associations_per_peer:
                self._reject(
                    assoc,
                    state,
                    (2, 3, 2),
                    f"{same_peer - 1} associations already open from this address "
                    "(receiver.max_associations_per_peer)",
                )
                return
            if cfg.check_called_ae and state.called != self.ae_title.strip():
                self._reject(assoc, state, (1, 1, 7), f"we are {self.ae_title}")
                return
            if cfg.allow_known_calling_aes and state.calling not in self._allowed():
                self._reject(
                    assoc,
                    state,
                    (1, 1, 3),
                    "not in the address book (receiver.allow_known_calling_aes)",
                )
                return
            supported = self._contexts_for(contexts)
            ours = {str(cx.abstract_syntax) for cx in supported}
            for extension in self.extensions or ():
                supported = extension.contexts(assoc, state.calling, supported)
            assoc.acceptor.supported_contexts = supported
            state.fast = self.fast_path and all(
                str(cx.abstract_syntax) in ours for cx in supported
            )
        except Exception:
            LOGGER.exception("receiver: association request handling failed")

    def _allowed(self) -> set[str]:
        allowed = {ae.strip() for ae in self.config.allowed_calling_aes}
        try:
            from dcmtui.services.nodes import NodeBook

            book = NodeBook.in_folder(self.settings.config_dir)
            allowed.update(str(n.ae_title).strip() for n in book.nodes())
        except Exception:  # no address book (yet), or a broken one: list only
            LOGGER.warning("receiver: address book unreadable for the allow-list")
        return allowed

    def _contexts_for(self, requested: list[Any]) -> list[Any]:
        """The contexts we support for this request: accept-all by default."""
        from pynetdicom.presentation import build_context
        from pynetdicom.service_class import StorageServiceClass
        from pynetdicom.sop_class import register_uid, uid_to_service_class

        cfg = self.config
        sop_allowed = set(cfg.sop_classes)
        ts_allowed = set(cfg.transfer_syntaxes)
        wanted: dict[str, list[str]] = {}
        for cx in requested:
            abstract = str(cx.abstract_syntax)
            syntaxes = [str(ts) for ts in cx.transfer_syntax]
            if abstract != VERIFICATION:
                if sop_allowed and abstract not in sop_allowed:
                    continue
                if ts_allowed:
                    syntaxes = [ts for ts in syntaxes if ts in ts_allowed]
                service = uid_to_service_class(abstract)
                if service is not StorageServiceClass:
                    if service.__name__ != "ServiceClass":
                        continue  # a known non-storage service: not ours
                    if abstract not in _registered_uids:  # private/unknown storage
                        if len(_registered_uids) >= 1000 or not _valid_uid(abstract):
                            continue
                        keyword = "Private" + abstract.replace(".", "_")
                        register_uid(abstract, keyword, StorageServiceClass)
                        _registered_uids.add(abstract)
            known = wanted.setdefault(abstract, [])
            known.extend(ts for ts in syntaxes if ts not in known)
        return [build_context(a, ts) for a, ts in wanted.items() if ts]

    def _on_accepted(self, event: Any) -> None:
        try:
            assoc = event.assoc
            state = self._state(assoc)
            results = [
                ContextResult(
                    str(cx.abstract_syntax),
                    str(cx.transfer_syntax[0]) if cx.transfer_syntax else "",
                    "accepted",
                )
                for cx in assoc.accepted_contexts
            ]
            results += [
                ContextResult(
                    str(cx.abstract_syntax),
                    "\\".join(str(ts) for ts in cx.transfer_syntax),
                    CONTEXT_RESULTS.get(cx.result or 0, f"result {cx.result}"),
                )
                for cx in assoc.rejected_contexts
            ]
            self._emit(
                state,
                "accepted",
                detail=f"{len(assoc.accepted_contexts)} contexts accepted, "
                f"{len(assoc.rejected_contexts)} rejected; "
                f"max PDU {assoc.acceptor.maximum_length}",
                contexts=tuple(results),
            )
        except Exception:
            LOGGER.exception("receiver: accepted handler failed")
        finally:
            with contextlib.suppress(Exception):
                self._state(event.assoc).accepted.set()

    def _on_rejected(self, event: Any) -> None:
        try:
            assoc = event.assoc
            state = self._state(assoc)
            if state.ended:
                return
            state.ended = True
            rj = assoc.acceptor.primitive
            rsd = (
                int(rj.result or 0),
                int(rj.result_source or 0),
                int(rj.diagnostic or 0),
            )
            with self._lock:
                self._status.failures += 1
            self._emit(state, "rejected", detail=explain_rejection(*rsd))
        except Exception:
            LOGGER.exception("receiver: rejected handler failed")

    def _on_released(self, event: Any) -> None:
        try:
            state = self._state(event.assoc)
            spare, state.spare = state.spare, None
            if spare is not None:  # no more objects: leave nothing behind
                state.spools.discard(spare)
                spare.discard()
            if not state.ended:
                state.ended = True
                self._emit(state, "released", detail=f"{state.stores} objects stored")
        except Exception:
            LOGGER.exception("receiver: released handler failed")

    def _on_aborted(self, event: Any) -> None:
        try:
            state = self._state(event.assoc)
            if not state.ended:
                state.ended = True
                with self._lock:
                    self._status.failures += 1
                self._emit(
                    state,
                    "aborted",
                    detail=state.abort_reason or "aborted by the peer",
                )
        except Exception:
            LOGGER.exception("receiver: aborted handler failed")

    def _on_echo(self, event: Any) -> int:
        try:
            self._emit(self._state(event.assoc), "c-echo", status=0)
        except Exception:
            LOGGER.exception("receiver: echo handler failed")
        return 0x0000

    def _on_store(self, event: Any) -> int:
        state = self._state(event.assoc)
        req = event.request
        sop_uid = _ae(req.AffectedSOPInstanceUID)
        spool = getattr(req, "_dataset_file", None)
        if not isinstance(spool, Spool):
            return self._store_failed(
                state, CANNOT_UNDERSTAND, "no data set received", 0
            )
        state.spools.discard(spool)
        status, after = self._store_spool(state, spool, sop_uid)
        if after is not None:
            after()
        return status

    def _store_spool(
        self, state: _Assoc, spool: Spool, sop_uid: str
    ) -> tuple[int, Callable[[], None] | None]:
        """Place a received object in the store.

        Returns:
            The DIMSE status to answer, and what is left to do once the answer
            is out (index, events, post-store command), so that the sender
            goes on with its next object meanwhile.
        """
        spool.complete()  # whole on disk; closed once the answer is out
        if spool.problem:
            spool.discard()
            return self._store_failed(
                state, OUT_OF_RESOURCES, spool.problem, spool.nbytes
            ), None
        for extension in self.extensions or ():  # the store quota (qrscp)
            refusal = extension.refuse_store(spool.nbytes)
            if refusal:
                spool.discard()
                return self._store_failed(
                    state, OUT_OF_RESOURCES, refusal, spool.nbytes
                ), None
        try:
            fields: PathFields | None = None
            if spool.head:
                fields = path_fields(
                    spool.head,
                    spool.syntax,
                    complete=spool.nbytes - spool.head_at == len(spool.head),
                )
            spool.head = b""
            if fields is None:  # unusual: the index reader reads the spool file
                from dcmtui.services.fastread import read_record

                fields = read_record(spool.name, spool.nbytes, 0)
            placed = self.store.commit(spool, sop_uid, fields)
        except OSError as exc:
            spool.discard()
            return self._store_failed(
                state,
                OUT_OF_RESOURCES,
                f"cannot store the object: {exc.strerror or exc}",
                spool.nbytes,
            ), None
        except Exception as exc:
            LOGGER.exception("receiver: storing %r failed", sop_uid)
            spool.discard()
            return self._store_failed(
                state, OUT_OF_RESOURCES, f"cannot store the object: {exc}", spool.nbytes
            ), None
        state.stores += 1
        with self._lock:
            self._status.instances += 1
            self._status.nbytes += spool.nbytes
        return 0x0000, lambda: self._stored(state, placed, sop_uid, spool)

    def _stored(
        self, state: _Assoc, placed: Placed, sop_uid: str, spool: Spool
    ) -> None:
        """What follows a stored object: index, event, post-store command."""
        spool.close()
        if spool.problem:  # placed already: the index reads the file instead
            LOGGER.warning("receiver: closing %r: %s", placed.path, spool.problem)
        nbytes = spool.nbytes
        record: FileRecord | None = None
        if placed.outcome != "duplicate":
            record = _record_in_memory(placed.path, spool)
            if self._index is not None:
                # Read from the file in the index writer's thread when the
                # object was too large to be kept in memory.
                self._index.add(record or placed.path)
        root = str(self.store.root) + os.sep
        rel = placed.path[len(root) :] if placed.path.startswith(root) else placed.path
        if placed.outcome == "stored":
            detail = f"stored {rel}"
        elif placed.outcome == "duplicate":
            detail = f"identical to {rel}: not stored again"
        elif placed.outcome == "kept":
            detail = (
                "a different object had this SOP Instance UID: kept both, "
                f"new one as {rel}"
            )
        else:
            detail = f"replaced {rel} (receiver.duplicates = overwrite)"
        self._emit(state, "c-store", status=0, nbytes=nbytes, detail=detail)
        if self._post is None:
            return
        final = (
            record
            or read_stored(placed.path)
            or FileRecord(placed.path, nbytes, 0, FileKind.OTHER)
        )
        values = {
            "path": placed.path,
            "sop_instance_uid": sop_uid,
            "sop_class_uid": final.sop_class_uid,
            "study_uid": final.study_uid,
            "series_uid": final.series_uid,
            "patient_id": final.patient_id,
            "calling_ae": state.calling,
            "called_ae": state.called,
            "peer_host": state.host,
            "store": str(self.store.root),
        }
        if self.config.post_store_on == "object":
            self._post.submit(values)
        else:
            state.studies.setdefault(final.study_uid, []).append(placed.path)

    def _store_failed(self, state: _Assoc, status: int, why: str, nbytes: int) -> int:
        with self._lock:
            self._status.failures += 1
        self._emit(state, "c-store", status=status, nbytes=nbytes, detail=why)
        return status

    def _run_study_commands(self, state: _Assoc) -> None:
        if self._post is None or not state.studies:
            return
        for study, paths in state.studies.items():
            self._post.submit(
                {
                    "study_uid": study,
                    "path": str(Path(paths[0]).parent),
                    "count": str(len(paths)),
                    "calling_ae": state.calling,
                    "called_ae": state.called,
                    "peer_host": state.host,
                    "store": str(self.store.root),
                }
            )


def _record_in_memory(path: str, spool: Spool) -> FileRecord | None:
    """The index record of a stored object from the bytes the spool wrote, or
    None when they were not kept (a large object: the file is read instead)."""
    contents, spool.contents = spool.contents, None
    if contents is None:
        return None
    try:
        return record_from_bytes(path, b"".join(contents), spool.mtime_ns, spool.meta)
    except Exception:  # as the index writer would: read the file instead
        LOGGER.exception("receiver: reading %r from memory failed", path)
        return None


def _close_when_done(
    thread: threading.Thread, fds: tuple[int, ...], reader: Any = None
) -> None:
    """Close file descriptors once ``thread`` (a DUL reactor) has ended, so
    that a number it might still watch is never reused under it, and free
    the fast reader's buffer (the association is in reference cycles that
    only the garbage collector frees, some time later)."""
    thread.join()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    if reader is not None:
        reader.release()


def _valid_uid(value: str) -> bool:
    from dcmtui.services.store import is_uid

    return is_uid(value)


class _PostStore:
    """Runs the post-store command, one at a time, never through a shell."""

    def __init__(self, command: list[str], timeout: float = 300.0) -> None:
        self._command = command
        self._timeout = timeout
        self._queue: queue.Queue[dict[str, str] | None] = queue.Queue(maxsize=10000)
        self._thread = threading.Thread(
            target=self._run, daemon=True, name="dcmtui-post-store"
        )
        self._thread.start()

    def submit(self, values: dict[str, str]) -> None:
        try:
            self._queue.put_nowait(values)
        except queue.Full:
            LOGGER.warning("post-store command queue full: skipped one run")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=self._timeout)

    def _run(self) -> None:
        while (values := self._queue.get()) is not None:
            args = [_substitute(arg, values) for arg in self._command]
            env = dict(os.environ)
            env.update({f"DCMTUI_{k.upper()}": v for k, v in values.items()})
            try:
                done = subprocess.run(
                    args,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    timeout=self._timeout,
                    check=False,
                )
                if done.returncode:
                    LOGGER.warning(
                        "post-store command exited with %d: %r",
                        done.returncode,
                        done.stderr[-500:],
                    )
            except (OSError, subprocess.SubprocessError) as exc:
                LOGGER.warning("post-store command failed: %s", exc)


def _substitute(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg
