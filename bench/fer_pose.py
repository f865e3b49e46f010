"""How does a model's FER-2013 accuracy depend on head pose? (not a test)

    python bench/fer_pose.py [--model A --model B ...] [--data PATH] [--counts-only]

The real-video benchmark's misses are mostly faces in true profile (``bench/real_faces.py``:
near-frontal faces of 40 px or more right on 96.5% of their boxes, the rest on 50%). This
asks how many turned faces FER-2013 has to learn from, and how well a model reads the ones it
has. Each val image (48 x 48) is enlarged 3x into a 256 x 256 gray frame and put through the
analysis' own detector (CenterFace at 320 px); the frontal score of its most confident face is
``fervideo.core.quality.frontal`` (1 = nose midway between the eyes, 0 = a profile), the same
score the timeline's ``frontal`` column carries. Images without a detection are their own
bucket. Then each model scores the val set as ``fervideo evaluate`` does (plain torch path) and
the accuracy and happy recall are printed per frontal-score bucket.

The frontal scores come from ``fervideo.train.pose.frontal_scores`` (what ``fervideo train
--pose-balance`` uses), cached in ``~/.cache/fervideo/pose`` (about a minute for the val split on
this 2-core machine, five for the train split: ``--data .../train.parquet --counts-only``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAL = ROOT.parent / "shared" / "data" / "fer2013" / "val.parquet"
BUCKETS = [("<0.3", 0.0, 0.3), ("0.3-0.5", 0.3, 0.5), ("0.5-0.75", 0.5, 0.75), (">=0.75", 0.75, 1.01)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="model dir / embedded name (repeat); default: the embedded default")
    ap.add_argument("--data", "--val", dest="data", type=Path, default=VAL,
                    help="the images to score (default FER-2013 val; the train split for its pose counts)")
    ap.add_argument("--counts-only", action="store_true", help="only the images per pose bucket (and their happy ones)")
    a = ap.parse_args()

    from fervideo.train.data import load_parquet
    from fervideo.train.evaluate import _classifier, to_crops
    from fervideo.train.pose import frontal_scores

    data = load_parquet(a.data)
    fr = frontal_scores(data.images)
    found = np.isfinite(fr)
    print(f"{len(fr)} images: no face found on {int((~found).sum())}; frontal score "
          + ", ".join(f"{name} {int(((fr >= lo) & (fr < hi)).sum())}" for name, lo, hi in BUCKETS))
    if a.counts_only:
        happy = data.labels == data.classes.index("happy")
        for name, lo, hi in [("<0.1", 0.0, 0.1), ("0.1-0.3", 0.1, 0.3)] + BUCKETS[1:]:
            m = (fr >= lo) & (fr < hi)
            print(f"  frontal {name:9s} {int(m.sum()):5d} images, {int((m & happy).sum()):4d} happy")
        return
    for model in a.model or ["fervit-fer2013"]:
        clf = _classifier(model, "cpu", 64, False, "torch", "auto")
        sub = data.remap(clf.labels)
        ok = clf.predict(to_crops(sub.images, clf.input_size)).argmax(1) == sub.labels
        happy = sub.labels == clf.labels.index("happy")
        print(f"\n== {model}: accuracy {ok.mean():.4f}")
        for name, m in [("no face", ~found)] + [(n, (fr >= lo) & (fr < hi)) for n, lo, hi in BUCKETS]:
            print(f"  frontal {name:9s} {int(m.sum()):5d} images  accuracy {ok[m].mean():.4f}"
                  f"  happy recall {ok[m & happy].mean():.3f} ({int((m & happy).sum())})")


if __name__ == "__main__":
    main()
