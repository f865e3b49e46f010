"""fervideo evaluate / explain / models on small local data and tiny models."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

import make_samples
from fervideo._cli import app
from fervideo.train.data import encode_png

runner = CliRunner()


def _set(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (24, 48, 48), dtype=np.uint8)
    labels = ["happy", "sad", "neutral"] * 8
    p = tmp_path / "set.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": labels}), p)
    return p


def test_evaluate_writes_tables_for_each_model_and_an_ensemble(tmp_path, tiny_vit, tiny_fervit):
    data = _set(tmp_path)
    out = tmp_path / "eval"
    r = runner.invoke(app, ["evaluate", str(data), "-m", str(tiny_vit), "-m", str(tiny_fervit),
                            "--ensemble", f"{tiny_vit},{tiny_fervit}", "--tta", "--out", str(out)])
    assert r.exit_code == 0, r.output
    comp = json.loads((out / "comparison.json").read_text())
    assert len(comp) == 3
    for row in comp:
        assert 0 <= row["accuracy"] <= 1 and row["crops_per_s"] > 0 and row["n"] == 24
        cm = np.array(row["details"]["confusion"])
        assert cm.sum() == 24
        assert row["accuracy"] == np.trace(cm) / cm.sum()
    assert len(list(out.glob("*_confusion.png"))) == 3 and len(list(out.glob("*_confusion.csv"))) == 3
    assert (out / "comparison.csv").read_text().startswith("model,accuracy,macro_f1")


def test_explain_image_overlay_has_the_input_size(tmp_path, tiny_fervit, tiny_vit):
    img = make_samples.astronaut()[:400, :300]
    p = tmp_path / "face.png"
    cv2.imwrite(str(p), img[..., ::-1])
    for model in (tiny_fervit, tiny_vit):
        out = tmp_path / f"x-{model.name}"
        r = runner.invoke(app, ["explain", str(p), "--model", str(model), "--out", str(out)])
        assert r.exit_code == 0, r.output
        pngs = list(out.glob("*.png"))
        assert len(pngs) == 1
        ov = cv2.imread(str(pngs[0]))
        assert ov.shape == img.shape
        assert np.abs(ov.astype(int) - img[..., ::-1].astype(int)).mean() > 1  # something was drawn


def test_grad_cam_for_a_convolutional_model(tmp_path):
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification, ViTImageProcessor

    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_crop

    torch.manual_seed(0)
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=2,
                       id2label={0: "happy", 1: "sad"}, label2id={"happy": 0, "sad": 1})
    d = tmp_path / "resnet"
    ResNetForImageClassification(cfg).save_pretrained(d)
    ViTImageProcessor(size={"height": 64, "width": 64}).save_pretrained(d)
    clf = EmotionClassifier(str(d), device="cpu")
    e = explain_crop(clf, np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    assert e.method == "Grad-CAM" and e.heat.shape == (64, 64) and 0 <= e.heat.min() and e.heat.max() <= 1


def test_models_list_and_offline_info():
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0 and "fervit" in r.output
    r = runner.invoke(app, ["models", "info", "fervit-fer2013"])
    assert r.exit_code == 0 and "angry" in r.output


def test_models_info_offline_hub_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["models", "info", "someone/not-cached-model"])
    assert r.exit_code == 1 and "fervit-fer2013" in r.output and "Traceback" not in r.output
