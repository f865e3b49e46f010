"""Release a trained model into ``models/``: fp16 weights, re-measured card.

    python -m fervideo.train.release runs/NAME models/NAME --val VAL_DATA --command "fervideo train ..."
    python -m fervideo.train.release runs/NAME/ferplus models/NAME --val VAL_DATA --votes VAL_VOTES ...

Copies the Hugging Face files of a training run (not its checkpoints), stores the weights in
fp16 (half the size; fervideo computes in fp32/bf16 either way), then measures the shipped
weights again: validation metrics through the same classifier ``analyze`` uses, and CPU
crops/s; and writes the card (README.md, card.json with the sha256 checked at load).
A vote head (``OUT/ferplus`` of ``fervideo train --votes``) is measured with ``--votes``: on
the FER+ majority labels of the validation images, the labels it was selected on.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def release(run_dir: Path, model_dir: Path, val: Path, command: str, train_source: str, note: str = "",
            votes: Path | None = None) -> dict:
    from fervideo.train.card import write_card
    from fervideo.train.data import load_dataset
    from fervideo.train.evaluate import evaluate_model

    model_dir.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "preprocessor_config.json", "training.json"):
        shutil.copy2(run_dir / f, model_dir / f)
    if (run_dir / "calibration.json").exists():  # a fitted temperature (models other than FerViT)
        shutil.copy2(run_dir / "calibration.json", model_dir / "calibration.json")
    from fervideo.modeling.remote_code import write_remote_code

    write_remote_code(model_dir)  # FerViT: its code + auto_map, regenerated from the current source
    (model_dir / "card.json").unlink(missing_ok=True)
    state = load_file(run_dir / "model.safetensors")
    save_file({k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}, model_dir / "model.safetensors",
              metadata={"format": "pt"})
    summary = json.loads((run_dir / "training.json").read_text())
    # the card shows every epoch that was trained, not only up to the best; a vote head's
    # checkpoint is its run's (OUT/ferplus beside OUT/checkpoints)
    ckpts = [run_dir / "checkpoints" / "last.pt"] + ([run_dir.parent / "checkpoints" / "last.pt"] if votes is not None else [])
    for ckpt in ckpts:
        if ckpt.exists():
            summary["history"] = torch.load(ckpt, map_location="cpu", weights_only=False)["history"]
            break
    data = load_dataset(val, size=None)
    val_source = str(val)
    if votes is not None:
        from fervideo.train.votes import load_votes, with_majority_labels

        data = with_majority_labels(data, load_votes(votes, val))
        val_source = f"{val} relabelled by the FER+ majority of {votes}"
    res = evaluate_model(data, str(model_dir), device="cpu", batch_size=64)
    summary["val"] = res.metrics.as_dict()
    write_card(model_dir, summary, command=command, train_source=train_source, val_source=val_source, extra=note,
               votes_head=votes is not None)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--val", type=Path, required=True)
    ap.add_argument("--votes", type=Path, help="FER+ vote table of --val: score a vote head on its majority labels")
    ap.add_argument("--command", required=True)
    ap.add_argument("--train-source", required=True)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    s = release(a.run_dir, a.model_dir, a.val, a.command, a.train_source, a.note, votes=a.votes)
    print(f"{a.model_dir}: val accuracy {s['val']['accuracy']:.4f}, macro-F1 {s['val']['macro_f1']:.4f}")  # a script


if __name__ == "__main__":
    main()
