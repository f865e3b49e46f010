"""The adaptive detection schedule and per-shot detector sizing, on scripted scenes.

A textured face sits still, then walks, then sits still again; a second face comes in later.
The detector is a stand-in that reports the scripted boxes exactly (and records which frames
it was asked about), so what the schedule skips and what the timeline holds is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from fervideo.core.types import Faces, FrameTime, VideoInfo
from fervideo.pipeline.detect_plan import DetectorSizing, Stillness
from fervideo.pipeline.frame_loop import StageTimes, run_frame_loop
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages.align import FER_TEMPLATE
from fervideo.stages.decode import FrameChunk

W, H, FPS, N = 320, 240, 10.0, 60
_rng = np.random.default_rng(0)
BACKGROUND = (_rng.integers(40, 200, (H // 8, W // 8, 1), np.uint8).repeat(8, 0).repeat(8, 1)).repeat(3, 2)
TEXTURE = _rng.integers(0, 255, (60, 60, 3), np.uint8)


def _box(face: str, i: int) -> np.ndarray | None:
    if face == "a":  # still for 2 s, walks right 4 px a frame for 1 s, still again
        x = 40 + 4 * min(max(i - 20, 0), 10)
        return np.array([x, 60, x + 60, 120], np.float32)
    if face == "b" and i >= 45:  # comes in at 4.5 s and stays
        return np.array([220, 150, 280, 210], np.float32)
    return None


def _frame(i: int) -> np.ndarray:
    img = BACKGROUND.copy()
    for f in ("a", "b"):
        b = _box(f, i)
        if b is not None:
            x1, y1 = int(b[0]), int(b[1])
            img[y1 : y1 + 60, x1 : x1 + 60] = TEXTURE
    return img


class Source:
    info = VideoInfo(path="scripted", width=W, height=H, rotation=0, num_frames=N, avg_fps=FPS, duration_s=N / FPS, backend="fake")

    def chunks(self, fps: float):
        for s in range(0, N, 8):
            idx = range(s, min(s + 8, N))
            yield FrameChunk(np.stack([_frame(i) for i in idx]), [FrameTime(i, i / FPS) for i in idx])


class Detector:
    def __init__(self, size: int = 320) -> None:
        self.size = size
        self.asked: list[int] = []

    def detect(self, frames, times: list[FrameTime]) -> Faces:
        parts = []
        for ft in times:
            self.asked.append(ft.index)
            boxes = [b for f in ("a", "b") if (b := _box(f, ft.index)) is not None]
            n = len(boxes)
            lm = [b[:2] + FER_TEMPLATE * (b[2:] - b[:2]) for b in boxes]
            parts.append(Faces(np.array(boxes).reshape(n, 4), np.full(n, 0.9), np.array(lm).reshape(n, 5, 2),
                               np.full(n, ft.index), np.full(n, ft.seconds)))
        return Faces.concat(parts)


class Classifier:
    labels = ("happy", "sad")
    input_size = 24
    batch_size = 16

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return np.tile(np.array([[0.7, 0.3]], np.float32), (len(crops), 1))


def _run(**opts):
    det = Detector()
    res = run_frame_loop(Source(), det, Classifier(), AnalyzeOptions(fps=0, detect_interval=0.1, **opts), StageTimes())
    return res, det


@pytest.fixture(scope="module")
def fixed():
    return _run(detect_max_interval=0.0)


@pytest.fixture(scope="module")
def adaptive():
    return _run(detect_max_interval=1.0)


def test_the_fixed_schedule_detects_every_due_frame(fixed):
    res, det = fixed
    assert sorted(det.asked) == list(range(N)) and res.detections == N and res.detections_skipped == 0


def test_adaptive_detects_less_and_keeps_a_row_per_frame_and_face(fixed, adaptive):
    (rf, _), (ra, det) = fixed, adaptive
    asked = sorted(det.asked)
    assert ra.detections == len(asked) < N // 2
    assert ra.detections + ra.detections_skipped == N  # every frame here is due
    assert len(ra.faces) == len(rf.faces)  # the same rows ...
    for f in range(N):
        rows = ra.faces[ra.faces.frame_index == f]
        assert len(rows) == (2 if f >= 45 else 1), f
        assert rows.detected.tolist() == [f in asked] * len(rows), f
    # ... near the same places: a bridged box is off by at most the motion the stillness test
    # could not see yet (the walk starts between frames 20 and 21: 4 px, spread over the
    # frames since the last detection); everywhere else the boxes are the scripted ones.
    order_a = np.lexsort((ra.faces.boxes[:, 0], ra.faces.frame_index))
    order_f = np.lexsort((rf.faces.boxes[:, 0], rf.faces.frame_index))
    err = np.abs(ra.faces.boxes[order_a] - rf.faces.boxes[order_f]).max(1)
    assert err.max() <= 4.0 + 1e-3
    off = np.unique(ra.faces.frame_index[order_a][err > 1e-3])
    assert set(off.tolist()) <= set(range(11, 21)), off


def test_adaptive_detects_where_things_change_and_within_the_upper_bound(adaptive):
    _, det = adaptive
    asked = sorted(det.asked)
    assert set(range(21, 31)) <= set(asked)  # the walk: the face patch changes every frame
    assert 45 in asked  # the second face comes in: the scene test sees it
    assert 46 in asked  # and its first sighting is confirmed by the next due frame
    assert max(np.diff(asked)) <= 10  # never more than --detect-max-interval (1 s) apart
    still_frames = [f for f in range(2, 19)]
    assert sum(f in asked for f in still_frames) <= 3  # a still face costs a detection a second


def test_stillness_compares_faces_and_the_rest_of_the_frame():
    det = Detector()
    ref = det.detect(None, [FrameTime(0, 0.0)])
    s = Stillness()
    s.reference(_frame(0), ref.with_(track_ids=np.array([1])))
    assert s.still(_frame(1))  # nothing moved
    assert not s.still(_frame(23))  # face a walked
    newcomer = _frame(0)
    newcomer[150:210, 220:280] = TEXTURE  # face b comes in while a stays put
    assert not s.still(newcomer)
    small = _frame(0)
    small[200:216, 20:36] = 255  # a small bright change far from the face
    assert not s.still(small)
    noise = np.clip(_frame(0).astype(int) + np.random.default_rng(1).integers(-3, 4, (H, W, 3)), 0, 255).astype(np.uint8)
    assert s.still(noise)  # sensor noise or compression is not a change
    s.reference(_frame(0), ref)  # the face is not a confirmed track yet: look again
    assert not s.still(_frame(1))
    s.reference(_frame(0), ref.with_(track_ids=np.array([1]), scores=np.array([0.3])))  # low confidence
    assert not s.still(_frame(1))


def test_sizing_picks_the_smallest_size_that_keeps_the_smallest_face_visible():
    class Resizable(Detector):
        def resized(self, size: int):
            return Resizable(size)

    sz = DetectorSizing(Resizable(320), target_px=40, floor=128)
    faces = Detector().detect(None, [FrameTime(0, 0.0)])  # one 60 px face in a 320x240 frame
    assert sz.take_full(0.0, cut=False) and not sz.take_full(0.1, cut=False) and sz.take_full(0.2, cut=True)
    sz.full_size_done(faces, (240, 320))
    assert sz.current.size == 224  # 40 / 60 * 320 = 213 -> the next multiple of 32
    small = faces.with_(boxes=np.array([[40, 60, 52, 72]], np.float32))  # a 12 px face
    sz.full_size_done(small, (240, 320))
    assert sz.current.size == 320  # a face too small for less: full size (never above it)
    sz.full_size_done(Faces.empty(), (240, 320))
    assert sz.current.size == 320
    assert not DetectorSizing.supported(Detector()) and DetectorSizing.supported(Resizable())


def test_detect_size_auto_in_the_loop_runs_full_size_detections_at_cuts_and_refreshes():
    log: list[tuple[int, int]] = []

    class Resizable(Detector):
        def resized(self, size: int):
            return Resizable(size)

        def detect(self, frames, times):
            log.extend((ft.index, self.size) for ft in times)
            return super().detect(frames, times)

    res = run_frame_loop(Source(), Resizable(320), Classifier(), AnalyzeOptions(fps=0, detect_size_auto=True, detect_max_interval=0.0),
                         StageTimes())
    sizes = dict(log)
    assert sizes[0] == 320 and sizes[50] == 320  # the start and a refresh every 5 s at full size
    assert {sizes[i] for i in range(1, 50)} == {224}  # the rest at the size the 60 px face needs
    assert res.detection_sizes == {320: 2, 224: N - 2}
    assert len(res.faces) == N + (N - 45)  # a row per frame and face, as always


def test_the_default_schedule_is_adaptive_and_the_size_fixed():
    o = AnalyzeOptions()
    assert o.detect_max_interval > o.detect_interval and not o.detect_size_auto


def test_options_refuse_a_negative_max_interval():
    with pytest.raises(ValueError, match="detect_max_interval"):
        AnalyzeOptions(detect_max_interval=-1)
