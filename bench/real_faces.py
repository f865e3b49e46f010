"""Real-video benchmark: does ``fervideo analyze`` label clear faces in real footage right?

    python bench/real_faces.py [--model A --model B ...] [--videos DIR] [--tta]
                               [--crop-transform NAME] [--json OUT.json]

``bench/real_faces.csv`` holds face boxes from the three videos in ``../shared/data/videos``
(talking_head, street_phone, stage_cuts), labelled by eye from full-resolution frames, and
only where the expression is unambiguous (a broad smile, a relaxed face); one row per labelled
face and frame: ``video, frame_index, time_s, x1, y1, x2, y2, label, note``. Only boxes and
labels are stored, never pixels. The boxes came from the project's detector (CenterFace at
320 px) and were checked by eye; the note says what was seen.

The 129 boxes show about 15 faces, and a face's boxes tend to be right or wrong together:
one face changing its label moves the accuracy by 4-8 points, so smaller differences between
two models are noise (a 5-epoch fine-tune scored 0.825 after one epoch and 0.746 after the next).
The script also prints how many faces are right on most of their boxes, the count to compare by.

These faces are a check, never training data: nothing in ``fervideo train`` or its recipes
reads this file or these videos, and models must not be selected on them beyond reporting.

For each model the script runs the real pipeline (``fervideo.analyze`` with default options
except the model and ``render=False``, which changes no label, into a temporary folder) and
matches the timeline to the labelled boxes: a timeline row of the same frame, else of the
nearest analysed time (within ``--max-dt`` seconds), overlapping the labelled box by IoU >= 0.3.
The row's ``label`` (after smoothing, what a user reads) is compared with the labelled class.
It prints accuracy over the matched boxes (per class, per video, and split by the timeline's
quality columns at the persons gate's cut-offs: near-frontal faces of 40 px or more against
the rest), coverage (labelled boxes that the pipeline tracked at all), the stage_cuts bar (share of the timeline rows of the five
audience faces from 7.9 s labelled happy) and talking_head's label shares (its happy/neutral
split, which a better model must keep).

``--crop-transform`` and ``--tta`` measure preprocessing ideas without changing analyze:
``equalize`` applies histogram equalisation to each aligned crop before the model (FER-2013's
JPEGs are contrast-equalised, video crops are not); ``standardize`` maps each crop's gray
mean and standard deviation to FER-2013's average (131 and 77 grey levels, measured on 5,000
training images); ``clahe`` is local contrast equalisation (CLAHE, clip 2, 4x4 tiles) of the
gray crop; ``grayworld`` removes a colour cast before the model's gray conversion (each channel
scaled to the crop's mean gray, for stage lighting); ``maxchannel`` feeds the brightest channel
(HSV value) instead of luma. ``--tta`` is analyze's own horizontal-flip averaging.
The transform wraps whichever classifier the pipeline builds (onnxruntime or torch).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fervideo
from fervideo.core.files import TIMELINE
from fervideo.core.geometry import box_iou

CSV = Path(__file__).resolve().parent / "real_faces.csv"
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
IOU = 0.3
AUDIENCE = ("stage_cuts_640x360.mp4", 7.9)  # the laughing audience shot starts at 7.9 s
FER_MEAN, FER_STD = 131.0, 77.0  # FER-2013 train: average per-image gray mean and std
CROP_TRANSFORMS = ("none", "equalize", "standardize", "clahe", "grayworld", "maxchannel")


def _each_gray(op):
    """A crop transform applying ``op`` to each crop's 8-bit gray image, given back as RGB."""
    import cv2

    def transform(crops: np.ndarray) -> np.ndarray:
        gray = [op(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)) for c in crops]
        return np.stack([np.repeat(g[..., None], 3, axis=2) for g in gray]) if gray else crops
    return transform


def crop_transform(name: str):
    """A function on aligned RGB crops (N, S, S, 3) uint8, or None for analyze's own input."""
    import cv2

    if name == "none":
        return None
    if name == "equalize":
        return _each_gray(cv2.equalizeHist)
    if name == "standardize":
        def standardize(crops: np.ndarray) -> np.ndarray:
            g = (crops.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            m = g.mean(axis=(1, 2, 3), keepdims=True)
            s = g.std(axis=(1, 2, 3), keepdims=True)
            # Float output on purpose: no clipping; the classifier normalises any real-valued crop.
            return np.repeat((g - m) / (s + 1.0) * FER_STD + FER_MEAN, 3, axis=3)
        return standardize
    if name == "clahe":
        return _each_gray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply)
    if name == "grayworld":
        def grayworld(crops: np.ndarray) -> np.ndarray:
            x = crops.astype(np.float32)
            means = x.mean(axis=(1, 2), keepdims=True)  # per crop and channel
            return x * (means.mean(axis=3, keepdims=True) / np.maximum(means, 1.0))
        return grayworld
    if name == "maxchannel":
        def maxchannel(crops: np.ndarray) -> np.ndarray:
            return np.repeat(crops.max(axis=3, keepdims=True), 3, axis=3)
        return maxchannel
    raise SystemExit(f"unknown --crop-transform {name!r}: {', '.join(CROP_TRANSFORMS)}")


