"""Which augmentation ingredients help on FER-2013 val and on real video? (issue 9)

Each variant fine-tunes the same starting model with the same seed, schedule and data for a
few epochs, with the video recipe (``fervideo train``'s default) minus one group of
ingredients (``--augment-off``), plus the full recipe and the plain one (FER-2013's geometry
and photometry only, ``--no-video-augment``). Each is then scored on FER-2013 val (the best
epoch of its ``training.json``) and, unless ``--no-real-faces``, on the real-video benchmark
(``bench/real_faces.py``: boxes right, faces right, the laughing audience's happy share).
A short fine-tune measures what an ingredient does to a trained network, not what it does
over a whole run; the ``full@seedN`` and ``plain@seedN`` replicas give the noise to read the
differences against (and the main comparison, video recipe against plain, at several seeds).

Resumable: a variant whose ``training.json`` (and ``real_faces.json``) exists is not run
again, so the script can be restarted after an interruption. The table goes to
``ROOT/ablation.md`` and ``ROOT/ablation.csv``.

    python recipes/augment_ablation.py --root ~/fervideo-runs/ablation --epochs 2
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: leave-one-group-out variants: name -> the ingredients switched off (`--augment-off`)
GROUPS: dict[str, tuple[str, ...]] = {
    "no-light": ("gamma", "low_light", "noise"),
    "no-blur-downscale": ("blur", "downscale"),
    "no-jpeg": ("jpeg",),
    "no-perspective": ("perspective",),
    "no-occlude": ("occlude",),
}


def variants(replicas: int) -> list[tuple[str, list[str], int]]:
    """(name, extra train options, seed offset) for every variant, full recipe first."""
    out = [("full", [], 0)]
    out += [(f"full@seed{i}", [], i) for i in range(1, replicas)]
    out.append(("plain", ["--no-video-augment"], 0))
    out += [(f"plain@seed{i}", ["--no-video-augment"], i) for i in range(1, replicas)]
    out += [(name, ["--augment-off", ",".join(ings)], 0) for name, ings in GROUPS.items()]
    return out


def run_variant(name: str, extra: list[str], seed: int, args: argparse.Namespace) -> Path:
    out = args.root / name.replace("@", "_")
    if not (out / "training.json").exists():
        cmd = [sys.executable, "-m", "fervideo._cli", "train", str(args.train), "--val", str(args.val), "--out", str(out),
               "--init", args.init, "--epochs", str(args.epochs), "--lr", str(args.lr), "--warmup-epochs", str(args.warmup),
               "--patience", "100", "--seed", str(args.seed + seed), *extra, *args.train_option]
        print("$", " ".join(cmd), flush=True)
        with open(args.root / f"{out.name}.log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    if args.real_faces and not (out / "real_faces.json").exists():
        cmd = [sys.executable, str(REPO / "bench" / "real_faces.py"), "--model", str(out), "--json", str(out / "real_faces.json")]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def row(name: str, extra: list[str], out: Path) -> dict:
    t = json.loads((out / "training.json").read_text())
    r = {"variant": name, "options": " ".join(extra), "best_epoch": t["best_epoch"],
         "fer_val_accuracy": round(t["val"]["accuracy"], 4), "fer_val_macro_f1": round(t["val"]["macro_f1"], 4)}
    rf = out / "real_faces.json"
    if rf.exists():
        res = next(iter(json.loads(rf.read_text()).values()))
        r.update(real_boxes=round(res["accuracy"], 3), real_faces=f"{res['faces']['right']}/{res['faces']['total']}",
                 audience_happy=round(res["stage_cuts_audience"]["happy_share"], 3))
    return r


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True, help="one folder per variant (keep it outside the work tree)")
    p.add_argument("--train", type=Path, default=REPO.parent / "shared/data/fer2013/train.parquet")
    p.add_argument("--val", type=Path, default=REPO.parent / "shared/data/fer2013/val.parquet")
    p.add_argument("--init", default="models/fervit-fer2013", help="the model every variant fine-tunes")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=float, default=0.5, help="warm-up epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replicas", type=int, default=2, help="runs of the full and the plain recipe with different seeds (noise)")
    p.add_argument("--only", nargs="*", help="run only these variants (names as in the table)")
    p.add_argument("--no-real-faces", dest="real_faces", action="store_false", help="FER-2013 val only")
    p.add_argument("--train-option", action="append", default=[], help="passed to fervideo train (repeat), e.g. --threads=2")
    args = p.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, extra, seed in variants(args.replicas):
        if args.only and name not in args.only:
            continue
        rows.append(row(name, extra, run_variant(name, extra, seed, args)))
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(args.root / "ablation.csv", "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows(rows)
        md = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        md += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
        (args.root / "ablation.md").write_text("\n".join(md) + "\n")
        print("\n".join(md), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
