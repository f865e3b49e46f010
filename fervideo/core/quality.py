"""How usable a face observation is: its size in pixels and how frontal it is.

Expression classifiers are trained on frontal faces of about 48-100 px; small or turned faces
give unreliable probabilities. Both measures are stored per timeline row so a researcher can
filter poor faces (``fervideo export --min-face 40 --min-frontal 0.5``) instead of trusting
every row equally.
"""

from __future__ import annotations

import numpy as np


def face_size(boxes: np.ndarray) -> np.ndarray:
    """Shorter side of each box (N, 4: x1 y1 x2 y2) in pixels: the resolution the face really has."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]).astype(np.float32)


def frontal(landmarks: np.ndarray) -> np.ndarray:
    """Frontal-ness in [0, 1] from 5 landmarks (eyes, nose, mouth corners), per face.

    The nose tip stands out of the face, so when the head turns (yaw) it moves along the line
    between the eyes towards one of them. ``u`` is its position on that line (0 = left eye,
    1 = right eye; measured along the eye axis, so roll and scale do not matter); the score
    is ``1 - |2u - 1|``: 1 with the nose midway between the eyes, 0 with the nose at or
    beyond an eye (a profile). Missing landmarks (both eyes at one point) give NaN.
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    le, re, nose = lm[:, 0], lm[:, 1], lm[:, 2]
    axis = re - le
    d2 = (axis**2).sum(1)
    ok = d2 > 1e-6
    u = np.full(len(lm), np.nan)
    u[ok] = ((nose - le)[ok] * axis[ok]).sum(1) / d2[ok]
    score = np.clip(1.0 - np.abs(2.0 * u - 1.0), 0.0, 1.0)
    return score.astype(np.float32)
