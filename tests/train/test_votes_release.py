"""The FER+ path end to end: `fervideo train --votes` trains and exports a vote head with its
own card, `release --votes` ships it measured on FER+ majority labels, and `calibrate --votes`
fits its temperature on those labels."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.train.data import encode_png
from fervideo.train.votes import VOTE_COLUMNS

runner = CliRunner()


def _split(tmp_path, name: str, n: int, seed: int):
    """FER-2013-like rows (happy / sad by which half is bright) and FER+ votes for them.

    The votes disagree with the FER-2013 label on every fifth image (FER+ re-labelled about a
    quarter of FER-2013), and the last rows have a tie, so no majority: they must not count."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    imgs = rng.integers(0, 60, (n, 48, 48), dtype=np.uint8)
    imgs[y == 0, :24] += 150
    imgs[y == 1, 24:] += 150
    names = [f"{name}{i:06d}.png" for i in range(n)]
    labels = np.array(["happy", "sad"])[y]
    data = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": labels.tolist(), "source_name": names}), data)
    col = {c: np.zeros(n, np.int64) for c in [*VOTE_COLUMNS, "votes_unknown", "votes_nf"]}
    majority = np.where(y == 0, "votes_happiness", "votes_sadness")
    majority[::5] = "votes_neutral"  # FER+ says neutral where FER-2013 said happy or sad
    for i, m in enumerate(majority):
        col[m][i] = 8
        col["votes_anger"][i] = 2
    tie = slice(n - 4, n)
    for c in col:
        col[c][tie] = 0
    col["votes_happiness"][tie] = 5
    col["votes_sadness"][tie] = 5
    votes = tmp_path / f"{name}-votes.parquet"
    pq.write_table(pa.table({**col, "source_name": names}), votes)
    return data, votes, majority


@pytest.mark.slow
def test_vote_head_is_trained_carded_released_and_calibrated_on_majority_labels(tmp_path):
    train, train_votes, _ = _split(tmp_path, "train", 160, 0)
    val, val_votes, val_majority = _split(tmp_path, "val", 60, 1)
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(train), "--val", str(val), "--out", str(run), "--votes", str(train_votes),
                            "--val-votes", str(val_votes), "--epochs", "2", "--batch-size", "32", "--hidden-size", "32",
                            "--layers", "1", "--heads", "2", "--stem", "8,16,16", "--no-video-augment", "--device", "cpu",
                            "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "vote head, best epoch" in r.output
    head = run / "ferplus"
    card = json.loads((head / "card.json").read_text())
    assert card["classes"][-1] == "contempt" and len(card["classes"]) == 8
    assert card["val"]["labels"] == "FER+ majority"
    text = (head / "README.md").read_text()
    assert "best FER+ majority accuracy of the vote head" in text and "FER+ val majority accuracy" in text
    assert "microsoft/FERPlus" in text
    # the FER-2013 head's card stays a FER-2013 card
    assert "FER+ majority accuracy of the vote head" not in (run / "README.md").read_text()

    from fervideo.train.release import release

    shipped = tmp_path / "models" / "tiny-ferplus"
    summary = release(head, shipped, val, "fervideo train ...", str(train), votes=val_votes)
    # measured again on the shipped (fp16) weights, on the 56 val images that have a FER+ majority
    assert sum(summary["val"]["per_class"][c]["support"] for c in summary["val"]["per_class"]) == 56
    assert summary["val"]["per_class"]["neutral"]["support"] == int((val_majority[:56] == "votes_neutral").sum())
    assert len(summary["history"]) == 2  # from the run's checkpoint, beside the head's folder
    shipped_card = json.loads((shipped / "card.json").read_text())
    from fervideo.modeling.catalog import sha256_file

    assert shipped_card["sha256"] == sha256_file(shipped / "model.safetensors")
    assert "relabelled by the FER+ majority" in shipped_card["val"]["source"]
    from safetensors.numpy import load_file

    assert {str(v.dtype) for v in load_file(shipped / "model.safetensors").values()} <= {"float16", "int64"}

    r = runner.invoke(app, ["calibrate", str(shipped), "--val", str(val), "--votes", str(val_votes), "--force"])
    assert r.exit_code == 0, r.output
    cal = json.loads((shipped / "card.json").read_text())["calibration"]
    assert cal["n"] == 56 and "FER+ majority" in cal["source"]
