"""Make an SVG of every screen into screenshots/, by driving the app.

    python scripts/make_screenshots.py [NAME ...]

Each shot builds the app on fixed data (same paths and UIDs every run), drives
it with Pilot as a user would, and saves the screen. To add a screen, add a
function to SHOTS. Run it again after a screen changes, and look at the result.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "screenshots"
SIZE = (120, 36)

from textual.pilot import Pilot  # noqa: E402

from dcmtui.app import DcmtuiApp  # noqa: E402
from tests.snapshots.corpus import make_fixed_corpus, settle_scan  # noqa: E402
from tests.ui.helpers import make_app  # noqa: E402

Drive = Callable[[Pilot[None]], Awaitable[None]]


async def _shoot(name: str, app: DcmtuiApp, drive: Drive) -> Path:
    async with app.run_test(size=SIZE) as pilot:
        await drive(pilot)
        await pilot.pause(0.2)
        path = app.save_screenshot(f"{name}.svg", str(OUT))
    return Path(path)


async def files() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        await settle_scan(pilot)

    return await _shoot("files", make_app(make_fixed_corpus("files")), drive)


async def files_hierarchy() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        screen = await settle_scan(pilot)
        await pilot.press("v")
        tree = screen.hierarchy
        first = tree.root.children[0]
        first.expand_all()
        await pilot.pause()
        tree.move_cursor(first.children[1])
        await pilot.press("space")

    return await _shoot("files-hierarchy", make_app(make_fixed_corpus("hier")), drive)


def _demo_app() -> DcmtuiApp:
    from dcmtui.services.demo import make_demo

    return make_app(make_demo(Path(os.environ["DCMTUI_DATA_DIR"])))


async def demo() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        await settle_scan(pilot)

    return await _shoot("demo", _demo_app(), drive)


async def dataset() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        screen = await settle_scan(pilot)
        path = next(p for p in screen.table.records if p.endswith("CT_small.dcm"))
        screen.open_path(path)
        await pilot.pause(0.5)

    return await _shoot("dataset", _demo_app(), drive)


async def dicomdir() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        screen = await settle_scan(pilot)
        path = next(p for p in screen.table.records if p.endswith("DICOMDIR"))
        screen.open_path(path)
        await pilot.pause(0.5)

    return await _shoot("dicomdir", _demo_app(), drive)


async def help_screen() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        await settle_scan(pilot)
        await pilot.press("question_mark")

    return await _shoot("help", make_app(make_fixed_corpus("help")), drive)


async def associations() -> Path:
    from tests.snapshots.assoc_corpus import fixed_app

    async def drive(pilot: Pilot[None]) -> None:
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("up", "up", "x")

    return await _shoot("associations", fixed_app("shot-assoc"), drive)


async def nodes() -> Path:
    from tests.snapshots.test_network_snapshots import _app

    async def drive(pilot: Pilot[None]) -> None:
        await pilot.press("3")
        await pilot.pause(0.2)

    return await _shoot("nodes", _app(), drive)


async def query() -> Path:
    from tests.snapshots.test_network_snapshots import _app

    async def drive(pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await pilot.pause(0.3)
        pilot.app.screen.query_one("#q-PatientName").value = "DOE^J*"  # type: ignore[attr-defined]

    return await _shoot("query", _app(), drive)


async def preview() -> Path:
    async def drive(pilot: Pilot[None]) -> None:
        from dcmtui.screens.preview import PreviewScreen

        screen = await settle_scan(pilot)
        path = next(p for p in screen.table.records if p.endswith("CT_small.dcm"))
        await pilot.app.push_screen(PreviewScreen(screen.services, Path(path)))
        await pilot.pause(0.5)

    return await _shoot("preview", _demo_app(), drive)


async def pacs() -> Path:
    from dcmtui.config import load_settings
    from dcmtui.services.worklist import Worklist

    settings = load_settings()
    worklist = Worklist(settings.data_dir / "worklist")
    for n, (name, modality, station) in enumerate(
        (("DOE^JOHN", "CT", "CT1"), ("ROE^JANE", "MR", "MR1"))
    ):
        worklist.add(
            {
                "PatientName": name,
                "PatientID": f"PID{n + 1}",
                "AccessionNumber": f"A10{n + 1}",
                "StudyInstanceUID": f"1.2.826.0.1.3680043.10.1453.90{n}",
            },
            {
                "Modality": modality,
                "ScheduledStationAETitle": station,
                "ScheduledProcedureStepStartDate": "20260301",
            },
        )
    root = settings.data_dir / "empty"
    root.mkdir(parents=True, exist_ok=True)

    async def drive(pilot: Pilot[None]) -> None:
        await pilot.press("6")
        await pilot.pause(0.5)

    return await _shoot("pacs", make_app(root), drive)


def _marked(screen: object, count: int) -> list[str]:
    """The first ``count`` files of the fixed corpus' first series."""
    from dcmtui.screens.browser import FilesScreen

    assert isinstance(screen, FilesScreen)
    return sorted(p for p in screen.table.records if "/P001/series1/" in p)[:count]


