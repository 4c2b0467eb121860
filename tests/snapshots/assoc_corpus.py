"""Fixed association events for snapshots and screenshots of the
Associations screen: same times, peers and results on every run."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from dcmtui.app import DcmtuiApp
from dcmtui.config import load_settings
from dcmtui.models import AssocEvent, ContextResult
from dcmtui.services.container import Services

T0 = 1_767_261_600.0  # 2026-01-01 10:00:00 UTC
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
VERIFY = "1.2.840.10008.1.1"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
JPEG = "1.2.840.10008.1.2.4.50"


def _assoc(
    n: int,
    start: float,
    *,
    direction: str = "in",
    calling: str = "CT01",
    called: str = "DCMTUI",
    host: str = "10.0.0.21",
    stores: int = 0,
    size: int = 520_000,
    end: str = "released",
    detail: str = "",
    contexts: tuple[ContextResult, ...] = (),
    failed_store: bool = False,
) -> list[AssocEvent]:
    base = AssocEvent(
        time=T0 + start,
        assoc_id=f"{direction}-{n}",
        direction=direction,
        kind="requested",
        peer_host=host,
        peer_port=40000 + n,
        calling_ae=calling,
        called_ae=called,
    )
    events = [replace(base, detail=f"{len(contexts) or 1} presentation contexts")]
    if end == "rejected":
        return [
            *events,
            replace(base, time=T0 + start + 0.01, kind="rejected", detail=detail),
        ]
    contexts = contexts or (ContextResult(CT, EXPLICIT, "accepted"),)
    events.append(
        replace(base, time=T0 + start + 0.01, kind="accepted", contexts=contexts)
    )
    t = start + 0.02
    for i in range(stores):
        t += 0.05
        events.append(
            replace(
                base,
                time=T0 + t,
                kind="c-store",
                status=0,
                nbytes=size,
                detail=f"stored {i}.dcm",
            )
        )
    if failed_store:
        t += 0.05
        events.append(
            replace(
                base,
                time=T0 + t,
                kind="c-store",
                status=0xA700,
                nbytes=0,
                detail="less than 536870912 bytes free in the store",
            )
        )
    events.append(replace(base, time=T0 + t + 0.01, kind=end, detail=detail))
    return events


def fixed_events() -> list[AssocEvent]:
    """Six associations: stores, an echo, a rejection, an abort, a send."""
    return [
        *_assoc(1, 0, stores=12),
        *_assoc(
            2,
            5,
            calling="ECHO\x1b[31m[b]X",
            host="10.0.0.99",
            contexts=(ContextResult(VERIFY, IMPLICIT, "accepted"),),
        ),
        *_assoc(
            3,
            9,
            calling="STRANGER",
            host="192.168.7.5",
            end="rejected",
            detail="rejected (permanent): calling AE title not recognised: "
            "not in the address book (receiver.allow_known_calling_aes)",
        ),
        *_assoc(
            4,
            14,
            calling="MR02",
            stores=3,
            size=1_200_000,
            end="aborted",
            detail="aborted by the peer (A-ABORT, or the connection closed "
            "without a release)",
            contexts=(
                ContextResult(MR, EXPLICIT, "accepted"),
                ContextResult(CT, JPEG, "transfer syntaxes not supported"),
            ),
        ),
        *_assoc(
            5,
            20,
            direction="out",
            calling="DCMTUI",
            called="PACS",
            host="10.0.0.5",
            stores=4,
            size=800_000,
        ),
        *_assoc(6, 31, calling="CT01", stores=2, failed_store=True),
    ]


def fixed_app(name: str) -> DcmtuiApp:
    """The app with the fixed events in its bus and fixed folders, in UTC."""
    os.environ["TZ"] = "UTC"
    time.tzset()
    home = Path("/tmp/dcmtui-fixed") / name
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    settings = replace(load_settings(), data_dir=home / "data")
    services = Services(settings)
    for event in fixed_events():
        services.events.emit(event)
    return DcmtuiApp(settings, root=root, services=services)
