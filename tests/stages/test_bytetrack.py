"""``stages/bytetrack.py`` against the package it re-implements: the same ids on the same scenes."""

import numpy as np
import pytest

from fervideo.core.geometry import box_iou, box_iou_matrix
from fervideo.stages.bytetrack import ByteTrack


def _scene(rng, frames=60, faces=4):
    """Faces moving, vanishing and coming back, some detections weak, uneven (sampled) frame times."""
    pos = rng.uniform(20, 500, (faces, 2))
    vel = rng.normal(0, 4, (faces, 2))
    size = rng.uniform(25, 90, faces)
    t = 0.0
    for _ in range(frames):
        t += float(rng.choice([1 / 30, 1 / 30, 0.1, 0.2, 0.5, 1.3]))
        pos += vel * rng.uniform(0.5, 2.0)
        seen = rng.random(faces) > 0.25
        boxes = np.concatenate([pos - size[:, None] / 2, pos + size[:, None] / 2], 1) + rng.normal(0, 2, (faces, 4))
        scores = rng.choice([0.3, 0.55, 0.65, 0.9], faces)
        extra = rng.random() < 0.15  # a false detection somewhere
        if extra:
            b = rng.uniform(0, 500, 2)
            boxes = np.concatenate([boxes, [[*b, *(b + 40)]]])
            scores = np.concatenate([scores, [rng.uniform(0.3, 0.9)]])
            seen = np.concatenate([seen, [True]])
        order = rng.permutation(int(seen.sum()))
        yield boxes[seen][order].astype(np.float32), scores[seen][order].astype(np.float32), t


@pytest.mark.parametrize("seed", range(12))
def test_same_ids_as_trackers_bytetrack(seed):
    """Frame for frame the ids ``trackers.ByteTrackTracker`` (2.6, fed timestamps) gives, with our settings."""
    trackers = pytest.importorskip("trackers")
    sv = pytest.importorskip("supervision")
    rng = np.random.default_rng(seed)
    lost = [0.5, 1.0, 2.0][seed % 3]
    ours = ByteTrack(lost_seconds=lost, activation=0.6, match_iou=0.2, high_conf=0.6)
    ref = trackers.ByteTrackTracker(lost_track_buffer=max(1, int(round(lost * 30))), frame_rate=30.0,
                                    track_activation_threshold=0.6, minimum_consecutive_frames=1,
                                    minimum_iou_threshold=0.2, high_conf_det_threshold=0.6)
    confirmed = 0
    for k, (boxes, scores, t) in enumerate(_scene(rng)):
        if k == 30 and seed % 2:
            ours.reset()
            ref.reset()
        got = ours.update(boxes, scores, t)
        det = sv.Detections(xyxy=boxes, confidence=scores, data={"row": np.arange(len(boxes))})
        out = ref.update(det, timestamp=t)
        want = np.full(len(boxes), -1, np.int64)
        if len(out):
            want[np.asarray(out.data["row"], np.int64)] = np.asarray(out.tracker_id, np.int64)
        assert got.tolist() == want.tolist(), (seed, k)
        confirmed += int((got >= 0).sum())
    assert confirmed > 20  # the scenes do exercise matching


def test_times_going_back_or_repeating():
    bt = ByteTrack()
    box = np.array([[10, 10, 60, 70]], np.float32)
    bt.update(box, [0.9], 0.0)
    assert bt.update(box, [0.9], 0.1).tolist() == [0]
    assert bt.update(box, [0.9], 0.05).tolist() == [-1]  # earlier than the last: ignored
    assert bt.update(box, [0.9], 0.1).tolist() == [0]  # the same time: matched without a prediction
    assert bt.update(box, [0.9], float("nan")).tolist() == [-1]
    assert bt.update(box + 2, [0.9], 0.2).tolist() == [0]


def test_lost_track_expires_after_its_seconds():
    bt = ByteTrack(lost_seconds=0.5)
    box = np.array([[10, 10, 60, 70]], np.float32)
    bt.update(box, [0.9], 0.0)
    assert bt.update(box, [0.9], 0.1).tolist() == [0]
    bt.update(np.zeros((0, 4)), [], 0.4)
    assert bt.update(box, [0.9], 0.55).tolist() == [0]  # 0.45 s lost: still the same face
    bt.update(np.zeros((0, 4)), [], 1.0)
    assert bt.update(box, [0.9], 1.2).tolist() == [-1]  # 0.65 s: a new track (confirmed on its next sighting)
    assert bt.update(box, [0.9], 1.3).tolist() == [1]


def test_weak_detection_keeps_a_track_but_starts_none():
    bt = ByteTrack()
    box = np.array([[10, 10, 60, 70]], np.float32)
    bt.update(box, [0.9], 0.0)
    bt.update(box, [0.9], 0.1)
    assert bt.update(box + 1, [0.3], 0.2).tolist() == [0]  # the second stage matches the weak box
    assert bt.update(np.array([[300, 300, 340, 340]], np.float32), [0.3], 0.3).tolist() == [-1]
    assert len(bt.tracks) == 1  # a weak box alone starts no track


def test_iou_matrix_agrees_with_box_iou():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    m = box_iou_matrix(a, b)
    assert m.dtype == np.float32 and m[0].tolist() == pytest.approx([25 / 175, 0.0, 1.0])
    assert m[0] == pytest.approx(box_iou(a[0], b))
    assert box_iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)
