"""SCRFD (Guo et al. 2021) from insightface's model packs, as insightface downloads them.

insightface fetches ``buffalo_l`` (det_10g.onnx) into ``~/.insightface/models`` on first use.
Without network and without a cached pack this backend fails with one line that names the
default detector, which needs no download.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces, FrameTime
from fervideo.stages.detect import ort_providers, register
from fervideo.stages.insightface_pack import (
    PACK,
    ensure_pack,
    find_pack_file,
    model_root,
)

log = logging.getLogger(__name__)

@register("scrfd")
class SCRFDDetector:
    name = "scrfd"

    def __init__(self, size: int = 640, threshold: float = 0.5, nms_threshold: float = 0.4, device: str = "auto", **_: object) -> None:
        ensure_pack("SCRFD", "use the default --detector centerface, which needs no download")
        f = find_pack_file("det_")
        if f is None:
            raise BackendError(f"no det_*.onnx in {model_root() / PACK}; use the default --detector centerface")
        from insightface.model_zoo import model_zoo

        self.model = model_zoo.get_model(str(f), providers=ort_providers(device))
        ctx = 0 if ort_providers(device)[0].startswith("CUDA") else -1
        self.size = int(size)
        self.model.prepare(ctx_id=ctx, input_size=(self.size, self.size), det_thresh=threshold, nms_thresh=nms_threshold)

    def detect(self, frames: Sequence[np.ndarray], times: list[FrameTime]) -> Faces:
        parts = []
        for f, t in zip(frames, times):
            bgr = np.ascontiguousarray(f[..., ::-1])
            det, kps = self.model.detect(bgr, input_size=(self.size, self.size))
            n = len(det)
            marks = kps.astype(np.float32) if kps is not None else np.zeros((n, 5, 2), np.float32)
            parts.append(Faces(det[:, :4], det[:, 4], marks, np.full(n, t.index), np.full(n, t.seconds)))
        return Faces.concat(parts)
