"""The offline model catalog, through `fervideo models`."""

from __future__ import annotations

from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


def test_models_list_and_offline_info():
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0 and "fervit" in r.output
    r = runner.invoke(app, ["models", "info", "fervit-fer2013"])
    assert r.exit_code == 0 and "angry" in r.output and "48x48" in r.output


def test_models_info_offline_hub_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["models", "info", "someone/not-cached-model"])
    assert r.exit_code == 1 and "fervit-fer2013" in r.output and "Traceback" not in r.output