def install_transform(fn) -> None:
    """Make the pipeline's classifier see transformed crops (this process only; a measurement).

    It wraps whatever classifier the pipeline builds (onnxruntime or torch, one model or an
    ensemble), so the transform applies on either runtime, once per crop.
    """
    from fervideo.pipeline.backends import Backends

    class Transformed:
        def __init__(self, inner) -> None:
            self._inner = inner

        def __getattr__(self, name: str):
            return getattr(self._inner, name)

        def predict(self, crops: np.ndarray) -> np.ndarray:
            return self._inner.predict(fn(crops) if len(crops) else crops)

    built = Backends.classifier.fget

    def classifier(self):
        clf = built(self)
        return clf if isinstance(clf, Transformed) else Transformed(clf)

    Backends.classifier = property(classifier)


def run_pipeline(model: str | None, videos: list[Path], out: Path, tta: bool, options: dict | None = None) -> dict[str, pd.DataFrame]:
    res = fervideo.analyze(videos, out, model=model, render=False, tta=tta, **(options or {}))
    if res.failed:
        raise SystemExit(f"analyze failed: {[(v.path, v.reason) for v in res.failed]}")
    return {Path(v.path).name: pd.read_parquet(Path(v.out_dir) / TIMELINE) for v in res.videos}


def match(labels: pd.DataFrame, timelines: dict[str, pd.DataFrame], max_dt: float) -> pd.DataFrame:
    """One row per labelled box: the matched timeline row's label and track (or none)."""
    out = []
    for r in labels.itertuples(index=False):
        tl = timelines[r.video]
        cand = tl[tl.frame_index == r.frame_index]
        if cand.empty and len(tl):
            dt = (tl.time_s - r.time_s).abs()
            if dt.min() <= max_dt:
                cand = tl[dt == dt.min()]
        pred, raw, track, iou, frontal, face_px = None, None, -1, 0.0, float("nan"), float("nan")
        if not cand.empty:
            ious = box_iou(np.array([r.x1, r.y1, r.x2, r.y2], np.float32), cand[["x1", "y1", "x2", "y2"]].to_numpy(np.float32))
            k = int(np.argmax(ious))
            if ious[k] >= IOU:
                row = cand.iloc[k]
                raws = [c for c in tl.columns if c.startswith("raw_")]
                pred, track, iou = str(row["label"]), int(row["track_id"]), float(ious[k])
                frontal, face_px = float(row["frontal"]), float(row["face_px"])
                raw = raws[int(np.argmax(row[raws].to_numpy(np.float32)))][len("raw_"):]
        out.append({**r._asdict(), "pred": pred, "raw_pred": raw, "track_id": track, "iou": iou,
                    "frontal": frontal, "face_px": face_px})
    return pd.DataFrame(out)


