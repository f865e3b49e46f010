"""Face detectors, chosen by name from a registry (``--detector``).

Every detector takes a batch of RGB frames with their times and returns one ``Faces`` with
boxes, scores and 5 landmarks in the frames' pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from fervideo.core.device import ort_providers  # noqa: F401  (the detectors' import path)
from fervideo.core.errors import BackendError
from fervideo.core.geometry import box_iou
from fervideo.core.types import Faces, FrameTime


class Detector(Protocol):
    name: str

    def detect(self, frames: Sequence[np.ndarray], times: list[FrameTime]) -> Faces:
        """Faces in RGB frames of one size: a stacked (B, H, W, 3) array or a list of (H, W, 3)."""
        ...


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
    from fervideo.stages.detect import centerface, scrfd  # noqa: F401


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Greedy non-maximum suppression, vectorised over the candidates of one frame."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou(boxes[i], boxes[rest]) < thresh]
    return np.asarray(keep, dtype=np.int64)
