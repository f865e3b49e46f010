"""The onnxruntime classifier: the torch model's fp32 probabilities, without torch at run time."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fervideo.core.errors import BackendError, ModelError
from fervideo.pipeline.backends import Backends
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages.classify_onnx import OnnxEmotionClassifier, OnnxEnsemble, local_model_dir, local_model_dirs


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FERVIDEO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _crops(n: int = 40, s: int = 48) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (n, s, s, 3), dtype=np.uint8)


@pytest.mark.parametrize("model", ["tiny_fervit", "tiny_fervit_vgg", "tiny_fervit_mobilenet"])
@pytest.mark.parametrize("tta", [False, True])
def test_same_probabilities_as_torch_fp32(request, model, cache, tta):
    from fervideo.stages.classify import EmotionClassifier

    tiny_fervit = request.getfixturevalue(model)
    onnx_clf = OnnxEmotionClassifier(str(tiny_fervit), tta=tta)
    torch_clf = EmotionClassifier(str(tiny_fervit), device="cpu", dtype="fp32", tta=tta)
    assert onnx_clf.labels == torch_clf.labels and onnx_clf.input_size == torch_clf.input_size
    x = _crops()
    assert np.abs(onnx_clf.predict(x) - torch_clf.predict(x)).max() < 1e-5
    info = onnx_clf.infos[0]
    assert info.runtime == "onnxruntime" and info.sha256 == torch_clf.infos[0].sha256
    assert onnx_clf.predict(x[:0]).shape == (0, len(onnx_clf.labels))


def test_labels_come_out_in_canonical_order(tiny_vit, cache):
    """tiny_vit names its classes 'anger', 'happiness'... in its own order; columns are canonical."""
    from fervideo.stages.classify import EmotionClassifier

    a = OnnxEmotionClassifier(str(tiny_vit))
    b = EmotionClassifier(str(tiny_vit), device="cpu", dtype="fp32")
    assert a.labels == b.labels
    x = _crops(8, a.input_size)
    assert np.abs(a.predict(x) - b.predict(x)).max() < 1e-5


def test_the_export_is_made_once_and_cached(tiny_fervit, cache, monkeypatch):
    OnnxEmotionClassifier(str(tiny_fervit))
    files = list((cache / "onnx").glob("*.onnx"))
    assert len(files) == 1
    import fervideo.modeling.onnx_export as ox

    monkeypatch.setattr(ox, "export_classifier", lambda *a, **k: pytest.fail("exported again"))
    OnnxEmotionClassifier(str(tiny_fervit))  # found in the cache


def test_a_changed_card_checksum_is_refused(tiny_fervit, cache, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_fervit, d)
    (d / "card.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ModelError, match="does not match the card"):
        OnnxEmotionClassifier(str(d))


def test_backends_choose_the_runtime(tiny_fervit, cache):
    clf = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu")).classifier
    assert type(clf).__name__ == "OnnxEmotionClassifier"
    clf = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", classifier_runtime="torch")).classifier
    assert type(clf).__name__ == "EmotionClassifier"
    clf = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", dtype="bf16")).classifier
    assert type(clf).__name__ == "EmotionClassifier"  # bf16 is torch's
    clf = Backends(AnalyzeOptions(model=f"{tiny_fervit},{tiny_fervit}", device="cpu")).classifier
    assert type(clf).__name__ == "OnnxEnsemble"  # an ensemble of local models stays on onnxruntime
    with pytest.raises(BackendError, match="local models"):
        _ = Backends(AnalyzeOptions(model=f"{tiny_fervit},someone/hub-model", device="cpu", classifier_runtime="onnx")).classifier
    with pytest.raises(ValueError, match="classifier_runtime"):
        AnalyzeOptions(classifier_runtime="tensorrt")
    assert local_model_dir(f"{tiny_fervit},{tiny_fervit}") is None and local_model_dir("no/such/model") is None
    assert local_model_dirs(f"{tiny_fervit}, {tiny_fervit}") == [tiny_fervit, tiny_fervit]
    assert local_model_dirs(f"{tiny_fervit},no/such/model") is None


def test_an_ensemble_averages_as_torch_does(tiny_fervit, tiny_vit, cache):
    """Members with other classes and input sizes: the canonical union, each member's probabilities
    added where it has the class, rows renormalised; the same numbers as torch's ensemble in fp32."""
    from fervideo.stages.classify import EmotionClassifier

    ref = f"{tiny_fervit},{tiny_vit}"
    a = OnnxEnsemble([str(tiny_fervit), str(tiny_vit)])
    b = EmotionClassifier(ref, device="cpu", dtype="fp32")
    assert a.labels == b.labels and a.input_size == b.input_size and len(a.infos) == 2
    x = _crops(16, a.input_size)
    p = a.predict(x)
    assert np.abs(p - b.predict(x)).max() < 1e-5 and np.allclose(p.sum(1), 1)
    assert a.predict(x[:0]).shape == (0, len(a.labels))


