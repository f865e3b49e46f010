"""Head pose of training images, and loss weights that keep pose from predicting the label.

FER-2013's turned faces are not labelled like its frontal ones: of its training images whose
frontal score (``fervideo.core.quality.frontal``, through the analysis' own detector) is under
0.1, 23% are angry and 27% sad but 12% happy, against 13%, 14% and 27% of those at 0.75 or
more. A network that can see pose (and every network can) learns "turned, so angry or sad", and
in video that is what it said of an audience's smiling profiles. ``pose_balance_weights`` gives
each image the weight ``p(label) / p(label | pose bucket)``, so that within every pose bucket the
labels weigh as they do over the whole set (``fervideo train --pose-balance``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Frontal-score bucket edges; images where the detector found no face are a bucket of their own.
POSE_EDGES = (0.3, 0.5, 0.75)
#: Weights are clipped to this range before normalising to mean 1: a class with a handful of
#: images in a small bucket (disgust among the profiles) would otherwise weigh tens of times more.
WEIGHT_RANGE = (0.25, 4.0)


def cache_dir() -> Path:
    return Path.home() / ".cache" / "fervideo" / "pose"


def frontal_scores(images: np.ndarray, enlarge: int = 3, frame: int = 256, cache: Path | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Frontal score per gray image (N, H, W) uint8, NaN where no face was found; cached by content.

    Each image is enlarged ``enlarge`` times into a ``frame`` x ``frame`` gray canvas (a 48 px
    face alone is below CenterFace's range) and put through the analysis' detector (CenterFace
    at 320 px); the score is that of its most confident face, as the timeline's ``frontal``
    column has it. About five minutes for FER-2013's 28,709 training images on a 2-core CPU.
    """
    from PIL import Image

    from fervideo.core.quality import frontal
    from fervideo.core.types import FrameTime
    from fervideo.stages.detect import create

    key = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]
    cached = (cache or cache_dir()) / f"frontal_{key}_{enlarge}_{frame}.npy"
    if cached.exists():
        scores = np.load(cached)
        if len(scores) == len(images):
            return scores
    det = create("centerface", size=320, device="cpu")
    side = images.shape[1] * enlarge
    off = (frame - side) // 2
    out = np.full(len(images), np.nan, np.float32)
    for start in range(0, len(images), 16):
        frames = []
        for im in images[start : start + 16]:
            canvas = np.full((frame, frame), 110, np.uint8)
            canvas[off : off + side, off : off + side] = np.array(Image.fromarray(im).resize((side, side), Image.BICUBIC))
            frames.append(np.repeat(canvas[..., None], 3, 2))
        found = det.detect(frames, [FrameTime(i, 0.0) for i in range(len(frames))])
        for k in range(len(frames)):
            rows = np.flatnonzero(found.frame_index == k)
            if len(rows):
                best = rows[np.argmax(found.scores[rows])]
                out[start + k] = frontal(found.landmarks[best : best + 1])[0]
        if progress:
            progress(min(start + 16, len(images)), len(images))
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(cached)
    return out


def pose_buckets(scores: np.ndarray) -> np.ndarray:
    """Bucket per image: 0 = no face found, then 1.. by ``POSE_EDGES`` (1 = most turned)."""
    s = np.asarray(scores, np.float64)
    found = np.isfinite(s)
    return np.where(found, 1 + np.searchsorted(POSE_EDGES, np.nan_to_num(s), side="right"), 0)


def bucket_names() -> list[str]:
    """Names of ``pose_buckets``' values, in order (0 = no face found)."""
    edges = (0.0, *POSE_EDGES)
    return ["no face", f"frontal < {edges[1]:g}"] + [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[1:], edges[2:])] + [f">= {edges[-1]:g}"]


def pose_balance_weights(labels: np.ndarray, scores: np.ndarray, n_classes: int) -> np.ndarray:
    """Per image ``p(label) / p(label | bucket)``, clipped to ``WEIGHT_RANGE``, mean 1."""
    labels = np.asarray(labels)
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} pose scores")
    b = pose_buckets(scores)
    overall = np.bincount(labels, minlength=n_classes) / len(labels)
    w = np.ones(len(labels), np.float64)
    for k in np.unique(b):
        m = b == k
        within = np.bincount(labels[m], minlength=n_classes) / m.sum()
        w[m] = overall[labels[m]] / within[labels[m]]
    w = np.clip(w, *WEIGHT_RANGE)
    return (w / w.mean()).astype(np.float32)
