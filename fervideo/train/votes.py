"""Crowd vote distributions (FER+) as training targets for a second classifier head.

FER+ (Barsoum et al. 2016) re-labelled every FER-2013 image with 10 annotators over 8
emotions plus "unknown" and "not a face". Its reader (microsoft/FERPlus ``ferplus.py``)
treats single votes as outliers (a count of 1 becomes 0) and keeps an image only when one
category holds more than half of the remaining votes and that category is an emotion. The
targets follow its training modes:

* ``majority``: one-hot of the majority emotion;
* ``probability``: a label drawn from the vote distribution, anew at every step;
* ``crossentropy``: the vote distribution itself as a soft target.

Rows are matched to a FER-2013 table by ``source_name`` (both files carry it), so the same
images can train a FER-2013 head and a FER+ head at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervideo.core.errors import DataError

#: FER+ vote columns in canonical order (angry, disgust, fear, happy, sad, surprise, neutral, contempt).
VOTE_COLUMNS: tuple[str, ...] = (
    "votes_anger",
    "votes_disgust",
    "votes_fear",
    "votes_happiness",
    "votes_sadness",
    "votes_surprise",
    "votes_neutral",
    "votes_contempt",
)
VOTE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
VOTE_MODES: tuple[str, ...] = ("crossentropy", "probability", "majority")


@dataclass
class VoteTargets:
    """Per-row emotion vote distribution (N, 8), majority label (N,; -1 = none) and a mask."""

    dist: np.ndarray
    majority: np.ndarray
    classes: list[str]

    def __post_init__(self) -> None:
        if self.dist.ndim != 2 or self.dist.shape[1] != len(self.classes):
            raise DataError(f"vote distribution of shape {self.dist.shape} does not match {len(self.classes)} classes")
        if len(self.majority) != len(self.dist):
            raise DataError("vote distribution and majority labels differ in length")

    @property
    def mask(self) -> np.ndarray:
        return self.majority >= 0

    def __len__(self) -> int:
        return len(self.dist)


def process_votes(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FER+'s rule on (N, 10) counts (8 emotions, unknown, not-a-face): distribution and majority.

    Returns the distribution over the 8 emotions (rows without a valid majority are zero)
    and the majority emotion index or -1.
    """
    c = np.where(counts == 1, 0, counts).astype(np.float32)
    total = c.sum(1)
    top = c.argmax(1)
    ok = (c.max(1) > 0.5 * total) & (top < 8) & (total > 0)
    emo = c[:, :8]
    s = emo.sum(1, keepdims=True)
    dist = np.where(ok[:, None] & (s > 0), emo / np.maximum(s, 1e-9), 0.0).astype(np.float32)
    return dist, np.where(ok, top, -1).astype(np.int64)


def load_votes(votes_path: str | Path, names_path: str | Path) -> VoteTargets:
    """Votes of ``votes_path`` (FER+ Parquet) aligned to the rows of ``names_path`` by ``source_name``.

    Rows of ``names_path`` without votes get majority -1 (no loss on the vote head).
    """
    import pyarrow.parquet as pq

    vp, np_ = Path(votes_path), Path(names_path)
    for p in (vp, np_):
        if not p.exists():
            raise DataError(f"{p}: no such file")
    vt = pq.read_table(vp)
    need = [*VOTE_COLUMNS, "votes_unknown", "votes_nf", "source_name"]
    missing = [c for c in need if c not in vt.column_names]
    if missing:
        raise DataError(f"{vp}: not a FER+ vote table (missing columns {', '.join(missing)})")
    names = pq.read_table(np_, columns=["source_name"]).column("source_name").to_pylist() if "source_name" in pq.read_schema(np_).names else None
    if names is None:
        raise DataError(f"{np_}: no source_name column to match the votes of {vp} to its rows")
    counts = np.stack([vt.column(c).to_numpy().astype(np.int64) for c in [*VOTE_COLUMNS, "votes_unknown", "votes_nf"]], 1)
    dist, maj = process_votes(counts)
    index = {n: i for i, n in enumerate(vt.column("source_name").to_pylist())}
    rows = np.array([index.get(n, -1) for n in names])
    have = rows >= 0
    out_dist = np.zeros((len(names), 8), np.float32)
    out_maj = np.full(len(names), -1, np.int64)
    out_dist[have] = dist[rows[have]]
    out_maj[have] = maj[rows[have]]
    if not (out_maj >= 0).any():
        raise DataError(f"{vp}: no row of {np_} has a FER+ majority label (do the source_name values match?)")
    return VoteTargets(out_dist, out_maj, list(VOTE_CLASSES))


def vote_targets(dist: "np.ndarray | object", mode: str, gen=None):
    """Training targets (B, 8) from vote distributions (B, 8) in torch, by FER+ mode."""
    import torch

    if mode == "crossentropy":
        return dist
    if mode == "majority":
        return torch.nn.functional.one_hot(dist.argmax(-1), dist.shape[-1]).to(dist.dtype)
    if mode == "probability":
        safe = torch.where(dist.sum(-1, keepdim=True) > 0, dist, torch.ones_like(dist))
        draw = torch.multinomial(safe.cpu(), 1, generator=gen).flatten().to(dist.device)
        return torch.nn.functional.one_hot(draw, dist.shape[-1]).to(dist.dtype)
    raise DataError(f"unknown vote mode {mode!r}; valid: {', '.join(VOTE_MODES)}")


def with_majority_labels(data, votes: VoteTargets):
    """``data`` (a ``FaceImages`` with ``votes`` aligned to its rows) relabelled by the FER+
    majority, keeping only the rows that have one: what FER+ accuracy is measured on."""
    from fervideo.train.data import FaceImages

    if len(votes) != len(data):
        raise DataError(f"{data.source}: {len(data)} images but {len(votes)} vote rows")
    keep = votes.mask
    return FaceImages(data.images[keep], votes.majority[keep], list(votes.classes), f"{data.source} (FER+ majority labels)")
