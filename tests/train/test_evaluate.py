"""fervideo evaluate on small local data and tiny models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.train.data import encode_png

runner = CliRunner()


def _set(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (24, 48, 48), dtype=np.uint8)
    p = tmp_path / "set.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": ["happy", "sad", "neutral"] * 8}), p)
    return p


def test_evaluate_writes_tables_for_each_model_and_an_ensemble(tmp_path, tiny_vit, tiny_fervit):
    data = _set(tmp_path)
    out = tmp_path / "eval"
    r = runner.invoke(app, ["evaluate", str(data), "-m", str(tiny_vit), "-m", str(tiny_fervit),
                            "--ensemble", f"{tiny_vit},{tiny_fervit}", "--tta", "--out", str(out)])
    assert r.exit_code == 0, r.output
    comp = json.loads((out / "comparison.json").read_text())
    assert [row["model"] for row in comp] == [str(tiny_vit), str(tiny_fervit), f"{tiny_vit},{tiny_fervit}"]
    for row in comp:
        assert 0 <= row["accuracy"] <= 1 and row["crops_per_s"] > 0 and row["n"] == 24
        assert np.array(row["details"]["confusion"]).sum() == 24
    assert len(list(out.glob("*_confusion.png"))) == 3 and len(list(out.glob("*_confusion.csv"))) == 3
    assert (out / "comparison.csv").read_text().startswith("model,accuracy,macro_f1")


def _gray(x):
    """(N, H, W) uint8 gray -> FerViT's pixel_values by hand: RGB, the processor's mean and std 0.5."""
    import torch

    rgb = np.repeat(x[:, None].astype(np.float32) / 255.0, 3, axis=1)
    return torch.from_numpy((rgb - 0.5) / 0.5)


def test_evaluate_scores_match_predictions_made_without_fervideo(tmp_path, tiny_fervit):
    """Predictions computed here with the model's forward and numpy alone decide the labels: 16 images
    get the class the model predicts, 8 another one. The scores evaluate writes must be exactly those
    this construction implies (accuracy 16/24 and the whole confusion matrix)."""
    import torch

    from fervideo.modeling import FerViTForImageClassification

    model = FerViTForImageClassification.from_pretrained(tiny_fervit).eval()
    pool = np.random.default_rng(0).integers(0, 255, (96, 48, 48), dtype=np.uint8)
    with torch.no_grad():  # a sharper head, centred on these images: every class predicted, clear margins
        model.classifier.weight.mul_(50.0)
        model.classifier.bias.zero_()
        model.classifier.bias.sub_(model(pixel_values=_gray(pool)).logits.mean(0))
        logits = model(pixel_values=_gray(pool)).logits.numpy()
    top2 = np.sort(logits, 1)[:, -2:]
    imgs, logits = pool[top2[:, 1] - top2[:, 0] > 1.0][:24], logits[top2[:, 1] - top2[:, 0] > 1.0][:24]
    assert len(imgs) == 24  # no near-ties: bf16 (analyze's default on this CPU) decides as fp32 does
    model_dir = tmp_path / "decisive"
    model.save_pretrained(model_dir)
    shutil.copy(tiny_fervit / "preprocessor_config.json", model_dir)
    classes = [model.config.id2label[i] for i in range(3)]  # happy, sad, neutral
    pred = logits.argmax(1)
    assert len(set(pred.tolist())) == 3
    true = pred.copy()
    true[16:] = (pred[16:] + 1) % 3  # wrong on purpose for the last 8
    data = tmp_path / "set.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": [classes[t] for t in true]}), data)

    out = tmp_path / "eval"
    r = runner.invoke(app, ["evaluate", str(data), "-m", str(model_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    row = json.loads((out / "comparison.json").read_text())[0]
    order = [c for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral") if c in classes]
    confusion = np.zeros((3, 3), int)
    for t, p in zip(true, pred):
        confusion[order.index(classes[t]), order.index(classes[p])] += 1
    assert row["accuracy"] == 16 / 24
    assert row["details"]["confusion"] == confusion.tolist()


def test_confusion_figure_keeps_the_users_matplotlib_backend(tmp_path):
    import matplotlib

    from fervideo.train.evaluate import EvalResult, save_confusion
    from fervideo.train.metrics import metrics_from_predictions

    m = metrics_from_predictions(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), ["happy", "sad"])
    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        csv_path, png = save_confusion(EvalResult("m", m, 1.0, 4, []), tmp_path, "m")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    assert png.read_bytes().startswith(b"\x89PNG")
    assert csv_path.read_text().splitlines()[1:] == ["happy,2,0", "sad,1,1"]


def test_evaluate_with_votes_scores_against_the_ferplus_majority(tmp_path, tiny_fervit):
    """--votes relabels each image by its FER+ majority (FER+'s rule: single votes dropped, more than
    half of the rest) and leaves out images without one; the FER-2013 label is not used."""
    from fervideo.train.votes import VOTE_COLUMNS

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 255, (24, 48, 48), dtype=np.uint8)
    names = [f"fer{i:07d}.png" for i in range(24)]
    data = tmp_path / "set.parquet"
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": ["happy"] * 24, "source_name": names}), data)
    majority = ["happy", "sad", "neutral", "sad", "neutral"] * 4  # rows 0-19; rows 20-23 have none
    col = {c: np.zeros(24, np.int64) for c in [*VOTE_COLUMNS, "votes_unknown", "votes_nf"]}
    key = {"happy": "votes_happiness", "sad": "votes_sadness", "neutral": "votes_neutral"}
    for i, m in enumerate(majority):
        col[key[m]][i] = 7
        col["votes_anger"][i] = 3
    col["votes_happiness"][20:] = 5
    col["votes_sadness"][20:] = 5  # a tie: no majority
    votes = tmp_path / "votes.parquet"
    pq.write_table(pa.table({**col, "source_name": names}), votes)

    out = tmp_path / "eval"
    r = runner.invoke(app, ["evaluate", str(data), "-m", str(tiny_fervit), "--votes", str(votes), "--out", str(out)])
    assert r.exit_code == 0, r.output
    row = json.loads((out / "comparison.json").read_text())[0]
    assert row["n"] == 20
    confusion = np.array(row["details"]["confusion"])
    classes = [k.removeprefix("recall_") for k in row if k.startswith("recall_")]  # the model's class order
    support = dict(zip(classes, confusion.sum(1).tolist()))
    assert support == {"happy": 4, "sad": 8, "neutral": 8}


def test_evaluate_scores_what_analyze_runs_on_onnxruntime(tmp_path, tiny_fervit, monkeypatch):
    """--classifier-runtime onnx scores the onnxruntime classifier (int8 by default, as analyze);
    its fp32 graph gives torch fp32's scores; impossible pairs are refused before any model loads."""
    monkeypatch.setenv("FERVIDEO_CACHE", str(tmp_path / "cache"))
    data = _set(tmp_path)
    rows = {}
    for args in (["--dtype", "fp32"], ["--classifier-runtime", "onnx", "--dtype", "fp32"], ["--classifier-runtime", "onnx"]):
        out = tmp_path / "_".join(args)
        r = runner.invoke(app, ["evaluate", str(data), "-m", str(tiny_fervit), *args, "--out", str(out)])
        assert r.exit_code == 0, r.output
        rows[" ".join(args)] = json.loads((out / "comparison.json").read_text())[0]
    torch_fp32, onnx_fp32, onnx_int8 = rows.values()
    assert onnx_fp32["details"]["confusion"] == torch_fp32["details"]["confusion"]
    assert abs(onnx_int8["accuracy"] - onnx_fp32["accuracy"]) <= 2 / 24
    assert list((tmp_path / "cache" / "onnx").glob("*-int8q1.onnx"))  # the int8 file was made and used
    for args, why in ((["--dtype", "int8"], "int8 runs on onnxruntime"),
                      (["--classifier-runtime", "onnx", "--dtype", "bf16"], "not with --dtype bf16"),
                      (["--classifier-runtime", "tensorrt"], "classifier_runtime must be auto, onnx or torch"),
                      (["--dtype", "int4"], "dtype must be auto")):
        r = runner.invoke(app, ["evaluate", str(data), "-m", str(tiny_fervit), *args, "--out", str(tmp_path / "x")])
        assert r.exit_code != 0 and why in r.output, r.output
