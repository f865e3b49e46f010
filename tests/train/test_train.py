"""Training data loaders, metrics, and a few real optimisation steps on generated images."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fervideo.core.errors import DataError
from fervideo.train.data import encode_png, load_dataset
from fervideo.train.metrics import metrics_from_predictions


def _images(n, seed=0):
    """Two visibly different classes: bright top half vs bright bottom half."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 60, (n, 48, 48), dtype=np.uint8)
    y = np.arange(n) % 2
    imgs[y == 0, :24] += 150
    imgs[y == 1, 24:] += 150
    return imgs, y


def test_parquet_csv_and_folder_loaders_agree(tmp_path):
    imgs, y = _images(6)
    names = np.array(["happiness", "sadness"])[y]
    pq.write_table(pa.table({"image": [encode_png(i) for i in imgs], "label": names.tolist()}), tmp_path / "d.parquet")
    with open(tmp_path / "d.csv", "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for im, lab in zip(imgs, y):
            fh.write(f"{3 if lab == 0 else 4},{' '.join(map(str, im.ravel()))},Training\n")
        fh.write(f"6,{' '.join(['0'] * 2304)},PublicTest\n")
    for lab, im, i in zip(names, imgs, range(6)):
        (tmp_path / "folder" / lab).mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / lab / f"{i}.png").write_bytes(encode_png(im))
    a = load_dataset(tmp_path / "d.parquet")
    b = load_dataset(tmp_path / "d.csv", usage="Training")
    c = load_dataset(tmp_path / "folder")
    for d in (a, b, c):
        assert d.classes == ["happy", "sad"] and len(d) == 6
        assert np.array_equal(np.sort(d.labels), np.sort(y))
    assert np.array_equal(a.images, b.images)
    assert len(load_dataset(tmp_path / "d.csv")) == 7


def test_fer_parquet_layout_with_int_labels(tmp_path):
    imgs, y = _images(4)
    t = pa.table({"image": [encode_png(i) for i in imgs], "label": pa.array(y + 3, pa.int8())})
    t = t.replace_schema_metadata({"labels": "angry,disgust,fear,happy,sad,surprise,neutral"})
    pq.write_table(t, tmp_path / "f.parquet")
    d = load_dataset(tmp_path / "f.parquet")
    assert d.classes == ["happy", "sad"]


def test_loader_errors_are_clear(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.parquet")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported"):
        load_dataset(tmp_path / "x.txt")


def test_metrics_against_a_hand_computed_confusion_matrix():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2, 2, 2, 0])
    m = metrics_from_predictions(y_true, y_pred, ["a", "b", "c"])
    assert m.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert m.accuracy == pytest.approx(6 / 9)
    assert m.precision.tolist() == pytest.approx([2 / 3, 1 / 2, 3 / 4])
    assert m.recall.tolist() == pytest.approx([2 / 3, 1 / 2, 3 / 4])
    f1 = [2 / 3, 1 / 2, 3 / 4]
    assert m.macro_f1 == pytest.approx(np.mean(f1))


def test_training_lowers_the_loss_and_writes_a_loadable_model(tmp_path):
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(256)
    tr = FaceImages(imgs, y, ["happy", "sad"], "synthetic")
    va_imgs, va_y = _images(64, seed=1)
    va = FaceImages(va_imgs, va_y, ["happy", "sad"], "synthetic-val")
    cfg = TrainConfig(epochs=3, batch_size=32, lr=2e-3, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      stem_channels=[8, 16, 16], warmup_epochs=0.5, device="cpu", seed=0)
    summary = train(tr, va, tmp_path / "m", cfg)
    hist = summary["history"]
    ck = __import__("torch").load(tmp_path / "m" / "checkpoints" / "last.pt", weights_only=False)
    losses = [h["train_loss"] for h in ck["history"]]
    assert losses[-1] < losses[0]
    assert hist[-1]["val_accuracy"] > 0.9
    clf = EmotionClassifier(str(tmp_path / "m"), device="cpu")
    assert clf.labels == ["happy", "sad"]
    crops = np.repeat(va_imgs[:4, :, :, None], 3, axis=3)
    assert (clf.predict(crops).argmax(1) == va_y[:4]).mean() >= 0.75
    from fervideo.train.card import write_card

    card = write_card(tmp_path / "m", summary, command="fervideo train ...", train_source="a", val_source="b", crops_per_s=100.0)
    text = card.read_text()
    assert "input 48x48 grayscale" in text and "FerViT" in text and f"epoch {summary['best_epoch']}" in text


