"""Which analysed frames get a face detection: the fixed schedule, and the adaptive one.

Fixed (``detect_max_interval <= detect_interval``, e.g. 0): a detection every
``detect_interval`` seconds and on every scene cut.

Adaptive (the default, ``detect_max_interval`` 1 s > ``detect_interval`` 0.1 s): a scheduled
detection is skipped when nothing it could find has changed since the last detection frame,
so a still interview costs a detection every ``detect_max_interval`` seconds instead of
every ``detect_interval``. A scheduled detection still runs when any of these holds:

- ``detect_max_interval`` seconds have passed since the last detection (the upper bound);
- the last detection found a face that is not yet a confirmed track (a first sighting waits
  for its confirming detection), or a face with a score below ``min_score``;
- a face moved or changed: the mean absolute difference of its box region (a 24x24 gray
  patch) between this frame and the last detection frame is at least ``face_change``
  (0-255 scale);
- something changed elsewhere (a face may have come in): the largest change of a 16x9 grid of
  cells (gray, 128x72 thumbnail), over the cells no tracked face covers, is at least
  ``scene_change``; a camera move raises every cell;
- a scene cut (those are always detected).

Frames whose detection was skipped are bridged like any frame between two detections: boxes
and landmarks interpolated between the detection frames on both sides, ``detected`` False.
The timeline keeps a row per analysed frame per face; what changes is how many rows have
``detected`` True, counted in the metadata (``detection_frames``, ``detections_skipped``).
The thresholds were set on the project's three real clips (pairs of frames 0.1-1 s apart,
CenterFace run on every frame at 10 fps): where the face patch changed by less than 6, the
later frame's detected landmarks lay within 3.2-4.2% of the face size of the earlier
frame's in 95% of the pairs. ``bench/detect_schedule.py`` measures what the schedule
changes in the timeline against a detection on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fervideo.core.types import Faces

THUMB = (128, 72)  # width, height of the gray thumbnail the scene test compares
GRID = (16, 9)  # cells of the scene test (8x8 thumbnail pixels each)
PATCH = 24  # side of the gray patch of a face's box


def gray_thumbnail(frame: np.ndarray) -> np.ndarray:
    """A 128x72 float32 gray thumbnail (strided first: cheap at any frame size)."""
    h, w = frame.shape[:2]
    step = max(1, min(h // (THUMB[1] * 2), w // (THUMB[0] * 2)))
    small = np.ascontiguousarray(frame[::step, ::step])
    g = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def face_patch(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box region as a 24x24 float32 gray patch (clipped to the frame)."""
    h, w = frame.shape[:2]
    x1, y1 = int(np.clip(np.floor(box[0]), 0, w - 1)), int(np.clip(np.floor(box[1]), 0, h - 1))
    x2, y2 = int(np.clip(np.ceil(box[2]), x1 + 1, w)), int(np.clip(np.ceil(box[3]), y1 + 1, h))
    region = np.ascontiguousarray(frame[y1:y2, x1:x2])
    g = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (PATCH, PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class StillnessThresholds:
    face_change: float = 6.0
    scene_change: float = 12.0
    min_score: float = 0.6


class Stillness:
    """Whether a frame still looks like the last detection frame, where faces are and around them.

    ``reference(frame, faces)`` is called with every detection frame once its faces are
    tracked; ``still(frame)`` then answers for later frames. Pure function of the pixels and
    the reference: deterministic.
    """

    def __init__(self, thresholds: StillnessThresholds | None = None) -> None:
        self.th = thresholds or StillnessThresholds()
        self._thumb: np.ndarray | None = None
        self._boxes: np.ndarray | None = None
        self._patches: list[np.ndarray] = []
        self._free: np.ndarray | None = None  # grid cells no face covers
        self._ok = False

    def reset(self) -> None:
        self._thumb, self._boxes, self._patches, self._free, self._ok = None, None, [], None, False

    def reference(self, frame: np.ndarray, faces: Faces) -> None:
        """The last detection frame and its tracked faces."""
        self._thumb = gray_thumbnail(frame)
        self._boxes = faces.boxes.copy()
        # Only confirmed, confident faces can be bridged without looking again.
        self._ok = bool(np.all(faces.track_ids >= 0) and np.all(faces.scores >= self.th.min_score))
        self._patches = [face_patch(frame, b) for b in faces.boxes] if self._ok else []
        h, w = frame.shape[:2]
        free = np.ones((GRID[1], GRID[0]), bool)
        for b in faces.boxes:  # cells a face covers (with a margin of half its size)
            bw, bh = b[2] - b[0], b[3] - b[1]
            cx1 = int(np.clip((b[0] - bw / 2) / w * GRID[0], 0, GRID[0]))
            cx2 = int(np.clip(np.ceil((b[2] + bw / 2) / w * GRID[0]), 0, GRID[0]))
            cy1 = int(np.clip((b[1] - bh / 2) / h * GRID[1], 0, GRID[1]))
            cy2 = int(np.clip(np.ceil((b[3] + bh / 2) / h * GRID[1]), 0, GRID[1]))
            free[cy1:cy2, cx1:cx2] = False
        self._free = free

    def still(self, frame: np.ndarray) -> bool:
        if not self._ok or self._thumb is None:
            return False
        for b, p in zip(self._boxes, self._patches):
            if float(np.abs(face_patch(frame, b) - p).mean()) >= self.th.face_change:
                return False
        diff = np.abs(gray_thumbnail(frame) - self._thumb)
        cells = diff.reshape(GRID[1], THUMB[1] // GRID[1], GRID[0], THUMB[0] // GRID[0]).mean(axis=(1, 3))
        outside = cells[self._free]
        return not (len(outside) and float(outside.max()) >= self.th.scene_change)


class DetectorSizing:
    """The detector's input size per shot, from the faces it found at full size.

    CenterFace's cost grows with the pixels it sees, and a face needs only about 20-40 of them
    to be found; ``--detect-size`` must suit the smallest face of any video. With sizing on,
    a shot's first detection (a cut, the video's start) and one every ``refresh_s`` seconds run
    at ``--detect-size``; the detections between run at the smallest multiple of 32 that
    still shows the smallest face found there ``target_px`` tall (never above
    ``--detect-size``, never below ``floor``). A face much smaller than any in the shot's last
    full-size detection can so be found up to ``refresh_s`` late. Only detectors that can be
    resized (``resized(size)``, CenterFace) take part.
    """

    def __init__(self, detector, target_px: float = 40.0, floor: int = 128, refresh_s: float = 5.0) -> None:
        self.full = detector
        self.current = detector
        self.target_px = target_px
        self.floor = floor
        self.refresh_s = refresh_s
        self._last_full: float | None = None
        self.sizes: dict[int, int] = {}  # detector size -> detections run at it

    @staticmethod
    def supported(detector) -> bool:
        return callable(getattr(detector, "resized", None)) and hasattr(detector, "size")

    def take_full(self, t: float, cut: bool) -> bool:
        """Whether the detection decided at time ``t`` runs at full size (then it counts as done)."""
        if cut or self._last_full is None or t - self._last_full >= self.refresh_s - 1e-9:
            self._last_full = t
            return True
        return False

    def full_size_done(self, faces: Faces, frame_hw: tuple[int, int]) -> None:
        """After a full-size detection: choose the size until the next one."""
        full = int(self.full.size)
        if len(faces) == 0:
            self.current = self.full
            return
        h_min = float((faces.boxes[:, 3] - faces.boxes[:, 1]).min())
        long_side = max(frame_hw)
        want = self.target_px / max(h_min, 1.0) * long_side
        size = int(np.clip(np.ceil(want / 32.0) * 32, self.floor, full))
        self.current = self.full if size >= full else self.full.resized(size)

    def count(self, detector, n: int) -> None:
        self.sizes[int(detector.size)] = self.sizes.get(int(detector.size), 0) + n


__all__ = ["DetectorSizing", "Stillness", "StillnessThresholds", "face_patch", "gray_thumbnail"]
