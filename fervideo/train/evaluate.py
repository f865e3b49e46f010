"""Evaluate emotion models on a labelled face set: the comparison table every FER project ends with.

For each model (or ensemble): accuracy, macro-F1, per-class precision/recall/F1/support, the
confusion matrix (CSV and PNG), and crops/s measured on this device at the given batch size.
Images are fed the way ``analyze`` feeds crops: RGB uint8 at the model's input size (FER's
grayscale replicated to three channels), through the same ``EmotionClassifier`` (torch), or
with ``runtime="onnx"`` through the onnxruntime classifier analyze uses on a CPU, int8 or fp32.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fervideo.stages.classify import EmotionClassifier
from fervideo.train.data import FaceImages
from fervideo.train.metrics import Metrics, metrics_from_predictions

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    model: str
    metrics: Metrics
    crops_per_s: float
    n: int
    skipped_classes: list[str]

    def row(self) -> dict:
        d = {"model": self.model, "accuracy": self.metrics.accuracy, "macro_f1": self.metrics.macro_f1,
             "crops_per_s": self.crops_per_s, "n": self.n}
        for c, r in zip(self.metrics.classes, self.metrics.recall):
            d[f"recall_{c}"] = float(r)
        return d


def to_crops(images: np.ndarray, size: int) -> np.ndarray:
    """(N, h, w) gray uint8 -> (N, size, size, 3) RGB uint8."""
    if images.shape[1] != size:
        images = np.stack([cv2.resize(i, (size, size), interpolation=cv2.INTER_LINEAR if size > i.shape[0] else cv2.INTER_AREA) for i in images])
    return np.repeat(images[..., None], 3, axis=3)


def _classifier(model: str, device: str, batch_size: int, tta: bool, runtime: str, dtype: str):
    """The classifier ``analyze`` builds with these options (``pipeline.backends``, its one set of
    rules for runtimes and number formats): torch's ``EmotionClassifier`` with ``runtime="torch"``
    (the issue's scoring path), the onnxruntime classifier with ``"onnx"`` (int8 matrix products
    where ``dtype`` is auto, as in analyze)."""
    from fervideo.pipeline.backends import Backends
    from fervideo.pipeline.options import AnalyzeOptions

    opts = AnalyzeOptions(model=model, device=device, batch_size=batch_size, tta=tta, classifier_runtime=runtime,
                          dtype=dtype, persons=False, render=False)
    return Backends(opts).classifier


def evaluate_model(data: FaceImages, model: str, *, device: str = "auto", batch_size: int = 64, tta: bool = False,
                   runtime: str = "torch", dtype: str = "auto") -> EvalResult:
    """Scores of ``model`` on ``data``; ``runtime``/``dtype`` choose what runs it (see ``_classifier``)."""
    clf = _classifier(model, device, batch_size, tta, runtime, dtype)
    keep = np.isin(np.array(data.classes)[data.labels], clf.labels)
    skipped = [c for c in data.classes if c not in clf.labels]
    if skipped:
        log.warning("%s has no class %s; those images are left out of its scores", model, skipped)
    sub = FaceImages(data.images[keep], data.labels[keep], data.classes, data.source).remap(clf.labels)
    crops = to_crops(sub.images, clf.input_size)
    t0 = time.perf_counter()
    probs = clf.predict(crops)
    dt = time.perf_counter() - t0
    m = metrics_from_predictions(sub.labels, probs.argmax(1), clf.labels)
    return EvalResult(model, m, len(crops) / dt if dt > 0 else 0.0, len(crops), skipped)


def measure_speed(model: str, *, device: str = "cpu", batch_size: int = 64, n: int = 2048, repeats: int = 3) -> float:
    """Crops per second of a model on this device at ``batch_size`` (best of ``repeats``)."""
    clf = EmotionClassifier(model, device=device, batch_size=batch_size)
    s = clf.input_size
    x = np.random.default_rng(0).integers(0, 255, (n, s, s, 3), dtype=np.uint8)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        clf.predict(x)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def save_confusion(result: EvalResult, out: Path, stem: str) -> tuple[Path, Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = result.metrics
    csv_path = out / f"{stem}_confusion.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["true\\pred", *m.classes])
        for c, row in zip(m.classes, m.confusion):
            w.writerow([c, *row.tolist()])
    norm = m.confusion / np.maximum(m.confusion.sum(1, keepdims=True), 1)
    # A Figure on the Agg canvas, outside pyplot: the caller's matplotlib backend is left alone.
    fig = Figure(figsize=(1.0 + 0.75 * len(m.classes), 0.8 + 0.7 * len(m.classes)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(m.classes)):
        for j in range(len(m.classes)):
            ax.text(j, i, f"{m.confusion[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(m.classes)), m.classes, rotation=45, ha="right")
    ax.set_yticks(range(len(m.classes)), m.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{Path(result.model).name}: acc {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}", fontsize=9)
    fig.tight_layout()
    png = out / f"{stem}_confusion.png"
    fig.savefig(png)
    return csv_path, png


def write_comparison(results: list[EvalResult], out: Path) -> tuple[Path, Path]:
    rows = [r.row() for r in results]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    csv_path = out / "comparison.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    js = out / "comparison.json"
    js.write_text(json.dumps([{**r.row(), "details": r.metrics.as_dict(), "skipped_classes": r.skipped_classes} for r in results], indent=2))
    return csv_path, js