def test_resume_continues_from_the_checkpoint(tmp_path):
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(64)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    small = dict(warmup_epochs=0.5, batch_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8, 8, 8], device="cpu", seed=3)
    def interrupt(res):
        if res.epoch == 1:
            raise KeyboardInterrupt  # like Ctrl-C after the first epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(data, data, tmp_path / "a", TrainConfig(epochs=3, **small), on_epoch=interrupt)
    resumed = train(data, data, tmp_path / "a", TrainConfig(epochs=3, **small), resume=True)
    full = train(data, data, tmp_path / "b", TrainConfig(epochs=3, **small))  # the same run, never interrupted
    import torch
    from safetensors.numpy import load_file

    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3

    def measured(history):  # everything but the wall time
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert measured(a["history"]) == measured(b["history"])  # every epoch's loss and val scores
    assert resumed["best_epoch"] == full["best_epoch"] and resumed["val"] == full["val"]
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)  # the exported model too


def test_resume_refuses_another_recipe_but_takes_more_epochs(tmp_path, caplog):
    """A long run is resumed sessions later by a retyped command: a changed learning rate or
    stem would silently make it another run, so it is refused; more epochs are allowed."""
    from fervideo.core.errors import ConfigError
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(32)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    small = dict(warmup_epochs=0.5, batch_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                 stem_channels=[8, 8, 8], device="cpu", max_steps_per_epoch=1)
    train(data, data, tmp_path / "a", TrainConfig(epochs=1, **small))
    with pytest.raises(ConfigError, match=r"lr: 0.002 in the checkpoint, 0.001 now.*stem_type: 'residual'.*'vgg' now"):
        train(data, data, tmp_path / "a", TrainConfig(epochs=2, lr=1e-3, stem_type="vgg", **small), resume=True)
    import torch

    # A checkpoint written before an option existed was trained with its default: still resumable.
    last = tmp_path / "a" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=False)
    del state["config"]["stem_type"], state["config"]["augment"]["jpeg_p"]
    torch.save(state, last)
    train(data, data, tmp_path / "a", TrainConfig(epochs=2, **small), resume=True)

    state = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=False)
    assert [h["epoch"] for h in state["history"]] == [1, 2] and state["config"]["epochs"] == 2
    assert "cosine schedule is stretched" in caplog.text


def test_resnet_comparison_arch_trains_loads_and_explains(tmp_path):
    """The convolutional comparison model goes through the same train -> analyze -> explain path."""
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_crop
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(256)
    tr = FaceImages(imgs, y, ["happy", "sad"], "synthetic")
    va_imgs, va_y = _images(64, seed=1)
    va = FaceImages(va_imgs, va_y, ["happy", "sad"], "synthetic-val")
    cfg = TrainConfig(arch="resnet", epochs=3, batch_size=32, lr=2e-3, num_hidden_layers=1, stem_channels=[8, 16],
                      warmup_epochs=0.5, device="cpu", seed=0)
    summary = train(tr, va, tmp_path / "r", cfg)
    assert summary["history"][-1]["val_accuracy"] > 0.9
    clf = EmotionClassifier(str(tmp_path / "r"), device="cpu")
    assert clf.members[0].model.config.model_type == "resnet"
    crops = np.repeat(va_imgs[:8, :, :, None], 3, axis=3)  # colour crops, as analyze passes them
    assert (clf.predict(crops).argmax(1) == va_y[:8]).mean() >= 0.75
    ex = explain_crop(clf, crops[0])
    assert ex.method == "Grad-CAM" and ex.heat.shape == (48, 48)


def test_unknown_arch_lists_the_valid_ones():
    from fervideo.core.errors import ConfigError
    from fervideo.train.trainer import TrainConfig

    with pytest.raises(ConfigError, match="unknown architecture 'vgg'; valid: fervit, resnet"):
        TrainConfig(arch="vgg")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "vgg"], "unknown architecture 'vgg'; valid: fervit, resnet"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--votes-mode", "loudest"], "unknown vote mode 'loudest'"),
        (["--augment-off", "blur,sunburn"], "unknown augmentation ingredient(s) sunburn; valid: perspective, gamma"),
        (["--warmup-epochs", "-1"], "warmup_epochs must be >= 0, not -1.0"),
        (["--turn", "1.5"], "augmentation turn_p is a share of the images, 0 to 1, not 1.5"),
    ],
)
def test_train_cli_refuses_bad_options_in_one_line_before_loading_data(tmp_path, monkeypatch, args, message):
    from typer.testing import CliRunner

    import fervideo.train.data as data_module
    from fervideo._cli import app

    def must_not_load(*a, **k):
        raise AssertionError("data was loaded before the options were checked")

    monkeypatch.setattr(data_module, "load_dataset", must_not_load)
    r = CliRunner().invoke(app, ["train", str(tmp_path / "train.parquet"), "--val", str(tmp_path / "val.parquet"),
                                 "--out", str(tmp_path / "m"), *args])
    assert r.exit_code == 1, r.output
    assert message in r.output and "Traceback" not in r.output and "AssertionError" not in r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")


