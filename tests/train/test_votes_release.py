"""The FER+ path end to end: `fervideo train --votes` trains and exports a vote head with its
own card, `release --votes` ships it measured on FER+ majority labels, and `calibrate --votes`
fits its temperature on those labels."""

from __future__ import annotations

import json

import pytest
from ferplus_data import fer_split
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


@pytest.mark.slow
def test_vote_head_is_trained_carded_released_and_calibrated_on_majority_labels(tmp_path):
    train, train_votes, _ = fer_split(tmp_path, "train", 160, 0)
    val, val_votes, val_majority = fer_split(tmp_path, "val", 60, 1)
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

    # the head's training.json stops at its best epoch; the card must show every epoch, from the
    # run's checkpoint beside the head's folder: shown by cutting the head's history first
    head_summary = json.loads((head / "training.json").read_text())
    (head / "training.json").write_text(json.dumps({**head_summary, "history": head_summary["history"][:1]}))
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
