"""One data config per model, read from its processor and config; luminance and flip-TTA once."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fervideo.modeling.data_config import (
    DataConfig,
    data_config_from_dir,
    flip_tta,
    mirror,
    resolve_data_config,
    to_luminance,
)

IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


@pytest.mark.parametrize(
    ("processor", "config", "side"),
    [
        ({"size": {"height": 48, "width": 48}}, {}, 48),
        ({"size": {"shortest_edge": 256}, "do_center_crop": True, "crop_size": {"height": 224, "width": 224}}, {}, 224),
        ({"size": {"shortest_edge": 256}, "do_center_crop": False, "crop_size": {"height": 224, "width": 224}}, {}, 256),
        ({"size": 112}, {}, 112),
        ({}, {"image_size": 64}, 64),
        (None, {}, 224),
    ],
)
def test_input_size_honours_crop_size(processor, config, side):
    assert resolve_data_config(config, processor).input_size == side


def test_statistics_are_per_channel_and_default_to_half():
    dc = resolve_data_config({"num_channels": 3}, IMAGENET)
    assert dc.mean == (0.485, 0.456, 0.406) and dc.std == (0.229, 0.224, 0.225)
    mean, std = dc.stats(scale=255.0)
    assert mean.shape == std.shape == (1, 3, 1, 1) and mean.dtype == np.float32
    assert mean[0, 2, 0, 0] == pytest.approx(0.406 * 255) and std[0, 0, 0, 0] == pytest.approx(0.229 * 255)
    assert resolve_data_config({}, {}).mean == (0.5, 0.5, 0.5)


def test_who_converts_colour_to_luminance():
    assert not resolve_data_config({"num_channels": 3, "model_type": "vit"}).gray
    assert resolve_data_config({"num_channels": 1, "model_type": "resnet"}).gray  # the caller converts
    fervit = resolve_data_config({"num_channels": 1, "model_type": "fervit"})
    assert not fervit.gray and fervit.sees_gray  # FerViT converts inside the model


def test_objects_and_their_json_give_the_same_config(tiny_vit, tiny_fervit):
    from transformers import AutoConfig, AutoImageProcessor

    import fervideo.modeling.fervit  # noqa: F401  (registers fervit)

    for d in (tiny_vit, tiny_fervit):
        objects = resolve_data_config(AutoConfig.from_pretrained(d), AutoImageProcessor.from_pretrained(d))
        assert objects == data_config_from_dir(d)
        assert isinstance(objects, DataConfig)


def test_classifier_catalog_and_config_agree_on_a_centre_cropping_model(tiny_vit, tmp_path):
    """The copy that used to disagree: a processor that resizes to 40 and centre-crops 32."""
    import shutil

    from fervideo.modeling.catalog import describe
    from fervideo.stages.classify import EmotionClassifier

    d = tmp_path / "cropping"
    shutil.copytree(tiny_vit, d)
    pp = json.loads((d / "preprocessor_config.json").read_text())
    pp.update(size={"height": 40, "width": 40}, do_center_crop=True, crop_size={"height": 32, "width": 32}, **IMAGENET)
    (d / "preprocessor_config.json").write_text(json.dumps(pp))
    clf = EmotionClassifier(str(d), device="cpu", dtype="fp32")
    assert clf.input_size == describe(str(d)).input_size == data_config_from_dir(d).input_size == 32
    m = clf.members[0]
    assert m.mean.flatten().tolist() == pytest.approx([0.485 * 255, 0.456 * 255, 0.406 * 255])


def test_luminance_is_bt601_for_numpy_and_torch_alike():
    import torch

    rgb = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    x = rgb.transpose(0, 3, 1, 2).astype(np.float32)
    a = to_luminance(x)
    b = to_luminance(torch.from_numpy(x)).numpy()
    ref = np.stack([cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in rgb])[:, None]
    assert a.shape == b.shape == (2, 1, 8, 8)
    assert np.allclose(a, b, atol=1e-4) and np.abs(a - ref).max() <= 0.51  # OpenCV rounds to integers


def test_flip_tta_averages_the_batch_and_its_mirror():
    import torch

    x = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)  # (N, H, W, C)
    def left_edge(b):  # a "model" that looks at the left edge only
        return b[:, 0, 0, 0]

    assert np.allclose(flip_tta(left_edge, x, width_axis=2), 0.5 * (x[:, 0, 0, 0] + x[:, 0, -1, 0]))
    assert mirror(x, 2).flags.c_contiguous and np.array_equal(mirror(x, 2), x[:, :, ::-1])
    t = torch.from_numpy(x).permute(0, 3, 1, 2)  # (N, C, H, W)
    got = flip_tta(lambda b: b[:, 0, 0, 0], t, width_axis=-1)
    assert torch.allclose(got, torch.from_numpy(0.5 * (x[:, 0, 0, 0] + x[:, 0, -1, 0])))