def test_a_diverging_run_raises_training_error(tmp_path):
    from fervideo.core.errors import TrainingError
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(32)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    cfg = TrainConfig(epochs=1, batch_size=16, lr=float("inf"), warmup_epochs=0.0, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, stem_channels=[8, 8, 8], device="cpu")
    with pytest.raises(TrainingError, match="training diverged at epoch 1.*lower --lr"):
        train(data, data, tmp_path / "d", cfg)


@pytest.mark.parametrize("kind", ["imagenet-vit", "gray-resnet", "fervit"])
def test_training_feeds_the_model_as_analyze_does(tmp_path, tiny_vit, tiny_fervit, kind):
    """A gray training face and the same face as an RGB crop in analyze reach the model identically:
    per-channel statistics (not their mean), the input size, luminance where the caller converts."""
    import shutil

    import torch
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        ResNetConfig,
        ResNetForImageClassification,
        ViTImageProcessor,
    )

    from fervideo.modeling.data_config import resolve_data_config
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.train.trainer import ModelInput

    if kind == "imagenet-vit":
        d = tmp_path / "vit"
        shutil.copytree(tiny_vit, d)
        ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.485, 0.456, 0.406],
                          image_std=[0.229, 0.224, 0.225]).save_pretrained(d)
    elif kind == "gray-resnet":
        d = tmp_path / "resnet"
        cfg = ResNetConfig(num_channels=1, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=2,
                           id2label={0: "happy", 1: "sad"}, label2id={"happy": 0, "sad": 1})
        ResNetForImageClassification(cfg).save_pretrained(d)
        ViTImageProcessor(size={"height": 40, "width": 40}, image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.25, 0.3]).save_pretrained(d)
    else:
        d = tiny_fervit
    member = EmotionClassifier(str(d), device="cpu", dtype="fp32").members[0]
    side = member.info.input_size
    gray = np.random.default_rng(0).integers(0, 256, (3, side, side), dtype=np.uint8)
    in_analyze = member.prepare(np.repeat(gray[..., None], 3, axis=3))
    import fervideo.modeling.fervit  # noqa: F401  (registers fervit)

    feed = ModelInput(resolve_data_config(AutoConfig.from_pretrained(d), AutoImageProcessor.from_pretrained(d)), torch.device("cpu"))
    in_training = feed(torch.from_numpy(gray).float().unsqueeze(1) / 255.0)
    assert in_training.shape == in_analyze.shape
    assert torch.allclose(in_training, in_analyze, atol=1e-5)


def test_fine_tuning_a_checkpoint_stored_in_fp16_trains_in_fp32(tmp_path, tiny_fervit):
    """Released models are stored in fp16 (small files); --init from one must not train in fp16."""
    import torch

    from fervideo.modeling import FerViTForImageClassification
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    src = tmp_path / "fp16"
    FerViTForImageClassification.from_pretrained(tiny_fervit).half().save_pretrained(src)
    __import__("shutil").copy(tiny_fervit / "preprocessor_config.json", src)
    imgs, y = _images(64)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    train(data, data, tmp_path / "ft", TrainConfig(init=str(src), epochs=1, batch_size=32, warmup_epochs=0.5, device="cpu"))
    state = torch.load(tmp_path / "ft" / "checkpoints" / "last.pt", weights_only=False)["model"]
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}


def test_fine_tuning_a_calibrated_model_starts_uncalibrated(tmp_path, tiny_fervit):
    """The calibration temperature of the --init model was fitted on other weights: the new model has T = 1."""
    import json
    import shutil

    from fervideo.modeling import FerViTForImageClassification
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    src = tmp_path / "calibrated"
    m = FerViTForImageClassification.from_pretrained(tiny_fervit)
    m.config.logit_temperature = 1.7
    m.save_pretrained(src)
    shutil.copy(tiny_fervit / "preprocessor_config.json", src)
    imgs, y = _images(64)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    train(data, data, tmp_path / "ft", TrainConfig(init=str(src), epochs=1, batch_size=32, warmup_epochs=0.5, device="cpu"))
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["logit_temperature"] == 1.0


def test_init_rows_follow_class_names_not_positions(tmp_path, tiny_fervit):
    """--init from a model whose classes are (happy, sad, neutral): a new head for (sad, happy) plus
    a vote head (neutral, happy, contempt) takes each row from the init's row of the same name;
    a class the init lacks (contempt) starts fresh."""
    import torch

    from fervideo.modeling import FerViTForImageClassification
    from fervideo.train.trainer import TrainConfig, _classifier_linear, build_model

    src = _classifier_linear(FerViTForImageClassification.from_pretrained(tiny_fervit))
    model, _ = build_model(["sad", "happy"], TrainConfig(init=str(tiny_fervit)), vote_classes=["neutral", "happy", "contempt"])
    dst = _classifier_linear(model)
    assert dst.out_features == 5
    for row, src_row in [(0, 1), (1, 0), (2, 2), (3, 0)]:
        assert torch.equal(dst.weight[row], src.weight[src_row]) and torch.equal(dst.bias[row], src.bias[src_row])
    assert not any(torch.equal(dst.weight[4], src.weight[i]) for i in range(3))
    assert float(dst.bias[4].detach()) == 0.0
    # same size, other order: rows are moved, not relabelled in place
    model, _ = build_model(["neutral", "happy", "sad"], TrainConfig(init=str(tiny_fervit)))
    assert torch.equal(_classifier_linear(model).weight[0], src.weight[2])
    assert torch.equal(_classifier_linear(model).weight[2], src.weight[1])


