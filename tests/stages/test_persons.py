"""Persons: the quality gate, per-track sampling, constrained clustering, and joining tracks of real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fervideo.core.types import Faces, FrameTime
from fervideo.stages import detect, embed
from fervideo.stages.persons import (
    FaceSampler,
    QualityGate,
    cluster,
    find_persons,
    match_across,
    overlaps,
    thumbnail_jpeg,
)
from persons_data import portraits, shots


def _rows(tid: int, t0: float, t1: float, box=(0, 0, 60, 60)) -> Faces:
    t = np.arange(t0, t1, 0.1)
    n = len(t)
    return Faces(np.tile(box, (n, 1)), np.ones(n), np.zeros((n, 5, 2)), np.arange(n), t, track_ids=np.full(n, tid))


def test_cannot_link_pairs_are_never_joined_however_alike():
    e = np.array([[0.0, 0.0], [0.0, 0.0], [0.01, 0.0]])
    cannot = overlaps([(0, 2), (1, 3), (5, 6)])  # tracks 0 and 1 share time
    labels = cluster(e, cannot, "euclidean", 0.4)
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])  # the later one joins one of them, not both
    assert len(set(cluster(e, np.eye(3, dtype=bool), "euclidean", 0.4).tolist())) == 1  # without constraints: one


def test_average_linkage_does_not_chain():
    # 0-1 and 1-2 are within the threshold, 0-2 is not: single linkage would chain all three
    e = np.array([[0.0], [0.35], [0.7]])
    labels = cluster(e, np.eye(3, dtype=bool), "euclidean", 0.4)
    assert len(set(labels.tolist())) == 2


def test_a_cannot_link_pair_blocks_a_merge_even_among_many():
    rng = np.random.default_rng(1)
    n = 40
    e = rng.normal(scale=0.01, size=(n, 4))  # all alike
    cannot = np.eye(n, dtype=bool)
    cannot[0, n - 1] = cannot[n - 1, 0] = True
    labels = cluster(e, cannot, "euclidean", 0.4)
    assert labels[0] != labels[n - 1] and len(set(labels.tolist())) == 2


def test_overlaps_counts_a_shared_frame():
    ov = overlaps([(0.0, 1.0), (1.0, 2.0), (2.1, 3.0)])
    assert ov[0, 1] and not ov[1, 2] and ov.diagonal().all()


def test_quality_gate_wants_large_sure_frontal_faces():
    lm_front = [[20, 25], [40, 25], [30, 35], [22, 45], [38, 45]]
    lm_side = [[30, 25], [40, 25], [44, 35], [33, 45], [41, 45]]  # nose beyond the near eye
    boxes = [[0, 0, 60, 70], [0, 0, 60, 70], [0, 0, 30, 35], [0, 0, 60, 70]]
    f = Faces(boxes, [0.9, 0.9, 0.9, 0.5], [lm_front, lm_side, np.array(lm_front) / 2, lm_front], np.zeros(4), np.zeros(4))
    q = QualityGate().quality(f)
    assert q[0] > 0 and (q[1:] == 0).all()  # frontal passes; profile, 30 px, score 0.5 do not


def test_sampler_keeps_few_spread_detected_faces_per_track():
    a, _ = portraits()
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[40:190, 60:210] = a
    det = detect.create("centerface", size=320).detect(frame[None], [FrameTime(0, 0.0)])
    det = det[np.argsort(-det.scores)[:1]]
    s = FaceSampler(per_track=3, min_gap=0.3)
    for k in range(20):  # 2 s at 10 fps, every other row bridged
        row = det.with_(time_s=[k * 0.1], frame_index=[k], track_ids=[7], detected=[k % 2 == 0])
        s.add(frame, row)
    tf = s.tracks[7]
    assert len(tf.samples) == 3
    times = sorted(x.time_s for x in tf.samples)
    assert min(np.diff(times)) >= 0.3 - 1e-9
    assert all(round(t * 10) % 2 == 0 for t in times)  # only detected rows
    assert tf.thumb.shape == (96, 96, 3) and thumbnail_jpeg(tf.thumb)[:2] == b"\xff\xd8"  # JPEG
    sample = tf.samples[0]
    x1, y1, x2, y2 = sample.face.boxes[0]
    assert 0 <= x1 < x2 <= sample.image.shape[1] and 0 <= y1 < y2 <= sample.image.shape[0]
    assert s.relabel({7: 1}).keys() == {1} and s.relabel({}) == {}


def test_a_face_cut_by_the_frame_edge_is_not_sampled():
    """A face the frame cuts off (a close-up with the eyes above the top edge) embeds as someone
    else; the sampler keeps no sample of it, only its thumbnail."""
    a, _ = portraits()
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[40:190, 60:210] = a
    det = detect.create("centerface", size=320).detect(frame[None], [FrameTime(0, 0.0)])
    det = det[np.argsort(-det.scores)[:1]]
    assert QualityGate().inside(frame.shape[:2], det.boxes).all()
    x1, y1, x2, y2 = det.boxes[0]
    cut = frame[int(y1) + int((y2 - y1) * 0.4):]  # the top 40% of the face above the frame
    moved = det.with_(boxes=[[x1, 0.0, x2, y2 - int(y1) - int((y2 - y1) * 0.4)]], landmarks=det.landmarks * 0)
    assert not QualityGate().inside(cut.shape[:2], moved.boxes).any()
    s = FaceSampler()
    s.add(frame, det.with_(track_ids=[1], detected=[True]))
    s.add(cut, moved.with_(track_ids=[2], detected=[True], landmarks=det.landmarks))
    assert len(s.tracks[1].samples) == 1 and s.tracks[2].samples == [] and s.tracks[2].thumb is not None


def _track_faces(clip_faces: list[np.ndarray]):
    """Detect and sample a clip of hard-cut shots, one track per shot (the frame loop's job, done by hand)."""
    frames = shots(clip_faces, seconds=1.0, fps=5.0)
    det = detect.create("centerface", size=320)
    sampler = FaceSampler()
    parts = []
    for k, fr in enumerate(frames):
        f = det.detect(fr[None], [FrameTime(k, k * 0.2)])
        f = f[np.argsort(-f.scores)[:1]].with_(track_ids=[k // 5 + 1])
        sampler.add(fr, f)
        parts.append(f)
    return Faces.concat(parts), sampler.tracks


@pytest.fixture(scope="module")
def dlib_embedder():
    return embed.create("dlib")


def test_two_different_people_alternating_across_cuts_stay_two(dlib_embedder):
    a, g = portraits()
    faces, tracks = _track_faces([a, g, a, g])
    p = find_persons(faces, tracks, dlib_embedder)
    assert p.person_of == {1: 1, 2: 2, 3: 1, 4: 2}
    assert p.info["backend"] == "dlib" and p.info["threshold"] == 0.4 and p.info["persons"] == 2
    assert set(p.embeddings) == {1, 2} and len(p.thumbs) == 4


def test_one_person_across_cuts_is_one_person(dlib_embedder):
    a, _ = portraits()
    faces, tracks = _track_faces([a, a, a])
    p = find_persons(faces, tracks, dlib_embedder)
    assert set(p.person_of.values()) == {1}
    # a merge is confirmed on every sample of each track, not on one face
    assert p.info["embedded_faces"] > p.info["embedded_tracks"] == 3


def test_clearly_different_people_cost_one_face_per_track(dlib_embedder):
    a, g = portraits()
    faces, tracks = _track_faces([a, g])
    p = find_persons(faces, tracks, dlib_embedder)
    assert p.info["embedded_faces"] == 2 and len(set(p.person_of.values())) == 2


def test_a_tighter_threshold_splits_and_no_embedder_keeps_tracks(dlib_embedder):
    a, _ = portraits()
    faces, tracks = _track_faces([a, a])
    assert len(set(find_persons(faces, tracks, dlib_embedder, threshold=1e-6).person_of.values())) == 2
    p = find_persons(faces, tracks, None, unavailable="no backend")
    assert p.person_of == {1: 1, 2: 2} and p.info == {"backend": None, "tracks": 2, "reason": "no backend", "persons": 2,
                                                      "seconds": p.info["seconds"]}


def test_tracks_without_a_usable_face_stay_their_own_person(dlib_embedder):
    a, _ = portraits()
    faces, tracks = _track_faces([a, a])
    tracks[2].samples = []  # e.g. only profiles or faces in the dark
    p = find_persons(faces, tracks, dlib_embedder)
    assert p.person_of == {1: 1, 2: 2} and set(p.embeddings) == {1}


def test_match_across_never_joins_two_persons_of_one_video():
    same = np.zeros((2, 4))
    a, b = match_across([same, same[:1] + 0.01], "euclidean", 0.4)
    assert a[0] != a[1] and b[0] in (a[0], a[1])


def test_match_across_holds_small_faces_to_a_tighter_threshold():
    """Two persons of two videos 0.37 apart: one study person with large faces (or sizes
    unknown, as in tables from before the face_px column), two where one face is 48 px."""
    x, y = np.zeros((1, 4)), np.array([[0.37, 0, 0, 0]])
    for sizes, same in ((None, True), ([np.array([120.0]), np.array([100.0])], True),
                        ([np.array([np.nan]), np.array([np.nan])], True), ([np.array([48.0]), np.array([120.0])], False)):
        a, b = match_across([x, y], "euclidean", 0.4, sizes)
        assert (a[0] == b[0]) == same, sizes


def _setting(face_at=(120, 60, 200, 160), seed=0, size=(240, 320)):
    """A frame: a textured setting (seeded) with a flat face-sized patch at ``face_at``."""
    rng = np.random.default_rng(seed)
    frame = cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), size[::-1], interpolation=cv2.INTER_LINEAR)
    x1, y1, x2, y2 = face_at
    frame[y1:y2, x1:x2] = 128
    return frame, np.array(face_at, np.float32)


def test_same_setting_needs_the_same_place_and_the_same_surroundings():
    from fervideo.stages.persons import Context

    a = Context.of(*_setting())
    assert a.same_setting(Context.of(*_setting()))
    moved = Context.of(*_setting(face_at=(10, 120, 90, 220)))  # same room, the face elsewhere
    assert not a.same_setting(moved)
    elsewhere = Context.of(*_setting(seed=5))  # same place in the frame, another setting
    assert not a.same_setting(elsewhere)
    brighter = Context.of(np.clip(_setting()[0].astype(int) + 40, 0, 255).astype(np.uint8), _setting()[1])
    assert a.same_setting(brighter)  # correlation: a change of exposure is the same setting


class _FixedEmbedder:
    """Embeds every face of track k (its detector score is k) as ``vectors[k]``."""

    name, metric, threshold = "fixed", "euclidean", 0.40

    def __init__(self, vectors):
        self.vectors = vectors

    def embed(self, images, faces):
        return np.stack([self.vectors[int(round(s))] for s in faces.scores])


def _tracks_in(settings):
    """Tracks 1.. one after the other (1 s each), each with one sample seen in ``settings[k]``."""
    from fervideo.stages.persons import Context, Sample, TrackFaces

    parts, tracks = [], {}
    for k, (frame, box) in enumerate(settings, start=1):
        parts.append(_rows(k, 2.0 * k, 2.0 * k + 1.0, box=tuple(box)))
        face = Faces(box[None], [float(k)], np.zeros((1, 5, 2)), [0], [2.0 * k])
        jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
        side = float(min(box[2] - box[0], box[3] - box[1]))
        tracks[k] = TrackFaces(samples=[Sample(0.9, 2.0 * k, jpeg, face, Context.of(frame, box), face_px=side)])
    return Faces.concat(parts), tracks


def test_a_return_to_the_same_setting_joins_tracks_a_little_farther_apart():
    """Two tracks 0.45 apart (above the 0.40 threshold): one person when the camera came back to the
    same framing of the same seat, two when the second was seen elsewhere; 0.55 stays two anyway."""
    from fervideo.stages.persons import SETTING_RELAX

    assert 0.45 < 0.40 * SETTING_RELAX < 0.55
    same = [_setting(), _setting()]
    other = [_setting(), _setting(seed=5)]
    for settings, dist, persons in ((same, 0.45, 1), (other, 0.45, 2), (same, 0.55, 2)):
        faces, tracks = _tracks_in(settings)
        emb = _FixedEmbedder({1: np.zeros(4), 2: np.array([dist, 0, 0, 0])})
        res = find_persons(faces, tracks, emb)
        assert len(set(res.person_of.values())) == persons, (dist, res.info)
    assert res.info["same_setting_pairs"] == 1 and res.info["setting_relax"] == SETTING_RELAX


def test_small_faces_join_only_closer():
    """0.37 apart: one person with faces of 90 px and more, two with 48 px faces (different
    elderly people and babies were 0.358-0.399 apart at that resolution); 0.33 joins at any size."""
    from fervideo.stages.persons import SMALL_FACE_FACTOR, small_face_factor

    assert small_face_factor(48) == SMALL_FACE_FACTOR and small_face_factor(120) == 1.0
    assert SMALL_FACE_FACTOR < small_face_factor(70) < 1.0
    # different settings (no same-setting relaxation); faces of 100 x 120 px, then halved
    big = [_setting(face_at=(100, 40, 200, 160), seed=1), _setting(face_at=(100, 40, 200, 160), seed=7)]
    small = [(cv2.resize(f, (160, 120)), b / 2) for f, b in big]
    for settings, dist, persons in ((big, 0.37, 1), (small, 0.37, 2), (small, 0.33, 1)):
        faces, tracks = _tracks_in(settings)
        res = find_persons(faces, tracks, _FixedEmbedder({1: np.zeros(4), 2: np.array([dist, 0, 0, 0])}))
        assert len(set(res.person_of.values())) == persons, (dist, res.info)
    assert res.info["small_face_pairs"] == 1


def test_the_same_setting_brings_small_faces_up_to_the_threshold_not_above():
    """Large faces in the same setting join up to 1.25 thresholds (0.45 -> one person); 48 px
    faces in the same setting only up to the threshold itself (0.38 joins, 0.42 does not)."""
    from fervideo.stages.persons import pair_factors

    np.testing.assert_allclose(pair_factors(np.array([1.25, 1.25, 1.0]), np.array([1.0, 0.85, 0.85])), [1.25, 1.0, 0.85])
    big = [_setting(face_at=(100, 40, 200, 160)), _setting(face_at=(100, 40, 200, 160))]  # the same setting twice
    small = [(cv2.resize(f, (128, 96)), b * 0.4) for f, b in big]  # 40 x 48 px faces
    for settings, dist, persons in ((big, 0.45, 1), (small, 0.38, 1), (small, 0.42, 2)):
        faces, tracks = _tracks_in(settings)
        res = find_persons(faces, tracks, _FixedEmbedder({1: np.zeros(4), 2: np.array([dist, 0, 0, 0])}))
        assert res.info["same_setting_pairs"] == 1, res.info
        assert len(set(res.person_of.values())) == persons, (dist, res.info)


def test_shot_reverse_shot_is_seen_as_the_same_setting(dlib_embedder):
    """Through the detector and the sampler: A in setting X, B in setting Y, A in X again (a fixed
    camera each). The two shots of A are found in the same setting, B's in neither; A is one person."""
    a, g = portraits()

    def setting(seed, face, at):
        frame = _setting(seed=seed, face_at=(0, 0, 1, 1))[0]
        x, y = at
        frame[y:y + face.shape[0], x:x + face.shape[1]] = face
        return frame

    x_a, y_b = setting(1, a, (30, 40)), setting(2, g, (150, 50))
    det = detect.create("centerface", size=320)
    sampler, parts = FaceSampler(), []
    for k, fr in enumerate([x_a] * 5 + [y_b] * 5 + [x_a] * 5):
        f = det.detect(fr[None], [FrameTime(k, k * 0.2)])
        f = f[np.argsort(-f.scores)[:1]].with_(track_ids=[k // 5 + 1])
        sampler.add(fr, f)
        parts.append(f)
    p = find_persons(Faces.concat(parts), sampler.tracks, dlib_embedder)
    assert p.person_of == {1: 1, 2: 2, 3: 1}
    assert p.info["same_setting_pairs"] == 1



@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_distances_are_scipys(metric):
    from scipy.spatial.distance import cdist

    from fervideo.stages.persons import distances

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 128)), rng.normal(size=(3, 128))
    np.testing.assert_allclose(distances(a, b, metric), cdist(a, b, metric), atol=1e-12)
    with pytest.raises(ValueError, match="cosine, euclidean"):
        distances(a, b, "cityblock")
