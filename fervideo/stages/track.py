"""Track: stable face ids across frames (ByteTrack, ``stages/bytetrack.py``), scene cuts.

ByteTrack (Kalman filter + two-stage IoU association with a lost-track buffer) is fed the
container timestamps, so its motion model and lost-track buffer run on real seconds even when
frames are sampled or the frame rate varies. A hard scene cut resets it (tracks end; ids keep
counting up, so no id is reused in one video). It returns an id per input row, so landmarks
and scores stay with their faces and nothing is matched twice.
"""

from __future__ import annotations

import cv2
import numpy as np

from fervideo.core.geometry import box_iou
from fervideo.core.types import Faces
from fervideo.stages.bytetrack import ByteTrack


class SceneCutDetector:
    """Hard cuts from the mean HSV difference of small thumbnails (PySceneDetect's content score).

    ``update(frame) -> bool`` says whether ``frame`` starts a new shot; ``reset()`` forgets
    the previous frame. A threshold of 30 on the 0-255 scale misses camera moves and
    lighting drifts but catches cuts between shots.
    """

    def __init__(self, threshold: float = 30.0) -> None:
        self.threshold = threshold
        self._prev: np.ndarray | None = None

    def update(self, frame: np.ndarray) -> bool:
        step = max(1, min(frame.shape[0] // 36, frame.shape[1] // 64) // 2)
        small = cv2.resize(frame[::step, ::step], (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
        prev, self._prev = self._prev, hsv
        if prev is None:
            return False
        return float(np.abs(hsv - prev).mean()) >= self.threshold

    def reset(self) -> None:
        self._prev = None


class FaceTracker:
    """``update(faces_of_one_frame) -> faces`` with ``track_ids``; ``reset()`` at a scene cut.

    Faces the tracker does not confirm (low score, unmatched) come back with id -1.
    ByteTrack confirms a new track on its second sighting, so the first sighting is returned
    with -1; ``finalize(earlier)`` returns a *new* ``Faces`` for an earlier output in which such
    first sightings carry the id confirmed since, and ``end_shot(last)`` does so for a shot's
    last detection frame, where nothing can confirm a new face any more. Nothing returned is
    ever modified later: the caller decides when an earlier frame is final (norfair's
    provisional/confirmed split).
    """

    def __init__(self, lost_seconds: float = 1.0, activation: float = 0.6, match_iou: float = 0.2, high_conf: float = 0.6) -> None:
        self.params = dict(lost_seconds=lost_seconds, activation=activation, match_iou=match_iou, high_conf=high_conf)
        self._spawn_score = max(activation, high_conf)  # what ByteTrack starts a new track from
        self._offset = 0
        self._max_id = -1
        self._prev: Faces | None = None  # the previous update's output (for first-sighting matches)
        self._seen: set[int] = set()
        self._confirmed: dict[int, list[tuple[np.ndarray, int]]] = {}  # frame index -> (box, id) found later
        self._new()

    def _new(self) -> None:
        self._bt = ByteTrack(**self.params)

    def reset(self) -> None:
        """End every track (scene cut); later ids continue above the ones given so far."""
        self._offset = self._max_id + 1
        self._prev = None
        self._new()

    def update(self, faces: Faces) -> Faces:
        frames = np.unique(faces.frame_index)
        if len(frames) > 1:
            raise ValueError("FaceTracker.update takes the faces of one frame")
        if len(faces) == 0:
            return faces
        ids = self._bt.update(faces.boxes, faces.scores, float(faces.time_s[0]))
        ok = ids >= 0
        ids[ok] += self._offset
        if ok.any():
            self._max_id = max(self._max_id, int(ids.max()))
        self._match_first_sightings(faces.boxes, ids)
        out_faces = faces.with_(track_ids=ids)
        self._prev = out_faces
        return out_faces

    def _match_first_sightings(self, boxes: np.ndarray, ids: np.ndarray) -> None:
        """Remember which unconfirmed face of the previous frame a just-confirmed track began with.

        Rows of the previous output still at -1 that overlap a new track's box (IoU >= 0.3)
        are recorded; ``finalize`` hands them out.
        """
        new = [(i, int(t)) for i, t in enumerate(ids) if t >= 0 and int(t) not in self._seen]
        self._seen.update(int(t) for t in ids if t >= 0)
        prev = self._prev
        if not new or prev is None or len(prev) == 0:
            return
        free = np.nonzero(prev.track_ids < 0)[0]
        for i, tid in new:
            if not len(free):
                break
            iou = box_iou(boxes[i], prev.boxes[free])
            j = int(np.argmax(iou))
            if iou[j] >= 0.3:
                fi = int(prev.frame_index[free[j]])
                self._confirmed.setdefault(fi, []).append((prev.boxes[free[j]].copy(), tid))
                free = np.delete(free, j)

    def finalize(self, earlier: Faces) -> Faces:
        """``earlier`` (any subset of a previous output) with first sightings given their ids.

        Returns a new ``Faces``; ``earlier`` itself is not changed. Call it once an earlier
        frame is done (after the next detection frame's ``update``, or at a cut or the end).
        """
        if len(earlier) == 0 or not self._confirmed:
            return earlier
        ids = earlier.track_ids.copy()
        for r in np.nonzero(ids < 0)[0]:
            for box, tid in self._confirmed.get(int(earlier.frame_index[r]), []):
                if np.allclose(box, earlier.boxes[r]):
                    ids[r] = tid
                    break
        done = set(np.unique(earlier.frame_index).tolist())
        self._confirmed = {f: v for f, v in self._confirmed.items() if f not in done}
        return earlier.with_(track_ids=ids)

    def end_shot(self, last: Faces) -> Faces:
        """``finalize`` the shot's last detection frame, give its unconfirmed new faces ids, end every track.

        Nothing after a scene cut or the end of the video can confirm a face first seen in the
        shot's last detection frame, so each face there that ByteTrack started a track for
        (score at or above the activation and high-confidence thresholds) gets an id of its own,
        and ``--min-track`` decides whether so short a track stays. A face seen once in the
        middle of a shot and never again stays -1: ByteTrack's rule against false detections.
        Ends with ``reset()``, so later ids never meet the ones given here.
        """
        done = self.finalize(last)
        ids = done.track_ids.copy()
        spawn = np.nonzero((ids < 0) & (done.scores >= self._spawn_score))[0]
        for r in spawn:
            self._max_id += 1
            ids[r] = self._max_id
        self.reset()
        return done.with_(track_ids=ids) if len(spawn) else done

    def tick(self, t: float) -> None:
        """Advance time on a detection frame with no faces, so lost tracks age correctly."""
        self._bt.update(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), t)
        self._prev = None


def drop_short_tracks(faces: Faces, min_seconds: float) -> Faces:
    """Remove flicker: tracks that last less than ``min_seconds`` (first to last row).

    A track of one row lasts 0 s: it goes with any ``min_seconds`` > 0 and stays with 0, so
    ``--min-track 0`` keeps every tracked face, also the only face of a one-frame video.
    """
    if len(faces) == 0:
        return faces
    keep = np.zeros(len(faces), bool)
    for tid in np.unique(faces.track_ids):
        if tid < 0:
            continue
        m = faces.track_ids == tid
        t = faces.time_s[m]
        if (t.max() - t.min()) >= min_seconds:
            keep |= m
    return faces[keep]


def renumber(faces: Faces) -> Faces:
    """Track ids 1..T in order of first appearance (stable, readable ids in the outputs)."""
    if len(faces) == 0:
        return faces
    order = np.lexsort((faces.track_ids, faces.time_s))
    mapping: dict[int, int] = {}
    for tid in faces.track_ids[order]:
        if tid >= 0 and tid not in mapping:
            mapping[int(tid)] = len(mapping) + 1
    new = np.array([mapping.get(int(t), -1) for t in faces.track_ids], np.int64)
    return faces.with_(track_ids=new)
