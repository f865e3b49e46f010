"""Persons across repeated shots of real footage: pairwise precision and recall (not a test).

    python bench/persons_cuts.py [--videos DIR] [--keep CLIP.mp4] [--option NAME=VALUE ...]

Issue 10's bar is measured on a withheld multi-shot recording (pairwise precision >= 0.95,
recall >= 0.70). None of the three real videos beside the project repeats a shot, so this
script makes one that does: it cuts the real videos in ``../shared/data/videos`` into
segments and interleaves them (shot / reverse-shot: the woman of talking_head, the performer of
stage_cuts' medium shot and the woman of street_phone, each returning several times), all at
640x360 and 29.97 frames/s. Each segment shows one person, so the ground truth is the segment's
person; in each analysed frame the largest face is the segment's person, and smaller faces
(none were seen, but a detector can fire on a poster) are left out of the scores.

It runs ``fervideo.analyze`` with default options (``render=False``, which changes no id) and
prints, over the timeline rows of those faces, pairwise precision and recall of ``person_id``
(pairs of rows given one person id that are one person; pairs of rows of one person given one
id) and, for comparison, of ``track_id`` (which never crosses a cut), plus how many tracks and
persons each true person got. The clip is cached in ``~/.cache/fervideo/bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
CACHE = Path.home() / ".cache" / "fervideo" / "bench"
SIZE = (640, 360)

#: (source video, start s, end s, person): each segment shows one person, and each person comes back.
SEGMENTS = [
    ("talking_head_596x336.mp4", 0.0, 3.0, "woman_interview"),
    ("stage_cuts_640x360.mp4", 3.9, 5.4, "performer"),
    ("talking_head_596x336.mp4", 3.0, 6.0, "woman_interview"),
    ("street_phone_596x336.mp4", 0.0, 2.3, "woman_phone"),
    ("stage_cuts_640x360.mp4", 5.4, 6.9, "performer"),
    ("talking_head_596x336.mp4", 6.0, 9.0, "woman_interview"),
    ("street_phone_596x336.mp4", 2.3, 4.6, "woman_phone"),
    ("talking_head_596x336.mp4", 9.0, 12.0, "woman_interview"),
    ("stage_cuts_640x360.mp4", 6.9, 7.8, "performer"),
    ("talking_head_596x336.mp4", 12.0, 15.0, "woman_interview"),
]


def _segment_frames(path: Path, start: float, end: float) -> list[np.ndarray]:
    import av
    import cv2

    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            t = float(f.pts * s.time_base)
            if start <= t < end:
                out.append(cv2.resize(f.to_ndarray(format="rgb24"), SIZE, interpolation=cv2.INTER_AREA))
    return out


def make_clip(videos: Path, dest: Path) -> list[tuple[int, int, str]]:
    """Write the interleaved clip; returns (first frame, end frame, person) per segment."""
    import av

    spans, n = [], 0
    tmp = dest.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(30000, 1001))  # 29.97 frames/s, whatever the source's
        s.width, s.height, s.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        s.options = {"crf": "18", "preset": "fast"}
        for name, t0, t1, person in SEGMENTS:
            frames = _segment_frames(videos / name, t0, t1)
            if not frames:
                raise SystemExit(f"{name}: no frames between {t0} and {t1} s")
            for fr in frames:
                for p in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                    c.mux(p)
            spans.append((n, n + len(frames), person))
            n += len(frames)
        for p in s.encode():
            c.mux(p)
    tmp.replace(dest)
    dest.with_suffix(".json").write_text(json.dumps(spans))
    return spans


def pairwise(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering ``pred`` against ``truth`` (one label per row)."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1), np.int64)
    np.add.at(table, (t, p), 1)
    pairs = lambda x: (x * (x - 1) // 2).sum()  # noqa: E731
    both = pairs(table)
    same_pred, same_truth = pairs(table.sum(0)), pairs(table.sum(1))
    return (both / same_pred if same_pred else 1.0), (both / same_truth if same_truth else 1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--keep", type=Path, help="also copy the clip here")
    ap.add_argument("--option", action="append", default=[], help="an analyze option other than its default, NAME=VALUE")
    args = ap.parse_args()
    import pandas as pd

    import fervideo
    from fervideo.core.files import TIMELINE

    CACHE.mkdir(parents=True, exist_ok=True)
    clip = CACHE / "persons_cuts_640x360.mp4"
    if clip.exists() and clip.with_suffix(".json").exists():
        spans = [tuple(s) for s in json.loads(clip.with_suffix(".json").read_text())]
    else:
        spans = make_clip(args.videos, clip)
    if args.keep:
        args.keep.write_bytes(clip.read_bytes())
    from real_faces import _value  # bench/ is this script's folder

    options = {k: _value(v) for k, v in (o.split("=", 1) for o in args.option)}
    with tempfile.TemporaryDirectory() as tmp:
        res = fervideo.analyze([clip], tmp, render=False, **options)
        if res.failed:
            raise SystemExit(f"analyze failed: {[(v.path, v.reason) for v in res.failed]}")
        tl = pd.read_parquet(Path(tmp) / clip.stem / TIMELINE)
    area = (tl.x2 - tl.x1) * (tl.y2 - tl.y1)
    tl = tl.assign(area=area).sort_values("area", ascending=False).drop_duplicates("frame_index")
    person_of = np.empty(spans[-1][1], object)
    for a, b, who in spans:
        person_of[a:b] = who
    tl = tl.assign(truth=person_of[tl.frame_index.to_numpy()])
    out = {"clip": str(clip), "frames": int(spans[-1][1]), "rows_scored": len(tl)}
    for col in ("person_id", "track_id"):
        prec, rec = pairwise(tl.truth.to_numpy(), tl[col].to_numpy())
        out[col] = {"pairwise_precision": round(float(prec), 4), "pairwise_recall": round(float(rec), 4)}
    out["per_person"] = {
        who: {"tracks": int(g.track_id.nunique()), "persons": int(g.person_id.nunique()), "rows": len(g),
              "frames": int(sum(b - a for a, b, w in spans if w == who))}
        for who, g in tl.groupby("truth")
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
