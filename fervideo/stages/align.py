"""Face crops aligned by their 5 landmarks to the framing the classifier was trained on.

The template is FER-2013's own framing, measured by running CenterFace over 579 faces of
the FER-2013 validation set (median landmark positions, made left-right symmetric): eyes at
40% of the height, mouth at 75%. Aligning video faces to it gives crops that look like the
training images (same scale, roll removed), which matters more for accuracy than the model.
``margin`` > 1 zooms out (more context), < 1 zooms in.
"""

from __future__ import annotations

import cv2
import numpy as np

from fervideo.core.types import Faces

#: (x, y) of left eye, right eye, nose, left and right mouth corner, as fractions of the crop.
FER_TEMPLATE = np.array(
    [[0.310, 0.400], [0.690, 0.400], [0.500, 0.598], [0.350, 0.753], [0.650, 0.753]], dtype=np.float64
)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama) mapping src (N,2) onto dst (N,2); 2x3."""
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    cov = d0.T @ s0 / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    r = u @ sign @ vt
    var = (s0**2).sum() / len(src)
    scale = (d * np.diag(sign)).sum() / var if var > 0 else 1.0
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def _landmarks_plausible(lm: np.ndarray, box: np.ndarray) -> bool:
    w = max(box[2] - box[0], 1.0)
    eye_dist = np.linalg.norm(lm[1] - lm[0])
    return bool(np.isfinite(lm).all() and 0.15 * w < eye_dist < 1.2 * w)


def align_transforms(faces: Faces, size: int, margin: float = 1.0) -> np.ndarray:
    """The 2x3 affine maps (N, 2, 3) from frame pixels to each face's ``size`` x ``size`` crop.

    Faces whose landmarks are implausible (profile views, bad interpolation) get a square crop
    around the box instead, so every face still gets a crop. ``align_crops`` warps with these
    maps, and whoever maps something from a crop back into the frame (explanations) inverts
    the same ones.
    """
    n = len(faces)
    out = np.empty((n, 2, 3), np.float64)
    tmpl = (FER_TEMPLATE - 0.5) / margin + 0.5
    dst = tmpl * size
    for i in range(n):
        lm, box = faces.landmarks[i], faces.boxes[i]
        if _landmarks_plausible(lm, box):
            out[i] = similarity(lm, dst)
        else:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            side = max(box[2] - box[0], box[3] - box[1]) * margin
            s = size / max(side, 1.0)
            out[i] = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])
    return out


def align_crops(frame: np.ndarray, faces: Faces, size: int, margin: float = 1.0) -> np.ndarray:
    """Aligned RGB crops (N, size, size, 3) uint8 of the faces in one frame (see ``align_transforms``)."""
    n = len(faces)
    out = np.empty((n, size, size, 3), np.uint8)
    for i, m in enumerate(align_transforms(faces, size, margin)):
        scale = np.sqrt(abs(np.linalg.det(m[:, :2])))
        sup = int(min(4, 1.0 / scale)) if scale < 0.5 else 1
        if sup > 1:  # warpAffine has no area filter: warp at sup x size, then area-downscale
            big = cv2.warpAffine(frame, m * sup, (size * sup, size * sup), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out[i] = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
        else:
            out[i] = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out
