import numpy as np
import pytest

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces
from fervideo.stages import smooth


def _track(p, t, tid=1):
    n = len(t)
    return Faces(np.tile([0, 0, 10, 10], (n, 1)), np.ones(n), np.zeros((n, 5, 2)), np.arange(n), t,
                 track_ids=np.full(n, tid), probs=p)


def _noisy(n=60, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.where(np.arange(n) < n // 2, 0, 1)
    p = rng.dirichlet(np.ones(3) * 0.7, n)
    p[np.arange(n), truth] += 0.5
    return (p / p.sum(1, keepdims=True)).astype(np.float32), truth


@pytest.mark.parametrize("name", smooth.available())
def test_every_smoother_keeps_the_stage_shape(name):
    """update(faces) -> faces with raw probabilities kept, smoothed rows summing to 1, one label per
    row; the input is not modified; reset() exists; built the same from the run's settings."""
    p, _ = _noisy(30)
    t = np.arange(30) * 0.1
    faces = Faces.concat([_track(p[:15], t[:15], 1), _track(p[15:], t[15:], 2)])
    for s in (smooth.create(name), smooth.from_settings(name, seconds=0.3, max_gap=1.0, switch_rate=0.5)):
        out = s.update(faces)
        assert faces.smoothed is None and faces.label_ids is None  # the input is left alone
        assert np.array_equal(out.probs, faces.probs) and np.array_equal(out.track_ids, faces.track_ids)
        assert out.smoothed.shape == p.shape and np.allclose(out.smoothed.sum(1), 1, atol=1e-4)
        assert out.label_ids.shape == (30,) and set(out.label_ids.tolist()) <= {0, 1, 2}
        s.reset()
        assert np.array_equal(s.update(faces).smoothed, out.smoothed)  # same again after reset()


@pytest.mark.parametrize("name", [n for n in smooth.available() if n != "none"])
def test_smoothing_reduces_flicker_and_keeps_raw(name):
    p, truth = _noisy()
    t = np.arange(len(p)) * 0.1
    out = smooth.create(name).update(_track(p, t))
    assert np.array_equal(out.probs, p)  # raw kept
    assert np.allclose(out.smoothed.sum(1), 1, atol=1e-4)
    flips = lambda lab: int((np.diff(lab) != 0).sum())  # noqa: E731
    assert flips(out.label_ids) < flips(p.argmax(1))
    assert (out.label_ids == truth).mean() >= (p.argmax(1) == truth).mean()


def test_smoothing_runs_on_seconds_not_frames():
    p, _ = _noisy(40)
    slow = smooth.create("gaussian", sigma=0.3).update(_track(p, np.arange(40) * 0.1)).smoothed
    fast = smooth.create("gaussian", sigma=0.3).update(_track(np.repeat(p, 3, 0), np.arange(120) * (0.1 / 3))).smoothed
    assert np.abs(fast[::3] - slow).mean() < 0.03


def test_gaps_split_segments():
    p = np.zeros((6, 2), np.float32)
    p[:3, 0] = 1
    p[3:, 1] = 1
    t = np.array([0, 0.1, 0.2, 5.0, 5.1, 5.2])
    out = smooth.create("ema", tau=10.0, max_gap=1.0).update(_track(p, t))
    assert out.smoothed[3, 1] == pytest.approx(1.0)  # no carry-over across the 4.8 s gap


def test_tracks_are_independent():
    p, _ = _noisy(20)
    t = np.arange(20) * 0.1
    a = _track(p, t, 1)
    b = _track(p[::-1].copy(), t, 2)
    both = smooth.create("hmm").update(Faces.concat([a, b]))
    alone = smooth.create("hmm").update(a)
    assert np.allclose(both.smoothed[:20], alone.smoothed, atol=1e-6)


def test_unknown_smoother_lists_choices():
    with pytest.raises(BackendError, match="ema, gaussian, hmm, none"):
        smooth.create("kalman")
