"""Make the sample videos from public-domain material that a PyPI package ships.

The face is scikit-image's ``astronaut`` image (Eileen Collins, NASA portrait: public domain).
Clips are synthetic camera moves over it, encoded H.264 with PyAV, so the project ships no
third-party footage and anyone can rebuild the samples bit-for-bit with:

    python samples/make_samples.py            # writes samples/*.mp4

The same functions make the tiny clips the tests use.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # (512, 512, 3) RGB


def camera_move(img: np.ndarray, t: float, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> np.ndarray:
    """A view of ``img`` at time fraction t in [0,1]: zoom and pan linearly from the centre."""
    w, h = size
    z = 1.0 + (zoom - 1.0) * t
    cx = img.shape[1] / 2 + pan[0] * t
    cy = img.shape[0] / 2 + pan[1] * t
    s = z * max(w / img.shape[1], h / img.shape[0])
    m = np.array([[s, 0, w / 2 - s * cx], [0, s, h / 2 - s * cy]], np.float64)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def write_clip(path: Path, frames: list[np.ndarray], times: list[float] | None = None, fps: float = 25.0, crf: int = 23) -> None:
    """Encode RGB frames as H.264 MP4; ``times`` (seconds) give a variable frame rate."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.time_base = Fraction(1, 90000)
        st.codec_context.time_base = Fraction(1, 90000)
        st.options = {"crf": str(crf), "preset": "medium"}
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            t = times[i] if times is not None else i / fps
            vf.pts = int(round(t * 90000))
            vf.time_base = st.time_base
            for p in st.encode(vf):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def moving_face(seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (480, 360)) -> list[np.ndarray]:
    """One face, camera slowly zooming in and panning (one track expected)."""
    img = astronaut()
    n = int(round(seconds * fps))
    return [camera_move(img, i / max(n - 1, 1), size, zoom=1.6, pan=(-20, -60)) for i in range(n)]


def two_faces_with_cut(seconds: float = 5.0, fps: float = 25.0, size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    """Two people side by side (the portrait and its mirror), then a hard cut to a close-up."""
    img = astronaut()
    pair = np.concatenate([img, img[:, ::-1]], axis=1)  # 512 x 1024
    n = int(round(seconds * fps))
    cut = int(n * 0.6)
    frames = []
    for i in range(n):
        if i < cut:
            frames.append(camera_move(pair, i / max(cut - 1, 1), size, zoom=1.1, pan=(15, -10)))
        else:
            frames.append(camera_move(img, (i - cut) / max(n - cut - 1, 1), size, zoom=2.2, pan=(-30, -80)))
    return frames


def main(out_dir: str | Path = Path(__file__).parent) -> None:
    out_dir = Path(out_dir)
    write_clip(out_dir / "astronaut_zoom.mp4", moving_face(6.0))
    write_clip(out_dir / "two_people_cut.mp4", two_faces_with_cut(6.0))
    for p in sorted(out_dir.glob("*.mp4")):
        print(f"{p} {p.stat().st_size / 1e3:.0f} kB")  # a script, not the library: print is fine


if __name__ == "__main__":
    main(*sys.argv[1:])
