"""Rich progress and summary for ``fervideo analyze`` (private to the CLI)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
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
        self.bars: dict[str, tuple] = {}  # video path -> (its bar, start time); several at once on a cluster
        self.task: str | None = None  # the video ``frames`` advances: the latest started
        self.done = 0

    def video_start(self, path: Path, frames_estimate: int, phase: str) -> None:
        self._remove(str(path))
        bar = self.prog.add_task(f"{phase} {escape(path.name)}", total=frames_estimate or None, fps="")
        self.bars[str(path)] = (bar, self.prog.get_time())
        self.task = str(path)

    def frames(self, n: int) -> None:
        if self.task is not None:
            self.video_frames(Path(self.task), n)

    def video_frames(self, path: Path, n: int) -> None:
        if str(path) not in self.bars:
            return
        bar, t0 = self.bars[str(path)]
        self.prog.advance(bar, n)
        t = self.prog.tasks[[x.id for x in self.prog.tasks].index(bar)]
        el = self.prog.get_time() - t0
        if el > 0:
            self.prog.update(bar, fps=f"{t.completed / el:.1f} frames/s")

    def _remove(self, path: str) -> None:
        if path in self.bars:
            self.prog.remove_task(self.bars.pop(path)[0])

    def video_end(self, r: VideoResult) -> None:
        self._remove(r.path)
        if self.task == r.path:
            self.task = None
        self.prog.advance(self.overall, 1)
        # file names and FFmpeg's reasons may hold square brackets: shown as they are, not as markup
        name, reason = escape(Path(r.path).name), escape(r.reason)
        if r.status == "failed":
            self.console.print(f"[red]failed[/red] {name}: {reason}", soft_wrap=True)
        elif r.status in ("skipped", "locked"):
            self.console.print(f"[dim]{r.status}[/dim] {name}: {reason}", soft_wrap=True)
        elif not r.complete:
            self.console.print(f"[yellow]partial[/yellow] {name}: {reason}", soft_wrap=True)


def run_analyze(videos: list[Path], out: Path, opts: AnalyzeOptions, console: Console, verbose: bool, **batch) -> bool:
    """``batch``: analyze's executor, ray_address and shard."""
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]}"), TimeElapsedColumn()]
    n_videos = len(videos)
    if batch.get("shard"):
        from fervideo.pipeline import shard

        n_videos = len(shard.select(list(videos), batch["shard"]))
    with Progress(*cols, console=console, transient=False) as prog:
        result = analyze(videos, out, opts, progress=_RichProgress(prog, n_videos, console), **batch)
    _summary(result, console)
    return result.ok


def _summary(result: BatchResult, console: Console) -> None:
    table = Table(title=f"fervideo: {escape(str(result.out_dir))}")
    notes = [r.reason.removeprefix(f"{r.path}: ") for r in result.videos]  # the row already names the video
    # Video names and failure notes wrap instead of ending in "…": in an 80-column terminal
    # "P017_session1.mp4" and "P017_session2.mp4" would both read "P017_sessi…". Without any
    # note the empty column goes, and its width to the names.
    columns = ("video", "status", "tracks", "frames", "frames/s", "realtime") + (("note",) if any(notes) else ())
    for c in columns:
        wrap = c in ("video", "note")
        table.add_column(c, justify="left" if wrap or c == "status" else "right",
                         overflow="fold" if wrap else "ellipsis", no_wrap=not wrap, ratio=(2 if c == "video" else 1) if wrap else None)
    for r, note in zip(result.videos, notes):
        status = {"done": "[green]done[/green]", "failed": "[red]failed[/red]"}.get(r.status, r.status)
        cells = [escape(Path(r.path).name), status, str(r.tracks) if r.status == "done" else "",
                 str(r.frames) if r.status == "done" else "", f"{r.fps:.1f}" if r.status == "done" else "",
                 f"x{r.duration_s / r.seconds:.2f}" if r.status == "done" and r.seconds > 0 else "",
                 escape(note if len(note) <= 200 else note[:199] + "…")]
        table.add_row(*cells[: len(columns)])
    console.print(table)
    n_fail = len(result.failed)
    if n_fail:
        console.print(f"[red]{n_fail} of {len(result.videos)} videos failed[/red] (listed in {escape(str(Path(result.out_dir) / 'failures.parquet'))})")
