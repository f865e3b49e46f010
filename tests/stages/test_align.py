"""Alignment: the closed-form similarity equals Umeyama's SVD solution; per-face fallbacks."""

import numpy as np

from fervideo.core.types import Faces
from fervideo.stages.align import FER_TEMPLATE, align_crops, align_transforms, similarities


def _umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Reference: Umeyama (1991) with the reflection excluded, via an SVD."""
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    u, d, vt = np.linalg.svd(d0.T @ s0 / len(src))
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    r = u @ sign @ vt
    scale = (d * np.diag(sign)).sum() / ((s0**2).sum() / len(src))
    return np.hstack([scale * r, (md - scale * r @ ms)[:, None]])


def test_closed_form_equals_umeyama_including_mirrored_point_sets():
    rng = np.random.default_rng(1)
    src = rng.normal(0, 50, (300, 5, 2)) + rng.uniform(0, 500, (300, 1, 2))
    src[::7, :, 0] *= -1  # mirrored: the best proper similarity, not a reflection
    dst = FER_TEMPLATE * 48
    got = similarities(src, dst)
    want = np.stack([_umeyama(s, dst) for s in src])
    assert np.abs(got - want).max() < 1e-9
    assert np.all(np.linalg.det(got[:, :, :2]) > 0)


def test_each_face_gets_its_own_map_and_implausible_landmarks_a_box_crop():
    good = FER_TEMPLATE * 80 + [100.0, 50.0]
    bad = np.full((5, 2), 120.0)  # all landmarks on one point: no usable eyes
    boxes = np.array([[100, 50, 180, 130], [100, 40, 160, 120]], np.float32)
    faces = Faces(boxes, [0.9, 0.9], np.stack([good, bad]).astype(np.float32), [0, 0], [0.0, 0.0])
    m = align_transforms(faces, 48)
    mapped = good @ m[0, :, :2].T + m[0, :, 2]
    assert np.abs(mapped - FER_TEMPLATE * 48).max() < 1e-3
    # the box's centre goes to the crop's centre, its longer side (80 px) to 48 px
    assert np.allclose(m[1], [[0.6, 0, 24 - 0.6 * 130], [0, 0.6, 24 - 0.6 * 80]])
    assert align_transforms(faces[np.array([], int)], 48).shape == (0, 2, 3)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    assert align_crops(frame, faces, 48).shape == (2, 48, 48, 3)
