"""ArcFace-style embedders run by onnxruntime: insightface's ``buffalo_l`` ArcFace, or a user's model.

Both follow insightface's convention, which most exported face-recognition ONNX models share:
the face is aligned by its 5 landmarks (eyes, nose, mouth corners) onto ArcFace's 112x112
template (scaled to the model's square input), RGB, ``(x - 127.5) / 127.5``, NCHW; the output
is one vector per face, compared by cosine distance.

``arcface`` uses ``w600k_r50.onnx`` of insightface's ``buffalo_l`` pack (downloaded by
insightface where there is network, else it must already be in ``~/.insightface/models``);
``onnx`` runs the file given by ``--embed-model``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fervideo.core.device import ort_providers
from fervideo.core.errors import BackendError, ConfigError
from fervideo.core.types import Faces
from fervideo.stages.embed import register
from fervideo.stages.insightface_pack import PACK, ensure_pack, find_pack_file, model_root

#: ArcFace's landmark template (insightface ``arcface_dst``) in pixels of a 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32
)


class OnnxEmbedder:
    """A face-recognition ONNX model with one image input (N, 3, S, S) and one embedding output."""

    metric = "cosine"
    threshold = 0.5  # cosine distance, i.e. similarity >= 0.5 (ArcFace: same person typically > 0.5)

    def __init__(self, model: str | Path | None = None, device: str = "auto", name: str = "onnx", **_: object) -> None:
        if model is None:
            raise ConfigError("the onnx embedder needs a model file: --embed-model PATH.onnx")
        path = Path(model)
        if not path.is_file():
            raise ConfigError(f"--embed-model {path}: no such file")
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=ort_providers(device))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ConfigError(f"--embed-model {path}: not a loadable ONNX model ({exc})") from exc
        inp = self.session.get_inputs()[0]
        shape = inp.shape
        if len(shape) != 4 or shape[1] != 3:
            raise ConfigError(f"--embed-model {path}: expected one image input (N, 3, S, S), got {shape}")
        self.input = inp.name
        self.size = shape[2] if isinstance(shape[2], int) else 112
        self.batch = shape[0] if isinstance(shape[0], int) else 64  # a fixed batch dimension is honoured
        self.name = name
        self.path = path

    def crops(self, images: list[np.ndarray], faces: Faces) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB crops aligned onto the ArcFace template."""
        dst = ARCFACE_TEMPLATE * (self.size / 112.0)
        out = np.empty((len(faces), self.size, self.size, 3), np.uint8)
        for i, (img, lm) in enumerate(zip(images, faces.landmarks)):
            m, _ = cv2.estimateAffinePartial2D(lm.astype(np.float32), dst, method=cv2.LMEDS)
            if m is None:  # degenerate landmarks: a plain resize of the box
                x1, y1, x2, y2 = faces.boxes[i]
                s = self.size / max(x2 - x1, y2 - y1, 1.0)
                m = np.array([[s, 0, -s * x1], [0, s, -s * y1]], np.float64)
            out[i] = cv2.warpAffine(img, m, (self.size, self.size), borderValue=0.0)
        return out

    def embed(self, images: list[np.ndarray], faces: Faces) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, 0), np.float32)
        x = (self.crops(images, faces).astype(np.float32) - 127.5) / 127.5
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        parts = [self.session.run(None, {self.input: x[i:i + self.batch]})[0] for i in range(0, len(x), self.batch)]
        emb = np.concatenate(parts).reshape(len(x), -1).astype(np.float32)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)


@register("onnx")
def onnx_embedder(model: str | Path | None = None, device: str = "auto", **_: object) -> OnnxEmbedder:
    return OnnxEmbedder(model, device, name="onnx")


@register("arcface")
def arcface_embedder(device: str = "auto", **_: object) -> OnnxEmbedder:
    ensure_pack("arcface embedder", "use the default --embedder dlib, which needs no download")
    f = find_pack_file("w600k") or find_pack_file("glintr")
    if f is None:
        raise BackendError(f"no ArcFace model (w600k_*.onnx) in {model_root() / PACK}; use the default --embedder dlib")
    return OnnxEmbedder(f, device, name="arcface")
