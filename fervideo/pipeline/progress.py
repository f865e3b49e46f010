"""What a batch reports: per-video results and the progress callbacks a front end hooks into."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class VideoResult:
    path: str
    out_dir: str
    status: str  # done | skipped | failed | locked
    reason: str = ""
    frames: int = 0
    tracks: int = 0
    seconds: float = 0.0
    duration_s: float = 0.0
    complete: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    disk_full: bool = False  # the output disk filled up while writing this video's results

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BatchResult:
    out_dir: str
    videos: list[VideoResult]

    @property
    def failed(self) -> list[VideoResult]:
        return [v for v in self.videos if v.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


class Progress:
    """Callbacks the CLI hooks its progress bars to; all optional."""

    def video_start(self, path: Path, frames_estimate: int, phase: str) -> None: ...

    def frames(self, n: int) -> None: ...

    def video_frames(self, path: Path, n: int) -> None:
        """``n`` frames of ``path``, when several videos run at once (a Ray run); one at a time this is ``frames``."""
        self.frames(n)

    def video_end(self, result: VideoResult) -> None: ...
