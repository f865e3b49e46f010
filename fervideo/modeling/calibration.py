"""A model directory's fitted temperature, for classifiers that cannot carry it in their config.

FerViT stores its calibration temperature in ``config.json`` (``logit_temperature``) and
applies it in ``forward``. Any other Hugging Face classifier gets a ``calibration.json`` next to
its weights (written by ``fervideo calibrate``, see ``fervideo.train.calibrate``), which
``stages.classify`` applies to the logits. Reading it lives here, below both of them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from fervideo.core.errors import ModelError

CALIBRATION_FILE = "calibration.json"


def read_temperature(model_dir: str | Path) -> float:
    """The temperature in a model directory's ``calibration.json``; 1.0 without one."""
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.is_file():
        return 1.0
    try:
        t = float(json.loads(path.read_text())["temperature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable calibration file ({exc}); remove it or run fervideo calibrate again") from exc
    if not math.isfinite(t) or t <= 0:
        raise ModelError(f"{path}: the temperature must be a positive number, not {t}")
    return t


__all__ = ["CALIBRATION_FILE", "read_temperature"]