def score(m: pd.DataFrame, timelines: dict[str, pd.DataFrame]) -> dict:
    hit = m[m.pred.notna()]
    res: dict = {
        "labelled": len(m), "matched": len(hit),
        "accuracy": float((hit.pred == hit.label).mean()) if len(hit) else float("nan"),
        "accuracy_raw": float((hit.raw_pred == hit.label).mean()) if len(hit) else float("nan"),
        "end_to_end": float((m.pred == m.label).sum() / len(m)),
        "per_class": {}, "per_video": {},
    }
    # The boxes are about 15 faces (a labelled face's note says who), right or wrong mostly together:
    # how many faces are right on most of their boxes is the count to compare models by.
    per_face = {f"{v}: {n}": float((g.pred == g.label).mean()) for (v, n), g in m.groupby(["video", "note"])}
    res["faces"] = {"right": int(sum(a > 0.5 for a in per_face.values())), "total": len(per_face), "per_face": per_face}
    # What a researcher can filter on: the timeline's own quality columns, by the one definition
    # of a clear face the tables' clear_share and the persons gate use (core/quality.py).
    from fervideo.core.quality import CLEAR_FACE_PX, CLEAR_FRONTAL, clear

    good = clear(hit.face_px.to_numpy(), hit.frontal.to_numpy())
    res["by_quality"] = {
        name: {"boxes": int(sel.sum()), "faces": int(hit[sel].groupby(["video", "note"]).ngroups),
               "accuracy": float((hit[sel].pred == hit[sel].label).mean()) if sel.any() else float("nan")}
        for name, sel in ((f"frontal >= {CLEAR_FRONTAL} and face_px >= {CLEAR_FACE_PX:g}", good),
                          ("the rest (profile, or smaller)", ~good))
    }
    for c, g in m.groupby("label"):
        h = g[g.pred.notna()]
        res["per_class"][c] = {"correct": int((h.pred == c).sum()), "matched": len(h), "labelled": len(g),
                               "predicted": h.pred.value_counts().to_dict()}
    for v, g in m.groupby("video"):
        h = g[g.pred.notna()]
        res["per_video"][v] = {"correct": int((h.pred == h.label).sum()), "matched": len(h), "labelled": len(g)}
    # stage_cuts bar: every timeline row, from 7.9 s, of the tracks that carry a labelled audience face.
    video, start = AUDIENCE
    if video in timelines:
        tl = timelines[video]
        aud = m[(m.video == video) & (m.time_s >= start) & (m.track_id >= 0)]
        rows = tl[(tl.time_s >= start) & tl.track_id.isin(set(aud.track_id))]
        res["stage_cuts_audience"] = {
            "tracks": int(rows.track_id.nunique()), "rows": len(rows),
            "happy_share": float((rows.label == "happy").mean()) if len(rows) else float("nan"),
            "labels": rows.label.value_counts().to_dict(),
            # keyed by the note of the labelled face the track carries (which person it is)
            "per_face": {f"{aud[aud.track_id == t].note.mode().iloc[0]} (track {int(t)})": g.label.value_counts().to_dict()
                         for t, g in rows.groupby("track_id")},
        }
    th = next((v for v in timelines if v.startswith("talking_head")), None)
    if th is not None and len(timelines[th]):
        res["talking_head_shares"] = {k: round(float(v), 3) for k, v in
                                      timelines[th].label.value_counts(normalize=True).items()}
    return res


def report(name: str, res: dict) -> None:
    print(f"\n== {name}")
    print(f"accuracy {res['accuracy']:.3f} on {res['matched']}/{res['labelled']} matched boxes "
          f"(raw, before smoothing {res['accuracy_raw']:.3f}); end to end (unmatched = wrong) {res['end_to_end']:.3f}")
    f = res["faces"]
    print(f"faces right on most of their boxes: {f['right']}/{f['total']}")
    for q, s in res.get("by_quality", {}).items():
        print(f"  {q:45s} {s['accuracy']:.3f} on {s['boxes']} boxes ({s['faces']} faces)")
    for c, s in res["per_class"].items():
        print(f"  {c:8s} {s['correct']:3d}/{s['matched']:<3d} (labelled {s['labelled']}) predicted {s['predicted']}")
    for v, s in res["per_video"].items():
        acc = s["correct"] / s["matched"] if s["matched"] else float("nan")
        print(f"  {v:28s} {acc:.3f}  {s['correct']}/{s['matched']} (labelled {s['labelled']})")
    a = res.get("stage_cuts_audience")
    if a:
        print(f"  stage_cuts audience from {AUDIENCE[1]} s: {a['tracks']} tracks, {a['rows']} rows, "
              f"happy {a['happy_share']:.3f}  {a['labels']}")
        for face, counts in a["per_face"].items():
            print(f"    {face}: {counts}")
    if "talking_head_shares" in res:
        print(f"  talking_head label shares: {res['talking_head_shares']}")


def _value(text: str):
    """``--option`` values: JSON where they parse (numbers, true/false, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="model dir / embedded name / hub id (repeat); default: the embedded default")
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--tta", action="store_true", help="analyze's horizontal-flip test-time augmentation")
    ap.add_argument("--crop-transform", default="none", choices=CROP_TRANSFORMS, help="see the docstring")
    ap.add_argument("--max-dt", type=float, default=0.1, help="seconds from a labelled frame to the nearest analysed one")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="an analyze option other than its default (repeat), e.g. detect_max_interval=0")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    labels = pd.read_csv(args.csv)
    videos = [args.videos / v for v in sorted(labels.video.unique())]
    missing = [str(v) for v in videos if not v.exists()]
    if missing:
        raise SystemExit(f"videos not found: {', '.join(missing)} (give --videos DIR)")
    options = {k: _value(v) for k, v in (o.split("=", 1) for o in args.option)}
    fn = crop_transform(args.crop_transform)
    if fn is not None:
        install_transform(fn)
    results = {}
    for model in args.model or [None]:
        name = model or "default"
        with tempfile.TemporaryDirectory(prefix="real_faces_") as tmp:
            timelines = run_pipeline(model, videos, Path(tmp), args.tta, options)
        res = score(match(labels, timelines, args.max_dt), timelines)
        res["conditions"] = {"tta": args.tta, "crop_transform": args.crop_transform, **options}
        results[name] = res
        report(f"{name}  (tta={args.tta}, crop transform {args.crop_transform}, options {options or 'default'})", res)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
