"""What models are available offline, and what their cards say about them."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fervideo.core.errors import ModelError
from fervideo.core.labels import labels_from_id2label

DEFAULT_MODEL = "fervit-fer2013"


def models_dirs() -> list[Path]:
    """Where embedded models are looked up: $FERVIDEO_MODELS, the source checkout, the install prefix."""
    dirs = []
    if os.environ.get("FERVIDEO_MODELS"):
        dirs.append(Path(os.environ["FERVIDEO_MODELS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path(sys.prefix) / "share" / "fervideo" / "models")
    return dirs


def embedded_models() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in models_dirs():
        if d.is_dir():
            for sub in sorted(d.iterdir()):
                if (sub / "config.json").exists() and sub.name not in found:
                    found[sub.name] = sub
    return found


def hub_error(ref: str, exc: Exception) -> ModelError:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ModelError(
        f"model {ref!r} is not a local model directory and could not be fetched from the Hugging Face hub "
        f"({msg[:160]}); without network use the embedded default '{DEFAULT_MODEL}' (omit --model) or a local directory"
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelEntry:
    name: str
    path: str
    classes: list[str]
    input_size: int
    val_accuracy: float | None
    crops_per_s: float | None
    license: str
    source: str
    sha256: str | None = None
    parameters: int | None = None

    def fmt_acc(self) -> str:
        return f"{self.val_accuracy:.3f}" if self.val_accuracy is not None else "-"

    def fmt_speed(self) -> str:
        return f"{self.crops_per_s:.0f}" if self.crops_per_s is not None else "-"

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("name", self.name), ("path", self.path), ("classes", ", ".join(self.classes)),
            ("input", f"{self.input_size}x{self.input_size}"), ("val acc", self.fmt_acc()),
            ("crops/s", self.fmt_speed()), ("params", f"{self.parameters:,}" if self.parameters else "-"),
            ("license", self.license), ("source", self.source), ("sha256", self.sha256 or "-"),
        ]


def _entry(name: str, d: Path, source: str) -> ModelEntry:
    cfg = json.loads((d / "config.json").read_text())
    try:
        classes = labels_from_id2label(cfg.get("id2label", {}), source=name)
    except ModelError:
        classes = [str(v) for _, v in sorted(cfg.get("id2label", {}).items(), key=lambda kv: int(kv[0]))]
    size = cfg.get("image_size", 224)
    pp = d / "preprocessor_config.json"
    if pp.exists():
        p = json.loads(pp.read_text())
        s = p.get("crop_size") if p.get("do_center_crop") else p.get("size")
        if isinstance(s, dict):
            size = s.get("height") or s.get("shortest_edge") or size
        elif isinstance(s, int):
            size = s
    card = json.loads((d / "card.json").read_text()) if (d / "card.json").exists() else {}
    return ModelEntry(
        name=name, path=str(d), classes=classes, input_size=int(size),
        val_accuracy=(card.get("val") or {}).get("accuracy"), crops_per_s=card.get("crops_per_s_cpu"),
        license=card.get("license", "see the model's card"), source=card.get("source", source),
        sha256=card.get("sha256"), parameters=card.get("parameters"),
    )


def hf_cache_dirs() -> list[tuple[str, Path]]:
    root = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    out = []
    if root.is_dir():
        for m in sorted(root.glob("models--*")):
            snaps = sorted((m / "snapshots").glob("*/config.json"), key=lambda p: p.stat().st_mtime)
            if snaps:
                cfg = json.loads(snaps[-1].read_text())
                if any("ImageClassification" in a for a in cfg.get("architectures", [])):
                    out.append((m.name[len("models--"):].replace("--", "/"), snaps[-1].parent))
    return out


def catalog() -> list[ModelEntry]:
    entries = [_entry(n, d, "embedded") for n, d in embedded_models().items()]
    entries += [_entry(n, d, "Hugging Face cache") for n, d in hf_cache_dirs()]
    return entries


def describe(name: str) -> ModelEntry:
    emb = embedded_models()
    if name in emb:
        return _entry(name, emb[name], "embedded")
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ModelError(f"{p}: not a Hugging Face model directory (no config.json)")
        return _entry(p.name, p, "local directory")
    for n, d in hf_cache_dirs():
        if n == name:
            return _entry(n, d, "Hugging Face cache")
    try:
        from huggingface_hub import snapshot_download

        d = Path(snapshot_download(name, allow_patterns=["*.json", "*.md"]))
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, gated...
        raise hub_error(name, exc) from exc
    return _entry(name, d, "Hugging Face hub")


__all__ = ["catalog", "describe", "ModelEntry", "DEFAULT_MODEL"]
