"""Temperature scaling: the ECE, the fit, where the temperature is stored, and that analyze applies it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.core.errors import ModelError
from fervideo.stages.classify import EmotionClassifier
from fervideo.train.calibrate import (
    calibrate,
    collect_logits,
    expected_calibration_error,
    fit_temperature,
)
from fervideo.train.data import encode_png, load_dataset

runner = CliRunner()


def test_ece_against_a_hand_computed_example():
    # Bin (0.6, 0.667]: confidences 0.62, 0.65, one right -> |0.5 - 0.635|; bin (0.933, 1]: 0.95, right -> 0.05.
    probs = np.array([[0.62, 0.38], [0.35, 0.65], [0.95, 0.05]])
    labels = np.array([0, 0, 0])
    assert expected_calibration_error(probs, labels, bins=15) == pytest.approx(2 / 3 * 0.135 + 1 / 3 * 0.05)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == 0.0  # confident and right


def test_fit_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (20000, 5))
    p = torch.as_tensor(z / 2.5).softmax(-1).numpy()
    y = (rng.random((len(p), 1)) > p.cumsum(1)).sum(1)  # one draw per row from its distribution
    assert fit_temperature(z, y) == pytest.approx(2.5, rel=0.05)
    assert fit_temperature(z / 2.5, y) == pytest.approx(1.0, rel=0.05)


def _faces(path, n=240, seed=0):
    """Three classes a tiny model can tell apart a little: brightness of the top, middle or bottom band."""
    rng = np.random.default_rng(seed)
    names = ["happy", "sad", "neutral"]
    imgs = rng.integers(0, 80, (n, 48, 48), dtype=np.uint8)
    y = rng.integers(0, 3, n)
    for k in range(3):
        imgs[y == k, 16 * k : 16 * (k + 1)] += 120
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": [names[k] for k in y]}), path)
    return path


def _overconfident_copy(src, dst, scale=25.0):
    """A copy of a model whose classifier weights are scaled up: same predictions, far too sure of them."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    state = load_file(dst / "model.safetensors")
    state = {k: (v * scale if k.startswith("classifier.") else v) for k, v in state.items()}
    save_file(state, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_cli_calibrates_a_fervit_in_its_config_and_analyze_applies_it(tmp_path, tiny_fervit):
    model = _overconfident_copy(tiny_fervit, tmp_path / "m")
    val = _faces(tmp_path / "val.parquet")
    data = load_dataset(val, size=None)
    logits, labels, classes = collect_logits(model, data)
    crops = np.repeat(data.images[:16, :, :, None], 3, axis=3)
    before = EmotionClassifier(str(model), device="cpu", dtype="fp32").predict(crops)

    r = runner.invoke(app, ["calibrate", str(model), "--val", str(val)])
    assert r.exit_code == 0, r.output
    t = json.loads((model / "config.json").read_text())["logit_temperature"]
    assert t > 2.0  # an over-confident model is cooled down
    assert not (model / "calibration.json").exists()
    card = (model / "README.md").read_text()
    assert "## Calibration" in card and f"T = {t:.3f}" in card
    probs = torch.as_tensor(logits, dtype=torch.float64)
    assert expected_calibration_error((probs / t).softmax(-1).numpy(), labels) < \
        expected_calibration_error(probs.softmax(-1).numpy(), labels)

    clf = EmotionClassifier(str(model), device="cpu", dtype="fp32")
    after = clf.predict(crops)
    assert np.array_equal(after.argmax(1), before.argmax(1))
    expected = torch.as_tensor(logits[:16] / t).softmax(-1).numpy()[:, [classes.index(c) for c in clf.labels]]
    np.testing.assert_allclose(after, expected, atol=1e-4)

    # Calibrating again starts from the network's own logits, not from the stored temperature.
    again = calibrate(model, data, write=False)
    assert again.temperature == pytest.approx(t, rel=1e-3)


def test_other_models_get_calibration_json_which_analyze_applies(tmp_path, tiny_vit):
    model = _overconfident_copy(tiny_vit, tmp_path / "vit", scale=40.0)
    val = _faces(tmp_path / "val.parquet")
    data = load_dataset(val, size=None)
    res = calibrate(model, data, force=True)
    assert res.stored_in == "calibration.json"
    stored = json.loads((model / "calibration.json").read_text())
    assert stored["temperature"] == pytest.approx(res.temperature)
    assert "logit_temperature" not in json.loads((model / "config.json").read_text())

    clf = EmotionClassifier(str(model), device="cpu", dtype="fp32")
    crops = np.repeat(data.images[:8, :32, :32, None], 3, axis=3)  # already at the model's 32x32 input
    member = clf.members[0]
    with torch.no_grad():
        logits = member.model(pixel_values=member.prepare(crops)).logits
    want = (logits.double() / res.temperature).softmax(-1).numpy()
    order = [member.info.labels.index(c) for c in clf.labels]
    np.testing.assert_allclose(clf.predict(crops), want[:, order], atol=1e-4)


def test_a_temperature_that_does_not_help_is_not_stored(tmp_path, tiny_fervit):
    # A head of zeros gives uniform probabilities whatever T is: no temperature lowers the ECE.
    from safetensors.torch import load_file, save_file

    model = tmp_path / "m"
    shutil.copytree(tiny_fervit, model)
    state = load_file(model / "model.safetensors")
    state = {k: (v * 0 if k.startswith("classifier.") else v) for k, v in state.items()}
    save_file(state, model / "model.safetensors", metadata={"format": "pt"})
    config_before = (model / "config.json").read_text()
    val = _faces(tmp_path / "val.parquet", n=60)
    r = runner.invoke(app, ["calibrate", str(model), "--val", str(val)])
    assert r.exit_code == 0, r.output
    assert "not stored" in r.output
    assert (model / "config.json").read_text() == config_before
    assert "**not stored**" in (model / "README.md").read_text()


def test_a_broken_calibration_file_is_a_clear_error(tmp_path, tiny_vit):
    model = tmp_path / "vit"
    shutil.copytree(tiny_vit, model)
    (model / "calibration.json").write_text(json.dumps({"temperature": -1}))
    with pytest.raises(ModelError, match="positive"):
        EmotionClassifier(str(model), device="cpu")
    (model / "calibration.json").write_text("{}")
    with pytest.raises(ModelError, match="unreadable calibration"):
        EmotionClassifier(str(model), device="cpu")


def test_card_section_is_replaced_not_repeated(tmp_path):
    from fervideo.train.card import add_calibration

    (tmp_path / "README.md").write_text("# m\n\n## Limits\n\nsome.\n\n## Files\n\n- weights\n")
    (tmp_path / "card.json").write_text(json.dumps({"sha256": "x"}))
    cal = {"temperature": 1.7, "ece_before": 0.2, "ece_after": 0.05, "ece_after_heldout": 0.06, "nll_before": 1.2,
           "nll_after": 1.0, "accuracy": 0.6, "n": 100, "bins": 15, "source": "val.parquet",
           "stored_in": "config.json (logit_temperature)"}
    add_calibration(tmp_path, cal)
    add_calibration(tmp_path, {**cal, "temperature": 1.8})
    text = (tmp_path / "README.md").read_text()
    assert text.count("## Calibration") == 1 and "T = 1.800" in text and "T = 1.700" not in text
    assert "some.\n\n## Calibration" in text and "never changes the top class).\n\n## Files\n\n- weights\n" in text
    assert json.loads((tmp_path / "card.json").read_text())["calibration"]["temperature"] == 1.8
