"""The one data type that flows between stages, and exact frame times.

``Faces`` is a set of N face observations as parallel numpy arrays (like supervision's
``Detections``): detection fills boxes/scores/landmarks/frame/time, tracking fills
``track_ids``, classification ``probs``, smoothing ``smoothed``. It validates shapes and
dtypes on construction, so a stage that produces a malformed set fails where the bug is,
not three stages later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, order=True)
class FrameTime:
    """A frame by its index in the container and its presentation time in seconds.

    Seconds come from the container's timestamps (pts x time_base), never from
    ``index / fps``, so variable-frame-rate recordings get correct times.
    """

    index: int
    seconds: float

    def __str__(self) -> str:
        h, rem = divmod(self.seconds, 3600)
        m, s = divmod(rem, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f} (frame {self.index})"


def _arr(x: Any, dtype: Any, shape_tail: tuple[int, ...], name: str, n: int | None) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 1 and a.size == 0 and shape_tail:
        a = a.reshape((0, *shape_tail))
    if a.shape[1:] != shape_tail:
        raise ValueError(f"Faces.{name}: expected shape (N, {', '.join(map(str, shape_tail))}), got {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"Faces.{name}: {a.shape[0]} rows, expected {n}")
    return a


@dataclass
class Faces:
    """N face observations; every array has N rows.

    boxes: (N, 4) float32, x1 y1 x2 y2 in pixels of the displayed (rotation-corrected) frame
    scores: (N,) float32 detection confidence in [0, 1]
    landmarks: (N, 5, 2) float32 eyes, nose, mouth corners (x, y)
    frame_index: (N,) int64 index of the frame in the container
    time_s: (N,) float64 presentation time in seconds
    track_ids: (N,) int64, -1 = not (yet) tracked
    detected: (N,) bool, False where the box was bridged by the tracker between detections
    probs: (N, K) float32 raw class probabilities, or None before classification
    smoothed: (N, K) float32 smoothed probabilities, or None before smoothing
    label_ids: (N,) int64 decided class per row (argmax of smoothed, or the HMM's Viterbi
        path), or None before smoothing
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    frame_index: np.ndarray
    time_s: np.ndarray
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    detected: np.ndarray = field(default=None)  # type: ignore[assignment]
    probs: np.ndarray | None = None
    smoothed: np.ndarray | None = None
    label_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = _arr(self.boxes, np.float32, (4,), "boxes", None)
        n = self.boxes.shape[0]
        self.scores = _arr(self.scores, np.float32, (), "scores", n)
        self.landmarks = _arr(self.landmarks, np.float32, (5, 2), "landmarks", n)
        self.frame_index = _arr(self.frame_index, np.int64, (), "frame_index", n)
        self.time_s = _arr(self.time_s, np.float64, (), "time_s", n)
        self.track_ids = _arr(np.full(n, -1) if self.track_ids is None else self.track_ids, np.int64, (), "track_ids", n)
        self.detected = _arr(np.ones(n, bool) if self.detected is None else self.detected, bool, (), "detected", n)
        for name in ("probs", "smoothed"):
            v = getattr(self, name)
            if v is not None:
                v = np.asarray(v, dtype=np.float32)
                if v.ndim != 2 or v.shape[0] != n:
                    raise ValueError(f"Faces.{name}: expected shape (N={n}, K), got {v.shape}")
                setattr(self, name, v)
        if self.label_ids is not None:
            self.label_ids = _arr(self.label_ids, np.int64, (), "label_ids", n)
        if self.probs is not None and self.smoothed is not None and self.probs.shape != self.smoothed.shape:
            raise ValueError("Faces.smoothed must have the same shape as Faces.probs")
        if n and (np.any(self.boxes[:, 2] < self.boxes[:, 0]) or np.any(self.boxes[:, 3] < self.boxes[:, 1])):
            raise ValueError("Faces.boxes: x2 < x1 or y2 < y1")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, idx: Any) -> Faces:
        """Select rows by integer array, slice or boolean mask."""
        if isinstance(idx, (int, np.integer)):
            idx = [idx]
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = None if v is None else v[idx]
        return Faces(**out)

    @classmethod
    def empty(cls, num_classes: int | None = None) -> Faces:
        k = num_classes
        return cls(
            boxes=np.zeros((0, 4)),
            scores=np.zeros(0),
            landmarks=np.zeros((0, 5, 2)),
            frame_index=np.zeros(0),
            time_s=np.zeros(0),
            probs=None if k is None else np.zeros((0, k)),
            smoothed=None,
        )

    @classmethod
    def concat(cls, parts: list[Faces]) -> Faces:
        """Rows of several sets in order; optional arrays survive only if every non-empty part has them."""
        parts = [p for p in parts if p is not None]
        if not parts:
            return cls.empty()
        nonempty = [p for p in parts if len(p)] or parts[:1]
        out = {}
        for f in fields(cls):
            vals = [getattr(p, f.name) for p in nonempty]
            out[f.name] = None if any(v is None for v in vals) else np.concatenate(vals, axis=0)
        return cls(**out)

    def with_(self, **changes: Any) -> Faces:
        """A copy with some arrays replaced (validated again)."""
        return replace(self, **changes)


@dataclass
class VideoInfo:
    """What the container says about a video, read once when it is opened."""

    path: str
    width: int  # displayed width (after rotation)
    height: int
    rotation: int  # degrees clockwise the frames are turned for display: 0, 90, 180, 270
    num_frames: int
    avg_fps: float
    duration_s: float
    backend: str  # "decord+pyav" (PyAV reads; decord installed for random access) or "pyav"
    codec: str = ""
