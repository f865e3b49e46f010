import numpy as np
import pytest

from fervideo.core.errors import BackendError
from fervideo.stages.reid import merge_tracks
from fervideo.core.types import Faces


def _rows(tid, t0, t1):
    t = np.arange(t0, t1, 0.1)
    n = len(t)
    return Faces(np.tile([0, 0, 10, 10], (n, 1)), np.ones(n), np.zeros((n, 5, 2)), np.arange(n), t, track_ids=np.full(n, tid))


def test_similar_later_track_rejoins_and_overlapping_ones_never_do():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    faces = Faces.concat([_rows(1, 0, 2), _rows(2, 0, 2), _rows(3, 3, 4), _rows(4, 3, 4)])
    emb = {1: a, 2: b, 3: a + 0.1 * rng.normal(size=128), 4: b + 0.1 * rng.normal(size=128)}
    out = merge_tracks(faces, emb, threshold=0.45)
    ids = {int(t): set(out.track_ids[faces.track_ids == t].tolist()) for t in (1, 2, 3, 4)}
    assert ids[3] == {1} and ids[4] == {2}
    # same look but on screen together: stays two people
    emb2 = {1: a, 2: a}
    out2 = merge_tracks(Faces.concat([_rows(1, 0, 2), _rows(2, 1, 3)]), emb2, 0.45)
    assert len(set(out2.track_ids.tolist())) == 2


def test_reid_offline_is_a_clear_error(monkeypatch, tmp_path):
    from fervideo.stages.reid import ArcFaceEmbedder

    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with pytest.raises(BackendError, match="could not be downloaded"):
        ArcFaceEmbedder()
