"""Derived measures: valence per row and emotion peaks per track.

Valence follows FaceReader's definition: the probability of *happy* minus the strongest of
the negative expressions (angry, disgust, fear, sad, contempt), computed on the smoothed
probabilities; it lies in [-1, 1]. Surprise and neutral count as neither. There is no
arousal column: the classifiers here do not predict arousal, and deriving it from category
probabilities would be a guess.

A peak is a contiguous stretch of a track where an emotion's smoothed probability stays at
or above ``threshold`` (gaps in the track end a stretch); it is reported at its maximum,
with the stretch's start, end and duration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas costs 0.2-0.3 s to import: only the tables at the end of a video need it
    import pandas as pd

NEGATIVE = ("angry", "disgust", "fear", "sad", "contempt")
PEAK_COLUMNS = ["video", "track_id", "emotion", "time_s", "frame_index", "value", "start_s", "end_s", "duration_s"]


def valence(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """happy - max(negative) per row; 0 where the model has neither."""
    n = len(probs)
    pos = probs[:, labels.index("happy")] if "happy" in labels else np.zeros(n, np.float32)
    neg_idx = [labels.index(c) for c in NEGATIVE if c in labels]
    neg = probs[:, neg_idx].max(1) if neg_idx else np.zeros(n, np.float32)
    return (pos - neg).astype(np.float32)


def find_peaks(timeline: pd.DataFrame, labels: list[str], threshold: float = 0.5, max_gap: float = 1.0,
               skip: tuple[str, ...] = ("neutral",)) -> pd.DataFrame:
    """Peaks of every non-neutral emotion of every track, from a timeline table (vectorised)."""
    import pandas as pd

    rows = []
    for tid, g in timeline.groupby("track_id", sort=True):
        g = g.sort_values("time_s")
        t = g["time_s"].to_numpy()
        fi = g["frame_index"].to_numpy()
        video = str(g["video"].iloc[0])
        gap_after = np.concatenate([np.diff(t) > max_gap, [True]])  # a stretch cannot cross a gap
        for c in labels:
            if c in skip:
                continue
            v = g[f"smooth_{c}"].to_numpy()
            above = v >= threshold
            if not above.any():
                continue
            prev_on = np.concatenate([[False], above[:-1] & ~gap_after[:-1]])
            starts = np.flatnonzero(above & ~prev_on)
            ends = np.flatnonzero(above & (gap_after | ~np.concatenate([above[1:], [False]])))
            for a, b in zip(starts, ends):
                k = a + int(np.argmax(v[a : b + 1]))
                rows.append((video, int(tid), c, float(t[k]), int(fi[k]), float(v[k]), float(t[a]), float(t[b]), float(t[b] - t[a])))
    df = pd.DataFrame(rows, columns=PEAK_COLUMNS)
    return df.sort_values(["track_id", "emotion", "value"], ascending=[True, True, False], kind="stable").reset_index(drop=True)