def test_a_teacher_teaches_what_the_labels_do_not(tmp_path):
    """Distillation: a student trained on labels that carry no information (shuffled) learns the task
    from a teacher that knows it (val accuracy > 0.9), where without the teacher it cannot (< 0.75)."""
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(256)
    va_imgs, va_y = _images(64, seed=1)
    va = FaceImages(va_imgs, va_y, ["happy", "sad"], "val")
    small = dict(batch_size=32, lr=2e-3, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8, 16, 16],
                 warmup_epochs=0.5, device="cpu", seed=0, patience=100)
    train(FaceImages(imgs, y, ["happy", "sad"], "clean"), va, tmp_path / "teacher", TrainConfig(epochs=3, **small))
    noise = np.random.default_rng(5).permutation(y)
    shuffled = FaceImages(imgs, noise, ["happy", "sad"], "shuffled")
    alone = train(shuffled, va, tmp_path / "alone", TrainConfig(epochs=3, **small))
    taught = train(shuffled, va, tmp_path / "taught", TrainConfig(epochs=3, teacher=str(tmp_path / "teacher"), teacher_weight=3.0,
                                                                  **small))
    assert max(h["val_accuracy"] for h in taught["history"]) > 0.9
    assert alone["history"][-1]["val_accuracy"] < 0.75


def test_a_teacher_without_the_students_classes_is_refused(tmp_path, tiny_vit):
    """Checked before the first step: a teacher must know at least one class of the student; weights > 0."""
    from fervideo.core.errors import ConfigError
    from fervideo.train.data import FaceImages
    from fervideo.train.trainer import TrainConfig, train

    imgs, y = _images(32)
    data = FaceImages(imgs, y, ["left_lit", "right_lit"], "s")
    with pytest.raises(ConfigError, match="has none of the classes"):
        train(data, data, tmp_path / "m", TrainConfig(epochs=1, batch_size=16, teacher=str(tiny_vit), device="cpu",
                                                      hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                      stem_channels=[8, 16, 16]))
    with pytest.raises(ConfigError, match="must be > 0"):
        TrainConfig(teacher=str(tiny_vit), teacher_weight=0)


@pytest.mark.parametrize("view", ["same", "clean"])
def test_the_teacher_sees_the_view_asked_for(tmp_path, tiny_vit, monkeypatch, view):
    """--teacher-view clean: the teacher reads the faces without the video conditions (here: every
    image darkened to 20-60%), so its batches are as bright as the training images; with "same" it
    reads the darkened batch the student learns from."""
    from fervideo.train import trainer
    from fervideo.train.augment import AugmentConfig
    from fervideo.train.data import FaceImages

    seen = []
    original = trainer.Teacher.targets
    monkeypatch.setattr(trainer.Teacher, "targets", lambda self, x: seen.append(float(x.mean())) or original(self, x))
    imgs, y = _images(64)
    data = FaceImages(imgs, y, ["happy", "sad"], "s")
    dark = AugmentConfig(flip=0, rotate_deg=0, scale=0, shift=0, brightness=0, contrast=0, erase_p=0, low_light_p=1.0)
    trainer.train(data, data, tmp_path / "m", trainer.TrainConfig(
        epochs=1, batch_size=32, max_steps_per_epoch=2, teacher=str(tiny_vit), teacher_view=view, augment=dark, device="cpu",
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8, 16, 16]))
    assert len(seen) == 2
    full = imgs.mean() / 255
    if view == "clean":
        assert all(abs(m - full) < 0.05 * full for m in seen)
    else:
        assert all(m < 0.65 * full for m in seen)


def test_teacher_view_options_are_checked_before_training(tiny_vit):
    from fervideo.core.errors import ConfigError
    from fervideo.train.augment import AugmentConfig
    from fervideo.train.trainer import TrainConfig

    with pytest.raises(ConfigError, match="valid: same, clean"):
        TrainConfig(teacher=str(tiny_vit), teacher_view="sharp")
    with pytest.raises(ConfigError, match="mixup"):
        TrainConfig(teacher=str(tiny_vit), teacher_view="clean", augment=AugmentConfig(mixup_alpha=0.2))
