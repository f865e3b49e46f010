"""ByteTrack on container timestamps: the association of Roboflow's ``trackers`` 2.6, without its imports.

ByteTrack (Zhang et al. 2022): each track's box is predicted by a constant-velocity Kalman
filter on its corners; a frame's confident detections are matched to all tracks by the
assignment that maximises IoU, the remaining tracks then to the less confident detections (a
face half hidden or blurred keeps its track), and an unmatched confident detection starts a
new track, confirmed (given an id) when it is matched again. Lost tracks wait
``lost_seconds`` for their face.

This module does what ``trackers.ByteTrackTracker`` 2.6 (Apache-2.0) does when fed
timestamps, step for step: the same corner-state filter and noise (measurement 0.1, process
0.01, scaled for gaps between detections by the white-noise-acceleration model, one nominal
frame within 4 ms of 1/30 s), the same two-stage matching, the same lifecycle. It is written
here because importing that package (with ``supervision``, SciPy's interpolation and
optimisation and matplotlib) took 0.5-1 s of every ``fervideo analyze`` process, on the
path before the first face could be tracked (a 15 s clip at every frame: 4.85 -> 4.19 s
whole process, medians of 6 alternating pairs).
``tests/stages/test_bytetrack.py`` runs both on the same random scenes and requires the same
ids frame by frame.
"""

from __future__ import annotations

import math

import numpy as np

from fervideo.core.assignment import linear_sum_assignment
from fervideo.core.geometry import box_iou_matrix

#: The filter's nominal step: velocities are per 1/30 s, as in ByteTrack's tuning.
FRAME_RATE = 30.0
#: A step within this many seconds of one nominal frame uses the one-frame process noise.
_NOMINAL_TOLERANCE_S = 0.004
_MEASUREMENT_NOISE = 0.1
_PROCESS_NOISE = 0.01


class _Track:
    """One track: corner state ``x`` (x1, y1, x2, y2 and their velocities), covariance ``P``, lifecycle counters."""

    __slots__ = ("x", "P", "track_id", "misses", "missed_s", "hits")

    def __init__(self, box: np.ndarray) -> None:
        self.x = np.zeros(8)
        self.x[:4] = box
        self.P = np.eye(8)
        self.track_id = -1
        self.misses = 0  # predictions since the last match
        self.missed_s = 0.0  # seconds since the last match
        self.hits = 1  # consecutive matches (the first sighting counts)

    def predict(self, step: float, elapsed_s: float) -> None:
        F = np.eye(8)
        F[range(4), range(4, 8)] = step
        self.x = F @ self.x
        self.P = F @ self.P @ F.T + _process_noise(step)
        if self.misses > 0:
            self.hits = 0
        self.misses += 1
        self.missed_s += elapsed_s

    def update(self, box: np.ndarray) -> None:
        """Kalman update with the detected corners (Joseph form, as ``trackers``)."""
        R = np.eye(4) * _MEASUREMENT_NOISE
        S = self.P[:4, :4] + R
        K = self.P[:, :4] @ np.linalg.inv(S)
        self.x = self.x + K @ (np.asarray(box, np.float64) - self.x[:4])
        I_KH = np.eye(8)
        I_KH[:, :4] -= K
        self.P = I_KH @ self.P @ I_KH.T + K @ R @ K.T
        self.misses = 0
        self.missed_s = 0.0
        self.hits += 1

    @property
    def box(self) -> np.ndarray:
        return self.x[:4]


def _process_noise(step: float) -> np.ndarray:
    """The one-frame process noise near one nominal frame, else scaled to the gap (discrete white-noise acceleration)."""
    if abs(step - 1.0) <= _NOMINAL_TOLERANCE_S * FRAME_RATE:
        return np.eye(8) * _PROCESS_NOISE
    s = _PROCESS_NOISE
    Q = np.zeros((8, 8))
    for p in range(4):
        v = p + 4
        Q[p, p] = s * step**4 / 4.0
        Q[p, v] = Q[v, p] = s * step**3 / 2.0
        Q[v, v] = s * step**2
    return Q


