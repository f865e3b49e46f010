"""The frame loop on scripted fakes: detection frames, rows bridged between them, scene cuts, several faces.

The source, detector and classifier are small stand-ins that follow the loop's Protocols
(``FrameSource``, ``FaceDetector``, ``CropClassifier``): the scene is drawn from a script, so
every expected box, id and flag is known exactly. The tracker, the scene-cut detector and the
crop alignment are the real ones. A last test runs the real detector on a real clip.
"""

from __future__ import annotations

import threading

import make_samples
import numpy as np
import pytest

from fervideo.core.types import Faces, FrameTime, VideoInfo
from fervideo.pipeline.frame_loop import StageTimes, run_frame_loop
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages.align import FER_TEMPLATE, align_crops
from fervideo.stages.decode import FrameChunk

W, H, FPS = 320, 240, 10.0
RED, BLUE, YELLOW = (255, 0, 0), (0, 0, 255), (255, 255, 0)


def _box(face: str, i: int) -> np.ndarray | None:
    """Where each scripted face is at frame i (None: not in the frame). Motion is linear in time."""
    if i < 12:  # shot A: two people walking towards each other
        if face == "red":
            return np.array([10 + 5 * i, 40, 70 + 5 * i, 110], np.float32)
        if face == "blue":
            return np.array([240 - 4 * i, 90, 300 - 4 * i, 160], np.float32)
    elif face == "yellow":  # shot B, after a hard cut: another person where the red one just was
        return np.array([65 + 2 * (i - 12), 40, 125 + 2 * (i - 12), 110], np.float32)
    return None


FACES = {"red": RED, "blue": BLUE, "yellow": YELLOW}


def _frame(i: int) -> np.ndarray:
    img = np.full((H, W, 3), (60, 60, 60) if i < 12 else (30, 160, 30), np.uint8)
    for name, colour in FACES.items():
        b = _box(name, i)
        if b is not None:
            img[int(b[1]):int(b[3]), int(b[0]):int(b[2])] = colour
    return img


class FakeSource:
    """20 frames at 10 fps, in chunks of 7 (so detection frames and cuts fall across chunk borders)."""

    def __init__(self, n: int = 20) -> None:
        self.n = n
        self.info = VideoInfo(path="scripted", width=W, height=H, rotation=0, num_frames=n, avg_fps=FPS,
                              duration_s=n / FPS, backend="fake")

    def chunks(self, fps: float):
        assert fps == 0  # the test asks for every frame
        for s in range(0, self.n, 7):
            idx = range(s, min(s + 7, self.n))
            yield FrameChunk(np.stack([_frame(i) for i in idx]), [FrameTime(i, i / FPS) for i in idx])