async def send() -> Path:
    from dcmtui.models import Node
    from dcmtui.screens.send import SendScreen

    async def drive(pilot: Pilot[None]) -> None:
        screen = await settle_scan(pilot)
        app = pilot.app
        assert isinstance(app, DcmtuiApp)
        app.services.scp.port = 0  # a free port: never clash with a real receiver
        app.services.scp.bind = "127.0.0.1"
        port = await app.services.scp.start()
        node = Node(
            name="archive",
            ae_title=app.services.scp.ae_title,
            host="127.0.0.1",
            port=port,
        )
        await app.push_screen(SendScreen(app.services, node, _marked(screen, 4)))
        await pilot.pause(1.0)
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        await app.services.scp.stop(grace=1)

    return await _shoot("send", make_app(make_fixed_corpus("send")), drive)


def _job(name: str, screen_name: str) -> Callable[[], Awaitable[Path]]:
    async def shot() -> Path:
        from dcmtui.screens import batch, convert

        kinds = {
            "batch": batch.BatchModifyScreen,
            "convert": convert.ConvertScreen,
            "anonymize": convert.AnonymizeScreen,
            "mkdicomdir": convert.MkDicomdirScreen,
        }

        async def drive(pilot: Pilot[None]) -> None:
            screen = await settle_scan(pilot)
            paths = _marked(screen, 4)
            await pilot.app.push_screen(kinds[screen_name](screen.services, paths))
            await pilot.pause(0.5)

        return await _shoot(name, make_app(make_fixed_corpus(name)), drive)

    return shot


async def diff() -> Path:
    from dcmtui.screens.diff import DiffScreen

    async def drive(pilot: Pilot[None]) -> None:
        screen = await settle_scan(pilot)
        a, b = _marked(screen, 2)
        await pilot.app.push_screen(DiffScreen(screen.services, Path(a), Path(b)))
        await pilot.pause(0.5)

    return await _shoot("diff", make_app(make_fixed_corpus("diff")), drive)


SHOTS: dict[str, Callable[[], Awaitable[Path]]] = {
    "files": files,
    "files-hierarchy": files_hierarchy,
    "demo": demo,
    "dataset": dataset,
    "dicomdir": dicomdir,
    "help": help_screen,
    "associations": associations,
    "nodes": nodes,
    "query": query,
    "preview": preview,
    "pacs": pacs,
    "send": send,
    "batch-modify": _job("batch-modify", "batch"),
    "convert": _job("convert", "convert"),
    "anonymize": _job("anonymize", "anonymize"),
    "mkdicomdir": _job("mkdicomdir", "mkdicomdir"),
    "diff": diff,
}


def main(names: list[str]) -> int:
    """Make the named shots (all by default) into screenshots/."""
    OUT.mkdir(exist_ok=True)
    home = Path(tempfile.gettempdir()) / "dcmtui-screenshots"
    shutil.rmtree(home, ignore_errors=True)
    for kind in ("config", "data", "log"):
        (home / kind).mkdir(parents=True)
        os.environ[f"DCMTUI_{kind.upper()}_DIR"] = str(home / kind)
    for name in names or list(SHOTS):
        path = asyncio.run(SHOTS[name]())
        print(f"{name}: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
