"""recipes/gpu_train.py, the whole cycle on the CPU with a tiny model: pack the data, start a
run in its own process session, follow it from another process (as a second device call
does), unpack what came back and load it, as the next session would after a GPU lease."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ferplus_data import fer_split

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "gpu_train.py"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(RECIPE), *args], check=False, capture_output=True, text=True, cwd=cwd,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _packed(tmp_path: Path, n_train: int, n_val: int) -> Path:
    """Generated FER-2013 + FER+ tables laid out as ../shared/data, packed as for a device call."""
    shared = tmp_path / "shared"
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        fer_split(shared / "fer2013", split, n, seed, votes_dir=shared / "ferplus")
    data = tmp_path / "gpu-data"
    _run("pack", "--shared", str(shared), "--dest", str(data))
    return data


@pytest.mark.slow
def test_pack_start_follow_unpack_gives_loadable_models(tmp_path):
    data = _packed(tmp_path, 96, 40)
    votes = data / "ferplus-train-votes.parquet"
    import pyarrow.parquet as pq

    assert "image" not in pq.read_schema(votes).names  # FER+ travels as votes only: the images are FER-2013's

    root, out = tmp_path / "machine", tmp_path / "OUT"
    tiny = ["--epochs", "2", "--batch-size", "32", "--hidden-size", "32", "--layers", "1", "--heads", "2",
            "--stem", "8,16,16", "--no-video-augment", "--threads", "1"]
    r = _run("start", "tiny", "--root", str(root), "--out", str(out), "--device", "cpu", "--data", str(data),
             "--minutes", "0", *tiny)
    assert "call follow again" in r.stdout or "training finished" in r.stdout
    r = _run("follow", "tiny", "--root", str(root), "--out", str(out), "--minutes", "4")
    assert "training finished (exit status 0)" in r.stdout and "vote head, best epoch" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["tiny.log", "tiny.tgz.part-aa"]
    # the exports' training.json stops at the best epoch; what comes back has every epoch, from
    # the checkpoint: shown by cutting the export's history, then packing again
    exported = root / "tiny" / "model" / "training.json"
    summary = json.loads(exported.read_text())
    exported.write_text(json.dumps({**summary, "history": summary["history"][:1]}))
    _run("follow", "tiny", "--root", str(root), "--out", str(out), "--minutes", "0")

    dest = tmp_path / "runs" / "tiny"
    _run("unpack", "tiny", str(out), str(dest))
    from fervideo.stages.classify import EmotionClassifier

    for model, n_classes in ((dest / "model", 2), (dest / "model" / "ferplus", 8)):
        assert not (model / "card.json").exists()  # written by the release here, for the fp16 weights
        assert len(json.loads((model / "training.json").read_text())["history"]) == 2
        assert len(EmotionClassifier(str(model), device="cpu").labels) == n_classes

    with pytest.raises(AssertionError, match="a fresh machine forgets runs"):
        _run("follow", "other", "--root", str(root), "--out", str(out))


@pytest.mark.slow
def test_stop_ends_a_run_and_a_failed_run_says_so(tmp_path):
    data = _packed(tmp_path, 64, 24)
    root, out = tmp_path / "machine", tmp_path / "OUT"
    common = ["--root", str(root), "--out", str(out), "--device", "cpu", "--data", str(data), "--minutes", "0"]
    _run("start", "long", *common, "--epochs", "500", "--batch-size", "32", "--hidden-size", "32", "--layers", "1",
         "--heads", "2", "--stem", "8,16,16", "--no-video-augment", "--threads", "1")
    _run("stop", "long", "--root", str(root))
    r = _run("follow", "long", "--root", str(root), "--out", str(out), "--minutes", "1")
    assert "stopped early" in r.stdout
    # a run that fails (an option train refuses) is reported with its log, and the call fails
    r = subprocess.run([sys.executable, str(RECIPE), "start", "bad", *common, "--votes-mode", "loudest"],
                       check=False, capture_output=True, text=True, timeout=300)
    r = subprocess.run([sys.executable, str(RECIPE), "follow", "bad", "--root", str(root), "--out", str(out), "--minutes", "1"],
                       check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "exit status 1" in r.stdout and "loudest" in r.stdout
