"""FER-2013-like tables with FER+ votes for them, generated (no ../shared): for the vote-head tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fervideo.train.data import encode_png
from fervideo.train.votes import VOTE_COLUMNS


def fer_split(directory: Path, name: str, n: int, seed: int, votes_dir: Path | None = None) -> tuple[Path, Path, np.ndarray]:
    """``name.parquet`` (happy / sad by which half is bright) and ``name-votes.parquet`` for it.

    The votes disagree with the FER-2013 label on every fifth image (FER+ re-labelled about a
    quarter of FER-2013: neutral there), and the last four rows tie, so they have no majority
    and must not count. Returns both paths and the majority vote column of each row."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    imgs = rng.integers(0, 60, (n, 48, 48), dtype=np.uint8)
    imgs[y == 0, :24] += 150
    imgs[y == 1, 24:] += 150
    names = [f"{name}{i:06d}.png" for i in range(n)]
    labels = np.array(["happy", "sad"])[y]
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / f"{name}.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": labels.tolist(), "source_name": names}), data)
    col = {c: np.zeros(n, np.int64) for c in [*VOTE_COLUMNS, "votes_unknown", "votes_nf"]}
    majority = np.where(y == 0, "votes_happiness", "votes_sadness")
    majority[::5] = "votes_neutral"
    for i, m in enumerate(majority):
        col[m][i] = 8
        col["votes_anger"][i] = 2
    tie = slice(n - 4, n)
    for v in col.values():
        v[tie] = 0
    col["votes_happiness"][tie] = 5
    col["votes_sadness"][tie] = 5
    votes_dir = votes_dir or directory
    votes_dir.mkdir(parents=True, exist_ok=True)
    votes = votes_dir / (f"{name}-votes.parquet" if votes_dir == directory else f"{name}.parquet")
    pq.write_table(pa.table({**col, "image": [encode_png(i) for i in imgs], "source_name": names}), votes)
    return data, votes, majority
