"""Two real, different people for the persons tests, from public-domain portraits that installed packages ship.

scikit-image's ``astronaut`` (Eileen Collins, NASA) and matplotlib's ``grace_hopper.jpg``
(Grace Hopper, U.S. Navy photograph): both U.S. government works, public domain. Clips are
cut from them: each shot has its own background colour (so the scene-cut detector sees the
cut), position and a slow pan.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

COLOURS = [(40, 90, 160), (170, 60, 40), (60, 140, 70), (150, 150, 40), (90, 50, 130), (30, 120, 120)]


def grace_hopper() -> np.ndarray:
    import matplotlib

    img = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    return np.ascontiguousarray(img[..., ::-1])  # (600, 512, 3) RGB


def portraits(size: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Head-and-shoulders crops of the two people, ``size`` x ``size`` RGB (faces about 0.55 * size wide)."""
    from skimage import data

    a = data.astronaut()[20:240, 115:335]
    g = grace_hopper()[60:420, 80:440]
    return tuple(cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA) for x in (a, g))  # type: ignore[return-value]


def shots(faces: list[np.ndarray], seconds: float = 1.0, fps: float = 10.0, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """One shot per face, in order, separated by hard cuts."""
    frames = []
    for k, face in enumerate(faces):
        x0, y0 = 20 + 110 * (k % 2), 30 + 20 * (k % 3)
        for i in range(int(round(seconds * fps))):
            f = np.empty((size[1], size[0], 3), np.uint8)
            f[:] = COLOURS[k % len(COLOURS)]
            x = x0 + i  # a slow pan
            f[y0:y0 + face.shape[0], x:x + face.shape[1]] = face
            frames.append(f)
    return frames
