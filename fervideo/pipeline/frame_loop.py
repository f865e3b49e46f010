"""The per-video frame loop: decode -> detect -> track (bridging) -> crop -> classify.

Detection runs on a subset of the analysed frames (every ``detect_interval`` seconds, and on
every scene cut); for analysed frames between two detections, each face that is tracked on
both sides gets its box and landmarks interpolated in time, then is cropped and classified on
its own pixels. So the timeline has a row per analysed frame per face while the detector,
the most expensive stage on a CPU, runs only at the detection rate.

Decoding (PyAV) runs in a background thread one chunk ahead (FFmpeg and onnxruntime/torch
release the GIL), and crops are classified in batches across frames and tracks, each batch in a
worker thread while this one detects, tracks and crops the next frames.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fervideo.core.concurrency import prefetch
from fervideo.core.geometry import lerp, lerp_weight
from fervideo.core.types import Faces, FrameTime, VideoInfo
from fervideo.pipeline.detect_plan import DetectorSizing, Stillness
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages.align import align_crops
from fervideo.stages.decode import FrameChunk
from fervideo.stages.persons import FaceSampler
from fervideo.stages.track import FaceTracker, SceneCutDetector

log = logging.getLogger(__name__)


@dataclass
class StageTimes:
    """Seconds spent per stage (wall time in the thread that runs it: classify in its worker)."""

    decode: float = 0.0
    detect: float = 0.0
    track: float = 0.0
    crop: float = 0.0
    classify: float = 0.0
    smooth: float = 0.0
    write: float = 0.0
    render: float = 0.0
    persons: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass
class FrameLoopResult:
    faces: Faces  # classified rows, all tracks, not yet smoothed
    frames_analysed: int
    scene_cuts: list[FrameTime] = field(default_factory=list)
    detections: int = 0
    detections_skipped: int = 0  # scheduled detections the adaptive mode found unnecessary
    detection_sizes: dict[int, int] = field(default_factory=dict)  # detect_size_auto: detections per detector size


def _interpolate(a: Faces, b: Faces, t: FrameTime) -> Faces:
    """Faces at time ``t`` for tracks present in both detection frames ``a`` and ``b``."""
    common = np.intersect1d(a.track_ids[a.track_ids >= 0], b.track_ids[b.track_ids >= 0])
    if len(common) == 0:
        return Faces.empty()
    ia = np.array([np.nonzero(a.track_ids == c)[0][0] for c in common])
    ib = np.array([np.nonzero(b.track_ids == c)[0][0] for c in common])
    w = lerp_weight(t.seconds, float(a.time_s[ia[0]]), float(b.time_s[ib[0]]))
    n = len(common)
    return Faces(
        boxes=lerp(a.boxes[ia], b.boxes[ib], w),
        scores=np.minimum(a.scores[ia], b.scores[ib]),
        landmarks=lerp(a.landmarks[ia], b.landmarks[ib], w),
        frame_index=np.full(n, t.index),
        time_s=np.full(n, t.seconds),
        track_ids=common,
        detected=np.zeros(n, bool),
    )


def _hold(a: Faces, t: FrameTime) -> Faces:
    """The tracked faces of detection frame ``a`` carried to time ``t`` unchanged."""
    a = a[a.track_ids >= 0]
    n = len(a)
    return a.with_(frame_index=np.full(n, t.index), time_s=np.full(n, t.seconds), detected=np.zeros(n, bool))


class _Classifier:
    """Collects crops across frames and tracks, classifies them in full batches.

    Each full batch is classified in a worker thread while this thread goes on detecting,
    tracking and cropping (onnxruntime and torch release the GIL): the loop's Python work no
    longer leaves the second core idle. One batch runs at a time, in order, so the results are
    the same as classifying in this thread."""

    def __init__(self, clf: CropClassifier, margin: float, times: StageTimes, sampler: FaceSampler | None = None) -> None:
        self.clf = clf
        self.sampler = sampler
        self.margin = margin
        self.times = times
        self.crops: list[np.ndarray] = []
        self.rows: list[Faces] = []
        self.done: list[tuple[Faces, Future]] = []
        self.pending = 0
        self._pool: ThreadPoolExecutor | None = None

    def add(self, frame: np.ndarray, faces: Faces) -> None:
        faces = faces[faces.track_ids >= 0]
        if len(faces) == 0:
            return
        t0 = time.perf_counter()
        if self.sampler is not None:
            self.sampler.add(frame, faces)
        self.crops.append(align_crops(frame, faces, self.clf.input_size, self.margin))
        self.times.crop += time.perf_counter() - t0
        self.rows.append(faces)
        self.pending += len(faces)
        if self.pending >= self.clf.batch_size:
            self.flush()

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        probs = self.clf.predict(crops)
        self.times.classify += time.perf_counter() - t0  # only the worker writes it
        return probs

    def flush(self) -> None:
        if not self.rows:
            return
        if self.done:
            self.done[-1][1].result()  # one batch in flight: memory stays bounded (and errors surface)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fervideo-classify")
        crops = np.concatenate(self.crops)
        self.done.append((Faces.concat(self.rows), self._pool.submit(self._predict, crops)))
        self.crops, self.rows, self.pending = [], [], 0

    def result(self) -> Faces:
        self.flush()
        self.close()
        k = len(self.clf.labels)
        if not self.done:
            return Faces.empty(k)
        return Faces.concat([rows.with_(probs=fut.result()) for rows, fut in self.done])

    def close(self) -> None:
        """Wait for the batch in flight and end the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class FrameSource(Protocol):
    """What the loop reads frames from (``VideoSource``, or a fake in tests)."""

    info: VideoInfo

    def chunks(self, fps: float) -> Iterator[FrameChunk]: ...


