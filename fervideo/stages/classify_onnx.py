"""Classify on a CPU with onnxruntime: the same model and probabilities, without torch.

``EmotionClassifier`` (``stages.classify``) runs any Hugging Face classifier through torch.
For the common case of ``analyze`` on a CPU (one local model, the embedded default included)
this runs the model's cached ONNX export (``modeling.onnx_export``) instead: no torch or
transformers import at all (loading the classifier took 5.1-5.4 s with them, 0.3-0.4 s
here, on the project's 2-core machine). Throughput is about torch bf16's on an idle machine
(780-870 vs 760-980 crops/s) and 3x more crops per CPU-second on a busy one. With
``precision="fp32"`` the probabilities are the model's fp32 ones (torch fp32 vs this: at most
8e-7 apart). Crops are normalised, converted to luminance and divided by the calibration
temperature exactly as ``EmotionClassifier`` does. The first run of a model exports it (torch needed once).

``precision="int8"`` (analyze's default on a CPU) runs the model's matrix products with int8
weights, quantised once per model from the export (``modeling.onnx_export.quantized_export``):
1.4-1.8x the crops per second of fp32 for the default model, the same labels on the
benchmark videos; ``"fp32"`` runs the exported graph as it is.

Ensembles of local models run as ``OnnxEnsemble``, averaged as ``EmotionClassifier`` averages.
``analyze --classifier-runtime torch`` keeps the torch path; hub ids, CUDA and
``dtype="bf16"`` always use it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervideo.core.errors import ModelError
from fervideo.core.labels import canonical_union, labels_from_id2label
from fervideo.modeling.calibration import read_temperature
from fervideo.modeling.catalog import DEFAULT_MODEL, embedded_models, verify_weights
from fervideo.modeling.data_config import data_config_from_dir, flip_tta, to_luminance

log = logging.getLogger(__name__)


@dataclass
class OnnxModelInfo:
    ref: str  # what the user gave
    path: str  # the local model directory
    labels: list[str]  # canonical, in the model's class order
    input_size: int
    sha256: str | None  # of the weights file
    runtime: str = "onnxruntime"
    onnx_file: str = ""
    precision: str = "fp32"  # fp32, or int8 (int8 weights in the matrix products, activations quantised per batch)


def local_model_dirs(model: str | None) -> list[Path] | None:
    """The directories of a model or an ensemble ("A,B") whose members are all local, else None."""
    refs = [r.strip() for r in (model or DEFAULT_MODEL).split(",") if r.strip()]
    dirs = [local_model_dir(r) for r in refs]
    return dirs if dirs and all(d is not None for d in dirs) else None


PRECISIONS = ("fp32", "int8")


def onnx_classifier(model: str | None = None, **kwargs) -> OnnxEmotionClassifier | OnnxEnsemble:
    """One local model, or an ensemble of local models ("A,B"), on onnxruntime."""
    refs = [r.strip() for r in (model or DEFAULT_MODEL).split(",") if r.strip()]
    return OnnxEmotionClassifier(refs[0], **kwargs) if len(refs) == 1 else OnnxEnsemble(refs, **kwargs)


def local_model_dir(model: str | None) -> Path | None:
    """The directory of a single local model (embedded name or path), None for anything else."""
    ref = (model or DEFAULT_MODEL).strip()
    if "," in ref:
        return None
    local = embedded_models().get(ref)
    path = local if local is not None else Path(ref).expanduser()
    if (path / "config.json").exists() and (path / "model.safetensors").exists():
        return path
    return None


class OnnxEmotionClassifier:
    """One local model through onnxruntime; ``predict`` returns (N, K) probabilities on ``self.labels``
