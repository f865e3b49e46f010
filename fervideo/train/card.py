"""Model cards written from measured results (never from hopes)."""

from __future__ import annotations

import json
from pathlib import Path

from fervideo.modeling.catalog import sha256_file


def _architecture(config: dict) -> str:
    """One line naming the architecture, read from the saved model's own config."""
    kind = config.get("model_type", "")
    if kind == "fervit":
        return "FerViT (conv stem + transformer encoder)"
    if kind == "resnet":
        return (f"ResNet (Hugging Face `ResNetForImageClassification`, {config.get('layer_type', '')} blocks, "
                f"stage widths {config.get('hidden_sizes')}, depths {config.get('depths')})")
    return kind or "unknown"


def write_card(out: Path, summary: dict, *, command: str, train_source: str, val_source: str, extra: str = "",
               crops_per_s: float | None = None) -> Path:
    """Write ``README.md`` (the card) and ``card.json`` into a trained model directory.

    ``crops_per_s`` is measured here (CPU, batch 64) when not given.
    """
    out = Path(out)
    if crops_per_s is None:
        import os

        from fervideo.train.evaluate import measure_speed

        crops_per_s = measure_speed(str(out), device="cpu", batch_size=64)
        cpu = f"{os.cpu_count()} CPU cores"
    else:
        cpu = "CPU"
    val = summary["val"]
    classes = summary["classes"]
    cfg = summary["config"]
    arch = _architecture(json.loads((out / "config.json").read_text()))
    if cfg.get("init"):
        arch += f", fine-tuned from `{cfg['init']}`"
    rows = "\n".join(
        f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for c, v in val["per_class"].items()
    )
    cm = val["confusion"]
    cm_head = "| true \\ pred | " + " | ".join(classes) + " |\n|" + "---|" * (len(classes) + 1)
    cm_rows = "\n".join(f"| {c} | " + " | ".join(str(x) for x in r) + " |" for c, r in zip(classes, cm))
    weights = out / "model.safetensors"
    sha = sha256_file(weights) if weights.exists() else "(missing)"
    hist = "\n".join(
        f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_accuracy']:.4f} | {h['val_macro_f1']:.4f} | {h['seconds']:.0f} |"
        for h in summary["history"]
    )
    text = f"""# {out.name}

Facial-expression classifier for `fervideo analyze --model {out}`.

- **Architecture**: {arch}; {summary['parameters']:,} parameters; input {cfg['image_size']}x{cfg['image_size']} grayscale.
- **Classes**: {', '.join(classes)}
- **Training data**: `{train_source}`; model selection on `{val_source}` (best val macro-F1, EMA weights).
- **Recipe** (exact command, seed {cfg['seed']}):

```
{command}
```

## Speed

{crops_per_s:.0f} face crops/s on this machine's CPU ({cpu}, batch 64, best of 3 over 2048 crops), as `fervideo analyze` runs it: the whole model in bf16 on CPUs with native bf16 (AVX512-BF16 or AMX), fp32 otherwise.

## Measured on the validation set (epoch {summary['best_epoch']})

Accuracy **{val['accuracy']:.4f}**, macro-F1 **{val['macro_f1']:.4f}**.

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

Confusion matrix (rows true, columns predicted):

{cm_head}
{cm_rows}

## Training history

| epoch | train loss | val accuracy | val macro-F1 | seconds |
|---|---|---|---|---|
{hist}
{extra}
## Files

- `model.safetensors` sha256 `{sha}`
- License: the weights are the project's own (MIT, like the code); FER-2013 is a research data set, check its terms for your use.
"""
    (out / "README.md").write_text(text)
    card = {
        "sha256": sha,
        "val": {"accuracy": val["accuracy"], "macro_f1": val["macro_f1"], "source": val_source},
        "parameters": summary["parameters"],
        "classes": classes,
        "crops_per_s_cpu": round(crops_per_s, 1),
        "license": "MIT (weights trained by the fervideo project)",
        "source": f"trained with fervideo on {train_source}",
        "command": command,
    }
    (out / "card.json").write_text(json.dumps(card, indent=2))
    return out / "README.md"
