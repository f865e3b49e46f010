"""Model directories load with plain transformers (trust_remote_code), in a process without fervideo."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fervideo.modeling.remote_code import (
    AUTO_MAP,
    CONFIG_FILE,
    MODELING_FILE,
    render,
    write_remote_code,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODELS = sorted(d for d in (ROOT / "models").iterdir() if (d / "config.json").exists())

# Run in a child: fervideo cannot be imported there at all (a meta-path hook refuses it), so the
# model must come from the files in its directory. Prints the pipeline's scores per directory.
_CHILD = r"""
import json, sys
import numpy as np


class _NoFervideo:
    def find_spec(self, name, path=None, target=None):
        if name == "fervideo" or name.startswith("fervideo."):
            raise ImportError("fervideo must not be imported here")
        return None


sys.meta_path.insert(0, _NoFervideo())
from PIL import Image
from transformers import pipeline

image = Image.fromarray(np.load(sys.argv[1]))
out = {}
for d in sys.argv[2:]:
    clf = pipeline("image-classification", model=d, trust_remote_code=True, device="cpu")
    out[d] = {r["label"]: r["score"] for r in clf(image, top_k=clf.model.config.num_labels)}
assert not any(m == "fervideo" or m.startswith("fervideo.") for m in sys.modules)
print(json.dumps(out))
"""


def _plain_transformers(tmp_path: Path, image: np.ndarray, *dirs: Path) -> dict[str, dict[str, float]]:
    np.save(tmp_path / "face.npy", image)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "hf_modules"), TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "face.npy"), *map(str, dirs)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _face(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 90, (48, 48, 3), dtype=np.uint8)
    img[28:36, 12:36] += 150  # a bright "mouth"
    return img


def _fervideo_probs(model_dir: Path, image: np.ndarray) -> dict[str, float]:
    from fervideo.stages.classify import EmotionClassifier

    clf = EmotionClassifier(str(model_dir), device="cpu", dtype="fp32")
    return dict(zip(clf.labels, clf.predict(image[None])[0].tolist()))


def test_generated_code_is_self_contained():
    files = render()
    assert set(files) == {CONFIG_FILE, MODELING_FILE}
    for text in files.values():
        tree = ast.parse(text)
        modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m.split(".")[0] == "fervideo"]
        assert ".register(" not in text  # fervideo's own Auto registration would clash with it
    assert "class FerViTConfig(" in files[CONFIG_FILE]
    assert "class FerViTForImageClassification(" in files[MODELING_FILE]
    assert "from .configuration_fervit import" in files[MODELING_FILE]


@pytest.mark.slow
def test_a_trained_and_exported_model_loads_with_plain_transformers(tmp_path):
    """The trainer's export ships the code; a child process without fervideo gets fervideo's probabilities
    (every stem type: the generated files must carry every helper the VGG and MobileNet stems need too)."""
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (64, 48, 48), dtype=np.uint8)
    y = np.arange(64) % 3
    data = FaceImages(imgs, y, ["happy", "sad", "neutral"], "synthetic")
    cfg = TrainConfig(epochs=1, batch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      stem_channels=[8, 16, 16], warmup_epochs=0.5, device="cpu", max_steps_per_epoch=2)
    out = tmp_path / "m"
    train(data, data, out, cfg)
    vgg = tmp_path / "vgg"
    train(data, data, vgg, replace(cfg, stem_type="vgg"))
    assert json.loads((vgg / "config.json").read_text())["stem_type"] == "vgg"
    mobile = tmp_path / "mobilenet"
    train(data, data, mobile, replace(cfg, stem_type="mobilenet", stem_blocks=6, stem_scale=4 / 3, stem_init="centerface"))
    assert json.loads((mobile / "config.json").read_text())["stem_type"] == "mobilenet"
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP
    assert (out / CONFIG_FILE).read_text() == render()[CONFIG_FILE]
    assert (out / MODELING_FILE).read_text() == render()[MODELING_FILE]

    # A calibrated copy: the temperature in the config reaches plain transformers too.
    hot = tmp_path / "hot"
    hot.mkdir()
    for f in out.iterdir():
        if f.is_file():
            (hot / f.name).write_bytes(f.read_bytes())
    config["logit_temperature"] = 0.25
    (hot / "config.json").write_text(json.dumps(config))

    face = _face()
    got = _plain_transformers(tmp_path, face, out, hot, vgg, mobile)
    for d in (out, hot, vgg, mobile):
        want = _fervideo_probs(d, face)
        assert set(got[str(d)]) == set(want)
        for label, p in want.items():
            assert got[str(d)][label] == pytest.approx(p, abs=1e-4)
    assert max(got[str(hot)].values()) > max(got[str(out)].values())  # T < 1 sharpens


def test_the_default_is_shipped():
    assert "fervit-fer2013" in [d.name for d in SHIPPED_MODELS]


@pytest.mark.slow
@pytest.mark.parametrize("shipped", SHIPPED_MODELS, ids=[d.name for d in SHIPPED_MODELS])
def test_every_shipped_model_ships_current_code_and_loads_without_fervideo(tmp_path, shipped):
    config = json.loads((shipped / "config.json").read_text())
    assert config.get("auto_map") == AUTO_MAP
    for name, text in render().items():
        assert (shipped / name).read_text() == text, (
            f"{shipped / name} is stale: run python -m fervideo.modeling.remote_code {shipped.relative_to(ROOT)}")
    face = _face(1)
    got = _plain_transformers(tmp_path, face, shipped)[str(shipped)]
    want = _fervideo_probs(shipped, face)
    for label, p in want.items():
        assert got[label] == pytest.approx(p, abs=1e-4)


def test_non_fervit_directories_are_left_alone(tiny_vit, tmp_path):
    d = tmp_path / "vit"
    d.mkdir()
    for f in tiny_vit.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    before = (d / "config.json").read_text()
    assert write_remote_code(d) is False
    assert (d / "config.json").read_text() == before
    assert not (d / MODELING_FILE).exists()
