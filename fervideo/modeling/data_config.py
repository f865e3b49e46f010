"""What a model wants as input, read once from its own config and image processor.

Like timm's ``resolve_data_config``: the input size (the processor's ``crop_size`` when it
centre-crops, else its ``size``, else the config's ``image_size``), the per-channel mean and
standard deviation, the number of input channels, and whether the caller must convert colour
to luminance. ``analyze`` (``stages.classify``), training (``train.trainer``), evaluation,
explanations and the model catalog all derive it here, so a model is fed the same way
everywhere: an ``--init`` checkpoint with ImageNet statistics is trained with the per-channel
statistics it runs with in ``analyze``.

The two input transforms more than one stage needs live here too, each once: colour to
luminance (for models trained on grayscale faces) and horizontal-flip test-time augmentation.
Nothing here imports torch at module level (the model catalog uses this without torch); the
transforms take torch tensors or numpy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

#: ITU-R BT.601 luma weights of R, G, B (what OpenCV and PIL use for RGB -> gray).
LUMA = (0.299, 0.587, 0.114)

#: Model types that convert colour input to luminance inside the model (``FerViT``).
CONVERTS_COLOUR_ITSELF = frozenset({"fervit"})

DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.5, 0.5, 0.5)
DEFAULT_SIZE = 224


@dataclass(frozen=True)
class DataConfig:
    """How to turn face crops into one model's ``pixel_values``.

    ``mean`` and ``std`` are per channel on pixels scaled to [0, 1] (one value applies to every
    channel). Crops are RGB; they are normalised per channel and then, where ``gray`` is True,
    converted to luminance because the model has one input channel and does not convert itself.
    """

    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_channels: int
    model_type: str = ""

    @property
    def gray(self) -> bool:
        """Whether the caller converts the normalised RGB input to one luminance channel."""
        return self.num_channels == 1 and self.model_type not in CONVERTS_COLOUR_ITSELF

    @property
    def sees_gray(self) -> bool:
        """Whether the model looks at luminance only (converted by the caller or by itself)."""
        return self.num_channels == 1

    def stats(self, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std as float32 arrays of shape (1, C, 1, 1), for pixels on [0, ``scale``]."""
        mean = np.asarray(self.mean, np.float32).reshape(1, -1, 1, 1) * scale
        std = np.asarray(self.std, np.float32).reshape(1, -1, 1, 1) * scale
        return mean, std


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        value = obj.get(key, default)
    else:
        value = getattr(obj, key, default)
    return default if value is None else value


def _side(size: Any) -> int | None:
    if isinstance(size, Mapping):
        return size.get("height") or size.get("shortest_edge")
    if isinstance(size, int):
        return size
    return None


def resolve_data_config(config: Any, processor: Any = None) -> DataConfig:
    """The data config of a model from its config and image processor (objects or their JSON dicts)."""
    size = _get(processor, "crop_size") if _get(processor, "do_center_crop", False) else None
    side = _side(size) or _side(_get(processor, "size")) or _get(config, "image_size") or DEFAULT_SIZE
    mean = tuple(float(v) for v in np.atleast_1d(_get(processor, "image_mean", DEFAULT_MEAN)))
    std = tuple(float(v) for v in np.atleast_1d(_get(processor, "image_std", DEFAULT_STD)))
    return DataConfig(
        input_size=int(side),
        mean=mean,
        std=std,
        num_channels=int(_get(config, "num_channels", 3)),
        model_type=str(_get(config, "model_type", "")),
    )


def data_config_from_dir(path: str | Path) -> DataConfig:
    """The data config of a model saved in Hugging Face format, read from its JSON files only."""
    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    pp = path / "preprocessor_config.json"
    processor = json.loads(pp.read_text()) if pp.exists() else None
    return resolve_data_config(config, processor)


T = TypeVar("T")


def to_luminance(x: T) -> T:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luminance, for torch tensors and numpy arrays alike.

    Applied to the normalised input, as models trained on grayscale faces were fed in training.
    """
    if hasattr(x, "new_tensor"):  # torch: in the tensor's own dtype and device
        w = x.new_tensor(LUMA).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    w = np.asarray(LUMA, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x * w).sum(1, keepdims=True)


def mirror(x: T, width_axis: int) -> T:
    """The horizontal mirror image of a batch (a contiguous copy for numpy, ``flip`` for torch)."""
    if hasattr(x, "flip") and not isinstance(x, np.ndarray):
        return x.flip(width_axis)
    return np.ascontiguousarray(np.flip(x, width_axis))


def flip_tta(predict: Callable[[T], Any], x: T, width_axis: int) -> Any:
    """Test-time augmentation: the mean of ``predict`` on the batch and on its mirror image.

    Faces are left-right symmetric in expression, so the mean of both views is a cheap
    ensemble. ``width_axis`` is 2 for (N, H, W, C) crops, -1 for (N, C, H, W) tensors.
    """
    return 0.5 * (predict(x) + predict(mirror(x, width_axis)))


__all__ = ["LUMA", "DataConfig", "data_config_from_dir", "flip_tta", "mirror", "resolve_data_config", "to_luminance"]
