"""Rich progress and summary for ``fervideo analyze`` (private to the CLI)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fervideo.pipeline.batch import BatchResult, VideoResult, analyze
from fervideo.pipeline.batch import Progress as BatchProgress
from fervideo.pipeline.options import AnalyzeOptions


class _RichProgress(BatchProgress):
    def __init__(self, prog: Progress, n_videos: int, console: Console) -> None:
        self.prog = prog
        self.console = console
        self.overall = prog.add_task("all videos", total=n_videos, fps="")
        self.task = None
        self.done = 0

    def video_start(self, path: Path, frames_estimate: int, phase: str) -> None:
        if self.task is not None:
            self.prog.remove_task(self.task)
        self.task = self.prog.add_task(f"{phase} {path.name}", total=frames_estimate or None, fps="")
        self._t0 = self.prog.get_time()

    def frames(self, n: int) -> None:
        if self.task is None:
            return
        self.prog.advance(self.task, n)
        t = self.prog.tasks[[x.id for x in self.prog.tasks].index(self.task)]
        el = self.prog.get_time() - self._t0
        if el > 0:
            self.prog.update(self.task, fps=f"{t.completed / el:.1f} frames/s")

    def video_end(self, r: VideoResult) -> None:
        if self.task is not None:
            self.prog.remove_task(self.task)
            self.task = None
        self.prog.advance(self.overall, 1)
        name = Path(r.path).name
        if r.status == "failed":
            self.console.print(f"[red]failed[/red] {name}: {r.reason}", soft_wrap=True)
        elif r.status in ("skipped", "locked"):
            self.console.print(f"[dim]{r.status}[/dim] {name}: {r.reason}", soft_wrap=True)
        elif not r.complete:
            self.console.print(f"[yellow]partial[/yellow] {name}: {r.reason}", soft_wrap=True)


def run_analyze(videos: list[Path], out: Path, opts: AnalyzeOptions, console: Console, verbose: bool) -> bool:
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]}"), TimeElapsedColumn()]
    with Progress(*cols, console=console, transient=False) as prog:
        result = analyze(videos, out, opts, progress=_RichProgress(prog, len(videos), console))
    _summary(result, console)
    return result.ok


def _summary(result: BatchResult, console: Console) -> None:
    table = Table(title=f"fervideo: {result.out_dir}")
    for c in ("video", "status", "tracks", "frames", "frames/s", "realtime", "note"):
        table.add_column(c, justify="right" if c in ("tracks", "frames", "frames/s", "realtime") else "left")
    for r in result.videos:
        status = {"done": "[green]done[/green]", "failed": "[red]failed[/red]"}.get(r.status, r.status)
        table.add_row(Path(r.path).name, status, str(r.tracks) if r.status == "done" else "",
                      str(r.frames) if r.status == "done" else "", f"{r.fps:.1f}" if r.status == "done" else "",
                      f"x{r.duration_s / r.seconds:.2f}" if r.status == "done" and r.seconds > 0 else "", r.reason[:80])
    console.print(table)
    n_fail = len(result.failed)
    if n_fail:
        console.print(f"[red]{n_fail} of {len(result.videos)} videos failed[/red] (listed in {Path(result.out_dir) / 'failures.parquet'})")
