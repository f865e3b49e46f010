"""Per-face quality measures: face size in pixels and frontal-ness from the 5 landmarks."""

from __future__ import annotations

import numpy as np

from fervideo.core.quality import CLEAR_FACE_PX, CLEAR_FRONTAL, clear, face_size, frontal

# left eye, right eye, nose, left and right mouth corner of a frontal face (FER template, 100 px)
FRONT = np.array([[31.0, 40.0], [69.0, 40.0], [50.0, 60.0], [35.0, 75.0], [65.0, 75.0]])


def _turned(yaw_shift: float) -> np.ndarray:
    """The nose (and a little the mouth) moved towards one eye, as when the head turns."""
    lm = FRONT.copy()
    lm[2, 0] += yaw_shift
    lm[3:, 0] += yaw_shift / 3
    return lm


def _rotate(lm: np.ndarray, deg: float, scale: float = 1.0) -> np.ndarray:
    a = np.deg2rad(deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (lm - 50) @ r.T * scale + 200


def test_frontal_face_scores_one_and_a_turned_face_less():
    lms = np.stack([FRONT, _turned(5), _turned(10), _turned(19), _turned(25)])
    f = frontal(lms)
    assert f.shape == (5,) and f.dtype == np.float32
    assert f[0] > 0.99
    assert np.all(np.diff(f[:4]) < 0)  # the more the nose moves towards an eye, the lower
    assert f[3] < 0.05 and f[4] == 0.0  # nose at an eye, or beyond it: a profile
    assert np.all((f >= 0) & (f <= 1))


def test_frontal_ignores_roll_and_scale():
    lms = np.stack([FRONT, _rotate(FRONT, 30), _rotate(FRONT, -50, 3.0), _rotate(_turned(10), 40, 0.5)])
    f = frontal(lms)
    assert np.allclose(f[:3], 1.0, atol=1e-5)
    assert np.isclose(f[3], frontal(_turned(10)[None])[0], atol=1e-5)


def test_missing_landmarks_give_nan():
    f = frontal(np.zeros((2, 5, 2)))
    assert np.isnan(f).all()


def test_face_size_is_the_shorter_side_of_the_box():
    s = face_size(np.array([[10, 20, 70, 100], [0, 0, 30, 20]], np.float32))
    assert s.tolist() == [60.0, 20.0] and s.dtype == np.float32


def test_a_clear_face_is_near_frontal_and_large_enough_and_unknown_is_not_clear():
    px = np.array([CLEAR_FACE_PX, CLEAR_FACE_PX - 0.5, 120.0, 120.0, 120.0])
    fr = np.array([CLEAR_FRONTAL, 0.9, CLEAR_FRONTAL - 0.01, np.nan, 1.0])
    assert clear(px, fr).tolist() == [True, False, False, False, True]


def test_the_persons_gate_embeds_only_clear_faces():
    """One definition: the faces persons embeds are the faces the tables count as clear."""
    from fervideo.stages.persons import QualityGate

    assert (QualityGate().min_face, QualityGate().min_frontal) == (CLEAR_FACE_PX, CLEAR_FRONTAL)
