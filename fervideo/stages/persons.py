"""Persons: which face tracks are one person (within a video, and across the videos of a study).

Tracks are shot-level continuity: the tracker starts a new id at every cut and after every
loss longer than its buffer, so one participant of a multi-shot recording is many tracks.
This stage joins them, conservatively, because a wrong merge mixes two people's emotions
(worse than a split):

1. ``FaceSampler`` (in the frame loop, while frames are in memory) keeps per track up to
   ``per_track`` good faces spread in time: detected (not bridged) rows that pass a
   ``QualityGate`` (face size, detector score, near-frontal by the 5 landmarks, contrast), each as a
   small patch cut around the face; and a thumbnail of the track's best face for reports.
2. ``find_persons`` (once per video, batched) embeds each track's best face, then the other
   samples only of tracks that might join another (not on screen together, close on the
   best faces); a track's embedding is the mean over its embedded faces (a track's own
   frames are one person).
3. ``cluster`` is scipy's average-linkage agglomerative clustering, cut at the embedder's
   conservative threshold, with cannot-link constraints: tracks that overlap in time (two
   faces on screen at once) get a distance so large that no cluster can hold both. Tracks
   whose best faces were seen at the same place of the frame in the same setting (``Context``:
   the camera came back to the same framing, shot / reverse shot) may join up to
   ``SETTING_RELAX`` thresholds apart. Pairs with a small face join only closer
   (``small_face_factor``: low-resolution faces of different people come closer together), and
   the same setting relaxes them less (``pair_factors``: at 48 px up to the threshold itself,
   never above it). Tracks with no usable face stay their own person.

``match_across`` runs the same clustering over the persons of several videos, where the
persons of one video are cannot-link (they were already kept apart there).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import cv2
import numpy as np

from fervideo.core.geometry import box_iou
from fervideo.core.quality import CLEAR_FACE_PX, CLEAR_FRONTAL, face_size, frontal
from fervideo.core.thumbnails import display_levels
from fervideo.core.types import Faces

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What ``find_persons`` needs of a backend of ``fervideo.stages.embed``."""

    name: str
    metric: str
    threshold: float

    def embed(self, images: list[np.ndarray], faces: Faces) -> np.ndarray: ...


