"""The annotated video's per-track curve: boxes between analysed rows, gaps, the nearest label."""

from __future__ import annotations

import numpy as np

from fervideo.core.types import Faces
from fervideo.io.render import _TrackCurve

LABELS = ["angry", "happy", "neutral"]


def _track(times, boxes, labels):
    n = len(times)
    probs = np.eye(3, dtype=np.float32)[labels]
    return Faces(
        boxes=np.array(boxes, float), scores=np.full(n, 0.9), landmarks=np.zeros((n, 5, 2)),
        frame_index=np.arange(n), time_s=np.array(times, float), track_ids=np.full(n, 4),
        probs=probs, smoothed=probs, label_ids=np.array(labels),
    )


def test_box_is_interpolated_and_label_is_the_nearest_rows():
    c = _TrackCurve(_track([0.0, 1.0], [[0, 0, 10, 10], [10, 0, 20, 10]], [1, 2]), LABELS)
    box, lab, _, _ = c.at(0.25, max_gap=2.0, half_step=0.02)
    assert np.allclose(box, [2.5, 0, 12.5, 10])
    assert lab == 1  # nearer the first row
    box, lab, _, _ = c.at(0.75, max_gap=2.0, half_step=0.02)
    assert np.allclose(box, [7.5, 0, 17.5, 10]) and lab == 2


def test_no_face_in_a_gap_longer_than_max_gap_nor_far_outside_the_track():
    c = _TrackCurve(_track([0.0, 3.0], [[0, 0, 10, 10], [10, 0, 20, 10]], [1, 2]), LABELS)
    assert c.at(1.5, max_gap=1.0, half_step=0.05) is None
    held = c.at(0.03, max_gap=1.0, half_step=0.05)  # within half a frame of a row: that row
    assert held is not None and np.allclose(held[0], [0, 0, 10, 10]) and held[1] == 1
    assert c.at(-0.2, max_gap=1.0, half_step=0.05) is None
    assert c.at(3.2, max_gap=1.0, half_step=0.05) is None
    assert c.tid == 4


def test_each_position_says_whether_its_nearest_row_is_a_clear_face():
    """The annotated video marks faces the timeline does not count as clear (turned, or under 40 px)."""
    frontal_lm = [[20, 20], [40, 20], [30, 30], [22, 40], [38, 40]]  # nose between the eyes
    profile_lm = [[20, 20], [40, 20], [41, 30], [22, 40], [38, 40]]  # nose beyond an eye
    f = _track([0.0, 1.0, 2.0], [[0, 0, 60, 60], [0, 0, 60, 60], [0, 0, 30, 30]], [1, 1, 1])
    f = Faces(boxes=f.boxes, scores=f.scores, landmarks=np.array([frontal_lm, profile_lm, frontal_lm], float),
              frame_index=f.frame_index, time_s=f.time_s, track_ids=f.track_ids, probs=f.probs, smoothed=f.smoothed,
              label_ids=f.label_ids)
    c = _TrackCurve(f, LABELS)
    assert [c.at(t, max_gap=2.0, half_step=0.02)[3] for t in (0.0, 0.4, 0.6, 1.0, 2.0)] == [True, True, False, False, False]