@pytest.mark.slow
@pytest.mark.parametrize("threads", [None, 1])
def test_analyze_on_the_cpu_never_imports_torch(tiny_fervit, clips, cache, tmp_path, threads):
    """The point of the runtime: a CPU run skips torch and transformers altogether (``--threads``
    too: torch's thread count is set only where torch runs)."""
    code = (
        "import sys, fervideo\n"
        f"r = fervideo.analyze([{str(clips['face'])!r}], {str(tmp_path / 'out')!r}, model={str(tiny_fervit)!r}, device='auto',"
        f" render=False, persons=False, threads={threads!r})\n"
        "assert r.videos[0].status == 'done', r.videos[0].reason\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    OnnxEmotionClassifier(str(tiny_fervit))  # the export (torch) happens here, once
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("model", ["tiny_fervit", "tiny_fervit_vgg", "tiny_fervit_mobilenet", "tiny_vit"])
def test_int8_quantises_the_matrix_products_only_and_stays_close_to_fp32(request, model, cache):
    import logging

    import onnx

    path = request.getfixturevalue(model)
    fp32 = OnnxEmotionClassifier(str(path))
    handlers = logging.getLogger().handlers[:]
    q = OnnxEmotionClassifier(str(path), precision="int8")
    assert logging.getLogger().handlers == handlers  # onnxruntime's tools must not add a root handler
    info = q.infos[0]
    assert info.precision == "int8" and info.onnx_file.endswith("-int8q1.onnx") and fp32.infos[0].precision == "fp32"
    ops = {n.op_type for n in onnx.load(info.onnx_file).graph.node}
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    assert "ConvInteger" not in ops and "QLinearConv" not in ops  # convolutions stay fp32
    x = _crops(64, q.input_size)
    a, b = fp32.predict(x), q.predict(x)
    assert np.allclose(b.sum(1), 1) and np.abs(a - b).max() < 0.05
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.9


def test_the_int8_file_is_made_once(tiny_fervit, cache, monkeypatch):
    OnnxEmotionClassifier(str(tiny_fervit), precision="int8")
    assert len(list((cache / "onnx").glob("*-int8q1.onnx"))) == 1
    import onnxruntime.quantization as oq

    monkeypatch.setattr(oq, "quantize_dynamic", lambda *a, **k: pytest.fail("quantised again"))
    OnnxEmotionClassifier(str(tiny_fervit), precision="int8")
    with pytest.raises(ModelError, match="fp32 or int8"):
        OnnxEmotionClassifier(str(tiny_fervit), precision="int4")


def test_dtype_picks_the_precision_and_refuses_impossible_pairs(tiny_fervit, cache):
    assert Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu")).classifier.infos[0].precision == "int8"
    assert Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", dtype="int8")).classifier.infos[0].precision == "int8"
    assert Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", dtype="fp32")).classifier.infos[0].precision == "fp32"
    ens = Backends(AnalyzeOptions(model=f"{tiny_fervit},{tiny_fervit}", device="cpu")).classifier
    assert [i.precision for i in ens.infos] == ["int8", "int8"]
    with pytest.raises(BackendError, match="int8 runs on onnxruntime"):
        _ = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", dtype="int8", classifier_runtime="torch")).classifier
    with pytest.raises(BackendError, match="int8 runs local models"):
        _ = Backends(AnalyzeOptions(model="someone/hub-model", device="cpu", dtype="int8")).classifier
    with pytest.raises(ValueError, match="dtype must be"):
        AnalyzeOptions(dtype="int4")


def test_a_failed_quantisation_falls_back_to_fp32_unless_int8_was_asked(tiny_fervit, cache, monkeypatch, caplog):
    import onnxruntime.quantization as oq

    from fervideo.core.errors import QuantizationError

    def broken(*a, **k):
        raise RuntimeError("an operator the quantiser does not know")

    monkeypatch.setattr(oq, "quantize_dynamic", broken)
    with caplog.at_level("WARNING"):
        clf = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu")).classifier
    assert type(clf).__name__ == "OnnxEmotionClassifier" and clf.infos[0].precision == "fp32"
    assert "int8 quantisation failed" in caplog.text
    assert not list((cache / "onnx").glob("*int8*"))  # no half-written file left behind
    with pytest.raises(QuantizationError, match="operator the quantiser"):
        _ = Backends(AnalyzeOptions(model=str(tiny_fervit), device="cpu", dtype="int8")).classifier