class FaceDetector(Protocol):
    def detect(self, frames: Sequence[np.ndarray], times: list[FrameTime]) -> Faces: ...


class CropClassifier(Protocol):
    """What the loop classifies crops with (``EmotionClassifier``, or a fake in tests)."""

    labels: list[str]
    input_size: int
    batch_size: int

    def predict(self, crops: np.ndarray) -> np.ndarray: ...


def run_frame_loop(
    source: FrameSource,
    detector: FaceDetector,
    classifier: CropClassifier,
    opts: AnalyzeOptions,
    times: StageTimes,
    on_frames: Callable[[int], None] | None = None,
    sampler: FaceSampler | None = None,
) -> FrameLoopResult:
    tracker = FaceTracker(lost_seconds=opts.track_buffer)
    cuts = SceneCutDetector(opts.scene_cut_threshold)
    sink = _Classifier(classifier, opts.margin, times, sampler)
    last: tuple[np.ndarray, Faces] | None = None  # last detection frame, not yet emitted
    pending: list[tuple[FrameTime, np.ndarray]] = []
    last_det_t: float | None = None
    n_frames = 0
    n_det = 0
    scene_cuts: list[FrameTime] = []
    # half a source frame of tolerance: 10 fps sampled from 25 fps gives 0.08/0.12 s steps
    eps = 0.5 / source.info.avg_fps if source.info.avg_fps else 1e-6

    def emit_pending(upto: Faces | None, hold: bool) -> None:
        nonlocal pending
        if last is None:
            pending = []
            return
        for ft, fr in pending:
            if hold or upto is None:
                sink.add(fr, _hold(last[1], ft))
            else:
                sink.add(fr, _interpolate(last[1], upto, ft))
        pending = []

    adaptive = opts.detect_max_interval > opts.detect_interval
    still = Stillness() if adaptive else None
    n_skipped = 0
    sizing = DetectorSizing(detector) if opts.detect_size_auto and DetectorSizing.supported(detector) else None
    # Decided, not yet processed: (time, frame, detect?, cut?, at full size?). The fixed
    # schedule processes a chunk at a time (one detector batch per chunk); the adaptive one
    # processes up to each due frame first, because whether that frame may skip its detection
    # depends on the faces of the last detection frame; with sizing, each full-size detection
    # ends a detector batch, because it sets the size of the detections after it.
    window: list[tuple[FrameTime, np.ndarray, bool, bool, bool]] = []

    def process(window: list[tuple[FrameTime, np.ndarray, bool, bool, bool]]) -> None:
        start = 0
        for k, w in enumerate(window):
            if sizing is not None and w[2] and w[4]:
                _process(window[start : k + 1])
                start = k + 1
        if start < len(window):
            _process(window[start:])

    def _process(window: list[tuple[FrameTime, np.ndarray, bool, bool, bool]]) -> None:
        nonlocal last, n_det
        det = [k for k, w in enumerate(window) if w[2]]
        t0 = time.perf_counter()
        parts = []
        # With sizing, a window's full-size detection (at most one, its last) runs at full size
        # and the others at the size the previous one chose.
        groups = [(detector, det)] if sizing is None else [
            (sizing.current, [k for k in det if not window[k][4]]), (sizing.full, [k for k in det if window[k][4]])]
        for d, idx in groups:
            if not idx:
                continue
            # A list of the frames, not a stacked copy of full-size frames: detectors take either.
            parts.append(d.detect([window[k][1] for k in idx], [window[k][0] for k in idx]))
            if sizing is not None:
                sizing.count(d, len(idx))
        found = Faces.concat(parts) if parts else Faces.empty()
        times.detect += time.perf_counter() - t0
        n_det += len(det)
        for ft, fr, is_det, is_cut, is_full in window:
            if not is_det:
                pending.append((ft, fr))
                continue
            t0 = time.perf_counter()
            faces = found[found.frame_index == ft.index]
            if sizing is not None and is_full:
                sizing.full_size_done(faces, fr.shape[:2])
            if is_cut:
                scene_cuts.append(ft)
                if last is not None:  # the shot's last detection frame: final, and every track ends
                    last = (last[0], tracker.end_shot(last[1]))
                else:
                    tracker.reset()
                emit_pending(None, hold=True)
                if last is not None:
                    sink.add(*last)
                    last = None
            if len(faces):
                tracked = tracker.update(faces)
            else:
                tracker.tick(ft.seconds)
                tracked = faces
            if last is not None:
                # The previous detection frame is final now: its first sightings of tracks
                # confirmed by this frame get their ids, before it and the frames between are emitted.
                last = (last[0], tracker.finalize(last[1]))
            times.track += time.perf_counter() - t0
            if last is not None:
                sink.add(*last)
            emit_pending(tracked, hold=False)
            last = (fr, tracked)
            if still is not None:
                t0 = time.perf_counter()
                still.reference(fr, tracked)
                times.track += time.perf_counter() - t0

    try:
        t_dec = time.perf_counter()
        for chunk in prefetch(source.chunks(opts.fps)):
            times.decode += time.perf_counter() - t_dec
            for ft, fr in zip(chunk.times, chunk.frames):
                # A detection frame: a due time or a scene cut (adaptive: unless nothing changed).
                t0 = time.perf_counter()
                cut = cuts.update(fr)
                due = cut or last_det_t is None or ft.seconds - last_det_t >= opts.detect_interval - eps
                if (due and still is not None and not cut and last_det_t is not None
                        and ft.seconds - last_det_t < opts.detect_max_interval - eps):
                    if any(w[2] for w in window):  # the last detection frame is not processed yet
                        times.track += time.perf_counter() - t0
                        process(window)
                        window = []
                        t0 = time.perf_counter()
                    if still.still(fr):
                        due = False
                        n_skipped += 1
                times.track += time.perf_counter() - t0
                full = False
                if due:
                    last_det_t = ft.seconds
                    full = sizing is not None and sizing.take_full(ft.seconds, cut)
                window.append((ft, fr, due, cut, full))
            process(window)
            window = []
            n_frames += len(chunk.times)
            if on_frames:
                on_frames(len(chunk.times))
            t_dec = time.perf_counter()
        if last is not None:
            last = (last[0], tracker.end_shot(last[1]))
            sink.add(*last)
            emit_pending(None, hold=True)
        return FrameLoopResult(faces=sink.result(), frames_analysed=n_frames, scene_cuts=scene_cuts, detections=n_det,
                               detections_skipped=n_skipped, detection_sizes=dict(sizing.sizes) if sizing is not None else {})
    finally:
        sink.close()  # an error or Ctrl-C in the loop: no classifier thread left running
