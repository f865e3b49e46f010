"""Make the sample videos from public-domain material that a PyPI package ships.

The face is scikit-image's ``astronaut`` image (Eileen Collins, NASA portrait: public domain).
Clips are synthetic camera moves over it, encoded H.264 with PyAV, so the project ships no
third-party footage and anyone can rebuild the samples with:

    python samples/make_samples.py            # writes samples/*.mp4

The same functions make the tiny clips the tests use. OpenCV's resampling and FFmpeg's RGB to
YUV conversion pick SIMD code by CPU, and their bytes differ from one CPU to another, so the
clips come out bit-identical only on the same kind of machine. Tests that damage a file at fixed
byte offsets need the same bytes everywhere: ``exact_camera_move`` and ``rgb_to_yuv420p`` give
them (nearest-neighbour sampling and BT.601 conversion in integer numpy).
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


def _view(img: np.ndarray, t: float, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> tuple[float, float, float]:
    """Scale and centre (x, y in ``img``) of the camera at time fraction t."""
    z = 1.0 + (zoom - 1.0) * t
    return z * max(size[0] / img.shape[1], size[1] / img.shape[0]), img.shape[1] / 2 + pan[0] * t, img.shape[0] / 2 + pan[1] * t


def camera_move(img: np.ndarray, t: float, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> np.ndarray:
    """A view of ``img`` at time fraction t in [0,1]: zoom and pan linearly from the centre."""
    w, h = size
    s, cx, cy = _view(img, t, size, zoom, pan)
    m = np.array([[s, 0, w / 2 - s * cx], [0, s, h / 2 - s * cy]], np.float64)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def exact_camera_move(img: np.ndarray, t: float, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> np.ndarray:
    """``camera_move`` with nearest-neighbour sampling in numpy: the same bytes on every CPU."""
    w, h = size
    s, cx, cy = _view(img, t, size, zoom, pan)
    xs = np.clip(np.floor((np.arange(w) + 0.5 - w / 2) / s + cx), 0, img.shape[1] - 1).astype(np.intp)
    ys = np.clip(np.floor((np.arange(h) + 0.5 - h / 2) / s + cy), 0, img.shape[0] - 1).astype(np.intp)
    return np.ascontiguousarray(img[ys[:, None], xs[None, :]])


def exact_moving_face(seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (480, 360)) -> list[np.ndarray]:
    """``moving_face`` made with ``exact_camera_move``: bit-identical frames on any machine."""
    img = astronaut()
    n = int(round(seconds * fps))
    return [exact_camera_move(img, i / max(n - 1, 1), size, zoom=1.6, pan=(-20, -60)) for i in range(n)]


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0 planes stacked as PyAV's ``yuv420p`` array ((h*3/2, w)),
    in integer arithmetic, so the encoder gets the same input on every CPU (even sides only)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"even frame sides needed for 4:2:0, got {w}x{h}")
    r, g, b = (rgb[..., k].astype(np.int32) for k in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    r2, g2, b2 = ((c.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)) + 2) >> 2 for c in (r, g, b))
    u = ((-38 * r2 - 74 * g2 + 112 * b2 + 128) >> 8) + 128
    v = ((112 * r2 - 94 * g2 - 18 * b2 + 128) >> 8) + 128
    planes = [y.ravel(), u.ravel(), v.ravel()]
    return np.clip(np.concatenate(planes), 0, 255).astype(np.uint8).reshape(h * 3 // 2, w)


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
