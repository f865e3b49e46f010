"""A local Hugging Face classifier exported once to ONNX, cached, so analysis can skip torch.

Why: on a CPU, ``fervideo analyze`` spent more time importing torch and transformers
(``transformers.modeling_utils`` alone pulls in most of the library; 5 s with the model)
than classifying faces, and onnxruntime runs the default FerViT about as fast as torch bf16
on an idle CPU and faster on a busy one, with torch's fp32 probabilities (largest
difference 8e-7). The export needs torch, once per model; the file
is cached under ``cache_dir()/onnx`` keyed by the sha256 of the weights and of the model's
JSON files, so a changed or retrained model gets its own export, and written atomically, so
concurrent processes never read half a file.

The exported graph is the model's forward pass from ``pixel_values`` (already normalised,
already converted to luminance where the caller does that) to logits, with a dynamic batch
axis; normalisation, temperature and softmax stay in numpy, exactly as the torch path does
them.

``quantized_export`` derives a second file from it, also cached: the matrix products
(attention, MLP, classifier) with int8 weights (per output channel) and activations quantised
on the fly, batch by batch (onnxruntime's dynamic quantisation), convolutions untouched. It
needs no calibration data, so every local model gets it, not only the shipped ones. Measured
on the project's 2-core CPU with the default model (batch 64): 1,490-1,550 crops/s against
1,088 for fp32 in the same run, FER-2013 val accuracy 0.6344 against 0.6342, the same top class on 99.7%
of the 3,589 images, and after smoothing the same label on every timeline row of the three
real videos and the generated 720p clip at 10 frames/s (at every frame, 1 row of 621 of
stage_cuts differs; mean absolute probability difference at most 0.0003).
Quantising the convolutions too (static, calibrated) was faster still (1,790 crops/s) but
changed 10% of the labels of stage_cuts' dim audience, and the convolutions alone cost the
real-video benchmark 9 points: the stem stays fp32.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from fervideo.core.errors import QuantizationError

log = logging.getLogger(__name__)

#: Bump when the exported graph changes shape or meaning: old cache entries are then ignored.
EXPORT_VERSION = 1
OPSET = 17
#: Bump when the quantisation recipe changes.
QUANT_VERSION = 1
_JSON_FILES = ("config.json", "preprocessor_config.json")


def cache_dir() -> Path:
    """fervideo's cache: ``$FERVIDEO_CACHE``, else ``$XDG_CACHE_HOME/fervideo``, else ``~/.cache/fervideo``."""
    if os.environ.get("FERVIDEO_CACHE"):
        return Path(os.environ["FERVIDEO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fervideo"


def export_key(model_dir: Path, weights_sha256: str) -> str:
    """A name for the export of this exact model (weights and JSON files)."""
    h = hashlib.sha256(weights_sha256.encode())
    for name in _JSON_FILES:
        p = model_dir / name
        if p.exists():
            h.update(p.read_bytes())
    return f"{h.hexdigest()[:24]}-v{EXPORT_VERSION}"


def cached_export(model_dir: Path, weights_sha256: str) -> Path | None:
    """The cached ONNX file of this model, or None if it has not been exported yet."""
    p = cache_dir() / "onnx" / f"{export_key(model_dir, weights_sha256)}.onnx"
    return p if p.exists() else None


def export_classifier(model_dir: Path, weights_sha256: str, input_channels: int, input_size: int) -> Path:
    """Export ``model_dir`` (a local HF image classifier) to the cache; returns the file.

    ``input_channels`` is what the graph receives (1 where the caller converts to luminance).
    Raises whatever torch's exporter raises for an architecture it cannot trace; the caller
    falls back to torch then.
    """
    from fervideo.core.device import passive_openmp

    passive_openmp()
    import torch
    from transformers import AutoModelForImageClassification
    from transformers.utils import logging as hf_logging

    import fervideo.modeling.fervit  # noqa: F401  (registers fervit with the Auto classes)

    out = cache_dir() / "onnx" / f"{export_key(model_dir, weights_sha256)}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForImageClassification.from_pretrained(str(model_dir)).float().eval()
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()

    class Logits(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.m(pixel_values=pixel_values).logits

    x = torch.zeros(2, input_channels, input_size, input_size)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.partial")
    os.close(fd)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
            torch.onnx.export(Logits(model), (x,), tmp, input_names=["pixel_values"], output_names=["logits"],
                              dynamic_axes={"pixel_values": {0: "n"}, "logits": {0: "n"}}, opset_version=OPSET, dynamo=False)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("exported %s to %s", model_dir, out)
    return out


class _OnlyErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def quantized_export(fp32_file: Path) -> Path:
    """The int8 variant of an exported classifier (see the module docstring), made once and cached.

    Kept beside ``fp32_file`` under the same key, so it follows the model's weights and JSON
    files; written atomically like the export itself.
    """
    out = fp32_file.with_name(fp32_file.name.removesuffix(".onnx") + f"-int8q{QUANT_VERSION}.onnx")
    if out.exists():
        return out
    tmp = None
    # onnxruntime's quantisation logs through the root logger's module functions, which install
    # a handler on the root logger if it has none (every later message of the process would
    # print twice), and it advises shape-inference pre-processing, which pulls in torch and made
    # no difference here (the same accuracy, 1,490-1,550 crops/s without against 1,370-1,420
    # with). Records logged on the root logger itself are dropped meanwhile (this package never
    # logs there), and the root logger is put back as it was.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatter = _OnlyErrors()
    root.addFilter(chatter)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.partial")  # a read-only cache fails here
        os.close(fd)
        quantize_dynamic(str(fp32_file), tmp, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8,
                         per_channel=True)
        os.replace(tmp, out)
    except Exception as exc:
        raise QuantizationError(f"{fp32_file.name}: int8 quantisation failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
    finally:
        root.removeFilter(chatter)
        root.handlers[:] = handlers
        root.setLevel(level)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    log.info("quantised %s to %s", fp32_file, out)
    return out


__all__ = ["EXPORT_VERSION", "QUANT_VERSION", "cache_dir", "cached_export", "export_classifier", "export_key", "quantized_export"]
