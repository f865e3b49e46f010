"""What the adaptive detection schedule saves, and what it changes in the timeline (not a test).

    python bench/detect_schedule.py [VIDEOS...] [--fps 10] [--max-interval 0.5 1.0]

Also with ``--detect-size-auto`` (per-shot detector size), alone and with the last max interval.

For each video: ``analyze`` with a detection on every analysed frame (the reference), with the
fixed schedule (a detection every ``--detect-interval``, the tracker bridging the frames
between) and with the adaptive one at each ``--max-interval``; no annotated video, persons
off, after one warm-up run (so imports and model loading are not billed to the first). Prints
detections run and skipped, CPU seconds of the analysis, and how each timeline compares with
the reference, row by row (same frame, same face: box IoU >= 0.3):

- rows: rows of the fixed timeline that have a matching adaptive row (and the other way);
- box IoU: median and 5th percentile over matched rows;
- label agreement: share of matched rows with the same smoothed label;
- |prob diff|: mean absolute difference of the smoothed probabilities.

Defaults to ../shared/data/videos/*.mp4 and the generated 720p multi-face clip.
"""

from __future__ import annotations

import argparse
import glob
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(video: str, fps: float, max_interval: float, interval: float, size_auto: bool = False):
    import pyarrow.parquet as pq

    import fervideo

    with tempfile.TemporaryDirectory() as d:
        c, w = _cpu(), time.perf_counter()
        r = fervideo.analyze([video], d, fps=fps, detect_interval=interval, detect_max_interval=max_interval,
                             detect_size_auto=size_auto, render=False, persons=False, overwrite=True)
        wall, cpu = time.perf_counter() - w, _cpu() - c
        v = r.videos[0]
        if v.status != "done":
            sys.exit(f"{video}: {v.reason}")
        tl = pq.read_table(Path(d) / Path(video).stem / "timeline.parquet")
        import json

        meta = json.loads(tl.schema.metadata[b"fervideo"])
        return tl.to_pandas(), meta, wall, cpu


def compare(a, b, labels: list[str]) -> dict:
    """Row matches of timeline ``b`` against ``a`` (same frame, box IoU >= 0.3)."""
    from fervideo.core.geometry import box_iou

    sm = [f"smooth_{c}" for c in labels]
    ious, same, diffs, matched_a = [], [], [], 0
    bf = {f: g for f, g in b.groupby("frame_index")}
    for f, ga in a.groupby("frame_index"):
        gb = bf.get(f)
        if gb is None:
            continue
        bb = gb[["x1", "y1", "x2", "y2"]].to_numpy()
        for _, row in ga.iterrows():
            iou = box_iou(row[["x1", "y1", "x2", "y2"]].to_numpy(float), bb.astype(float))
            k = int(np.argmax(iou))
            if iou[k] < 0.3:
                continue
            matched_a += 1
            ious.append(iou[k])
            same.append(row["label"] == gb.iloc[k]["label"])
            diffs.append(np.abs(row[sm].to_numpy(float) - gb.iloc[k][sm].to_numpy(float)).mean())
    return {
        "matched": matched_a / max(len(a), 1),
        "iou_med": float(np.median(ious)) if ious else 0.0,
        "iou_p5": float(np.percentile(ious, 5)) if ious else 0.0,
        "agree": float(np.mean(same)) if same else 0.0,
        "pdiff": float(np.mean(diffs)) if diffs else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--detect-interval", type=float, default=0.1)
    ap.add_argument("--max-interval", type=float, nargs="+", default=[0.5, 1.0])
    a = ap.parse_args()
    videos = a.videos
    if not videos:
        import make_multiface

        videos = sorted(glob.glob(str(ROOT.parent / "shared/data/videos/*.mp4"))) + [str(make_multiface.ensure())]
    run(videos[0], a.fps, 0.0, a.detect_interval)  # warm-up: imports, model loading
    for v in videos:
        ref, meta, wall, cpu = run(v, a.fps, 0.0, 1e-3)
        labels = meta["labels"]
        print(f"\n{Path(v).name} --fps {a.fps:g}: detection on every analysed frame: {meta['detection_frames']} detections,"
              f" {len(ref)} rows, {cpu:.1f} cpu-s ({wall:.1f} s wall)")
        configs = [("fixed schedule", 0.0, False)] + [(f"adaptive, max interval {m:g} s", m, False) for m in a.max_interval]
        configs += [("--detect-size-auto", 0.0, True), (f"adaptive {a.max_interval[-1]:g} s + --detect-size-auto", a.max_interval[-1], True)]
        for name, mi, auto in configs:
            tl, m2, wall2, cpu2 = run(v, a.fps, mi, a.detect_interval, auto)
            c = compare(ref, tl, labels)
            back = compare(tl, ref, labels)["matched"]
            sizes = f", sizes {m2['detection_sizes']}" if m2.get("detection_sizes") else ""
            print(f"  {name}: {m2['detection_frames']} detections ({m2.get('detections_skipped', 0)} skipped{sizes}), {len(tl)} rows,"
                  f" {cpu2:.1f} cpu-s ({wall2:.1f} s wall); rows matched {c['matched']:.3f} / {back:.3f};"
                  f" box IoU median {c['iou_med']:.3f}, p5 {c['iou_p5']:.3f}; label agreement {c['agree']:.3f};"
                  f" mean |smoothed prob diff| {c['pdiff']:.4f}", flush=True)


if __name__ == "__main__":
    main()
