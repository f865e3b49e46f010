"""How usable a face observation is: its size in pixels and how frontal it is.

Expression classifiers are trained on frontal faces of about 48-100 px; small or turned faces
give unreliable probabilities. Both measures are stored per timeline row so a researcher can
filter poor faces (``fervideo export --min-face 40 --min-frontal 0.5``) instead of trusting
every row equally.
"""

from __future__ import annotations

import numpy as np

#: A *clear* face: near-frontal (nose within a quarter of the eye distance of the eyes'
#: midpoint) and at least 40 px on its shorter side. On the labelled real-video faces
#: (``bench/real_faces.py``, the default model of 2026-11-24, ``fervit-fer2013`` sha256
#: 0832c36f...) such rows were labelled right 0.965 of the time (86 boxes, 11 faces), the
#: others 0.500 (40 boxes, 4 faces: profile views, a 26 px face); the default before it 0.930
#: and 0.425. The persons stage embeds only clear faces too (``QualityGate``).
CLEAR_FRONTAL, CLEAR_FACE_PX = 0.5, 40.0
#: Those two accuracies of the default model, for the report's note on ``clear_share``; a new
#: default brings its own (the README's tracks table says the same).
CLEAR_ACCURACY, UNCLEAR_ACCURACY = 0.965, 0.500


def clear(face_px: np.ndarray, frontal_score: np.ndarray) -> np.ndarray:
    """Per row: the face is clear (``CLEAR_FRONTAL``, ``CLEAR_FACE_PX``); unknown frontal-ness is not."""
    fp = np.asarray(face_px, np.float64)
    fr = np.asarray(frontal_score, np.float64)
    with np.errstate(invalid="ignore"):
        return (fp >= CLEAR_FACE_PX) & (np.nan_to_num(fr, nan=-1.0) >= CLEAR_FRONTAL)


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
