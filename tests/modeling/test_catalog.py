"""The offline model catalog, through `fervideo models`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


def test_models_list_and_offline_info():
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0 and "fervit" in r.output
    r = runner.invoke(app, ["models", "info", "fervit-fer2013"])
    assert r.exit_code == 0 and "angry" in r.output and "48x48" in r.output


def test_models_list_keeps_names_whole_in_a_narrow_terminal():
    """An 80-column terminal once showed both embedded models as "fervit-f…": the name is never cut."""
    r = runner.invoke(app, ["models", "list"], env={"COLUMNS": "80"}, terminal_width=80)
    assert r.exit_code == 0
    assert "fervit-fer2013 *" in r.output and "fervit-ferplus" in r.output, r.output


def test_models_info_offline_hub_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["models", "info", "someone/not-cached-model"])
    assert r.exit_code == 1 and "fervit-fer2013" in r.output and "Traceback" not in r.output


SHIPPED_MODELS = sorted(d for d in (Path(__file__).resolve().parents[2] / "models").iterdir() if (d / "config.json").exists())


@pytest.mark.parametrize("model", SHIPPED_MODELS, ids=[d.name for d in SHIPPED_MODELS])
def test_every_shipped_model_has_a_card_that_matches_its_weights(model):
    """The brief's card: data, recipe, measured accuracy, speed, license, sha256, and the weights it describes."""
    from fervideo.modeling.catalog import describe, verify_weights

    card = json.loads((model / "card.json").read_text())
    assert verify_weights(model) == card["sha256"]
    for key in ("val", "crops_per_s_cpu", "license", "source", "command", "classes", "parameters"):
        assert card.get(key), key
    assert 0 < card["val"]["accuracy"] <= 1
    readme = (model / "README.md").read_text()
    assert card["sha256"] in readme and card["command"] in readme
    entry = describe(model.name)
    assert entry.classes == card["classes"] and entry.val_accuracy == card["val"]["accuracy"]
    assert (model.name in (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()), "packaged with the wheel"
    r = runner.invoke(app, ["models", "info", model.name])
    assert r.exit_code == 0 and card["sha256"] in r.output


def test_models_list_says_what_an_accuracy_was_scored_on(tmp_path, monkeypatch, tiny_fervit):
    import shutil

    d = tmp_path / "models" / "tiny-ferplus"
    shutil.copytree(tiny_fervit, d)
    (d / "card.json").write_text(json.dumps({"val": {"accuracy": 0.8412, "labels": "FER+ majority"}}))
    monkeypatch.setenv("FERVIDEO_MODELS", str(tmp_path / "models"))
    from fervideo.modeling.catalog import describe

    assert describe("tiny-ferplus").fmt_acc() == "0.841 (FER+ majority)"
