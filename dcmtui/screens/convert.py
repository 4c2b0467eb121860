"""Convert and de-identify the marked files (or the file under the cursor).

Pushed from the Files screen: ``c`` opens :class:`ConvertScreen` (pick a
transfer syntax and an output folder), ``a`` opens :class:`AnonymizeScreen`
(retain options, output folder, dry run). Both run their service in a worker
and list a result per file as it comes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    ProgressBar,
    Select,
    Static,
)
from textual.worker import Worker, WorkerState

from dcmtui.services.text import visible
from dcmtui.widgets.fit_table import FitTable

if TYPE_CHECKING:
    from dcmtui.services.container import Services

SYNTAXES = [
    ("Explicit VR Little Endian (explicit)", "explicit"),
    ("Implicit VR Little Endian (implicit)", "implicit"),
    ("Explicit VR Big Endian (big)", "big"),
    ("Deflated Explicit VR Little Endian (deflated)", "deflated"),
    ("RLE Lossless (rle)", "rle"),
    ("JPEG 2000 Lossless (j2k)", "j2k"),
    ("JPEG-LS Lossless (jpls)", "jpls"),
    ("JPEG Baseline, lossy, 8-bit (jpeg)", "jpeg"),
]
RETAIN = [
    ("dates", "Retain full dates and times"),
    ("device", "Retain device identity"),
    ("uids", "Retain UIDs"),
    ("patient", "Retain patient characteristics"),
    ("institution", "Retain institution identity"),
    ("private", "Keep private attributes"),
]


def default_output(paths: list[str], name: str) -> str:
    """A folder beside the files: ``<their common folder>/<name>``."""
    if not paths:
        return name
    parents = {str(Path(p).parent) for p in paths}
    base = Path(parents.pop()) if len(parents) == 1 else Path(paths[0]).parent
    return str(base / name)


class _JobScreen(Screen[None]):
    """Shared shape: a form, a progress bar, a table of results."""

    DEFAULT_CSS = """
    _JobScreen {
        & #form { height: auto; padding: 0 1; }
        & #form Horizontal { height: auto; }
        & #output { width: 1fr; }
        & #fileset-id { width: 30; }
        & #summary { height: 1; padding: 0 1; color: $text-muted; }
        & DataTable { height: 1fr; }
        & ProgressBar { padding: 0 1; }
    }
    """

    JOB_TITLE: ClassVar[str] = ""
    """The screen's title."""
    COLUMNS: ClassVar[tuple[str, ...]] = ("File", "Result", "Detail")
    """The results table's columns."""

    def __init__(self, services: Services | None, paths: list[str]) -> None:
        super().__init__()
        self.services = services
        self.paths = paths
        self.ok = 0
        self.failed = 0

    def form(self) -> ComposeResult:
        """The widgets above the progress bar (inside ``#form``)."""
        yield from ()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="form"):
            yield from self.form()
        yield ProgressBar(total=max(1, len(self.paths)), show_eta=False)
        yield Static("", id="summary")
        yield FitTable(id="results", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.JOB_TITLE
        self.results.add_columns(*self.COLUMNS)

    @property
    def results(self) -> DataTable[Text]:
        """One row per file (and per change, in a dry run)."""
        return self.query_one("#results", DataTable)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(
                visible(str(event.worker.error)),
                severity="error",
                timeout=8,
                markup=False,
            )
            self._summary(f"Stopped: {event.worker.error}")

    def _summary(self, text: str) -> None:
        self.query_one("#summary", Static).update(Text(visible(text)))

    def _start(self) -> None:
        self.ok = self.failed = 0
        self.results.clear()
        bar = self.query_one(ProgressBar)
        bar.update(total=len(self.paths), progress=0)

    def _row(self, path: str, ok: bool, text: str) -> None:
        mark = Text("ok", style="green") if ok else Text("failed", style="red")
        self.results.add_row(Text(visible(Path(path).name)), mark, Text(visible(text)))
        if ok:
            self.ok += 1
        else:
            self.failed += 1

    def action_back(self) -> None:
        self.app.pop_screen()


class ConvertScreen(_JobScreen):
    """Convert files to another transfer syntax."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            tooltip="Back to the Files screen",
            id="convert.back",
        ),
        Binding(
            "ctrl+r",
            "run",
            "Convert",
            tooltip="Convert the files with these settings",
            id="convert.run",
        ),
    ]

    JOB_TITLE = "Convert"

    def form(self) -> ComposeResult:
        yield Static(Text(f"Convert {len(self.paths)} file(s) to:"))
        yield Select(SYNTAXES, value="explicit", allow_blank=False, id="syntax")
        with Horizontal():
            yield Input(
                default_output(self.paths, "converted"),
                placeholder="output folder (empty: convert in place)",
                id="output",
            )
            yield Button("Convert", variant="primary", id="run")

    @on(Button.Pressed, "#run")
    @on(Input.Submitted, "#output")
    def action_run(self) -> None:
        syntax = str(self.query_one("#syntax", Select).value)
        output = self.query_one("#output", Input).value.strip()
        self.run_convert(syntax, Path(output) if output else None)

    @work(exclusive=True, group="convert", exit_on_error=False)
    async def run_convert(self, syntax_name: str, out_dir: Path | None) -> None:
        """Convert every file, one row each."""
        from dcmtui.services.convert import convert_files, parse_syntax

        syntax = parse_syntax(syntax_name)
        self._start()
        bar = self.query_one(ProgressBar)
        async for result in convert_files(
            [Path(p) for p in self.paths], syntax, out_dir
        ):
            detail = (
                result.message
                if not result.ok
                else f"{result.message} -> {result.target}"
            )
            self._row(result.source, result.ok, detail)
            bar.advance(1)
        where = str(out_dir) if out_dir else "in place"
        self._summary(f"{self.ok} converted ({where}), {self.failed} failed")


class AnonymizeScreen(_JobScreen):
    """De-identify files (PS3.15 Annex E basic profile), or a dry run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            tooltip="Back to the Files screen",
            id="anonymize.back",
        ),
        Binding(
            "ctrl+d",
            "dry_run",
            "Dry run",
            tooltip="List every attribute that would change; write nothing",
            id="anonymize.dry-run",
        ),
        Binding(
            "ctrl+r",
            "run",
            "Anonymize",
            tooltip="De-identify the files with these options",
            id="anonymize.run",
        ),
    ]

    JOB_TITLE = "Anonymize"
    COLUMNS = ("File", "Result", "Change")

    def form(self) -> ComposeResult:
        yield Static(
            Text(
                f"De-identify {len(self.paths)} file(s): PS3.15 Annex E basic "
                "profile; UIDs remapped consistently across these files."
            )
        )
        with Horizontal():
            for name, label in RETAIN[:3]:
                yield Checkbox(label, id=f"keep-{name}")
        with Horizontal():
            for name, label in RETAIN[3:]:
                yield Checkbox(label, id=f"keep-{name}")
        with Horizontal():
            yield Input(
                default_output(self.paths, "anonymized"),
                placeholder="output folder (empty: in place)",
                id="output",
            )
            yield Button("Dry run", id="dry")
            yield Button("Anonymize", variant="error", id="run")

    def _keep(self) -> frozenset[str]:
        return frozenset(
            name
            for name, _ in RETAIN
            if self.query_one(f"#keep-{name}", Checkbox).value
        )

    def _output(self) -> Path | None:
        text = self.query_one("#output", Input).value.strip()
        return Path(text) if text else None

    @on(Button.Pressed, "#dry")
    def action_dry_run(self) -> None:
        self.run_anonymize(self._keep(), self._output(), dry_run=True)

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        self.run_anonymize(self._keep(), self._output(), dry_run=False)

    @work(exclusive=True, group="anonymize", exit_on_error=False)
    async def run_anonymize(
        self, keep: frozenset[str], out_dir: Path | None, dry_run: bool
    ) -> None:
        """De-identify (or plan to) every file, one row per file or change."""
        from dcmtui.services.anonymize import anonymize_files

        self._start()
        bar = self.query_one(ProgressBar)
        paths = [Path(p) for p in self.paths]
        async for result in anonymize_files(paths, out_dir, keep, dry_run=dry_run):
            if not result.ok:
                self._row(result.source, False, result.message)
            elif dry_run:
                for change in result.changes:
                    self._row(result.source, True, change.line())
                self.ok -= len(result.changes) - 1
            else:
                self._row(
                    result.source,
                    True,
                    f"{len(result.changes)} attributes changed -> {result.target}",
                )
            bar.advance(1)
        verb = "would be de-identified (dry run)" if dry_run else "de-identified"
        self._summary(f"{self.ok} {verb}, {self.failed} failed")