def _match(sim: np.ndarray, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pairs of the IoU-maximising assignment at or above ``threshold``, and the unmatched rows and columns (sorted)."""
    n, m = sim.shape
    pairs: list[tuple[int, int]] = []
    if n and m:
        for r, c in zip(*linear_sum_assignment(sim, maximize=True)):
            if sim[r, c] >= threshold:
                pairs.append((int(r), int(c)))
    rows = {r for r, _ in pairs}
    cols = {c for _, c in pairs}
    return pairs, [r for r in range(n) if r not in rows], [c for c in range(m) if c not in cols]


class ByteTrack:
    """``update(boxes, scores, t) -> ids`` (-1 where not confirmed); ``reset()`` ends every track.

    ``t`` is the frame's time in seconds, non-decreasing; a time earlier than the last is
    ignored (every id -1, nothing changes), a repeated time matches without predicting.
    Ids count up from 0 and restart at ``reset``.
    """

    def __init__(self, lost_seconds: float = 1.0, activation: float = 0.6, match_iou: float = 0.2,
                 high_conf: float = 0.6, min_hits: int = 1) -> None:
        # ``trackers`` counts the lost-track buffer in frames at 30 per second
        self.max_lost_s = max(1, int(round(lost_seconds * FRAME_RATE))) / FRAME_RATE
        self.activation = activation
        self.match_iou = match_iou
        self.high_conf = high_conf
        self.min_hits = min_hits
        self.reset()

    def reset(self) -> None:
        self.tracks: list[_Track] = []
        self._last_t: float | None = None
        self._next_id = 0

    def _timing(self, t: float) -> tuple[float, float] | None:
        """(step in nominal frames, elapsed seconds), or None to skip the update (time went back or is not finite)."""
        if not math.isfinite(t):
            return None
        last = self._last_t
        if last is None:
            self._last_t = t
            return 1.0, 1.0 / FRAME_RATE
        if t < last:
            return None
        if t == last:
            return 0.0, 0.0
        self._last_t = t
        return (t - last) * FRAME_RATE, t - last

    def update(self, boxes: np.ndarray, scores: np.ndarray, t: float) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        ids = np.full(len(boxes), -1, np.int64)
        timing = self._timing(float(t))
        if timing is None or (not self.tracks and not len(boxes)):
            return ids
        step, elapsed = timing
        if step > 0:
            for tr in self.tracks:
                tr.predict(step, elapsed)
        self.tracks = [tr for tr in self.tracks if tr.missed_s <= self.max_lost_s]

        high = np.flatnonzero(scores >= self.high_conf)
        low = np.flatnonzero(scores < self.high_conf)
        predicted = np.array([tr.box for tr in self.tracks]) if self.tracks else np.zeros((0, 4))

        pairs, left, unmatched_high = _match(box_iou_matrix(predicted, boxes[high]), self.match_iou)
        for r, c in pairs:
            self._matched(self.tracks[r], boxes[high[c]])
            ids[high[c]] = self.tracks[r].track_id
        remaining = [self.tracks[r] for r in left]
        pairs, _, _ = _match(box_iou_matrix(predicted[left] if left else np.zeros((0, 4)), boxes[low]), self.match_iou)
        for r, c in pairs:
            self._matched(remaining[r], boxes[low[c]])
            ids[low[c]] = remaining[r].track_id
        for c in unmatched_high:
            if float(scores[high[c]]) >= self.activation:
                self.tracks.append(_Track(boxes[high[c]].astype(np.float64)))

        self.tracks = [tr for tr in self.tracks
                       if tr.missed_s <= self.max_lost_s and (tr.track_id != -1 or tr.hits >= self.min_hits or tr.misses == 0)]
        return ids

    def _matched(self, tr: _Track, box: np.ndarray) -> None:
        tr.update(box)
        if tr.hits >= self.min_hits and tr.track_id == -1:
            tr.track_id = self._next_id
            self._next_id += 1
