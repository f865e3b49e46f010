"""recipes/augment_ablation.py on generated data and a tiny model: every variant trains with its
ingredients switched off, the table has a row per variant, and a restart does not train again."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ferplus_data import fer_split

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "augment_ablation.py"


@pytest.mark.slow
def test_each_variant_trains_without_its_ingredients_and_a_restart_reuses_them(tmp_path, tiny_fervit):
    train, _, _ = fer_split(tmp_path / "data", "train", 64, 0)
    val, _, _ = fer_split(tmp_path / "data", "val", 24, 1)
    root = tmp_path / "ablation"
    args = [sys.executable, str(RECIPE), "--root", str(root), "--train", str(train), "--val", str(val),
            "--init", str(tiny_fervit), "--epochs", "1", "--no-real-faces", "--only", "full", "plain", "no-blur-downscale",
            "--train-option=--batch-size=32", "--train-option=--threads=1"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = list(csv.DictReader(open(root / "ablation.csv")))
    assert [x["variant"] for x in rows] == ["full", "plain", "no-blur-downscale"]
    assert all(0 <= float(x["fer_val_accuracy"]) <= 1 for x in rows)
    aug = {x["variant"]: json.loads((root / x["variant"] / "training.json").read_text())["config"]["augment"] for x in rows}
    assert aug["full"]["blur_p"] > 0 and aug["full"]["downscale_p"] > 0 and aug["full"]["jpeg_p"] > 0
    assert aug["no-blur-downscale"]["blur_p"] == 0 and aug["no-blur-downscale"]["downscale_p"] == 0
    assert aug["no-blur-downscale"]["jpeg_p"] == aug["full"]["jpeg_p"]
    assert all(v == 0 for k, v in aug["plain"].items() if k.endswith("_p") and k != "erase_p")
    # restarted: nothing trains again (no command echoed), the same table comes out
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0 and "$ " not in r.stdout, r.stdout + r.stderr
    assert list(csv.DictReader(open(root / "ablation.csv"))) == rows
