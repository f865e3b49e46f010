"""Temperature scaling: probabilities a researcher can read as probabilities.

Networks trained with cross-entropy are usually over- or under-confident: of the faces given
"happy" at 0.9, far fewer or more than 90% are happy. One scalar temperature T, fitted on
validation logits by minimising the negative log-likelihood of ``softmax(logits / T)`` (Guo et
al., "On Calibration of Modern Neural Networks", ICML 2017), fixes most of it without changing
any prediction (the arg-max is the same for every T > 0).

The fitted T is stored where every caller applies it:

- FerViT: ``logit_temperature`` in ``config.json``; the model divides its logits itself, so
  fervideo and plain transformers (``pipeline(..., trust_remote_code=True)``) both see
  calibrated probabilities;
- any other Hugging Face classifier: ``calibration.json`` next to the weights, which
  ``fervideo analyze`` (``stages.classify``) applies to the logits.

Logits are collected through analyze's own classifier input path (the same crops, the same
normalisation), in fp32, with any earlier temperature removed, so T is fitted from scratch.
Calibration quality is the expected calibration error (ECE): the confidence-weighted gap
between confidence and accuracy over 15 equal-width confidence bins.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fervideo.core.errors import DataError, ModelError
from fervideo.modeling.calibration import CALIBRATION_FILE
from fervideo.train.data import FaceImages

log = logging.getLogger(__name__)

BINS = 15


@dataclass
class Calibration:
    temperature: float
    ece_before: float  # at T = 1 (the network's own logits)
    ece_after: float  # at the fitted T
    nll_before: float
    nll_after: float
    accuracy: float  # unchanged by T
    n: int
    ece_after_heldout: float = float("nan")  # 2-fold: T fitted on one half of the data, ECE on the other
    bins: int = BINS
    source: str = ""  # the validation data it was fitted on
    stored_in: str = ""  # config.json (logit_temperature) or calibration.json

    def as_dict(self) -> dict:
        return asdict(self)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE over ``bins`` equal-width bins of the top-class confidence (0..1)."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels)
    if len(probs) == 0:
        return 0.0
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 joins bin 0.
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the NLL of ``softmax(logits / T)`` (L-BFGS over log T)."""
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-10, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.exp().item())
    if not math.isfinite(t) or t <= 0:
        raise ModelError(f"temperature fit did not converge (T = {t})")
    return t


def _nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    z = torch.as_tensor(logits, dtype=torch.float64) / t
    return float(F.cross_entropy(z, torch.as_tensor(labels, dtype=torch.long)).item())


def _softmax(logits: np.ndarray, t: float) -> np.ndarray:
    return torch.as_tensor(logits, dtype=torch.float64).div(t).softmax(-1).numpy()


def _heldout_ece(logits: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """ECE with T fitted on the other half (2 folds, weighted by size): an out-of-sample check."""
    if len(labels) < 4:
        return float("nan")
    order = np.random.default_rng(seed).permutation(len(labels))
    folds = (order[: len(order) // 2], order[len(order) // 2 :])
    total = 0.0
    for fit, test in (folds, folds[::-1]):
        t = fit_temperature(logits[fit], labels[fit])
        total += len(test) * expected_calibration_error(_softmax(logits[test], t), labels[test])
    return total / len(labels)


def collect_logits(model_dir: str | Path, data: FaceImages, *, device: str = "cpu",
                   batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Logits (N, K) at T = 1, labels (N,) on the model's classes, and those classes.

    Images of classes the model does not have are left out (as in ``fervideo evaluate``).
    """
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.train.evaluate import to_crops

    clf = EmotionClassifier(str(model_dir), device=device, batch_size=batch_size, dtype="fp32")
    member = clf.members[0]
    model = member.model
    if hasattr(model.config, "logit_temperature"):
        model.config.logit_temperature = 1.0  # fit from the network's own logits
    labels = member.info.labels
    keep = np.isin(np.array(data.classes)[data.labels], labels)
    if not keep.any():
        raise DataError(f"{data.source}: no images of the model's classes {labels}")
    sub = FaceImages(data.images[keep], data.labels[keep], data.classes, data.source).remap(labels)
    crops = to_crops(sub.images, member.info.input_size)
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch_size):
            out.append(model(pixel_values=member.prepare(crops[i : i + batch_size])).logits.float().cpu().numpy())
    return np.concatenate(out), sub.labels, labels


def calibrate(model_dir: str | Path, data: FaceImages, *, device: str = "cpu", batch_size: int = 256,
              write: bool = True, force: bool = False) -> Calibration:
    """Fit the temperature of a local model directory on ``data``; store it there when ``write``.

    The temperature minimises the NLL, which is not the ECE: a network trained with label
    smoothing can already be calibrated, and its NLL-optimal T then makes the ECE worse. So T
    is stored only where it lowers the ECE measured out of sample (2-fold), unless ``force``;
    otherwise the directory keeps T = 1 and ``stored_in`` stays empty.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise ModelError(f"{model_dir}: not a local Hugging Face model directory (no config.json)")
    logits, labels, _ = collect_logits(model_dir, data, device=device, batch_size=batch_size)
    t = fit_temperature(logits, labels)
    res = Calibration(
        temperature=t,
        ece_before=expected_calibration_error(_softmax(logits, 1.0), labels),
        ece_after=expected_calibration_error(_softmax(logits, t), labels),
        nll_before=_nll(logits, labels, 1.0), nll_after=_nll(logits, labels, t),
        accuracy=float((logits.argmax(1) == labels).mean()), n=len(labels), source=str(data.source),
        ece_after_heldout=_heldout_ece(logits, labels),
    )
    if write and (force or res.ece_after_heldout < res.ece_before):
        res.stored_in = store_temperature(model_dir, t, res)
    elif write:
        log.warning("%s: T = %.3f would not lower the held-out ECE (%.4f -> %.4f); not stored", model_dir, t,
                    res.ece_before, res.ece_after_heldout)
    log.info("%s: T = %.3f, ECE %.4f -> %.4f", model_dir, t, res.ece_before, res.ece_after)
    return res


def store_temperature(model_dir: Path, t: float, res: Calibration) -> str:
    """Write T where analyze (and, for FerViT, plain transformers) applies it; returns the file name."""
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("model_type") == "fervit":
        cfg["logit_temperature"] = t
        tmp = cfg_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        tmp.replace(cfg_path)
        (model_dir / CALIBRATION_FILE).unlink(missing_ok=True)  # one place only, never applied twice
        return "config.json (logit_temperature)"
    (model_dir / CALIBRATION_FILE).write_text(json.dumps({**res.as_dict(), "stored_in": CALIBRATION_FILE}, indent=2) + "\n")
    return CALIBRATION_FILE


__all__ = ["Calibration", "calibrate", "collect_logits", "expected_calibration_error", "fit_temperature",
           "store_temperature"]
