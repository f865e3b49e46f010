"""Job arrays: slice K of N of a batch, so N independent processes share one output folder.

A cluster scheduler's job array (``sbatch --array=0-99``) starts N copies of one command that
differ only in their index; each must take its own videos without talking to the others. A
video belongs to slice ``sha1(its absolute path) mod N``, a function of that video alone: the
same in every process whatever the order of the command line (a shell glob, a file list) and
whatever the other inputs or the state of the output folder, so a video is never left out by
every slice nor taken by two, even when the copies see slightly different lists (a file that
appeared meanwhile). Not the output folder name: that depends on the other inputs (stems that
collide) and on the folders already in the output. Not the file name: data sets often name
every session's file alike (``subj01/video.mp4``, ``subj02/video.mp4``). The nodes must reach
the videos by the same path (a shared file system mounted at one place). Slices are balanced
by the hash, not exactly (about sqrt(videos per slice) apart).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fervideo.core.errors import ConfigError


def parse(spec: str) -> tuple[int, int]:
    """``"K/N"`` (0 <= K < N, as SLURM_ARRAY_TASK_ID counts from ``--array=0-...``) to ``(K, N)``."""
    k_text, sep, n_text = spec.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ConfigError(f"--shard {spec!r}: write K/N, e.g. --shard 3/100 for slice 3 of 100 (K from 0 to N-1)") from None
    if n < 1 or not 0 <= k < n:
        raise ConfigError(f"--shard {spec!r}: K must be from 0 to N-1 "
                          f"(a job array --array=0-{max(n, 1) - 1} passes --shard $SLURM_ARRAY_TASK_ID/{max(n, 1)})")
    return k, n


def shard_of(path: Path, n: int) -> int:
    """The slice (0..n-1) of the video ``path``; sha1, so equal on every machine and Python."""
    key = str(Path(path).resolve()).encode()
    return int.from_bytes(hashlib.sha1(key).digest()[:8], "big") % n


def select(paths: list[Path], spec: str) -> list[Path]:
    """The inputs of slice ``spec`` (``"K/N"``), in their given order."""
    k, n = parse(spec)
    return [p for p in paths if shard_of(p, n) == k]
