"""A 720p multi-face clip for the speed benchmark (not a test): several faces, moving, with cuts.

    python bench/make_multiface.py [--seconds 72] [--fps 25] [--size 1280x720] [--out PATH]

The issue's reference case is a 720p TV recording with 2-5 faces a frame and many cuts; no such
footage may ship with the project, so this builds one from public-domain / CC0 images that
scikit-image ships (its ``data`` module, offline):

- faces: ``astronaut`` (Eileen Collins, NASA portrait: public domain), the head cut out with a
  soft elliptical mask and made into distinct-looking people by mirroring, colour casts,
  grayscale / sepia, brightness, size and a small in-plane tilt. It is the only public-domain
  photograph of a face among the installed packages: scikit-image's ``lfw_subset`` is 25x25
  crops from Labeled Faces in the Wild (news photographs, no public-domain licence) and the
  ``camera`` man is a small profile, so neither is used;
- backgrounds: ``rocket`` (SpaceX, public domain), ``hubble_deep_field`` (NASA, public domain),
  ``coffee`` (CC0), ``brick``, ``grass``, ``gravel`` (CC0 textures).

Shots of 2.5-8 s (a hard cut between each, a new background and a new cast), 2-5 faces a
shot, face boxes 45-220 px tall at 720p (in proportion at other sizes), drifting, bobbing and zooming slowly under a slow camera move; some
faces walk in from an edge. Everything comes from one seeded generator, frames are streamed to
the encoder (flat memory), and libx264 runs with a fixed thread count, so the same versions
give the same file. The file is cached (not committed): ``$FERVIDEO_BENCH_CACHE`` or
``~/.cache/fervideo/bench``; a ``.npz`` beside it holds the ground-truth face boxes per frame
and the cut times, so a benchmark can check what a faster setting costs in found faces.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

VERSION = 1  # bump when the content changes: the cache key includes it
SEED = 13

# The astronaut's head in data.astronaut() (512x512): CenterFace box (181, 58)-(270, 178).
HEAD = (136, 0, 316, 240)  # x1, y1, x2, y2 of the sprite cut out of the portrait
FACE_IN_SPRITE = (45.0, 58.0, 134.0, 178.0)  # the face box inside that sprite


def cache_dir() -> Path:
    d = os.environ.get("FERVIDEO_BENCH_CACHE")
    return Path(d) if d else Path.home() / ".cache" / "fervideo" / "bench"


def default_path(seconds: float = 72.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720)) -> Path:
    return cache_dir() / f"multiface_{size[0]}x{size[1]}_{seconds:g}s_{fps:g}fps_v{VERSION}.mp4"


def _sprite() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head (RGB float32) and a soft elliptical alpha mask (float32 0..1)."""
    from skimage import data

    x1, y1, x2, y2 = HEAD
    img = data.astronaut()[y1:y2, x1:x2].astype(np.float32)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, ax, ay = w * 0.5, h * 0.5, w * 0.46, h * 0.48
    r = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    alpha = np.clip((1.0 - r) / 0.25, 0.0, 1.0)
    return img, alpha


def _looks(rng: np.random.Generator, n: int) -> list[dict]:
    """``n`` distinct appearances of the one face."""
    kinds = ["plain", "warm", "cool", "gray", "sepia", "dark", "bright", "green"]
    order = rng.permutation(len(kinds))
    return [{"kind": kinds[order[i % len(kinds)]], "flip": bool(rng.random() < 0.5), "tilt": float(rng.uniform(-10, 10))} for i in range(n)]


def _recolour(img: np.ndarray, kind: str) -> np.ndarray:
    if kind == "warm":
        img = img * np.array([1.15, 1.0, 0.8], np.float32)
    elif kind == "cool":
        img = img * np.array([0.85, 0.95, 1.2], np.float32)
    elif kind == "gray":
        img = np.repeat(img @ np.array([[0.299], [0.587], [0.114]], np.float32), 3, axis=2)
    elif kind == "sepia":
        g = img @ np.array([[0.299], [0.587], [0.114]], np.float32)
        img = g * np.array([1.07, 0.74, 0.43], np.float32) * 1.2
    elif kind == "dark":
        img = 255.0 * (img / 255.0) ** 1.6
    elif kind == "bright":
        img = 255.0 * (img / 255.0) ** 0.7
    elif kind == "green":
        img = img * np.array([0.9, 1.1, 0.9], np.float32)
    return np.clip(img, 0, 255)


