"""Face detectors, chosen by name from a registry (``--detector``).

Every detector takes a batch of RGB frames with their times and returns one ``Faces`` with
boxes, scores and 5 landmarks in the frames' pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from fervideo.errors import BackendError
from fervideo.types import Faces, FrameTime


class Detector(Protocol):
    name: str

    def detect(self, frames: np.ndarray, times: list[FrameTime]) -> Faces: ...


_REGISTRY: dict[str, tuple[str, Callable[..., Detector]]] = {}


def register(name: str, extra: str | None = None):
    def deco(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        _REGISTRY[name] = (extra or "", factory)
        return factory

    return deco


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create(name: str, **kwargs) -> Detector:
    """Build a detector by name; an unknown name lists the valid ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise BackendError(f"unknown detector {name!r}; choose one of: {', '.join(available())}")
    return _REGISTRY[name][1](**kwargs)


def _load_builtins() -> None:
    from fervideo.detect import centerface, scrfd  # noqa: F401


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Greedy non-maximum suppression, vectorised over the candidates of one frame."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou < thresh]
    return np.asarray(keep, dtype=np.int64)


def ort_providers(device: str) -> list[str]:
    """onnxruntime providers for a device name: CUDA first when asked for and available."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
