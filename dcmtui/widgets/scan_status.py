"""The indexing status line: a progress bar and the scan's counters."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from dcmtui.models import ScanProgress
from dcmtui.services.names import human_size


class ScanStatus(Horizontal):
    """Progress of the running scan, then its result."""

    DEFAULT_CSS = """
    ScanStatus {
        height: 1;
        padding: 0 1;
        background: $boost;
        & ProgressBar { width: 22; }
        & #scan-counters { width: 1fr; }
        & #scan-marks { width: auto; text-style: bold; }
        &.-done ProgressBar { display: none; }
    }
    """

    progress: reactive[ScanProgress | None] = reactive(
        None, init=False, always_update=True
    )
    """The latest snapshot of the scan (None before the first)."""
    marks: reactive[tuple[int, int]] = reactive((0, 0), init=False)
    """Count and total size of the marked files."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, show_percentage=False)
        yield Static("Reading the index…", id="scan-counters")
        yield Static("", id="scan-marks")

    def watch_progress(self, progress: ScanProgress | None) -> None:
        if progress is None:
            return
        self.set_class(progress.done or progress.cancelled, "-done")
        state = (
            "cancelled"
            if progress.cancelled
            else "done"
            if progress.done
            else "scanning"
        )
        text = (
            f"{state}: {progress.seen:,} files seen · {progress.dicom:,} DICOM · "
            f"{progress.damaged:,} damaged · {progress.other:,} not DICOM · "
            f"{len(progress.warnings):,} warnings{' (w)' * bool(progress.warnings)} · "
            f"{progress.elapsed:.1f} s"
        )
        if progress.done and progress.read < progress.seen:
            text += f" · {progress.seen - progress.read:,} unchanged"
        self.query_one("#scan-counters", Static).update(text)

    def watch_marks(self, marks: tuple[int, int]) -> None:
        count, size = marks
        label = f"● {count:,} marked, {human_size(size)}" if count else ""
        self.query_one("#scan-marks", Static).update(label)
