"""Shared fixtures: tiny clips and tiny models, all made locally (no network, no ../shared)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

import make_samples  # noqa: E402


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {}
    out["face"] = d / "face.mp4"
    make_samples.write_clip(out["face"], make_samples.moving_face(2.0, fps=25.0, size=(320, 240)))
    # variable frame rate: 20 frames with irregular spacing
    frames = make_samples.moving_face(0.8, fps=25.0, size=(160, 120))
    times = np.cumsum([0.0] + [0.02 if i % 3 else 0.09 for i in range(len(frames) - 1)]).tolist()
    out["vfr"] = d / "vfr.mp4"
    make_samples.write_clip(out["vfr"], frames, times=times)
    out["vfr_times"] = times  # type: ignore[assignment]
    blank = [np.full((120, 160, 3), 90, np.uint8) for _ in range(10)]
    out["noface"] = d / "noface.mp4"
    make_samples.write_clip(out["noface"], blank)
    return out


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    """A 2-layer HF ViT with non-canonical label names, saved with save_pretrained."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    names = ["anger", "Disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
    cfg = ViTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, num_labels=7,
        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
    )
    d = tmp_path_factory.mktemp("models") / "tiny-vit"
    ViTForImageClassification(cfg).save_pretrained(d)
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(d)
    return d


def _save_tiny_fervit(d: Path, **config) -> Path:
    """A small FerViT (3 classes, seed 0) saved like the trainer saves it."""
    import torch
    from transformers import ViTImageProcessor

    from fervideo.modeling import FerViTConfig, FerViTForImageClassification

    torch.manual_seed(0)
    labels = ["happy", "sad", "neutral"]
    cfg = FerViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8, 16, 16],
                       num_labels=3, id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
                       **config)
    FerViTForImageClassification(cfg).save_pretrained(d)
    ViTImageProcessor(size={"height": 48, "width": 48}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_fervit(tmp_path_factory) -> Path:
    """A small FerViT (3 classes) with the default, residual stem."""
    return _save_tiny_fervit(tmp_path_factory.mktemp("models") / "tiny-fervit")


@pytest.fixture(scope="session")
def tiny_fervit_vgg(tmp_path_factory) -> Path:
    """tiny_fervit with the VGG stem (full-resolution convolutions, max-pooling)."""
    return _save_tiny_fervit(tmp_path_factory.mktemp("models") / "tiny-fervit-vgg", stem_type="vgg")


@pytest.fixture(scope="session")
def tiny_fervit_mobilenet(tmp_path_factory) -> Path:
    """tiny_fervit with the MobileNetV2 stem (6 blocks, the crop enlarged 4/3 first)."""
    return _save_tiny_fervit(tmp_path_factory.mktemp("models") / "tiny-fervit-mobilenet", stem_type="mobilenet",
                             stem_blocks=6, stem_scale=4 / 3)


@pytest.fixture(params=["decord", "pyav-only"])
def frame_backend(request, monkeypatch) -> str:
    """Run a test with decord, and with ``import decord`` failing as on a machine without its
    wheels (ARM Macs, ARM Linux): random access then goes through PyAV."""
    if request.param == "pyav-only":
        monkeypatch.setitem(sys.modules, "decord", None)  # import decord -> ImportError
    else:
        pytest.importorskip("decord")
    return request.param


# --- A passing test must not log at ERROR -------------------------------------------------
# An ERROR record during a test that passes is a failure nobody looked at (a swallowed
# exception, a backend that fell over and was silently replaced). Tests where the ERROR is
# the point say so with ``@pytest.mark.allow_error_log``.


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "allow_error_log: the test passes although something logs at ERROR (the error is the point)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_report_{report.when}", report)


@pytest.fixture(autouse=True)
def _fail_passing_tests_that_log_errors(request):
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    report = getattr(request.node, "_report_call", None)
    if handler.records and report is not None and report.passed and request.node.get_closest_marker("allow_error_log") is None:
        shown = "\n".join(f"  {r.name}: {r.getMessage()}" for r in handler.records[:5])
        pytest.fail(f"{len(handler.records)} record(s) logged at ERROR during a passing test "
                    f"(mark it allow_error_log if the error is the point):\n{shown}", pytrace=False)
