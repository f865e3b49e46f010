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

import numpy as np
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
    """Peaks of every non-neutral emotion of every track, from a timeline table."""
    rows = []
    for tid, g in timeline.groupby("track_id", sort=True):
        g = g.sort_values("time_s")
        t = g["time_s"].to_numpy()
        fi = g["frame_index"].to_numpy()
        video = str(g["video"].iloc[0])
        gap_break = np.concatenate([[False], np.diff(t) > max_gap])
        for c in labels:
            if c in skip:
                continue
            v = g[f"smooth_{c}"].to_numpy()
            above = v >= threshold
            start = None
            for i in range(len(v) + 1):
                on = i < len(v) and above[i] and not (start is not None and gap_break[i])
                if on and start is None:
                    start = i
                elif not on and start is not None:
                    seg = slice(start, i)
                    k = start + int(np.argmax(v[seg]))
                    rows.append({"video": video, "track_id": int(tid), "emotion": c, "time_s": float(t[k]),
                                 "frame_index": int(fi[k]), "value": float(v[k]), "start_s": float(t[start]),
                                 "end_s": float(t[i - 1]), "duration_s": float(t[i - 1] - t[start])})
                    start = i if (i < len(v) and above[i]) else None
    df = pd.DataFrame(rows, columns=PEAK_COLUMNS)
    return df.sort_values(["track_id", "emotion", "value"], ascending=[True, True, False], kind="stable").reset_index(drop=True)
