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
from fervideo.modeling.data_config import data_config_from_dir

DEFAULT_MODEL = "fervit-fer2013"


def models_dirs() -> list[Path]:
    """Where embedded models are looked up: $FERVIDEO_MODELS, the source checkout, the install
    prefix (a wheel installs the models of models/ into <prefix>/share/fervideo/models), and
    wherever the installed distribution's record says it went (``pip install --user``)."""
    dirs = []
    if os.environ.get("FERVIDEO_MODELS"):
        dirs.append(Path(os.environ["FERVIDEO_MODELS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path(sys.prefix) / "share" / "fervideo" / "models")
    installed = _installed_models_dir()
    if installed is not None and installed not in dirs:
        dirs.append(installed)
    return dirs


def _installed_models_dir() -> Path | None:
    from importlib import metadata

    try:
        files = metadata.files("fervideo") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        parts = f.parts
        if parts[-1] == "config.json" and len(parts) >= 4 and parts[-4:-2] == ("fervideo", "models"):
            return Path(str(f.locate())).resolve().parent.parent
    return None


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


HUB_PROBE_TIMEOUT_S = 3.0


def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached now, None if it can: HF_HUB_OFFLINE, or one
    TCP connection (to the hub, or to the HTTPS proxy) that fails within a few seconds.

    Without it, huggingface_hub retries an unreachable hub five times with back-off (23 s and
    a dozen warning lines) before the one error that matters."""
    import urllib.request
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    proxy = urllib.request.getproxies().get("https" if endpoint.startswith("https") else "http")
    url = urlparse(proxy or endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    import socket

    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{host}: {exc.strerror or exc}"


def check_model_ref(ref: str) -> None:
    """Fail at once, in one line, for a ``--model`` no source can provide: a near miss of a
    model on this machine ("did you mean fervit-fer2013?"), a local folder that does not
    exist, or a hub id while the hub cannot be reached. Embedded names, existing folders and
    models in the Hugging Face cache pass; so does a hub id when the hub answers."""
    import difflib

    emb = embedded_models()
    if ref in emb or Path(ref).expanduser().exists():
        return
    cached = [n for n, _ in hf_cache_dirs()]
    if ref in cached:
        return
    known = sorted(emb) + cached
    close = difflib.get_close_matches(Path(ref).name, known, n=1, cutoff=0.75) or difflib.get_close_matches(ref, known, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}?" if close else f"models on this machine: {', '.join(known) or 'none'}"
    parts = [x for x in ref.split("/") if x]
    looks_local = ref.startswith((".", "/", "~")) or len(parts) > 2 or ref.endswith("/") or os.sep != "/" and os.sep in ref
    if looks_local:
        raise ModelError(f"{ref}: no such model folder ({hint})")
    if len(parts) == 1 and close:  # hub ids are owner/name; this is a typo of a local name
        raise ModelError(f"model {ref!r} not found: not an embedded model, a local folder or a cached hub model; {hint}")
    why = _hub_unreachable()
    if why:
        raise ModelError(f"model {ref!r} is not on this machine and the Hugging Face hub cannot be reached ({why}); "
                         + (f"{hint}" if close else f"use the embedded default '{DEFAULT_MODEL}' (omit --model) or a local model folder"))


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
    val_labels: str | None = None  # what val_accuracy was scored against where not the data's own labels ("FER+ majority")

    def fmt_acc(self) -> str:
        if self.val_accuracy is None:
            return "-"
        return f"{self.val_accuracy:.3f}" + (f" ({self.val_labels})" if self.val_labels else "")

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
    size = data_config_from_dir(d).input_size
    card = json.loads((d / "card.json").read_text()) if (d / "card.json").exists() else {}
    return ModelEntry(
        name=name, path=str(d), classes=classes, input_size=int(size),
        val_accuracy=(card.get("val") or {}).get("accuracy"), crops_per_s=card.get("crops_per_s_cpu"),
        license=card.get("license", "see the model's card"), source=card.get("source", source),
        sha256=card.get("sha256"), parameters=card.get("parameters"), val_labels=(card.get("val") or {}).get("labels"),
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
    check_model_ref(name)
    try:
        from huggingface_hub import snapshot_download

        d = Path(snapshot_download(name, allow_patterns=["*.json", "*.md"]))
    except Exception as exc:
        raise hub_error(name, exc) from exc
    return _entry(name, d, "Hugging Face hub")


def verify_weights(path: Path) -> str | None:
    """sha256 of ``path``'s model.safetensors, checked against its card.json where there is one.

    None where the directory holds only other weight formats (nothing to check); a
    ``ModelError`` where there are no weights or they do not match the card.
    """
    weights = path / "model.safetensors"
    if not weights.exists():
        if not (list(path.glob("*.safetensors")) + list(path.glob("pytorch_model*.bin"))):
            raise ModelError(f"{path}: no weights file (model.safetensors) in the model directory")
        return None
    sha = sha256_file(weights)
    card = path / "card.json"
    if card.exists():
        try:
            expected = json.loads(card.read_text()).get("sha256")
        except json.JSONDecodeError:
            expected = None
        if expected and expected != sha:
            raise ModelError(
                f"{weights}: sha256 {sha[:12]}... does not match the card's {expected[:12]}...; "
                "the weights file is corrupted or was replaced (restore it, e.g. git checkout models/)"
            )
    return sha


__all__ = ["DEFAULT_MODEL", "ModelEntry", "catalog", "check_model_ref", "describe", "verify_weights"]