@dataclass(frozen=True)
class QualityGate:
    """Which detected faces are good enough to embed.

    Size and frontal-ness are the timeline's own measures (``core/quality.py``: shorter side
    of the box; 1 with the nose midway between the eyes, 0 in profile). Contrast is the
    standard deviation of the luma in the box: faces in the dark (stage_cuts' audience: 2-6
    on 0-255) give dlib embeddings that are close to each other whoever they are (0.2-0.3),
    the worst case for a stage whose errors must be splits, not merges. Measured with dlib on
    the astronaut and Grace Hopper portraits scaled down: the same face drifts 0.25 at 40 px,
    0.41 at 24 px while the two people stay 0.7 apart; hence ``min_face``.
    """

    min_face: float = CLEAR_FACE_PX  # shorter side of the box in pixels
    min_score: float = 0.75  # detector confidence
    min_frontal: float = CLEAR_FRONTAL  # nose at most a quarter of the eye distance off the eyes' midpoint
    min_contrast: float = 8.0  # luma standard deviation in the box (0-255)
    #: px the box must keep from the frame's border. A face cut by the frame edge embeds as
    #: someone else: the close-up of samples/two_people_cut.mp4 (eyes above the frame) is 0.69
    #: from the same face uncut, where the same face and its mirror image are 0.20 apart.
    min_edge: float = 1.0

    def inside(self, frame_hw: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
        """Per row: the box keeps ``min_edge`` px from every border of the frame (not cut by it)."""
        h, w = frame_hw
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        e = self.min_edge
        return (b[:, 0] >= e) & (b[:, 1] >= e) & (b[:, 2] <= w - e) & (b[:, 3] <= h - e)

    def contrast(self, frame: np.ndarray, box: np.ndarray) -> float:
        x1, y1, x2, y2 = np.rint(box).astype(int).tolist()
        patch = frame[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
        return float(cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).std()) if patch.size else 0.0

    def quality(self, faces: Faces) -> np.ndarray:
        """Per row: 0 where the face fails the gate, else a score in (0, 1] (larger, surer, more frontal is higher)."""
        size, front = face_size(faces.boxes), np.nan_to_num(frontal(faces.landmarks), nan=0.0)
        ok = (size >= self.min_face) & (faces.scores >= self.min_score) & (front >= self.min_frontal)
        q = np.minimum(size, 150.0) / 150.0 * faces.scores * front
        return np.where(ok, q, 0.0).astype(np.float32)


#: Size of the shot-context thumbnail (``Context``): the whole frame in 32 x 18 gray cells.
CONTEXT_SIZE = (32, 18)
#: Same setting: the face's relative boxes overlap by this IoU and the frames around them
#: correlate this well. Measured on the best faces of tracks: different shots of stage_cuts
#: -0.20 to 0.23, of the generated 720p multi-face clip (13 cuts) at most 0.76 (and then with
#: the face elsewhere, IoU 0); faces of one shot 0.92-1.00.
SETTING_IOU, SETTING_CORRELATION = 0.3, 0.85
#: Tracks seen in the same setting may join up to this many times the embedder's threshold
#: (dlib: 0.50 instead of 0.40, still below dlib's own 0.6 for one person): the camera came
#: back to the same framing of the same seat, which is the same person unless people moved.
SETTING_RELAX = 1.25
#: Small faces join only closer: a pair's threshold is multiplied by ``small_face_factor`` of
#: the smaller of the two tracks' faces (1 from ``FULL_FACE_PX`` up, ``SMALL_FACE_FACTOR`` at
#: ``SMALL_FACE_PX`` and below, linear between). Measured with dlib on 600 FER-2013 val faces
#: (48 px of real resolution, pasted into 640x360 frames at 96 px, through the detector and the
#: gate: 462 faces, 106,491 pairs; bench/persons_small_faces.py): every pair below 0.31 was the
#: same person (FER-2013's near-duplicates), but two different elderly people were 0.358 apart
#: and different babies 0.373-0.399, where the issue's evidence on faces of 90 px and more had
#: the first wrong merge at 0.42. 0.85 x 0.40 = 0.34 keeps the same margin below 0.358.
#: Measured with dlib; applied to every embedder as the conservative default.
SMALL_FACE_PX, FULL_FACE_PX, SMALL_FACE_FACTOR = 48.0, 90.0, 0.85


def pair_factors(relax: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per pair, how many thresholds apart its tracks may be: the same-setting relaxation times
    the small-face factor, capped so that the relaxation fades with the face size: a pair of
    48 px faces in the same setting joins at most one threshold apart (the setting is evidence
    of one person, not enough to join faces whose embeddings are that noisy farther apart),
    a pair of 90 px faces up to ``SETTING_RELAX`` thresholds, linearly between."""
    w = np.clip((sizes - SMALL_FACE_FACTOR) / (1.0 - SMALL_FACE_FACTOR), 0.0, 1.0)
    return np.minimum(relax * sizes, 1.0 + (relax - 1.0) * w)


def small_face_factor(face_px: np.ndarray | float) -> np.ndarray:
    """Threshold multiplier (``SMALL_FACE_FACTOR``..1) for faces of ``face_px`` px (shorter box side)."""
    w = np.clip((np.asarray(face_px, np.float64) - SMALL_FACE_PX) / (FULL_FACE_PX - SMALL_FACE_PX), 0.0, 1.0)
    return SMALL_FACE_FACTOR + (1.0 - SMALL_FACE_FACTOR) * w


def pair_size_factors(face_px: np.ndarray) -> np.ndarray:
    """(n, n) threshold multipliers for n faces of ``face_px`` px: ``small_face_factor`` of the
    smaller face of each pair; a size that is not known (NaN) counts as large."""
    px = np.asarray(face_px, np.float64)
    f = small_face_factor(np.where(np.isnan(px), FULL_FACE_PX, px))
    return np.minimum(f[:, None], f[None, :])


@dataclass(frozen=True)
class Context:
    """Where and in what setting a face was seen: its box in frame-relative coordinates (0-1)
    and the frame around it as a small gray thumbnail with the face's region masked out.

    Interviews and dinners are cut shot / reverse shot: the camera comes back to the same
    framing of the same seat. Two tracks with the face at the same place in the same setting
    (``same_setting``) are one person unless people changed seats.
    """

    box: np.ndarray  # (4,) x1, y1, x2, y2 as fractions of the frame's width and height
    thumb: np.ndarray  # (18, 32) uint8 gray (a long recording keeps thousands of these)
    mask: np.ndarray  # (18, 32) bool: cells outside the face's region (1.5 face sizes)

    @classmethod
    def of(cls, frame: np.ndarray, box: np.ndarray) -> Context:
        h, w = frame.shape[:2]
        rel = np.asarray(box, np.float64) / [w, h, w, h]
        gw, gh = CONTEXT_SIZE
        thumb = cv2.resize(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY), (gw, gh), interpolation=cv2.INTER_AREA)
        cx, cy = (rel[0] + rel[2]) / 2, (rel[1] + rel[3]) / 2
        hw, hh = 0.75 * (rel[2] - rel[0]), 0.75 * (rel[3] - rel[1])
        xs, ys = (np.arange(gw) + 0.5) / gw, (np.arange(gh) + 0.5) / gh
        inside = (np.abs(ys[:, None] - cy) <= hh) & (np.abs(xs[None, :] - cx) <= hw)
        return cls(rel.astype(np.float32), thumb, ~inside)

    def same_setting(self, other: Context) -> bool:
        """The face at the same place (relative IoU >= ``SETTING_IOU``) in the same setting
        (correlation of the thumbnails outside both faces >= ``SETTING_CORRELATION``)."""
        iou, r = self.similarity(other)
        return iou >= SETTING_IOU and r >= SETTING_CORRELATION

    def similarity(self, other: Context) -> tuple[float, float]:
        """(IoU of the two relative boxes, correlation of the settings outside both faces)."""
        iou = float(box_iou(self.box.astype(np.float64), other.box[None].astype(np.float64))[0])
        m = self.mask & other.mask
        if m.sum() < 0.5 * m.size:
            return iou, 0.0
        a, b = self.thumb[m].astype(np.float64), other.thumb[m].astype(np.float64)
        a, b = a - a.mean(), b - b.mean()
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return iou, float((a * b).sum() / den) if den > 1e-6 else 0.0


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


@dataclass
class Sample:
    """One good face of a track: a patch cut around it (JPEG) and the face's box/landmarks in the patch.

    Kept as JPEG (quality 95, 10-25 kB) because a long multi-shot recording has thousands of
    tracks (about 2,800 an hour in the family recording of issue 10) and they are all held
    until the video ends. The JPEG moves a dlib embedding by 0.07 (astronaut portrait), where
    faces of one track in stage_cuts spread 0.2-0.6.
    """

    quality: float
    time_s: float
    jpeg: bytes
    face: Faces
    context: Context | None = None  # where in the frame, in what setting
    face_px: float = 0.0  # the face's shorter side in the frame (before the patch was scaled down)

    @property
    def image(self) -> np.ndarray:
        return np.ascontiguousarray(cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)[..., ::-1])


@dataclass
class TrackFaces:
    samples: list[Sample] = field(default_factory=list)
    thumb: np.ndarray | None = None  # the best face, thumb_size x thumb_size RGB as recorded (``thumbnail_jpeg`` makes the JPEG)
    thumb_score: float = -1.0


def _cut(frame: np.ndarray, box: np.ndarray, context: float, max_face: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A patch ``context`` face sizes wide around ``box``, scaled so the face is at most ``max_face`` px."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1, 1.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = frame.shape[:2]
    ox, oy = int(max(0, cx - side * context / 2)), int(max(0, cy - side * context / 2))
    ex, ey = int(min(w, cx + side * context / 2 + 1)), int(min(h, cy + side * context / 2 + 1))
    patch = frame[oy:ey, ox:ex]
    s = min(1.0, max_face / side)
    if s < 1.0:
        patch = cv2.resize(patch, (max(1, round(patch.shape[1] * s)), max(1, round(patch.shape[0] * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(patch), np.array([ox, oy], np.float32), s


class FaceSampler:
    """Per track, the best few faces (patches) and a thumbnail, collected frame by frame.

    ``add(frame, faces)`` looks at the tracked, detected rows of one frame; ``reset()`` forgets
    everything. Memory is small: ``per_track`` JPEG patches of at most ``2 * max_face`` pixels a side.
    """

    def __init__(self, per_track: int = 4, gate: QualityGate | None = None, min_gap: float = 0.3,
                 max_face: float = 128.0, thumb_size: int = 96) -> None:
        self.per_track = per_track
        self.gate = gate or QualityGate()
        self.min_gap = min_gap
        self.max_face = max_face
        self.thumb_size = thumb_size
        self.tracks: dict[int, TrackFaces] = {}

    def reset(self) -> None:
        self.tracks = {}

    def add(self, frame: np.ndarray, faces: Faces) -> None:
        faces = faces[(faces.track_ids >= 0) & faces.detected]
        if len(faces) == 0:
            return
        q = np.where(self.gate.inside(frame.shape[:2], faces.boxes), self.gate.quality(faces), 0.0)
        w = faces.boxes[:, 2] - faces.boxes[:, 0]
        for i in range(len(faces)):
            tf = self.tracks.setdefault(int(faces.track_ids[i]), TrackFaces())
            thumb_score = float(q[i]) if q[i] > 0 else 1e-4 * float(w[i] * faces.scores[i])
            if thumb_score > tf.thumb_score:
                tf.thumb, tf.thumb_score = self._thumb(frame, faces.boxes[i]), thumb_score
            if q[i] > 0 and self.gate.contrast(frame, faces.boxes[i]) >= self.gate.min_contrast:
                self._offer(tf, frame, faces[i], float(q[i]))

    def _offer(self, tf: TrackFaces, frame: np.ndarray, face: Faces, q: float) -> None:
        t = float(face.time_s[0])
        near = [s for s in tf.samples if abs(s.time_s - t) < self.min_gap]
        if near:
            if q <= max(s.quality for s in near):
                return
            tf.samples = [s for s in tf.samples if s not in near]
        elif len(tf.samples) >= self.per_track:
            worst = min(tf.samples, key=lambda s: s.quality)
            if q <= worst.quality:
                return
            tf.samples.remove(worst)
        patch, origin, s = _cut(frame, face.boxes[0], 2.0, self.max_face)
        local = face.with_(boxes=(face.boxes - np.tile(origin, 2)) * s, landmarks=(face.landmarks - origin) * s)
        tf.samples.append(Sample(q, t, _jpeg(patch, 95), local, Context.of(frame, face.boxes[0]),
                                 float(face_size(face.boxes)[0])))

    def _thumb(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The pixels only: levels and JPEG once per track at the end (``thumbnail_jpeg``), not on every better face,
        and OpenCV's CIELAB tables (0.1 s to build) not on the frame loop's thread."""
        patch, _, _ = _cut(frame, box, 1.3, 4 * self.thumb_size)
        return cv2.resize(patch, (self.thumb_size, self.thumb_size), interpolation=cv2.INTER_AREA)

    def relabel(self, mapping: dict[int, int]) -> dict[int, TrackFaces]:
        """The collected tracks under new ids (``renumber``'s), without the tracks that were dropped."""
        return {mapping[t]: tf for t, tf in self.tracks.items() if t in mapping}


def thumbnail_jpeg(thumb: np.ndarray) -> bytes:
    """A track's thumbnail as people see it (dark faces brightened, ``display_levels``), JPEG."""
    return _jpeg(display_levels(thumb), 85)


def overlaps(spans: list[tuple[float, float]]) -> np.ndarray:
    """(n, n) bool: spans that share any time (both ends included: a shared frame is two faces at once)."""
    a = np.asarray(spans, np.float64).reshape(-1, 2)
    return (a[:, None, 0] <= a[None, :, 1]) & (a[None, :, 0] <= a[:, None, 1])


def cluster(emb: np.ndarray, cannot_link: np.ndarray, metric: str, threshold: float,
            relax: np.ndarray | None = None) -> np.ndarray:
    """Cluster labels 0..k-1 of average-linkage clustering cut at ``threshold``, never joining a cannot-link pair.

    A cannot-link pair gets a distance larger than ``threshold * n**2``; average linkage merges
    two clusters at the mean of their pairwise distances (at most n**2/4 pairs), so any merge
    that would put such a pair in one cluster happens above the threshold, and the cut undoes it.
    ``relax`` (n, n), where given, divides each pair's distance (1 = as measured): pairs with
    other evidence of one person (``SETTING_RELAX`` for the same setting) join up to that
    many thresholds apart, pairs with a small face (``pair_factors``) only closer.
    """
    n = len(emb)
    if n < 2:
        return np.zeros(n, np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage  # 0.4 s of imports: only where there is something to join
    from scipy.spatial.distance import pdist, squareform

    d = squareform(pdist(emb.astype(np.float64), metric))
    if relax is not None:
        d = d / np.asarray(relax, np.float64)
    big = (threshold + d.max() + 1.0) * n * n
    d[cannot_link & ~np.eye(n, dtype=bool)] = big
    z = linkage(squareform(d, checks=False), method="average")
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """(n, m) distances between embeddings, as SciPy's ``cdist`` with ``metric`` ("euclidean" or "cosine"), without its import."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if metric == "euclidean":
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    if metric == "cosine":
        na = np.linalg.norm(a, axis=1)[:, None]
        nb = np.linalg.norm(b, axis=1)[None, :]
        return 1.0 - (a @ b.T) / np.maximum(na * nb, 1e-12)
    raise ValueError(f"unknown embedding metric {metric!r}; valid: cosine, euclidean")


def _mean(vectors: np.ndarray, metric: str) -> np.ndarray:
    m = vectors.mean(0)
    return m / max(float(np.linalg.norm(m)), 1e-9) if metric == "cosine" else m


#: A pair of tracks whose best faces are closer than this many thresholds is compared again
#: on all their samples; farther pairs are different people on one face already.
CONFIRM = 1.5


def _embed_tracks(embedder: Embedder, cand: list[int], tracks: dict[int, TrackFaces], cannot_link: np.ndarray,
                  threshold: float) -> tuple[dict[int, np.ndarray], int]:
    """Mean embedding per track, embedding as few faces as the decisions need.

    First each track's best face, in one batch (so every person with a usable face has an
    embedding, for ``match_across``). Only tracks with a possible partner (not on screen
    together, closer than ``CONFIRM`` thresholds) get their other samples embedded, in a second
    batch: a merge is decided on several faces per track, a clear split on one. Embedding is
    the expensive step (dlib: about 0.1 s of CPU per face).
    """
    if not cand:
        return {}, 0

    def run(pairs: list[tuple[int, Sample]]) -> np.ndarray:
        return embedder.embed([s.image for _, s in pairs], Faces.concat([s.face for _, s in pairs]))

    best = [(t, max(tracks[t].samples, key=lambda s: s.quality)) for t in cand]
    first = run(best)
    d = distances(first, first, embedder.metric)
    d[cannot_link] = np.inf  # also the diagonal: a track overlaps itself
    close = {t for k, t in enumerate(cand) if d[k].min() < CONFIRM * threshold}
    more = [(t, s) for t, b in best if t in close for s in tracks[t].samples if s is not b]
    vec = np.concatenate([first, run(more)]) if more else first
    owner = np.array([t for t, _ in best + more])
    return {t: _mean(vec[owner == t], embedder.metric) for t in cand}, len(owner)


def size_factor(cand: list[int], tracks: dict[int, TrackFaces]) -> np.ndarray:
    """(n, n) threshold multipliers from the face sizes: ``small_face_factor`` of the smaller of
    the two tracks' faces (each track's median over its samples), so a pair with a small face
    joins only closer (``SMALL_FACE_PX``)."""
    return pair_size_factors(np.array([float(np.median([s.face_px for s in tracks[t].samples])) for t in cand]))


def setting_relax(cand: list[int], tracks: dict[int, TrackFaces], cannot_link: np.ndarray) -> np.ndarray:
    """(n, n) distance divisors: ``SETTING_RELAX`` for track pairs not on screen together whose best
    faces were seen at the same place in the same setting (``Context.same_setting``), else 1."""
    ctx = [max(tracks[t].samples, key=lambda s: s.quality).context for t in cand]
    out = np.ones((len(cand), len(cand)))
    have = [k for k, c in enumerate(ctx) if c is not None]
    if len(have) < 2:
        return out
    # The place first, for all pairs at once (an hour of a multi-shot recording is thousands of
    # tracks); the settings are compared only where the faces were at the same place.
    rel = np.stack([ctx[k].box for k in have]).astype(np.float64)
    for a, i in enumerate(have[:-1]):
        iou = box_iou(rel[a], rel[a + 1 :])
        for b in np.flatnonzero(iou >= SETTING_IOU):
            j = have[a + 1 + b]
            if not cannot_link[i, j] and ctx[i].same_setting(ctx[j]):
                out[i, j] = out[j, i] = SETTING_RELAX
    return out


@dataclass
class Persons:
    """The persons of one video."""

    person_of: dict[int, int]  # track id -> person id (1.. in order of first appearance)
    embeddings: dict[int, np.ndarray]  # person id -> mean embedding of its embedded tracks
    thumbs: dict[int, np.ndarray]  # track id -> the track's best face (RGB, as recorded)
    info: dict  # what ran (backend, metric, threshold, counts, seconds): goes into the metadata

    def thumb_jpegs(self) -> dict[int, bytes]:
        """track id -> JPEG of its best face, for the tables (made here, where the annotated video may be rendering beside)."""
        return {t: thumbnail_jpeg(a) for t, a in self.thumbs.items()}


def find_persons(faces: Faces, tracks: dict[int, TrackFaces], embedder: Embedder | None, threshold: float | None = None,
                 unavailable: str | None = None) -> Persons:
    """Join the tracks of ``faces`` into persons; without an embedder every track is its own person."""
    t0 = time.perf_counter()
    ids = sorted(int(t) for t in np.unique(faces.track_ids) if t >= 0)
    spans = {t: (float(faces.time_s[faces.track_ids == t].min()), float(faces.time_s[faces.track_ids == t].max())) for t in ids}
    thumbs = {t: tracks[t].thumb for t in ids if t in tracks and tracks[t].thumb is not None}
    info: dict = {"backend": None, "tracks": len(ids)}
    emb: dict[int, np.ndarray] = {}
    group = {t: t for t in ids}  # a representative track per person
    if embedder is None:
        info["reason"] = unavailable or "persons off (--no-persons)"
    else:
        threshold = embedder.threshold if threshold is None else float(threshold)
        info.update(backend=embedder.name, metric=embedder.metric, threshold=threshold)
        cand = [t for t in ids if t in tracks and tracks[t].samples]  # tracks with a usable face
        cannot = overlaps([spans[t] for t in cand])
        emb, n_faces = _embed_tracks(embedder, cand, tracks, cannot, threshold)
        info.update(embedded_tracks=len(cand), embedded_faces=n_faces)
        if len(cand) > 1:
            relax = setting_relax(cand, tracks, cannot)
            info.update(same_setting_pairs=int(np.triu(relax > 1, 1).sum()), setting_relax=SETTING_RELAX)
            sizes = size_factor(cand, tracks)
            info.update(small_face_pairs=int(np.triu((sizes < 1) & ~cannot, 1).sum()),
                        small_face_factor={"at_px": SMALL_FACE_PX, "factor": SMALL_FACE_FACTOR, "full_at_px": FULL_FACE_PX})
            labels = cluster(np.stack([emb[t] for t in cand]), cannot, embedder.metric, threshold, pair_factors(relax, sizes))
            rep = {c: min(t for t, l2 in zip(cand, labels) if l2 == c) for c in set(labels.tolist())}
            group.update({t: rep[int(c)] for t, c in zip(cand, labels)})
    start = {g: min(spans[t][0] for t in ids if group[t] == g) for g in set(group.values())}
    number = {g: k + 1 for k, g in enumerate(sorted(start, key=lambda g: (start[g], g)))}
    person_of = {t: number[group[t]] for t in ids}
    p_emb = {}
    for p in set(person_of.values()):
        members = [emb[t] for t in ids if person_of[t] == p and t in emb]
        if members:
            p_emb[p] = _mean(np.stack(members), embedder.metric)
    info.update(persons=len(number), seconds=round(time.perf_counter() - t0, 3))
    log.debug("persons: %s", {p: [t for t in ids if person_of[t] == p] for p in sorted(set(person_of.values()))})
    return Persons(person_of, p_emb, thumbs, info)


def gate_settings(sampler: FaceSampler) -> dict:
    """The sampler's settings, for the metadata."""
    return {"per_track": sampler.per_track, "min_gap_s": sampler.min_gap, **asdict(sampler.gate)}


def match_across(groups: list[np.ndarray], metric: str, threshold: float,
                 face_px: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Study-wide person labels for the persons of several videos (one (n_i, D) array per video).

    Persons of one video never share a label: they were kept apart there (cannot-link).
    ``face_px`` (per video, one face size per person; NaN where unknown) makes pairs with a
    small face join only closer, as within a video (``small_face_factor``).
    Returns one int array per video; labels are 0..k-1 over the study.
    """
    sizes = [len(g) for g in groups]
    if sum(sizes) == 0:
        return [np.zeros(0, np.int64) for _ in groups]
    video = np.repeat(np.arange(len(groups)), sizes)
    relax = pair_size_factors(np.concatenate([np.asarray(f, np.float64) for f in face_px])) if face_px is not None else None
    labels = cluster(np.concatenate([g for g in groups if len(g)]), video[:, None] == video[None, :], metric, threshold, relax)
    return np.split(labels, np.cumsum(sizes)[:-1])