@dataclass
class _Face:
    sprite: np.ndarray  # RGB float32, already recoloured / mirrored / tilted
    alpha: np.ndarray
    x: float  # face centre at the start of the shot (frame pixels)
    y: float
    vx: float  # px/s
    vy: float
    height: float  # face box height at the start (px)
    zoom: float  # relative size change per second
    bob: float  # vertical bob amplitude (px)
    phase: float
    enter: float  # seconds into the shot at which the face appears

    def at(self, t: float) -> tuple[float, float, float]:
        s = self.height * (1.0 + self.zoom * t)
        sway = 2.0 * self.bob * np.sin(0.7 * t + 2.0 * self.phase)
        return self.x + self.vx * t + sway, self.y + self.vy * t + self.bob * np.sin(2.0 * t + self.phase), s


def _make_face(base: np.ndarray, alpha: np.ndarray, look: dict) -> tuple[np.ndarray, np.ndarray]:
    img = _recolour(base, look["kind"])
    a = alpha
    if look["flip"]:
        img, a = img[:, ::-1], a[:, ::-1]
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), look["tilt"], 1.0)
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(np.ascontiguousarray(a), m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    return img, a


def _backgrounds() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("rocket", "hubble_deep_field", "coffee", "brick", "grass", "gravel"):
        im = getattr(data, name)()
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        out.append(im[..., :3])
    return out


def _shots(rng: np.random.Generator, seconds: float, size: tuple[int, int]) -> list[dict]:
    base, alpha = _sprite()
    bgs = _backgrounds()
    w, h = size
    shots, t = [], 0.0
    k = 0
    while t < seconds - 1e-9:
        dur = min(float(rng.uniform(2.5, 8.0)), seconds - t)
        n = int(rng.integers(2, 6))
        looks = _looks(rng, n)
        faces = []
        # one row of people, like a panel or a talk show, in slots so they do not overlap
        slots = np.linspace(0, w, n + 1)
        for i, look in enumerate(looks):
            spr, a = _make_face(base, alpha, look)
            # the sprite is ~1.5 face heights wide: keep it inside its slot, sway included
            zs = h / 720.0  # face sizes scale with the frame (the same clip at 720p, 1080p or a tiny smoke size)
            fh = float(rng.uniform(45 * zs, max(45 * zs, min(220 * zs, 0.55 * (slots[1] - slots[0])))))
            enter = float(rng.uniform(0.3, dur * 0.5)) if (n >= 3 and i == n - 1 and rng.random() < 0.5) else 0.0
            faces.append(_Face(
                sprite=spr, alpha=a,
                x=float(rng.uniform(slots[i] + 0.8 * fh, slots[i + 1] - 0.8 * fh)),
                y=float(rng.uniform(0.25 * h, 0.7 * h)),
                vx=float(rng.uniform(-6, 6)), vy=float(rng.uniform(-5, 5)),
                height=fh, zoom=float(rng.uniform(-0.03, 0.05)), bob=float(rng.uniform(0, 6)),
                phase=float(rng.uniform(0, 6.3)), enter=enter,
            ))
        shots.append({"start": t, "dur": dur, "bg": bgs[k % len(bgs)], "faces": faces,
                      "zoom": float(rng.uniform(1.0, 1.15)), "pan": (float(rng.uniform(-40, 40)), float(rng.uniform(-20, 20)))})
        t += dur
        k += 1
    return shots


def _background(bg: np.ndarray, u: float, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> np.ndarray:
    w, h = size
    z = 1.0 + (zoom - 1.0) * u
    s = z * max(w / bg.shape[1], h / bg.shape[0])
    cx, cy = bg.shape[1] / 2 + pan[0] * u, bg.shape[0] / 2 + pan[1] * u
    m = np.array([[s, 0, w / 2 - s * cx], [0, s, h / 2 - s * cy]], np.float64)
    return cv2.warpAffine(bg, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)


def _paste(frame: np.ndarray, face: _Face, cx: float, cy: float, fh: float) -> np.ndarray | None:
    """Blend the face so its face box is ``fh`` tall and centred at (cx, cy); returns that box."""
    fx1, fy1, fx2, fy2 = FACE_IN_SPRITE
    s = fh / (fy2 - fy1)
    sh, sw = face.sprite.shape[:2]
    ow, oh = max(2, round(sw * s)), max(2, round(sh * s))
    spr = cv2.resize(face.sprite, (ow, oh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    a = cv2.resize(face.alpha, (ow, oh), interpolation=cv2.INTER_LINEAR)[..., None]
    # sprite's top-left so the face centre lands on (cx, cy)
    x0 = round(cx - (fx1 + fx2) / 2 * s)
    y0 = round(cy - (fy1 + fy2) / 2 * s)
    H, W = frame.shape[:2]
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + ow), min(H, y0 + oh)
    if xb <= xa or yb <= ya:
        return None
    roi = frame[ya:yb, xa:xb]
    sa = spr[ya - y0 : yb - y0, xa - x0 : xb - x0]
    aa = a[ya - y0 : yb - y0, xa - x0 : xb - x0]
    roi *= 1.0 - aa
    roi += aa * sa
    box = np.array([x0 + fx1 * s, y0 + fy1 * s, x0 + fx2 * s, y0 + fy2 * s], np.float32)
    box[[0, 2]] = box[[0, 2]].clip(0, W)
    box[[1, 3]] = box[[1, 3]].clip(0, H)
    # faces mostly outside the frame are not counted as present
    full = (fx2 - fx1) * (fy2 - fy1) * s * s
    return box if (box[2] - box[0]) * (box[3] - box[1]) >= 0.5 * full else None


def frames(seconds: float = 72.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720)):
    """Yield (frame RGB uint8, face boxes (n, 4) float32, shot index) for every frame."""
    rng = np.random.default_rng(SEED)
    shots = _shots(rng, seconds, size)
    n = round(seconds * fps)
    k = 0
    for i in range(n):
        t = i / fps
        while k + 1 < len(shots) and t >= shots[k + 1]["start"] - 1e-9:
            k += 1
        sh = shots[k]
        u = (t - sh["start"]) / max(sh["dur"], 1e-6)
        img = _background(sh["bg"], u, size, sh["zoom"], sh["pan"])
        boxes = []
        for f in sh["faces"]:
            tt = t - sh["start"]
            if tt < f.enter:
                continue
            cx, cy, fh = f.at(tt - f.enter)
            if f.enter > 0:  # walks in from the right edge
                cx = cx + max(0.0, 1.0 - (tt - f.enter) / 1.0) * (size[0] - cx + fh)
            b = _paste(img, f, cx, cy, fh)
            if b is not None:
                boxes.append(b)
        yield np.clip(img, 0, 255).astype(np.uint8), np.array(boxes, np.float32).reshape(-1, 4), k


def write(path: Path, seconds: float = 72.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720), crf: int = 20) -> Path:
    """Encode the clip to ``path`` (H.264, streamed) plus ``path.with_suffix('.npz')`` ground truth."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.mp4")
    boxes_all, frame_of, shot_of = [], [], []
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        # A fixed thread count and GOP keep the encoder's output the same on every machine.
        st.options = {"crf": str(crf), "preset": "fast", "threads": "2", "g": str(round(fps * 2))}
        for i, (img, boxes, shot) in enumerate(frames(seconds, fps, size)):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for p in st.encode(vf):
                out.mux(p)
            boxes_all.append(boxes)
            frame_of.append(np.full(len(boxes), i))
            shot_of.append(shot)
        for p in st.encode():
            out.mux(p)
    shots = np.asarray(shot_of)
    cuts = (np.nonzero(np.diff(shots))[0] + 1) / fps
    np.savez_compressed(path.with_suffix(".npz"), boxes=np.concatenate(boxes_all), frame_index=np.concatenate(frame_of),
                        cut_times=cuts, fps=fps, version=VERSION)
    os.replace(tmp, path)
    return path


def ensure(seconds: float = 72.0, fps: float = 25.0, size: tuple[int, int] = (1280, 720)) -> Path:
    """The cached clip, made on first use."""
    p = default_path(seconds, fps, size)
    if not p.exists() or not p.with_suffix(".npz").exists():
        write(p, seconds, fps, size)
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=72.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", type=Path, default=None, help="default: the cache path")
    a = ap.parse_args()
    size = tuple(int(x) for x in a.size.split("x"))
    out = a.out or default_path(a.seconds, a.fps, size)
    write(out, a.seconds, a.fps, size)
    gt = np.load(out.with_suffix(".npz"))
    n = round(a.seconds * a.fps)
    counts = np.bincount(gt["frame_index"], minlength=n)
    print(f"{out}: {n} frames, {len(gt['cut_times'])} cuts, faces per frame {counts.min()}-{counts.max()} (mean {counts.mean():.1f})")


if __name__ == "__main__":
    main()
