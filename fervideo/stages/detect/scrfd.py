"""SCRFD (Guo et al. 2021) from insightface's model packs, as insightface downloads them.

insightface fetches ``buffalo_l`` (det_10g.onnx) into ``~/.insightface/models`` on first use.
Without network and without a cached pack this backend fails with one line that names the
default detector, which needs no download.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces, FrameTime
from fervideo.stages.detect import ort_providers, register

log = logging.getLogger(__name__)

PACK = "buffalo_l"


def model_root() -> Path:
    return Path(os.environ.get("INSIGHTFACE_HOME", Path.home() / ".insightface")) / "models"


def find_pack_file(prefix: str, pack: str = PACK) -> Path | None:
    d = model_root() / pack
    if d.is_dir():
        for f in sorted(d.glob("*.onnx")):
            if f.name.startswith(prefix):
                return f
    return None


def ensure_pack(pack: str = PACK) -> Path:
    """Return the model-pack folder, letting insightface download it if it can."""
    d = model_root() / pack
    if d.is_dir() and any(d.glob("*.onnx")):
        return d
    try:
        from insightface.utils import storage
    except ImportError as exc:
        raise BackendError("SCRFD needs the 'insightface' package: pip install insightface") from exc
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # insightface prints its download URL
            storage.ensure_available("models", pack, root=str(model_root().parent))
    except Exception as exc:  # noqa: BLE001 - network errors come in many types
        raise BackendError(
            f"the SCRFD weights (insightface pack '{pack}') are not on this machine and could not be "
            f"downloaded ({type(exc).__name__}); use the default --detector centerface, which needs no download"
        ) from exc
    return d


@register("scrfd")
class SCRFDDetector:
    name = "scrfd"

    def __init__(self, size: int = 640, threshold: float = 0.5, nms_threshold: float = 0.4, device: str = "auto", **_: object) -> None:
        ensure_pack()
        f = find_pack_file("det_")
        if f is None:
            raise BackendError(f"no det_*.onnx in {model_root() / PACK}; use the default --detector centerface")
        from insightface.model_zoo import model_zoo

        self.model = model_zoo.get_model(str(f), providers=ort_providers(device))
        ctx = 0 if ort_providers(device)[0].startswith("CUDA") else -1
        self.size = int(size)
        self.model.prepare(ctx_id=ctx, input_size=(self.size, self.size), det_thresh=threshold, nms_thresh=nms_threshold)

    def detect(self, frames: np.ndarray, times: list[FrameTime]) -> Faces:
        parts = []
        for f, t in zip(frames, times):
            bgr = np.ascontiguousarray(f[..., ::-1])
            det, kps = self.model.detect(bgr, input_size=(self.size, self.size))
            n = len(det)
            marks = kps.astype(np.float32) if kps is not None else np.zeros((n, 5, 2), np.float32)
            parts.append(Faces(det[:, :4], det[:, 4], marks, np.full(n, t.index), np.full(n, t.seconds)))
        return Faces.concat(parts)
