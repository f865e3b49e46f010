import numpy as np

from fervideo.core.types import Faces
from fervideo.stages.track import (
    FaceTracker,
    SceneCutDetector,
    drop_short_tracks,
    renumber,
)


def _frame(i, boxes, t=None):
    n = len(boxes)
    return Faces(np.array(boxes, float), np.full(n, 0.9), np.zeros((n, 5, 2)), np.full(n, i), np.full(n, i * 0.1 if t is None else t))


def test_two_moving_faces_keep_their_ids_from_the_first_frame():
    tr = FaceTracker()
    outs = [tr.update(_frame(i, [[10 + 3 * i, 10, 60 + 3 * i, 70], [200 - 2 * i, 50, 250 - 2 * i, 110]])) for i in range(10)]
    assert (outs[0].track_ids == -1).all()  # provisional: ByteTrack confirms on the second sighting
    first = tr.finalize(outs[0])
    assert (outs[0].track_ids == -1).all()  # what update returned is never changed afterwards
    ids = np.array([first.track_ids, *[o.track_ids for o in outs[1:]]])
    assert (ids >= 0).all()  # first sighting back-filled
    assert len(set(ids[:, 0])) == 1 and len(set(ids[:, 1])) == 1 and ids[0, 0] != ids[0, 1]


def test_finalize_works_on_a_filtered_subset():
    tr = FaceTracker()
    outs = [tr.update(_frame(i, [[10 + 3 * i, 10, 60 + 3 * i, 70], [200 - 2 * i, 50, 250 - 2 * i, 110]])) for i in range(3)]
    second_face_only = outs[0][np.array([False, True])]
    done = tr.finalize(second_face_only)
    assert done.track_ids.tolist() == [outs[1].track_ids[1]]


def test_reset_ends_tracks_without_reusing_ids():
    tr = FaceTracker()
    a = [tr.update(_frame(i, [[10, 10, 60, 70]])) for i in range(3)]
    tr.reset()
    b = [tr.update(_frame(i, [[10, 10, 60, 70]])) for i in range(3, 6)]
    assert a[-1].track_ids[0] != b[-1].track_ids[0]


def test_lost_face_rejoins_within_buffer():
    tr = FaceTracker(lost_seconds=1.0)
    first = [tr.update(_frame(i, [[10, 10, 60, 70]])) for i in range(3)]
    tr.tick(0.4)
    tr.tick(0.5)
    back = tr.update(_frame(6, [[11, 10, 61, 70]]))
    assert back.track_ids[0] == first[1].track_ids[0] >= 0


def test_scene_cut_detector():
    sc = SceneCutDetector()
    a = np.full((90, 160, 3), 30, np.uint8)
    b = a.copy()
    b[:, :, 0] = 220
    assert not sc.update(a)
    assert not sc.update(a)
    assert sc.update(b)


def test_drop_short_and_renumber():
    f = Faces.concat([_frame(i, [[0, 0, 5, 5]]) for i in range(10)]).with_(track_ids=np.full(10, 7))
    g = Faces.concat([_frame(i, [[50, 50, 55, 55]]) for i in range(2)]).with_(track_ids=np.full(2, 3))
    kept = drop_short_tracks(Faces.concat([f, g]), min_seconds=0.5)
    assert set(kept.track_ids.tolist()) == {7}
    assert set(renumber(kept).track_ids.tolist()) == {1}


def test_drop_short_tracks_keeps_a_one_row_track_with_min_track_0():
    one = _frame(0, [[0, 0, 5, 5]]).with_(track_ids=np.array([4]))
    assert drop_short_tracks(one, min_seconds=0.0).track_ids.tolist() == [4]
    assert len(drop_short_tracks(one, min_seconds=0.1)) == 0
    untracked = _frame(0, [[0, 0, 5, 5]])  # -1: never a track, whatever min_seconds says
    assert len(drop_short_tracks(untracked, min_seconds=0.0)) == 0


def test_end_shot_gives_unconfirmable_new_faces_their_own_ids():
    tr = FaceTracker()
    a = [tr.update(_frame(i, [[10, 10, 60, 70]])) for i in range(3)]  # one confirmed face
    tid = int(a[-1].track_ids[0])
    last = tr.update(_frame(3, [[11, 10, 61, 70], [200, 50, 250, 110]]).with_(scores=np.array([0.9, 0.95])))
    assert last.track_ids[0] == tid and last.track_ids[1] == -1  # the newcomer is provisional
    done = tr.end_shot(last)
    assert done.track_ids[0] == tid and done.track_ids[1] > tid  # its own, new id
    assert last.track_ids[1] == -1  # what update returned is not changed
    after = [tr.update(_frame(i, [[11, 10, 61, 70]])) for i in range(4, 6)]  # tracks ended: a new id
    assert tr.finalize(after[0]).track_ids[0] > done.track_ids[1]


def test_end_shot_leaves_faces_bytetrack_would_not_start_a_track_from():
    tr = FaceTracker()
    weak = tr.update(_frame(0, [[10, 10, 60, 70]]).with_(scores=np.array([0.55])))  # below activation
    assert tr.end_shot(weak).track_ids.tolist() == [-1]


def test_finalize_returns_confirmed_first_sightings_only_once_they_are_known():
    tr = FaceTracker()
    first = tr.update(_frame(0, [[10, 10, 60, 70]]))
    assert tr.finalize(first).track_ids.tolist() == [-1]  # nothing confirmed it yet
    second = tr.update(_frame(1, [[12, 10, 62, 70]]))
    assert second.track_ids[0] >= 0
    assert tr.finalize(first).track_ids.tolist() == second.track_ids.tolist()


def test_tracking_imports_nothing_heavy():
    """The tracker is on every analysis's path before the first face: it must not pull in SciPy,
    supervision or trackers (0.5-1 s of imports that ``stages/bytetrack.py`` exists to avoid)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        import numpy as np
        from fervideo.core.types import Faces
        from fervideo.stages.track import FaceTracker
        tr = FaceTracker()
        def frame(i):
            return Faces(np.array([[10.0 + i, 10, 60 + i, 70], [200.0, 50, 250, 110]]), np.full(2, 0.9), np.zeros((2, 5, 2)), np.full(2, i), np.full(2, i * 0.1))
        outs = [tr.update(frame(i)) for i in range(3)]
        heavy = sorted(m for m in ("scipy", "supervision", "trackers", "pandas", "torch") if m in sys.modules)
        assert not heavy, heavy
        assert outs[2].track_ids.tolist() == [0, 1], outs
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
