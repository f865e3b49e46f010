"""bench/real_faces.py's preprocessing probes: each crop transform keeps the crops' shape, and
``install_transform`` reaches the classifier the pipeline really builds, on either runtime (it
once patched a name the pipeline no longer used, so every transform measured the plain model)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import fervideo
from fervideo.pipeline.backends import Backends

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "real_faces.py"


@pytest.fixture(scope="module")
def real_faces():
    spec = importlib.util.spec_from_file_location("real_faces_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["equalize", "standardize", "clahe", "grayworld", "maxchannel"])
def test_each_transform_keeps_shape_and_changes_a_cast_crop(real_faces, name):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 48, 48, 3)).astype(np.uint8)
    crops[..., 0] //= 3  # a colour cast: red dimmed
    out = real_faces.crop_transform(name)(crops)
    assert out.shape == crops.shape and np.isfinite(np.asarray(out, np.float64)).all()
    assert not np.array_equal(np.asarray(out, np.float64), crops.astype(np.float64))


def test_unknown_transform_lists_the_valid_ones(real_faces):
    with pytest.raises(SystemExit, match="grayworld"):
        real_faces.crop_transform("sharpen")
    assert real_faces.crop_transform("none") is None


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_install_transform_reaches_the_pipelines_classifier(real_faces, clips, tiny_fervit, tmp_path, monkeypatch, runtime):
    monkeypatch.setattr(Backends, "classifier", Backends.classifier)  # undone after the test
    seen = []

    def dark(crops: np.ndarray) -> np.ndarray:
        seen.append(len(crops))
        return np.zeros_like(crops)

    real_faces.install_transform(dark)
    res = fervideo.analyze([clips["face"]], tmp_path / "out", model=str(tiny_fervit), render=False,
                           persons=False, classifier_runtime=runtime)
    assert not res.failed
    assert sum(seen) > 0  # the crops reached the classifier through the transform
