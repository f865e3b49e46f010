import numpy as np
import pytest

from fervideo.core.types import Faces, FrameTime


def _faces(n):
    return Faces(np.tile([0, 0, 10, 10], (n, 1)), np.ones(n), np.zeros((n, 5, 2)), np.arange(n), np.arange(n) * 0.1)


def test_validates_shapes():
    with pytest.raises(ValueError, match="landmarks"):
        Faces(np.zeros((2, 4)), np.ones(2), np.zeros((2, 4, 2)), [0, 1], [0.0, 0.1])
    with pytest.raises(ValueError, match="scores"):
        Faces(np.zeros((2, 4)), np.ones(3), np.zeros((2, 5, 2)), [0, 1], [0.0, 0.1])
    with pytest.raises(ValueError, match="x2 < x1"):
        Faces(np.array([[5, 0, 1, 1]]), [1], np.zeros((1, 5, 2)), [0], [0.0])


def test_select_concat_and_defaults():
    f = _faces(4)
    assert (f.track_ids == -1).all() and f.detected.all()
    g = f[f.frame_index >= 2]
    assert len(g) == 2 and g.frame_index.tolist() == [2, 3]
    both = Faces.concat([f, g, Faces.empty()])
    assert len(both) == 6
    with pytest.raises(ValueError):
        f.with_(probs=np.zeros((3, 7)))


def test_frametime_orders_and_prints():
    assert FrameTime(1, 0.5) < FrameTime(2, 0.6)
    assert str(FrameTime(90, 3661.5)).startswith("01:01:01.500")
