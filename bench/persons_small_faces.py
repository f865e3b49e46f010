"""How close do different people's small faces come in the embedder's space? (not a test)

    python bench/persons_small_faces.py [--n 600] [--paste 96] [--sheet closest.png]

The persons stage joins tracks whose faces are closer than a threshold (dlib: 0.40), and a
wrong merge mixes two people's emotions. The issue's evidence for 0.40 came from faces of 90 px
and more; video has smaller ones. This takes ``--n`` FER-2013 val faces (48 x 48 px: the real
resolution of a small face in video; ``../shared/data/fer2013/val.parquet``), pastes each,
enlarged to ``--paste`` px, into a 640 x 360 gray frame, runs the analysis' own detector and the
persons stage's quality gate (size, detector score, frontal, contrast) and embeds the faces that
pass, as analyze would. It prints how many pairs fall below 0.40, 0.45 and 0.50 and writes the
closest pairs, side by side, to ``--sheet``, to be read by eye: FER-2013 has no identities,
and it holds near-duplicates of one person, so whether a close pair is one person or two is
for the eye to say (see the README's Persons section for what it said).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAL = ROOT.parent / "shared" / "data" / "fer2013" / "val.parquet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--val", type=Path, default=VAL)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--paste", type=int, default=96, help="px the 48 px face is enlarged to in the frame")
    ap.add_argument("--sheet", type=Path, default=Path("persons_small_faces.png"))
    ap.add_argument("--from-distance", type=float, default=0.0, help="sheet: closest pairs from this distance on")
    a = ap.parse_args()

    import pyarrow.parquet as pq
    from PIL import Image
    from scipy.spatial.distance import pdist, squareform

    from fervideo.core.types import Faces, FrameTime
    from fervideo.stages.detect import create
    from fervideo.stages.embed.dlib_resnet import DlibEmbedder
    from fervideo.stages.persons import QualityGate

    col = pq.read_table(a.val, columns=["image"]).slice(0, a.n).column("image").to_pylist()
    faces48 = [np.array(Image.open(io.BytesIO(b["bytes"] if isinstance(b, dict) else b)).convert("L")) for b in col]
    det, gate = create("centerface", size=320, device="cpu"), QualityGate()
    frames, kept, found = [], [], []
    s = a.paste
    for i, im in enumerate(faces48):
        frame = np.full((360, 640), 110, np.uint8)
        y0, x0 = 180 - s // 2, 320 - s // 2
        frame[y0 : y0 + s, x0 : x0 + s] = np.array(Image.fromarray(im).resize((s, s), Image.BICUBIC))
        rgb = np.repeat(frame[..., None], 3, 2)
        f = det.detect([rgb], [FrameTime(0, 0.0)])
        if len(f) == 0:
            continue
        one = f[np.array([int(np.argmax(f.scores))])]
        if gate.quality(one)[0] > 0 and gate.contrast(rgb, one.boxes[0]) >= gate.min_contrast:
            frames.append(rgb)
            kept.append(i)
            found.append(one)
    from fervideo.core.quality import face_size

    boxes = face_size(Faces.concat(found).boxes) if found else np.zeros(0)
    print(f"{len(faces48)} FER-2013 val faces (48 px) enlarged to {s} px in 640x360 frames: {len(kept)} pass the persons gate "
          f"(detected boxes {np.median(boxes) if len(boxes) else 0:.0f} px on their shorter side, median: 48 px of detail in them)")
    emb = DlibEmbedder().embed(frames, Faces.concat(found))
    d_full = squareform(pdist(emb))
    iu = np.triu_indices(len(emb), 1)
    d = d_full[iu]
    print(f"{len(d)} pairs: below 0.40 {int((d < 0.40).sum())}, below 0.45 {int((d < 0.45).sum())}, "
          f"below 0.50 {int((d < 0.50).sum())}; 0.1% quantile {np.quantile(d, 0.001):.3f}, median {np.median(d):.3f}")
    order = [k for k in np.argsort(d) if d[k] >= a.from_distance][:16]
    rows = []
    for k in order:
        i, j = kept[iu[0][k]], kept[iu[1][k]]
        print(f"  val rows {i} and {j}: {d[k]:.3f}")
        rows.append(np.hstack([faces48[i], np.full((48, 4), 255, np.uint8), faces48[j]]))
    if rows:
        sheet = np.vstack([np.pad(r, ((2, 2), (0, 0)), constant_values=255) for r in rows])
        Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.NEAREST).save(a.sheet)
        print(f"closest pairs, top to bottom: {a.sheet}")


if __name__ == "__main__":
    main()
