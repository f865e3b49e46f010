"""Classify: batched emotion probabilities for face crops with any HF image classifier.

``--model`` is a local directory or a Hugging Face hub id (``AutoModelForImageClassification``
+ ``AutoImageProcessor``), or several joined by commas (an ensemble: probabilities averaged on
the canonical vocabulary). The embedded default ships in ``models/``. Label names come from
the model's config and are mapped onto the canonical vocabulary (see ``fervideo.core.labels``).

Crops arrive already aligned at the model's input size, so preprocessing is one vectorised
normalisation instead of the processor's per-image PIL path; size, per-channel statistics and
luminance come from the model's ``DataConfig`` (``fervideo.modeling.data_config``), the same
one training, evaluation and explanations use. On CPU the forward pass runs
under bf16 autocast (about 2x faster for the default model on AVX-512/AMX); on CUDA in bf16
or fp16 with large batches.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fervideo.core.device import passive_openmp as _passive_openmp

_passive_openmp()
import torch

from fervideo.core.device import cpu_has_bf16, resolve_device
from fervideo.core.errors import ModelError
from fervideo.core.labels import canonical_union, labels_from_id2label
from fervideo.modeling.calibration import read_temperature
from fervideo.modeling.catalog import (
    DEFAULT_MODEL,
    check_model_ref,
    embedded_models,
    hub_error,
    verify_weights,
)
from fervideo.modeling.data_config import (
    DataConfig,
    flip_tta,
    resolve_data_config,
    to_luminance,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' own warnings and progress bars off while a model loads, then as they were.

    Loading a classifier prints notes meant for model authors (unused weights, processor
    classes); the user's or the notebook's transformers settings are restored afterwards.
    """
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


@dataclass
class ModelInfo:
    ref: str  # what the user gave
    path: str  # resolved local path or hub id
    labels: list[str]  # canonical, in the model's class order
    input_size: int
    sha256: str | None  # of the weights file, where local


class _Single:
    """One HF image-classification model, ready for batched inference."""

    def __init__(self, ref: str, device: torch.device, dtype: str) -> None:
        from transformers import (
            AutoConfig,
            AutoImageProcessor,
            AutoModelForImageClassification,
        )

        import fervideo.modeling.fervit  # noqa: F401  (registers fervit)

        local = embedded_models().get(ref)
        path = Path(ref).expanduser() if local is None else local
        is_local = path.exists()
        if not is_local:
            check_model_ref(ref)  # near misses, missing folders, an unreachable hub: one line, at once
        if is_local and not (path / "config.json").exists():
            raise ModelError(f"{path}: not a Hugging Face model directory (no config.json)")
        src = str(path) if is_local else ref
        sha = None
        # A fitted temperature for models that cannot carry one in their config (FerViT does).
        self.temperature = 1.0
        if is_local:
            sha = verify_weights(path)
            self.temperature = read_temperature(path)
        try:
            with _quiet_transformers():
                config = AutoConfig.from_pretrained(src)
                labels = labels_from_id2label(config.id2label, source=f"model {ref!r}")
                model = AutoModelForImageClassification.from_pretrained(src)
                processor = AutoImageProcessor.from_pretrained(src)
        except ModelError:
            raise
        except OSError as exc:
            if is_local:
                raise ModelError(f"model {ref!r} cannot be loaded ({str(exc).splitlines()[0][:200]})") from exc
            raise hub_error(ref, exc) from exc
        except Exception as exc:
            raise ModelError(f"model {ref!r} cannot be loaded: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}") from exc
        # Weights may be stored in fp16 to keep the repository small; compute in fp32 (+ autocast).
        self.model = model.float().eval().to(device)
        self.device = device
        self.data: DataConfig = resolve_data_config(config, processor)
        mean, std = self.data.stats(scale=255.0)  # crops arrive as uint8: normalise on 0..255
        self.mean = torch.tensor(mean, device=device)
        self.std = torch.tensor(std, device=device)
        self.info = ModelInfo(ref=ref, path=src, labels=labels, input_size=self.data.input_size, sha256=sha)
        # FerViT converts colour itself; other 1-channel models get luminance here.
        self.gray = self.data.gray
        self.input_dtype = torch.float32
        self.memory_format = torch.contiguous_format
        self.autocast = None
        if device.type == "cuda" and dtype != "fp32":
            self.autocast = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu" and (dtype == "bf16" or (dtype == "auto" and cpu_has_bf16())):
            # Whole model in bf16: on CPUs with native bf16 (AVX512-BF16, AMX) this is about 1.6x
            # faster than autocast, which re-casts every weight on every call (measured on the
            # default model: 891 vs 546 crops/s; val accuracy unchanged, see the model card).
            self.model = self.model.to(torch.bfloat16)
            self.input_dtype = torch.bfloat16
            if any(isinstance(m, torch.nn.Conv2d) for m in self.model.modules()):
                # oneDNN's bf16 convolutions run on NHWC without reordering every call: +6-7%
                # crops/s for both FerViT stems (batch 64, idle 2-core machine); FER-2013 val
                # accuracy moves only by bf16 rounding (0.6342 in fp32 -> 0.6356 for the default).
                self.memory_format = torch.channels_last
                self.model = self.model.to(memory_format=torch.channels_last)

    def prepare(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) uint8 RGB crops -> the model's normalised input on its device."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float()
        x = (x - self.mean) / self.std
        if self.gray and x.shape[1] == 3:  # a model trained on grayscale faces (e.g. a 1-channel ResNet)
            x = to_luminance(x)
        return x.to(self.input_dtype).contiguous(memory_format=self.memory_format)

    @torch.no_grad()
    def __call__(self, crops: np.ndarray) -> np.ndarray:
        x = self.prepare(crops)
        if self.autocast is not None:
            with torch.autocast(self.device.type, self.autocast):
                logits = self.model(pixel_values=x).logits
        else:
            logits = self.model(pixel_values=x).logits
        return (logits.float() / self.temperature).softmax(-1).cpu().numpy()


