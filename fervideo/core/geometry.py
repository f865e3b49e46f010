"""Box geometry shared by the stages: overlap (IoU) and interpolation in time.

Detection (non-maximum suppression), tracking (first-sighting matches), the frame loop
(boxes between detections) and the annotated video (boxes between analysed frames) all
use these, so each formula exists once.
"""

from __future__ import annotations

import numpy as np


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``[x1, y1, x2, y2]`` box with each row of ``boxes`` (N, 4)."""
    xx1 = np.maximum(box[0], boxes[:, 0])
    yy1 = np.maximum(box[1], boxes[:, 1])
    xx2 = np.minimum(box[2], boxes[:, 2])
    yy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(a + b - inter, 1e-9)


def lerp_weight(t: float, ta: float, tb: float) -> float:
    """Where ``t`` lies between ``ta`` and ``tb`` (0 at ``ta``, 1 at ``tb``; 0 when they coincide)."""
    return 0.0 if tb <= ta else (t - ta) / (tb - ta)


def lerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Linear interpolation of boxes or landmarks: ``(1 - w) * a + w * b``."""
    return (1 - w) * a + w * b
