"""Re-identification: rejoin one person's tracks after a cut or an occlusion (``--reid``).

ByteTrack alone gives a person a new id whenever the face is lost for longer than the track
buffer or the shot changes. With ``--reid``, each track gets an ArcFace embedding (mean of
up to ``per_track`` aligned 112x112 crops of detected frames, insightface's ``w600k_r50``
from the ``buffalo_l`` pack), and after the video a track that starts after another ended
takes that track's id when their embeddings are similar (cosine >= threshold). Tracks that
overlap in time are never merged: two faces on screen at once are two people.
"""

from __future__ import annotations

import logging

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces

log = logging.getLogger(__name__)


class ArcFaceEmbedder:
    """ArcFace embeddings of faces given by their 5 landmarks (insightface model pack)."""

    def __init__(self, device: str = "auto") -> None:
        from fervideo.stages.detect import ort_providers
        from fervideo.stages.detect.scrfd import ensure_pack, find_pack_file

        ensure_pack()
        f = find_pack_file("w600k") or find_pack_file("glintr") or None
        if f is None:
            raise BackendError("--reid needs an ArcFace model (w600k_*.onnx) in the insightface buffalo_l pack")
        from insightface.model_zoo import model_zoo

        self.model = model_zoo.get_model(str(f), providers=ort_providers(device))
        self.model.prepare(ctx_id=-1)

    def __call__(self, frame: np.ndarray, faces: Faces) -> np.ndarray:
        from insightface.utils import face_align

        bgr = np.ascontiguousarray(frame[..., ::-1])
        crops = [face_align.norm_crop(bgr, landmark=lm, image_size=112) for lm in faces.landmarks]
        emb = self.model.get_feat(crops)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)


class ReID:
    """Collects embeddings per track during the frame loop, merges tracks after it."""

    def __init__(self, embedder, threshold: float = 0.45, per_track: int = 5) -> None:
        self.embed = embedder
        self.threshold = threshold
        self.per_track = per_track
        self.embeddings: dict[int, list[np.ndarray]] = {}

    def observe(self, frame: np.ndarray, faces: Faces) -> None:
        sel = [i for i, (t, d) in enumerate(zip(faces.track_ids, faces.detected))
               if t >= 0 and d and len(self.embeddings.get(int(t), [])) < self.per_track]
        if not sel:
            return
        emb = self.embed(frame, faces[np.array(sel)])
        for i, e in zip(sel, emb):
            self.embeddings.setdefault(int(faces.track_ids[i]), []).append(e)

    def merge(self, faces: Faces) -> Faces:
        return merge_tracks(faces, {t: np.mean(v, 0) for t, v in self.embeddings.items()}, self.threshold)


def merge_tracks(faces: Faces, embeddings: dict[int, np.ndarray], threshold: float) -> Faces:
    """Give a later track the id of an earlier, non-overlapping, similar-looking one."""
    if len(faces) == 0:
        return faces
    ids = faces.track_ids.copy()
    spans = {int(t): (faces.time_s[ids == t].min(), faces.time_s[ids == t].max()) for t in np.unique(ids) if t >= 0}
    order = sorted(spans, key=lambda t: spans[t][0])
    person: dict[int, int] = {}  # track -> person (its earliest track id)
    members: dict[int, list[int]] = {}
    for t in order:
        e = embeddings.get(t)
        best, best_sim = None, threshold
        if e is not None:
            for p, tracks in members.items():
                if any(spans[m][1] >= spans[t][0] and spans[m][0] <= spans[t][1] for m in tracks):
                    continue  # on screen together: different people
                pe = np.mean([embeddings[m] for m in tracks if m in embeddings], 0)
                sim = float(np.dot(e, pe) / (np.linalg.norm(e) * np.linalg.norm(pe) + 1e-9))
                if sim >= best_sim:
                    best, best_sim = p, sim
        p = best if best is not None else t
        person[t] = p
        members.setdefault(p, []).append(t)
        if best is not None:
            log.info("reid: track %d joins track %d (cosine %.2f)", t, p, best_sim)
    new = np.array([person.get(int(t), int(t)) for t in ids], np.int64)
    return faces.with_(track_ids=new)
