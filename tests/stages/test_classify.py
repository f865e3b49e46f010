import json
import shutil

import numpy as np
import pytest

from fervideo.core.errors import ModelError
from fervideo.core.types import Faces
from fervideo.stages.align import FER_TEMPLATE, align_crops, similarities
from fervideo.stages.classify import EmotionClassifier


def test_hf_vit_loads_with_canonical_labels(tiny_vit):
    clf = EmotionClassifier(str(tiny_vit), device="cpu", batch_size=4)
    assert clf.labels == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert clf.input_size == 32
    p = clf.predict(np.random.default_rng(0).integers(0, 255, (10, 32, 32, 3), dtype=np.uint8))
    assert p.shape == (10, 7) and np.allclose(p.sum(1), 1, atol=1e-5)


def _decisive(tiny_vit, tmp_path):
    """tiny_vit with a 30x sharper head: clearly different probabilities per crop, not ~1/7 each."""
    import torch
    from transformers import ViTForImageClassification

    d = tmp_path / "decisive-vit"
    m = ViTForImageClassification.from_pretrained(tiny_vit)
    with torch.no_grad():
        m.classifier.weight.mul_(30.0)
    m.save_pretrained(d)
    shutil.copy(tiny_vit / "preprocessor_config.json", d)
    return d


def test_fp32_and_bf16_agree(tiny_vit, tmp_path):
    """The bf16 path (the default on CPUs with native bf16) gives fp32's probabilities, on any CPU."""
    import torch

    model = _decisive(tiny_vit, tmp_path)
    rng = np.random.default_rng(1)
    x = np.clip(rng.integers(0, 255, (16, 1, 1, 3)) + rng.integers(-40, 40, (16, 32, 32, 3)), 0, 255).astype(np.uint8)
    fp32 = EmotionClassifier(str(model), device="cpu", dtype="fp32")
    bf16 = EmotionClassifier(str(model), device="cpu", dtype="bf16")
    assert bf16.members[0].input_dtype == torch.bfloat16 and next(bf16.members[0].model.parameters()).dtype == torch.bfloat16
    a, b = fp32.predict(x), bf16.predict(x)
    assert a.max(1).min() > 0.4 and np.ptp(a, axis=0).max() > 0.2  # decisive, and different for each crop
    assert not np.array_equal(a, b)  # really computed in another precision
    assert np.abs(a - b).max() < 0.05
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.9


def test_ensemble_and_tta_shapes(tiny_vit, tiny_fervit):
    clf = EmotionClassifier(f"{tiny_vit},{tiny_fervit}", device="cpu", tta=True)
    assert clf.labels == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert clf.input_size == 48
    p = clf.predict(np.random.default_rng(2).integers(0, 255, (5, 48, 48, 3), dtype=np.uint8))
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_offline_hub_id_gives_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as e:
        EmotionClassifier("trpakov/vit-face-expression", device="cpu")
    msg = str(e.value)
    assert "fervit-fer2013" in msg and "\n" not in msg


def test_unmappable_labels_are_refused(tiny_vit, tmp_path):
    d = tmp_path / "bad"
    shutil.copytree(tiny_vit, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["id2label"] = {str(i): f"LABEL_{i}" for i in range(7)}
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="LABEL_0"):
        EmotionClassifier(str(d), device="cpu")


def test_corrupted_weights_detected_by_sha256(tiny_fervit, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_fervit, d)
    from fervideo.modeling.catalog import sha256_file

    (d / "card.json").write_text(json.dumps({"sha256": sha256_file(d / "model.safetensors")}))
    EmotionClassifier(str(d), device="cpu")  # intact: loads
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(ModelError, match="sha256"):
        EmotionClassifier(str(d), device="cpu")


def test_truncated_weights_without_card_give_load_error(tiny_fervit, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_fervit, d)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(ModelError, match="cannot be loaded"):
        EmotionClassifier(str(d), device="cpu")


def test_alignment_puts_landmarks_on_template():
    rng = np.random.default_rng(0)
    src = FER_TEMPLATE * 100 + np.array([40.0, 20.0])
    ang = np.deg2rad(15)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = src @ rot.T + rng.normal(0, 0.01, src.shape)
    m = similarities(pts[None], FER_TEMPLATE * 48)[0]
    mapped = pts @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - FER_TEMPLATE * 48).max() < 0.1
    frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    faces = Faces(np.array([[30, 10, 160, 160]]), [0.9], pts[None], [0], [0.0])
    crops = align_crops(frame, faces, 48)
    assert crops.shape == (1, 48, 48, 3) and crops.dtype == np.uint8


def test_loading_a_model_leaves_transformers_logging_as_it_was(tiny_vit):
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_info()
    try:
        EmotionClassifier(str(tiny_vit), device="cpu")
        assert hf_logging.get_verbosity() == hf_logging.INFO and hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity_warning()


def test_unknown_device_is_a_device_error_before_any_model_loads(tmp_path):
    from fervideo.core.errors import DeviceError

    with pytest.raises(DeviceError, match="unknown device 'tpu'; choose auto, cpu or cuda"):
        EmotionClassifier(str(tmp_path / "no-such-model"), device="tpu")  # the model would fail later