(its own classes: a member of an ``OnnxEnsemble`` renormalises nothing away, since its rows sum to 1)."""

    def __init__(self, model: str | None = None, batch_size: int | None = None, tta: bool = False,
                 threads: int | None = None, precision: str = "fp32") -> None:
        import onnxruntime as ort

        from fervideo.modeling.onnx_export import cached_export, export_classifier, quantized_export

        if precision not in PRECISIONS:
            raise ModelError(f"precision {precision!r}: the onnxruntime classifier runs {' or '.join(PRECISIONS)}")
        ref = (model or DEFAULT_MODEL).strip()
        path = local_model_dir(ref)
        if path is None:
            raise ModelError(f"model {ref!r}: the onnxruntime classifier takes one local model directory")
        sha = verify_weights(path)
        config = json.loads((path / "config.json").read_text())
        id2label = {int(k): v for k, v in (config.get("id2label") or {}).items()}
        labels = labels_from_id2label(id2label, source=f"model {ref!r}")
        self.data = data_config_from_dir(path)
        self.temperature = read_temperature(path)
        mean, std = self.data.stats(scale=255.0)
        self._mean, self._std = mean, std
        channels = 1 if self.data.gray else 3
        onnx_file = cached_export(path, sha)
        if onnx_file is None:
            log.info("exporting %s to ONNX (once per model)", ref)
            onnx_file = export_classifier(path, sha, channels, self.data.input_size)
        if precision == "int8":
            onnx_file = quantized_export(onnx_file)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Waiting threads sleep instead of spinning: the decode thread, the detector and other
        # programs share the cores (spinning threads cost 20-40% more CPU here for the same work).
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sess = ort.InferenceSession(str(onnx_file), sess_options=so, providers=["CPUExecutionProvider"])
        # Columns in canonical order, as EmotionClassifier gives them (the model's order may differ).
        self.labels, (self._index,) = canonical_union([labels])
        self.input_size = self.data.input_size
        self.batch_size = max(1, int(batch_size or 64))
        self.tta = tta
        self.device = "cpu"
        self.info = OnnxModelInfo(ref=ref, path=str(path), labels=list(labels), input_size=self.input_size, sha256=sha,
                                  onnx_file=str(onnx_file), precision=precision)
        # One crop through the graph, so a broken model fails here, before any video is decoded. Not a
        # full batch as for torch (its kernels are chosen per shape): onnxruntime's first batch of 64
        # after this takes no longer than later ones (58 vs 58-62 ms), and a warm-up batch of 64 cost
        # 0.05-0.07 s of every process's start.
        self.predict(np.zeros((1, self.input_size, self.input_size, 3), np.uint8))

    @property
    def infos(self) -> list[OnnxModelInfo]:
        return [self.info]

    def _forward(self, crops: np.ndarray) -> np.ndarray:
        x = (np.ascontiguousarray(crops).transpose(0, 3, 1, 2).astype(np.float32) - self._mean) / self._std
        if self.data.gray and x.shape[1] == 3:
            x = to_luminance(x)
        logits = self.sess.run(["logits"], {"pixel_values": np.ascontiguousarray(x, np.float32)})[0]
        z = logits.astype(np.float32) / np.float32(self.temperature)
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, K) for aligned RGB crops (N, S, S, 3) uint8."""
        n = len(crops)
        k = len(self.labels)
        out = np.zeros((n, k), np.float32)
        if n == 0:
            return out
        s = self.input_size
        if crops.shape[1] != s:
            import cv2

            crops = np.stack([cv2.resize(c, (s, s), interpolation=cv2.INTER_AREA) for c in crops])
        for i in range(0, n, self.batch_size):
            b = crops[i : i + self.batch_size]
            p = flip_tta(self._forward, b, width_axis=2) if self.tta else self._forward(b)
            out[i : i + len(b), self._index] = p
        out /= np.maximum(out.sum(1, keepdims=True), 1e-12)
        return out


class OnnxEnsemble:
    """Several local models on onnxruntime, averaged as ``EmotionClassifier`` averages an ensemble:
    labels are the canonical union of the members' labels, a member adds its probabilities to
    the classes it has, and each row is renormalised."""

    def __init__(self, refs: list[str], batch_size: int | None = None, tta: bool = False, threads: int | None = None,
                 precision: str = "fp32") -> None:
        self.members = [OnnxEmotionClassifier(r, batch_size=batch_size, tta=tta, threads=threads, precision=precision)
                        for r in refs]
        self.labels, self._index = canonical_union([m.labels for m in self.members])
        self.input_size = max(m.input_size for m in self.members)
        self.batch_size = self.members[0].batch_size
        self.tta = tta
        self.device = "cpu"

    @property
    def infos(self) -> list[OnnxModelInfo]:
        return [m.info for m in self.members]

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, K) for aligned RGB crops (N, S, S, 3) uint8."""
        out = np.zeros((len(crops), len(self.labels)), np.float32)
        if len(crops) == 0:
            return out
        for member, idx in zip(self.members, self._index):
            out[:, idx] += member.predict(crops)
        out /= np.maximum(out.sum(1, keepdims=True), 1e-12)
        return out


__all__ = ["PRECISIONS", "OnnxEmotionClassifier", "OnnxEnsemble", "OnnxModelInfo", "local_model_dir", "local_model_dirs", "onnx_classifier"]
