"""--pose-balance: head pose must stop predicting the label, and the weights must reach the loss."""

from __future__ import annotations

import numpy as np
import pytest

from fervideo.core.errors import ConfigError, DataError


def test_buckets_put_no_face_apart_and_follow_the_edges():
    from fervideo.train.pose import pose_buckets

    assert pose_buckets(np.array([np.nan, 0.0, 0.29, 0.3, 0.5, 0.74, 0.75, 1.0])).tolist() == [0, 1, 1, 2, 3, 3, 4, 4]


def test_within_every_bucket_the_weighted_labels_follow_the_overall_distribution():
    """FER-2013's pattern in miniature: turned faces mostly 'angry', frontal ones mostly 'happy'."""
    from fervideo.train.pose import pose_balance_weights

    labels = np.array([0] * 30 + [1] * 10 + [0] * 20 + [1] * 40)  # 0 angry, 1 happy
    scores = np.array([0.1] * 40 + [0.9] * 60)
    w = pose_balance_weights(labels, scores, 2)
    assert w.mean() == pytest.approx(1.0)
    overall = np.bincount(labels, minlength=2) / len(labels)
    for m in (scores < 0.3, scores >= 0.3):
        weighted = np.bincount(labels[m], weights=w[m], minlength=2)
        assert weighted / weighted.sum() == pytest.approx(overall)
    assert w[(scores < 0.3) & (labels == 1)][0] > 1 > w[(scores < 0.3) & (labels == 0)][0]  # turned happy faces count more


def test_weights_are_clipped_where_a_class_is_almost_absent_from_a_bucket():
    from fervideo.train.pose import WEIGHT_RANGE, pose_balance_weights

    labels = np.array([0] * 99 + [1] + [1] * 100)
    scores = np.array([0.1] * 100 + [0.9] * 100)
    w = pose_balance_weights(labels, scores, 2)
    raw_max = w.max() / w.min()
    assert raw_max <= WEIGHT_RANGE[1] / WEIGHT_RANGE[0] + 1e-6


def test_scores_are_cached_by_content(tmp_path, monkeypatch):
    import fervideo.stages.detect as detect
    from fervideo.train.pose import frontal_scores

    images = np.full((3, 48, 48), 128, np.uint8)  # no face: NaN
    first = frontal_scores(images, cache=tmp_path)
    assert first.shape == (3,) and np.isnan(first).all()
    assert len(list(tmp_path.glob("frontal_*.npy"))) == 1

    def no_detector(*a, **k):
        raise AssertionError("the detector ran again for cached images")

    monkeypatch.setattr(detect, "create", no_detector)
    assert np.array_equal(frontal_scores(images, cache=tmp_path), first, equal_nan=True)
    with pytest.raises(AssertionError, match="ran again"):
        frontal_scores(images[:, ::-1].copy() + 1, cache=tmp_path)  # other pixels: not the cached ones


def _data(n: int = 32):
    from fervideo.train.data import FaceImages

    rng = np.random.default_rng(0)
    return FaceImages(rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), np.arange(n) % 2, ["happy", "sad"], "synthetic")


SMALL = dict(epochs=1, batch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8, 16, 16],
             warmup_epochs=0, device="cpu", max_steps_per_epoch=2, label_smoothing=0.0)


def test_sample_weights_reach_the_loss(tmp_path):
    """All weights zero: no label loss at all; the same run unweighted has one."""
    from fervideo.train.trainer import TrainConfig, train

    data = _data()
    zero = train(data, data, tmp_path / "z", TrainConfig(pose_balance=True, **SMALL), sample_weights=np.zeros(len(data)))
    plain = train(data, data, tmp_path / "p", TrainConfig(**SMALL))
    assert zero["history"][0]["train_loss"] == 0.0 < plain["history"][0]["train_loss"]


def test_sample_weights_are_checked(tmp_path):
    from fervideo.train.trainer import TrainConfig, train

    data = _data()
    with pytest.raises(ConfigError, match="pose_balance and sample_weights go together"):
        train(data, data, tmp_path / "a", TrainConfig(**SMALL), sample_weights=np.ones(len(data)))
    with pytest.raises(DataError, match="one per training image"):
        train(data, data, tmp_path / "b", TrainConfig(pose_balance=True, **SMALL), sample_weights=np.ones(3))
    with pytest.raises(DataError, match="non-negative"):
        train(data, data, tmp_path / "c", TrainConfig(pose_balance=True, **SMALL), sample_weights=-np.ones(len(data)))


@pytest.mark.slow
def test_train_cli_pose_balance_end_to_end(tmp_path, monkeypatch):
    """The CLI finds each image's pose (cached under HOME), prints the weights per bucket and trains."""
    from ferplus_data import fer_split
    from typer.testing import CliRunner

    from fervideo._cli import app

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    train_p, _, _ = fer_split(tmp_path, "train", 48, 0)
    val_p, _, _ = fer_split(tmp_path, "val", 16, 1)
    args = ["train", str(train_p), "--val", str(val_p), "--out", str(tmp_path / "m"), "--pose-balance", "--epochs", "1",
            "--batch-size", "16", "--hidden-size", "32", "--layers", "1", "--heads", "2", "--stem", "8,16,16",
            "--no-video-augment", "--device", "cpu", "--threads", "1"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "mean weight per class" in r.output
    assert len(list((tmp_path / "home" / ".cache" / "fervideo" / "pose").glob("frontal_*.npy"))) == 1
    assert '"pose_balance": true' in (tmp_path / "m" / "training.json").read_text()


def test_bucket_names_follow_the_edges():
    from fervideo.train.pose import POSE_EDGES, bucket_names, pose_buckets

    names = bucket_names()
    assert names == ["no face", "frontal < 0.3", "0.3-0.5", "0.5-0.75", ">= 0.75"]
    assert len(names) == len(POSE_EDGES) + 2 == int(pose_buckets(np.array([1.0]))[0]) + 1
