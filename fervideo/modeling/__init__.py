"""Emotion models as data: the project's architectures, their preprocessing, the offline catalog.

``fervideo.modeling.fervit`` registers the ``fervit`` model type with transformers' Auto
classes when imported (it imports torch, so nothing here imports it eagerly).
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("FerViTConfig", "FerViTForImageClassification"):
        from fervideo.modeling import fervit

        return getattr(fervit, name)
    raise AttributeError(f"module 'fervideo.modeling' has no attribute {name!r}")


__all__ = ["FerViTConfig", "FerViTForImageClassification"]
