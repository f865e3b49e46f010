"""Box geometry shared by the stages: overlap (IoU) and interpolation in time.

Detection (non-maximum suppression), tracking (ByteTrack's matching, first-sighting matches), the
frame loop (boxes between detections) and the annotated video (boxes between analysed frames)
all use these, so each formula exists once.
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


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of boxes ``a`` (n, 4) against ``b`` (m, 4), computed in float64 and returned in
    float32, as ``supervision.box_iou_batch``: ByteTrack's matching thresholds compare these
    values, and ``stages/bytetrack.py`` must decide exactly as the package it re-implements."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0.0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0.0, None)
    inter = w * h
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None] + ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :] - inter
    out = np.zeros(inter.shape, np.float32)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def lerp_weight(t: float, ta: float, tb: float) -> float:
    """Where ``t`` lies between ``ta`` and ``tb`` (0 at ``ta``, 1 at ``tb``; 0 when they coincide)."""
    return 0.0 if tb <= ta else (t - ta) / (tb - ta)


def lerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Linear interpolation of boxes or landmarks: ``(1 - w) * a + w * b``."""
    return (1 - w) * a + w * b
