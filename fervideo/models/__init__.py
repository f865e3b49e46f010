"""Emotion model architectures of the project, registered with Hugging Face Auto classes."""

from fervideo.models.fervit import FerViTConfig, FerViTForImageClassification

__all__ = ["FerViTConfig", "FerViTForImageClassification"]