class FakeDetector:
    """Finds the scripted faces exactly (score 0.9, landmarks where the alignment template puts them)."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def detect(self, frames: np.ndarray, times: list[FrameTime]) -> Faces:
        parts = []
        for ft in times:
            self.asked.append(ft.index)
            boxes = [b for name in FACES if (b := _box(name, ft.index)) is not None]
            lm = [b[:2] + FER_TEMPLATE * (b[2:] - b[:2]) for b in boxes]
            n = len(boxes)
            parts.append(Faces(np.array(boxes).reshape(n, 4), np.full(n, 0.9), np.array(lm).reshape(n, 5, 2),
                               np.full(n, ft.index), np.full(n, ft.seconds)))
        return Faces.concat(parts)


class FakeClassifier:
    """'Classifies' a crop by its colour: the share of red, blue and green in it."""

    labels = ("angry", "sad", "happy")  # red, blue, green (yellow = red + green)
    input_size = 24
    batch_size = 8

    def __init__(self) -> None:
        self.rows = 0

    def predict(self, crops: np.ndarray) -> np.ndarray:
        assert crops.shape[1:] == (24, 24, 3) and crops.dtype == np.uint8
        self.rows += len(crops)
        rgb = crops.reshape(len(crops), -1, 3).mean(1)[:, [0, 2, 1]] + 1.0
        return (rgb / rgb.sum(1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def run():
    det, clf = FakeDetector(), FakeClassifier()
    opts = AnalyzeOptions(fps=0, detect_interval=0.3)
    res = run_frame_loop(FakeSource(), det, clf, opts, StageTimes())
    return res, det, clf


def _rows(faces: Faces, tid: int) -> Faces:
    f = faces[faces.track_ids == tid]
    return f[np.argsort(f.frame_index)]


def test_detector_runs_on_due_frames_and_on_the_cut_only(run):
    res, det, _ = run
    # every 0.3 s from 0, restarted by the cut at frame 12
    assert sorted(set(det.asked)) == [0, 3, 6, 9, 12, 15, 18]
    assert res.detections == 7 and res.frames_analysed == 20


def test_the_scene_cut_is_recorded_and_ends_the_tracks(run):
    res, _, _ = run
    assert res.scene_cuts == [FrameTime(12, 1.2)]
    before = set(res.faces.track_ids[res.faces.frame_index < 12].tolist())
    after = set(res.faces.track_ids[res.faces.frame_index >= 12].tolist())
    assert len(before) == 2 and len(after) == 1 and not (before & after)  # a new id after the cut


def test_several_faces_keep_their_ids_from_their_first_sighting(run):
    res, _, _ = run
    faces = res.faces
    assert (faces.track_ids >= 0).all()
    ids_at_0 = faces.track_ids[faces.frame_index == 0]
    assert len(ids_at_0) == 2 and len(set(ids_at_0.tolist())) == 2  # frame 0: both faces, their final ids
    for tid in ids_at_0:
        rows = _rows(faces, tid)
        assert rows.frame_index.tolist() == list(range(12))  # every frame of shot A, one row each
        name = "red" if rows.boxes[0, 0] < 100 else "blue"
        truth = np.stack([_box(name, i) for i in range(12)])
        # at the end of the shot (frames 10, 11) the last detected box is held
        truth[10:] = truth[9]
        assert np.allclose(rows.boxes, truth, atol=1e-3), name


def test_rows_between_detections_are_interpolated_and_not_detected(run):
    res, _, _ = run
    faces = res.faces
    detected_frames = {0, 3, 6, 9, 12, 15, 18}
    for f in range(20):
        rows = faces[faces.frame_index == f]
        assert len(rows) == (2 if f < 12 else 1)
        assert rows.detected.tolist() == [f in detected_frames] * len(rows), f
        assert np.allclose(rows.time_s, f / FPS)
    yellow = _rows(faces, faces.track_ids[faces.frame_index == 12][0])
    assert yellow.frame_index.tolist() == list(range(12, 20))
    truth = np.stack([_box("yellow", i) for i in range(12, 20)])
    truth[-1] = truth[-2]  # frame 19 comes after the last detection: held
    assert np.allclose(yellow.boxes, truth, atol=1e-3)


def test_every_row_is_classified_on_its_own_face(run):
    res, _, clf = run
    faces = res.faces
    assert clf.rows == len(faces) and faces.probs.shape == (len(faces), 3)
    colour = np.array(FakeClassifier.labels)[faces.probs.argmax(1)]
    red_id = faces.track_ids[(faces.frame_index == 0) & (faces.boxes[:, 0] < 100)][0]
    assert (colour[faces.track_ids == red_id] == "angry").all()
    blue = (faces.frame_index < 12) & (faces.track_ids != red_id)
    assert (colour[blue] == "sad").all()
    yellow = faces.frame_index >= 12
    assert (faces.probs[yellow][:, [0, 2]] > 0.4).all()  # red + green


def test_a_face_seen_only_in_the_last_detection_frame_gets_a_track():
    """Nothing after the end can confirm it: it becomes a track of its own rows (min-track decides later)."""

    class LateDetector(FakeDetector):
        def detect(self, frames, times):
            found = super().detect(frames, times)
            late = [ft for ft in times if ft.index == 18]
            if not late:
                return found
            b = np.array([[20, 150, 60, 200]], np.float32)
            extra = Faces(b, [0.9], (b[:, None, :2] + FER_TEMPLATE * (b[:, None, 2:] - b[:, None, :2])),
                          [18], [1.8])
            return Faces.concat([found, extra])

    res = run_frame_loop(FakeSource(), LateDetector(), FakeClassifier(), AnalyzeOptions(fps=0, detect_interval=0.3), StageTimes())
    late = res.faces[res.faces.boxes[:, 0] == 20]
    assert late.frame_index.tolist() == [18, 19] and (late.track_ids >= 0).all()
    assert late.detected.tolist() == [True, False]


class ThreadNotingClassifier(FakeClassifier):
    """Notes the thread of each batch and lets one batch fail on request."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.batches: list[int] = []
        self.fail_at = fail_at

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        self.batches.append(len(crops))
        if self.fail_at is not None and len(self.batches) == self.fail_at:
            raise RuntimeError("classifier broke")
        return super().predict(crops)


