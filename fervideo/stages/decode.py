"""Decode: open a video, read exact timestamps, sample frames, stream them in bounded chunks.

decord opens the file (its index gives every frame's timestamp up front, and random access for
thumbnails); the sequential pass over the frames streams with PyAV (FFmpeg), because decord's
reader holds decoded data in proportion to the time between reads: at 720p with the detector
between reads it grew to 4.4 GB over 3 minutes of video (7.5 GB with a 0.3 s pause per read),
where PyAV stays flat at 1.0 GB and decodes as fast. Files decord cannot open are opened with
PyAV alone. PyAV applies rotation from the frame's display matrix; decord applies it itself.
Frames are RGB uint8 in the displayed orientation. A chunk never holds more than
``max_chunk_bytes`` of pixels, so memory does not grow with the video's length or resolution.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fervideo.core.errors import VideoError
from fervideo.core.types import FrameTime, VideoInfo

log = logging.getLogger(__name__)

DEFAULT_MAX_CHUNK_BYTES = 64 * 1024 * 1024  # ~23 frames of 720p, 64 of 596x336
MAX_PIXELS = 8192 * 8192  # refuse absurd header dimensions before allocating anything
MIN_SIDE = 16
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif", "apng"}
IMAGE_CODECS = {"png", "mjpeg", "bmp", "webp", "tiff", "gif", "apng"}


@dataclass
class FrameChunk:
    """Consecutive sampled frames: pixels (B, H, W, 3) RGB uint8 and their exact times."""

    frames: np.ndarray
    times: list[FrameTime]

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"FrameChunk.frames must be (B, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")
        if len(self.frames) != len(self.times):
            raise ValueError("FrameChunk: one time per frame")


@dataclass
class DecodeReport:
    """What happened while reading; ``complete`` is False if decoding stopped early."""

    complete: bool = True
    frames_read: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class FrameSampler:
    """Pick frames at an analysis rate from exact timestamps (``fps=0``: every frame).

    A frame is taken when its timestamp reaches the next target time (with half a source
    frame of tolerance), so 10 fps from a 29.97 fps or a variable-rate file gives frames
    close to 0.0, 0.1, 0.2 s... and each keeps its own true timestamp.
    """

    def __init__(self, fps: float, source_fps: float) -> None:
        if fps < 0:
            raise ValueError("--fps must be >= 0")
        self.step = 0.0 if fps == 0 else 1.0 / fps
        self.tol = 0.5 / source_fps if source_fps and source_fps > 0 else 0.0
        self.target: float | None = None

    def take(self, t: float) -> bool:
        if self.step == 0.0:
            return True
        if self.target is None:
            self.target = t
        if t >= self.target - self.tol:
            while self.target - self.tol <= t:
                self.target += self.step
            return True
        return False


def _check_path(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: not readable (permission denied)")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")


def _check_size(path: Path, w: int, h: int) -> None:
    if not w or not h or w * h > MAX_PIXELS:
        raise VideoError(f"{path}: unsupported frame size {w}x{h} in the header")
    if min(w, h) < MIN_SIDE:
        raise VideoError(f"{path}: frames of {w}x{h} pixels are too small to show a face (minimum {MIN_SIDE} px)")


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level writes to stderr (file descriptor 2) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quiet_ffmpeg() -> None:
    """FFmpeg's own log lines ("partial file", ...) would interleave with our one-line
    messages; the errors that matter surface as exceptions and in DecodeReport."""
    import av.logging
    import decord

    av.logging.set_level(av.logging.FATAL)
    decord.logging.set_level(decord.logging.QUIET)


def _pyav_rotation(path: Path) -> int:
    """Display rotation (degrees, as FFmpeg's frame.rotation) of the first frame, 0 if none."""
    import av

    try:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                return int(getattr(frame, "rotation", 0) or 0)
    except Exception:  # noqa: BLE001 - rotation is informative only here
        return 0
    return 0


class VideoSource:
    """One video file: metadata, exact timestamps and streamed, sampled frames."""

    def __init__(self, path: str | Path, *, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES, backend: str = "auto") -> None:
        """``backend``: "auto" (decord index + PyAV stream, PyAV alone where decord fails) or
        "pyav" (PyAV alone: the sequential render pass needs no index)."""
        if backend not in ("auto", "pyav"):
            raise ValueError(f"unknown decode backend {backend!r}; valid: auto, pyav")
        self.path = Path(path)
        self._rot_k = 0
        _check_path(self.path)
        _quiet_ffmpeg()
        self.max_chunk_bytes = max_chunk_bytes
        self.report = DecodeReport()
        self._vr = None
        self._times: np.ndarray | None = None
        errors = []
        if backend == "auto":
            try:
                self._open_decord()
            except VideoError:
                raise
            except Exception as exc:  # noqa: BLE001 - decord raises its own untyped errors
                errors.append(f"decord: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                self._vr = None
        if self._vr is None:
            self._open_pyav(errors)

    # -- opening ---------------------------------------------------------------------------
    def _open_decord(self) -> None:
        import decord

        with _quiet_stderr():  # decord logs its own open errors to stderr; ours are one line
            vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=max(1, min(2, os.cpu_count() or 1)))
        n = len(vr)
        if n == 0:
            raise VideoError(f"{self.path}: the video stream has no frames")
        first = vr[0].asnumpy()
        if first.ndim != 3 or first.shape[2] != 3:
            raise RuntimeError(f"decord returned frames of shape {first.shape}")  # -> PyAV fallback
        h, w = first.shape[:2]
        _check_size(self.path, w, h)
        ts = vr.get_frame_timestamp(np.arange(n))[:, 0].astype(np.float64)
        vr.seek(0)
        self._vr = vr
        self._times = ts
        fps = float(vr.get_avg_fps() or 0.0)
        rotation = _pyav_rotation(self.path) % 360
        self._rot_k = (rotation // 90) % 4  # for the PyAV stream; decord rotates itself
        self.info = VideoInfo(
            path=str(self.path), width=w, height=h, rotation=(-rotation) % 360, num_frames=n,
            avg_fps=fps, duration_s=float(ts[-1] + (1.0 / fps if fps else 0.0)), backend="decord+pyav",
        )

    def _open_pyav(self, errors: list[str]) -> None:
        import av

        try:
            container = av.open(str(self.path))
        except Exception as exc:  # noqa: BLE001
            reason = str(exc).split(":")[-1].strip() or type(exc).__name__
            raise VideoError(f"{self.path}: not a readable video ({reason})") from exc
        try:
            if not container.streams.video:
                raise VideoError(f"{self.path}: has no video stream (audio-only or not a video)")
            stream = container.streams.video[0]
            if container.format.name in IMAGE_FORMATS or stream.codec_context.name in IMAGE_CODECS and not stream.frames:
                raise VideoError(f"{self.path}: is a still image ({stream.codec_context.name}), not a video")
            w, h = stream.codec_context.width, stream.codec_context.height
            _check_size(self.path, w, h)
            first = None
            try:
                first = next(container.decode(stream))
            except (StopIteration, av.error.FFmpegError) as exc:
                raise VideoError(f"{self.path}: no decodable video frames") from exc
            rotation = int(getattr(first, "rotation", 0) or 0)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            n = int(stream.frames or 0)
            dur = float(stream.duration * stream.time_base) if stream.duration else (
                float(container.duration / 1e6) if container.duration else 0.0
            )
        finally:
            container.close()
        k = (rotation // 90) % 4
        if k % 2:
            w, h = h, w
        if errors:
            self.report.notes.append("decoded with PyAV (" + "; ".join(errors) + ")")
        self.info = VideoInfo(
            path=str(self.path), width=w, height=h, rotation=(-rotation) % 360, num_frames=n,
            avg_fps=fps, duration_s=dur, backend="pyav",
        )
        self._rot_k = k

    # -- reading ---------------------------------------------------------------------------
    def _chunk_len(self) -> int:
        per = self.info.width * self.info.height * 3
        return max(1, min(64, self.max_chunk_bytes // max(per, 1)))

    def chunks(self, fps: float = 0.0, chunk_frames: int | None = None) -> Iterator[FrameChunk]:
        """Sampled frames at ``fps`` (0 = all), in chunks of bounded size."""
        size = min(chunk_frames or 10**9, self._chunk_len())
        yield from self._chunks_pyav(FrameSampler(fps, self.info.avg_fps), size)

    def _mark_incomplete(self, why: str) -> None:
        self.report.complete = False
        self.report.error = why.splitlines()[0]
        log.warning("%s: %s", self.path, self.report.error)

    def _chunks_pyav(self, sampler: FrameSampler, size: int) -> Iterator[FrameChunk]:
        import av

        buf: list[np.ndarray] = []
        times: list[FrameTime] = []
        i = -1
        try:
            with av.open(str(self.path)) as c:
                stream = c.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in c.decode(stream):
                    i += 1
                    t = float(frame.time) if frame.time is not None else (i / self.info.avg_fps if self.info.avg_fps else float(i))
                    if not sampler.take(t):
                        continue
                    img = frame.to_ndarray(format="rgb24")
                    if self._rot_k:
                        img = np.rot90(img, self._rot_k)
                    buf.append(np.ascontiguousarray(img))
                    times.append(FrameTime(i, t))
                    if len(buf) == size:
                        self.report.frames_read += len(buf)
                        yield FrameChunk(np.stack(buf), times)
                        buf, times = [], []
        except av.error.FFmpegError as exc:
            self._mark_incomplete(f"decoding stopped after frame {i}: {exc}")
        if buf:
            self.report.frames_read += len(buf)
            yield FrameChunk(np.stack(buf), times)
        if self.report.frames_read == 0:
            raise VideoError(f"{self.path}: no decodable video frames")
        expected = self.info.num_frames
        if self.report.complete and expected and i + 1 < expected * 0.98 - 1:
            self._mark_incomplete(f"the file ends after frame {i} of {expected} (truncated?)")

    def frames_at(self, times: list[float]) -> list[np.ndarray | None]:
        """Frames nearest to each time in seconds (None where unreadable): one seek per time
        with decord, a single pass with PyAV."""
        out: list[np.ndarray | None] = [None] * len(times)
        if self._vr is not None:
            for k, t in enumerate(times):
                i = int(np.clip(np.searchsorted(self._times, t), 0, len(self._times) - 1))
                try:
                    out[k] = self._vr[i].asnumpy()
                except Exception:  # noqa: BLE001 - corrupt data at that point
                    out[k] = None
            return out
        order = np.argsort(times)
        j = 0
        for chunk in self.chunks(0):
            for ft, fr in zip(chunk.times, chunk.frames):
                while j < len(order) and ft.seconds >= times[order[j]] - 1e-6:
                    out[order[j]] = fr
                    j += 1
            if j >= len(order):
                break
        return out

    def close(self) -> None:
        self._vr = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
