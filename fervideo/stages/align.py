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


def similarities(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transforms (N, 2, 3) mapping each src (N, K, 2) onto dst (K, 2).

    In the plane the best rotation-and-scale has a closed form: with points as complex numbers,
    ``w ~ a z + b`` with ``a = sum(conj(z - mean z) (w - mean w)) / sum |z - mean z|^2`` (the
    2-D case of Umeyama's method, reflections excluded), so all faces of a frame take a few
    array operations instead of an SVD each."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    z = src[..., 0] + 1j * src[..., 1]
    w = dst[:, 0] + 1j * dst[:, 1]
    zm, wm = z.mean(axis=1, keepdims=True), w.mean()
    zc, wc = z - zm, w - wm
    var = (np.abs(zc) ** 2).sum(axis=1)
    a = np.where(var > 0, (np.conj(zc) * wc).sum(axis=1) / np.where(var > 0, var, 1.0), 1.0)
    b = wm - a * zm[:, 0]
    return np.stack([np.stack([a.real, -a.imag, b.real], -1), np.stack([a.imag, a.real, b.imag], -1)], 1)


def _landmarks_plausible(lm: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Per face (N, 5, 2 landmarks; N, 4 boxes): finite, eyes 0.15-1.2 box widths apart."""
    w = np.maximum(box[:, 2] - box[:, 0], 1.0)
    eye_dist = np.linalg.norm(lm[:, 1] - lm[:, 0], axis=1)
    return np.isfinite(lm).all(axis=(1, 2)) & (0.15 * w < eye_dist) & (eye_dist < 1.2 * w)


def align_transforms(faces: Faces, size: int, margin: float = 1.0) -> np.ndarray:
    """The 2x3 affine maps (N, 2, 3) from frame pixels to each face's ``size`` x ``size`` crop.

    Faces whose landmarks are implausible (profile views, bad interpolation) get a square crop
    around the box instead, so every face still gets a crop. ``align_crops`` warps with these
    maps, and whoever maps something from a crop back into the frame (explanations) inverts
    the same ones.
    """
    n = len(faces)
    out = np.empty((n, 2, 3), np.float64)
    if n == 0:
        return out
    tmpl = (FER_TEMPLATE - 0.5) / margin + 0.5
    lm, box = faces.landmarks.astype(np.float64), faces.boxes.astype(np.float64)
    ok = _landmarks_plausible(lm, box)
    if ok.any():
        out[ok] = similarities(lm[ok], tmpl * size)
    if not ok.all():
        b = box[~ok]
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        side = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) * margin
        s = size / np.maximum(side, 1.0)
        zero = np.zeros_like(s)
        out[~ok] = np.stack([np.stack([s, zero, size / 2 - s * cx], -1), np.stack([zero, s, size / 2 - s * cy], -1)], 1)
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