def test_batches_are_classified_beside_the_loop_in_order_with_the_serial_result(run):
    res, _, _ = run
    clf = ThreadNotingClassifier()
    again = run_frame_loop(FakeSource(), FakeDetector(), clf, AnalyzeOptions(fps=0, detect_interval=0.3), StageTimes())
    assert len(clf.batches) > 2 and set(clf.threads) != {threading.current_thread().name}
    assert all(t.startswith("fervideo-classify") for t in clf.threads)
    assert sum(clf.batches) == len(res.faces) and all(b >= clf.batch_size for b in clf.batches[:-1])
    # the rows in the same order with the probabilities of their own crops, as classified serially
    assert np.array_equal(again.faces.frame_index, res.faces.frame_index)
    assert np.array_equal(again.faces.track_ids, res.faces.track_ids)
    serial = FakeClassifier().predict(
        np.concatenate([align_crops(_frame(i), again.faces[again.faces.frame_index == i], 24) for i in range(20)]))
    order = np.argsort(again.faces.frame_index, kind="stable")
    assert np.allclose(again.faces.probs[order], serial)
    assert not [t for t in threading.enumerate() if t.name.startswith("fervideo-classify")]


def test_a_classifier_error_surfaces_and_leaves_no_thread():
    with pytest.raises(RuntimeError, match="classifier broke"):
        run_frame_loop(FakeSource(), FakeDetector(), ThreadNotingClassifier(fail_at=2),
                       AnalyzeOptions(fps=0, detect_interval=0.3), StageTimes())
    assert not [t for t in threading.enumerate() if t.name.startswith("fervideo-classify")]


def test_the_real_detector_on_two_people_and_a_cut(tiny_fervit, tmp_path):
    """``samples/make_samples.two_faces_with_cut``: two faces, then a close-up after a hard cut."""
    from fervideo.stages import detect
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.stages.decode import VideoSource

    clip = tmp_path / "two.mp4"
    make_samples.write_clip(clip, make_samples.two_faces_with_cut(6.0, fps=25.0, size=(320, 180)))
    src = VideoSource(clip)
    res = run_frame_loop(src, detect.create("centerface", size=320), EmotionClassifier(str(tiny_fervit), device="cpu"),
                         AnalyzeOptions(), StageTimes())  # analyze's defaults: 10 fps, a detection every 0.1 s
    cut = 90  # frame int(150 * 0.6) of the 25 fps clip
    assert [c.index for c in res.scene_cuts] == [cut]
    faces = res.faces
    before = faces[faces.frame_index < cut]
    after = faces[faces.frame_index >= cut]
    frames_before = sorted(set(before.frame_index.tolist()))
    assert len(frames_before) == 36  # every analysed frame of shot A ...
    assert set(np.unique(before.frame_index, return_counts=True)[1].tolist()) == {2}  # ... with both faces
    assert len(set(before.track_ids.tolist())) == 2
    assert len(set(after.track_ids.tolist())) == 1 and not set(after.track_ids.tolist()) & set(before.track_ids.tolist())
    # the close-up zooms until the face leaves the top of the frame: most of its 24 frames, one row each
    assert len(after) >= 18 and len(set(after.frame_index.tolist())) == len(after)