class EmotionClassifier:
    """One model or an ensemble; ``predict`` returns (N, K) probabilities on ``self.labels``.

    An ensemble's labels are the canonical union of its members' labels; members without a
    class contribute nothing to it, and each row is renormalised.
    """

    def __init__(self, model: str | None = None, device: str = "auto", batch_size: int | None = None, dtype: str = "auto", tta: bool = False) -> None:
        refs = [m.strip() for m in (model or DEFAULT_MODEL).split(",") if m.strip()]
        if not refs:
            raise ModelError("no model given")
        self.device = resolve_device(device)
        self.members = [_Single(r, self.device, dtype) for r in refs]
        self.labels, self._index = canonical_union([m.info.labels for m in self.members])
        # GPUs want large batches to stay busy; on a CPU 64 is past the knee of the curve.
        self.batch_size = max(1, int(batch_size or (512 if self.device.type == "cuda" else 64)))
        self.tta = tta
        sizes = {m.info.input_size for m in self.members}
        self.input_size = max(sizes)
        self._warm_up()

    def _warm_up(self) -> None:
        """One full batch through each model, so kernel selection is not billed to the first video."""
        x = np.zeros((min(self.batch_size, 64), self.input_size, self.input_size, 3), np.uint8)
        self.predict(x)

    @property
    def infos(self) -> list[ModelInfo]:
        return [m.info for m in self.members]

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, K) for aligned RGB crops (N, S, S, 3) uint8."""
        n = len(crops)
        out = np.zeros((n, len(self.labels)), np.float32)
        if n == 0:
            return out
        import cv2

        for member, idx in zip(self.members, self._index):
            s = member.info.input_size
            x = crops if crops.shape[1] == s else np.stack([cv2.resize(c, (s, s), interpolation=cv2.INTER_AREA) for c in crops])
            for i in range(0, n, self.batch_size):
                b = x[i : i + self.batch_size]
                p = flip_tta(member, b, width_axis=2) if self.tta else member(b)
                out[i : i + len(b), idx] += p
        out /= np.maximum(out.sum(1, keepdims=True), 1e-12)
        return out
