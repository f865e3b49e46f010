"""The mobilenet stem started from CenterFace's backbone computes what the detector's own graph does."""

from __future__ import annotations

import numpy as np
import pytest

from fervideo.core.errors import ConfigError


def test_centerface_stem_matches_the_detectors_graph():
    """Gray crops in processor units through the initialised stem give CenterFace's block-13 features
    of the same picture in 0..255 RGB (node 474 of its graph): the colour sum and the input scale are
    folded into the first convolution exactly. Only the first convolution's zero padding differs (0
    in processor units is mid-gray, 0..255's 0 is black), and its effect reaches far into a 13-block
    stem; so the comparison pads by hand with -1 (black in processor units)."""
    import torch.nn.functional as F
    import onnx
    import torch

    from fervideo.stages.detect.centerface import weights_path
    from fervideo.stages.detect.onnx_torch import OnnxGraphModule
    from fervideo.train.trainer import TrainConfig, build_model

    model, _ = build_model(["happy", "sad"], TrainConfig(stem_type="mobilenet", stem_init="centerface", input_norm="none",
                                                         hidden_size=32, num_hidden_layers=1, num_attention_heads=2))
    graph = OnnxGraphModule(onnx.load(str(weights_path())))
    graph.output_names = ["474"]  # the output of MobileNetV2's 13th block, which the detector's neck reads
    rng = np.random.default_rng(0)
    gray = torch.from_numpy(rng.random((2, 1, 160, 160), dtype=np.float32))
    with torch.no_grad():
        theirs = graph((gray * 255).expand(-1, 3, -1, -1))[0]
        as_is = model.stem.features(gray * 2 - 1)
        model.stem.features[0][0].padding = (0, 0)
        ours = model.stem.features(F.pad(gray * 2 - 1, (1, 1, 1, 1), value=-1.0))
    assert ours.shape == theirs.shape == (2, 96, 10, 10)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-3 * float(theirs.abs().max()))
    assert not torch.allclose(as_is, theirs, atol=1e-2)  # with its own padding the stem is an approximation


def test_stem_init_refuses_what_cannot_work_before_training():
    from fervideo.train.trainer import TrainConfig

    with pytest.raises(ConfigError, match="valid: centerface"):
        TrainConfig(stem_type="mobilenet", stem_init="imagenet")
    with pytest.raises(ConfigError, match="--stem-type mobilenet"):
        TrainConfig(stem_init="centerface")
    with pytest.raises(ConfigError, match="stem_lr_scale"):
        TrainConfig(stem_lr_scale=0)


def test_a_slower_stem_rate_gives_the_stem_its_own_optimizer_groups(tmp_path):
    """--stem-lr-scale: the stem's parameters learn at a fraction of --lr (and only then get groups of
    their own, so checkpoints of runs without it keep their two groups and resume)."""
    import torch

    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    rng = np.random.default_rng(0)
    data = FaceImages(rng.integers(0, 255, (32, 48, 48), dtype=np.uint8), np.arange(32) % 2, ["happy", "sad"], "synthetic")
    small = dict(epochs=1, batch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, warmup_epochs=0,
                 device="cpu", max_steps_per_epoch=1, stem_type="mobilenet", stem_scale=4 / 3)
    train(data, data, tmp_path / "a", TrainConfig(stem_init="centerface", stem_lr_scale=0.25, lr=1e-3, **small))
    groups = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=False)["opt"]["param_groups"]
    assert sorted(g["initial_lr"] for g in groups) == pytest.approx([2.5e-4, 2.5e-4, 1e-3, 1e-3])
    train(data, data, tmp_path / "b", TrainConfig(**small))
    assert len(torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)["opt"]["param_groups"]) == 2


def test_the_card_names_the_stem_and_the_licence_of_its_start(tmp_path):
    import json

    from fervideo.train.card import write_card
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    rng = np.random.default_rng(0)
    data = FaceImages(rng.integers(0, 255, (32, 48, 48), dtype=np.uint8), np.arange(32) % 2, ["happy", "sad"], "synthetic")
    cfg = TrainConfig(epochs=1, batch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, warmup_epochs=0,
                      device="cpu", max_steps_per_epoch=1, stem_type="mobilenet", stem_scale=4 / 3, stem_init="centerface")
    summary = train(data, data, tmp_path / "m", cfg)
    card = write_card(tmp_path / "m", summary, command="fervideo train ...", train_source="t", val_source="v", crops_per_s=1.0)
    text = card.read_text()
    assert "MobileNetV2 stem of 13 blocks on the crop enlarged 1.33x" in text
    assert "CenterFace detector's backbone" in text and "MIT" in text
    assert "CenterFace" in json.loads((tmp_path / "m" / "card.json").read_text())["license"]