class MkDicomdirScreen(_JobScreen):
    """Make (or update) a DICOMDIR file-set from the marked files."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            tooltip="Back to the Files screen",
            id="mkdicomdir.back",
        ),
        Binding(
            "ctrl+r",
            "run",
            "Make DICOMDIR",
            tooltip="Copy the files into the file-set and write its DICOMDIR",
            id="mkdicomdir.run",
        ),
    ]

    JOB_TITLE = "DICOMDIR"

    def form(self) -> ComposeResult:
        yield Static(
            Text(
                f"Copy {len(self.paths)} file(s) into a DICOMDIR file-set "
                "(general-purpose profile; a folder with a DICOMDIR is updated)."
            )
        )
        with Horizontal():
            yield Input(
                default_output(self.paths, "DICOMDIR_SET"),
                placeholder="file-set folder",
                id="output",
            )
            yield Input("", placeholder="File-set ID (optional)", id="fileset-id")
        with Horizontal():
            yield Checkbox("Invent missing record keys (+I)", id="invent")
            yield Checkbox("Keep transfer syntaxes", id="keep-syntax")
            yield Button("Make DICOMDIR", variant="primary", id="run")

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        output = self.query_one("#output", Input).value.strip()
        if not output:
            self.notify("Give the file-set folder.", severity="warning")
            return
        self.run_mkdicomdir(
            Path(output),
            self.query_one("#fileset-id", Input).value.strip(),
            self.query_one("#invent", Checkbox).value,
            self.query_one("#keep-syntax", Checkbox).value,
        )

    @work(exclusive=True, group="mkdicomdir", exit_on_error=False)
    async def run_mkdicomdir(
        self, out_dir: Path, fileset_id: str, invent: bool, keep_syntax: bool
    ) -> None:
        """Make the file-set; list what was left out."""
        from dcmtui.services.mkdicomdir import make_dicomdir_async

        self.results.clear()
        bar = self.query_one(ProgressBar)
        bar.update(total=1, progress=0)
        result = await make_dicomdir_async(
            [Path(p) for p in self.paths],
            out_dir,
            fileset_id=fileset_id,
            keep_syntax=keep_syntax,
            invent=invent,
        )
        bar.advance(1)
        for path, reason in result.skipped:
            self._row(path, False, reason)
        verb = "updated" if result.updated else "created"
        self._summary(
            f"{out_dir / 'DICOMDIR'} {verb}: {result.added} added, "
            f"{result.converted} converted, {result.invented} with invented keys, "
            f"{len(result.skipped)} left out; {result.total} in the file-set"
        )
