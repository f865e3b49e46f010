"""Decode: open a video, read exact timestamps, sample frames, stream them in bounded chunks.

PyAV (FFmpeg) does the reading. At open, one pass over the container's packets (no decoding,
a few ms per minute of video) gives every frame's timestamp: the index. The sequential pass
decodes packet by packet, so damage costs only what it must: a packet the decoder rejects or
logs an error for, or whose frame comes out flagged corrupt, is dropped with the frames that
depend on it, and decoding resynchronises at the next keyframe. Every run of missing frames
becomes a ``DecodeGap`` (first and last frame, seconds), found by the index, so a video with
64 KB of garbage in the middle loses 0.7 s, not its second half. Damage FFmpeg decodes without
any sign (no error, no corrupt flag) cannot be told from good frames, here as in any player.
Decoding is single-threaded: FFmpeg's frame threading deadlocked on damaged H.264 here (PyAV
18.1, FFmpeg 8.1), and with slice threads H.264 skips its error concealment, so a damaged frame
comes out without its corrupt flag; one thread does 300-800 frames/s of 596x336 on a busy
2-core machine, far ahead of detection.

Random access (report thumbnails, explain) uses decord where it is installed (its wheels exist
for x86-64 Linux and Windows only), and PyAV seeks (keyframe, then decode to the frame)
everywhere else. decord does not stream the sequential pass: its reader holds decoded data in
proportion to the time between reads (4.4 GB over 3 minutes of 720p with the detector between
reads), where PyAV stays flat at 1.0 GB. PyAV applies rotation from the frame's display matrix;
decord applies it itself. Frames are RGB uint8 in the displayed orientation. A chunk never holds
more than ``max_chunk_bytes`` of pixels, so memory does not grow with the video's length or
resolution.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fervideo.core.errors import BackendError, VideoError
from fervideo.core.types import FrameTime, VideoInfo

log = logging.getLogger(__name__)

# Under glibc's 32 MiB ceiling for its adaptive mmap threshold: a chunk array that size is
# served again from freed heap memory. At 64 MiB every chunk was a fresh mmap whose pages the
# kernel zeroed and faulted in: on a 72 s 720p clip sampled at 10 frames/s, 1.2-1.9 CPU-s on
# top of the 3.7 s that decoding its 1,800 frames takes (about 0.5 s now).
DEFAULT_MAX_CHUNK_BYTES = 30 * 1024 * 1024  # 11 frames of 720p, 52 of 596x336
MAX_PIXELS = 8192 * 8192  # refuse absurd header dimensions before allocating anything
MIN_SIDE = 16
HOLD_FRAMES = 8  # decoded frames that wait before use: damage can show a few frames late (reordering)
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif", "apng"}
IMAGE_CODECS = {"png", "mjpeg", "bmp", "webp", "tiff", "gif", "apng"}


@dataclass
class FrameChunk:
    """Consecutive sampled frames: pixels (B, H, W, 3) RGB uint8, or planar YUV 4:2:0
    (B, H * 3 / 2, W) uint8 (``VideoSource.chunks(i420=True)``), and their exact times."""

    frames: np.ndarray
    times: list[FrameTime]

    def __post_init__(self) -> None:
        rgb = self.frames.ndim == 4 and self.frames.shape[-1] == 3
        i420 = self.frames.ndim == 3 and self.frames.shape[1] % 3 == 0 and self.frames.shape[2] % 2 == 0
        if not (rgb or i420) or self.frames.dtype != np.uint8:
            raise ValueError(f"FrameChunk.frames must be (B, H, W, 3) or (B, H * 3 / 2, W) uint8, got {self.frames.shape} {self.frames.dtype}")
        if len(self.frames) != len(self.times):
            raise ValueError("FrameChunk: one time per frame")


@dataclass(frozen=True)
class DecodeGap:
    """Frames ``first_frame`` to ``last_frame`` (container indices, inclusive) could not be
    decoded: the video is missing from ``start_s`` (the first lost frame) to ``end_s`` (the
    next frame that could be decoded, or the end of the video)."""

    first_frame: int
    last_frame: int
    start_s: float
    end_s: float
    reason: str

    @property
    def frames(self) -> int:
        return self.last_frame - self.first_frame + 1

    def as_dict(self) -> dict:
        return {"first_frame": self.first_frame, "last_frame": self.last_frame, "frames": self.frames,
                "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "reason": self.reason}

    def __str__(self) -> str:
        return f"frames {self.first_frame}-{self.last_frame} ({self.start_s:.2f}-{self.end_s:.2f} s)"


@dataclass
class DecodeReport:
    """What happened while reading. ``complete``: no frame was lost; each run of lost frames
    is one gap (a decoder error that lost nothing leaves the video complete)."""

    frames_read: int = 0  # sampled frames delivered
    gaps: list[DecodeGap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def frames_lost(self) -> int:
        return sum(g.frames for g in self.gaps)

    @property
    def error(self) -> str | None:
        """Why most frames were lost (the reason of the largest gap, one line), None if none were."""
        return max(self.gaps, key=lambda g: g.frames).reason if self.gaps else None

    def summary(self) -> str:
        """One line: how much was lost and where, e.g. '37 frames lost in 2 gaps: 7.64-8.01 s, 8.34-8.87 s'."""
        if not self.gaps:
            return "complete"
        where = ", ".join(f"{g.start_s:.2f}-{g.end_s:.2f} s" for g in self.gaps[:5]) + (", ..." if len(self.gaps) > 5 else "")
        n = len(self.gaps)
        return f"{self.frames_lost} frames lost in {n} gap{'s' if n > 1 else ''}: {where} ({self.error})"


@dataclass
class _Index:
    """Every frame's presentation timestamp (sorted) and the keyframes', from the packets."""

    pts: np.ndarray  # int64, in the stream's time base
    times: np.ndarray  # float64 seconds
    keyframes: np.ndarray  # int64 pts of keyframes, sorted

    def find(self, pts: int | None) -> int | None:
        """Index of the frame with this timestamp, None if it is not in the index."""
        if pts is None:
            return None
        j = int(np.searchsorted(self.pts, pts))
        return j if j < len(self.pts) and self.pts[j] == pts else None

    def keyframe_before(self, pts: int) -> int | None:
        j = int(np.searchsorted(self.keyframes, pts, "right")) - 1
        return int(self.keyframes[j]) if j >= 0 else None


def _packet_index(path: Path) -> _Index | None:
    """The index from one demuxing pass (no decoding); None where packets carry no usable
    timestamps (then frames are counted as they come)."""
    import av

    pts: list[int] = []
    keys: list[int] = []
    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            for pkt in c.demux(stream):
                if not pkt.size:
                    continue
                if pkt.pts is None:
                    return None
                if pkt.is_discard:  # dropped by the decoder by design (edit lists)
                    continue
                pts.append(int(pkt.pts))
                if pkt.is_keyframe:
                    keys.append(int(pkt.pts))
            tb = float(stream.time_base)
    except av.error.FFmpegError:  # damaged container: index what could be read
        if not pts:
            return None
        with av.open(str(path)) as c:
            tb = float(c.streams.video[0].time_base)
    a = np.asarray(pts, np.int64)
    if not len(a) or len(np.unique(a)) != len(a):  # repeated timestamps: frames cannot be told apart
        return None
    a.sort()
    return _Index(a, a * tb, np.sort(np.asarray(keys, np.int64)))


def _why(exc: Exception) -> str:
    """FFmpeg's reason in a few words ('Invalid data found when processing input')."""
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.splitlines()[0].split(":")[0].strip() or type(exc).__name__


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

    av.logging.set_level(av.logging.FATAL)
    decord = _decord()
    if decord is not None:
        decord.logging.set_level(decord.logging.QUIET)


def _decord():
    """The decord module, or None where it is not installed (no wheels for ARM Macs and Linux)."""
    try:
        import decord
    except ImportError:
        return None
    return decord


def _nearest(sorted_times: np.ndarray, t: float) -> int:
    """Index of the timestamp nearest to ``t`` (decord's and PyAV's times differ in the last digits)."""
    j = int(np.clip(np.searchsorted(sorted_times, t), 1, max(len(sorted_times) - 1, 1)))
    if len(sorted_times) < 2:
        return 0
    return j - 1 if abs(sorted_times[j - 1] - t) <= abs(sorted_times[j] - t) else j


def _last_ffmpeg_error() -> str:
    """FFmpeg's last error log line, e.g. 'h264: error while decoding MB 10 4, bytestream -7'."""
    import av.logging

    last = av.logging.get_last_error()[1]
    if not last:
        return "decoder error"
    _, name, message = last
    text = " ".join(str(message).split())
    return (f"{name}: {text}" if name else text)[:120] or "decoder error"


class _GapTracker:
    """Places decoded frames in the index and turns runs of missing frames into gaps.

    A jump in the index counts as lost only after trouble (a damaged packet): decoders may
    legitimately output fewer frames than packets. Without an index, frames are counted as
    they come and each skipped packet counts as one lost frame."""

    def __init__(self, src: VideoSource) -> None:
        self.src = src
        self.prev = -1  # container index of the last good frame
        self.prev_t: float | None = None
        self.trouble: str | None = None  # why frames may be missing since the last good frame
        self.recovered_at: int | None = None  # pts of the keyframe decoding resumed at after trouble
        self.skipped = 0  # packets skipped and frames dropped since the last good frame

    def place(self, frame) -> FrameTime | None:
        """The frame's index and time, or None if it would go back in time (after damage)."""
        src, idx = self.src, self.src._index
        fps = src.info.avg_fps
        i = idx.find(frame.pts) if idx is not None else None
        if i is None:
            i = self.prev + 1 + (self.skipped if self.trouble else 0)
        if i <= self.prev:
            return None
        t = float(frame.time) if frame.time is not None else src._time_of(i, i / fps if fps else float(i))
        if i > self.prev + 1 and self.trouble:
            step = 1.0 / fps if fps else 0.0
            start = src._time_of(self.prev + 1, self.prev_t + step if self.prev_t is not None else t)
            src.report.gaps.append(DecodeGap(self.prev + 1, i - 1, start, t, self.trouble))
        # frames decoded before the damage may come out after it (reordering): trouble ends
        # only with a frame from the keyframe decoding resumed at, or later
        if self.trouble and self.recovered_at is not None and (frame.pts is None or frame.pts >= self.recovered_at):
            self.trouble = self.recovered_at = None
        self.prev, self.prev_t, self.skipped = i, t, 0
        return FrameTime(i, t)


class VideoSource:
    """One video file: metadata, exact timestamps, streamed and sampled frames, random access."""

    def __init__(self, path: str | Path, *, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES, backend: str = "auto") -> None:
        """``backend`` is what ``frames_at`` uses: "auto" (decord where installed, else PyAV
        seeks), "decord" or "pyav". Opening, the index and the sequential pass are PyAV's."""
        if backend not in ("auto", "decord", "pyav"):
            raise ValueError(f"unknown decode backend {backend!r}; valid: auto, decord, pyav")
        self.path = Path(path)
        self._rot_k = 0
        _check_path(self.path)
        self._decord = None if backend == "pyav" else _decord()
        if backend == "decord" and self._decord is None:
            raise BackendError("decord is not installed (pip install decord; it has wheels for x86-64 Linux and Windows "
                               "only); use the PyAV backend elsewhere")
        _quiet_ffmpeg()
        self.max_chunk_bytes = max_chunk_bytes
        self.report = DecodeReport()
        self._vr = None  # decord reader, opened on the first frames_at
        self._vr_times: np.ndarray | None = None
        self._index: _Index | None = None
        self._header_frames = 0
        self._open_pyav()

    # -- opening ---------------------------------------------------------------------------
    def _open_pyav(self) -> None:
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
            codec = stream.codec_context.name
            if container.format.name in IMAGE_FORMATS or codec in IMAGE_CODECS and not stream.frames:
                raise VideoError(f"{self.path}: is a still image ({codec}), not a video")
            w, h = stream.codec_context.width, stream.codec_context.height
            _check_size(self.path, w, h)
            stream.thread_type = "NONE"
            first = None
            try:
                first = next(container.decode(stream))
            except (StopIteration, av.error.FFmpegError) as exc:
                raise VideoError(f"{self.path}: no decodable video frames") from exc
            rotation = int(getattr(first, "rotation", 0) or 0)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            self._header_frames = int(stream.frames or 0)
            dur = float(stream.duration * stream.time_base) if stream.duration else (
                float(container.duration / 1e6) if container.duration else 0.0
            )
        finally:
            container.close()
        self._index = _packet_index(self.path)
        n = self._header_frames or (len(self._index.pts) if self._index is not None else 0)
        if not dur and self._index is not None:
            dur = float(self._index.times[-1] - self._index.times[0]) + (1.0 / fps if fps else 0.0)
        k = (rotation // 90) % 4
        if k % 2:
            w, h = h, w
        self.info = VideoInfo(
            path=str(self.path), width=w, height=h, rotation=(-rotation) % 360, num_frames=n,
            avg_fps=fps, duration_s=dur, backend="decord+pyav" if self._decord is not None else "pyav", codec=codec,
        )
        self._rot_k = k

    # -- reading ---------------------------------------------------------------------------
    def _chunk_len(self) -> int:
        per = self.info.width * self.info.height * 3
        return max(1, min(64, self.max_chunk_bytes // max(per, 1)))

    def chunks(self, fps: float = 0.0, chunk_frames: int | None = None, *, i420: bool = False) -> Iterator[FrameChunk]:
        """Sampled frames at ``fps`` (0 = all), in chunks of bounded size; ``report`` tells
        what was lost once the pass is over.

        ``i420``: frames as planar YUV 4:2:0 arrays of shape (height * 3 / 2, width) (Y, then U
        and V at half resolution), the layout H.264 decoders produce and encoders take, for
        the annotated video: no colour conversion at all where nothing is drawn. Only for
        videos without rotation and with even sides (``supports_i420``)."""
        if i420 and not self.supports_i420:
            raise ValueError(f"{self.path}: no I420 frames for a rotated video or odd frame sides")
        size = min(chunk_frames or 10**9, self._chunk_len())
        yield from self._chunks_pyav(FrameSampler(fps, self.info.avg_fps), size, "yuv420p" if i420 else "rgb24")

    @property
    def supports_i420(self) -> bool:
        return self._rot_k == 0 and self.info.width % 2 == 0 and self.info.height % 2 == 0

    def _time_of(self, i: int, fallback: float) -> float:
        idx = self._index
        return float(idx.times[i]) if idx is not None and 0 <= i < len(idx.times) else fallback

    def _chunks_pyav(self, sampler: FrameSampler, size: int, pix_fmt: str = "rgb24") -> Iterator[FrameChunk]:
        """Decode packet by packet; skip what is damaged up to the next keyframe; record gaps.

        A packet is damaged when the decoder rejects it, logs an error while decoding it, or a
        frame it decoded comes out flagged corrupt (H.264 concealed missing data). Frames wait
        in a short queue (``HOLD_FRAMES``) before they are used, because damage shows late:
        garbage often starts in the tail of the packet before the one that fails, and a corrupt
        reference frame is output after the B-frames decoded from it. On damage, every queued
        frame decoded from the packet before the damaged one or later is dropped, and so is any
        such frame that comes out afterwards. Each frame is placed by its timestamp in the index,
        so the frames that never came out are known."""
        import av

        self.report = DecodeReport()
        buf: list[np.ndarray] = []
        times: list[FrameTime] = []
        gaps = _GapTracker(self)
        resync = False  # skipping packets up to the next keyframe
        hold: deque = deque()  # (frame, decode number of its packet), oldest first
        bad: list[tuple[int, int]] = []  # decode numbers (from, to) whose frames are damaged
        seq = -1  # decode number of the last packet sent to the decoder
        key_seq = -1  # decode number of the last keyframe
        seq_of: dict[int, int] = {}  # packet pts -> decode number, for the frames it becomes

        def use(frame) -> None:  # a frame that proved good: place it, sample it, convert it
            placed = gaps.place(frame)
            if placed is None or not sampler.take(placed.seconds):
                return
            img = frame.to_ndarray(format=pix_fmt)
            buf.append(np.ascontiguousarray(np.rot90(img, self._rot_k) if self._rot_k else img))
            times.append(placed)

        try:
            with av.open(str(self.path)) as c:
                stream = c.streams.video[0]
                stream.thread_type = "NONE"  # see the module docstring: frame threads deadlocked, slice threads hide damage
                for pkt in c.demux(stream):
                    if resync and pkt.size and not pkt.is_keyframe:
                        gaps.skipped += 1
                        continue
                    if resync and pkt.size:  # the keyframe decoding resumes at
                        resync, gaps.recovered_at = False, pkt.pts
                    seq += 1
                    if pkt.is_keyframe:
                        key_seq = seq
                    if pkt.pts is not None:
                        seq_of[int(pkt.pts)] = seq
                    errors_before = av.logging.get_last_error()[0]
                    why = None
                    try:
                        decoded = [(f, seq_of.pop(int(f.pts), seq) if f.pts is not None else seq) for f in pkt.decode()]
                    except av.error.FFmpegError as exc:
                        decoded, why = [], _why(exc)
                    damaged_at = seq if why is not None else None
                    if why is None and av.logging.get_last_error()[0] != errors_before:
                        why, damaged_at = _last_ffmpeg_error(), seq
                    for f, q in decoded:
                        if f.is_corrupt and not any(lo <= q <= hi for lo, hi in bad):  # news, not a known loss
                            why = why or "damaged frame (concealed by the decoder)"
                            damaged_at = q if damaged_at is None else min(damaged_at, q)
                    if damaged_at is not None:
                        gaps.trouble, resync, gaps.recovered_at = gaps.trouble or why, True, None
                        gaps.skipped += 1
                        # from the packet before (it may hold the garbage's start) to the last packet
                        # decoded since, up to a keyframe decoded after the damage (it references nothing)
                        bad.append((damaged_at - 1, key_seq - 1 if damaged_at < key_seq <= seq else seq))
                    hold.extend(decoded)
                    keep: deque = deque()
                    for f, q in hold:
                        if f.is_corrupt or any(lo <= q <= hi for lo, hi in bad):
                            gaps.skipped += 1
                        else:
                            keep.append((f, q))
                    hold = keep
                    while len(hold) > HOLD_FRAMES:
                        use(hold.popleft()[0])
                        if len(buf) == size:
                            self.report.frames_read += len(buf)
                            yield FrameChunk(np.stack(buf), times)
                            buf, times = [], []
                    if len(seq_of) > 4096:  # pts of packets whose frames never came out
                        seq_of = {p: q for p, q in seq_of.items() if q > seq - 256}
                    if len(bad) > 64:  # a badly damaged file: forget ranges no frame can still come from
                        bad = [(lo, hi) for lo, hi in bad if hi > seq - 256]
        except av.error.FFmpegError as exc:  # the container itself cannot be read further
            gaps.trouble = gaps.trouble or _why(exc)
        for f, _ in hold:
            use(f)
            if len(buf) == size:
                self.report.frames_read += len(buf)
                yield FrameChunk(np.stack(buf), times)
                buf, times = [], []
        if buf:
            self.report.frames_read += len(buf)
            yield FrameChunk(np.stack(buf), times)
        if gaps.prev < 0:
            raise VideoError(f"{self.path}: no decodable video frames")
        self._tail_gap(gaps.prev, gaps.prev_t, gaps.trouble)
        if self.report.gaps:  # info: the batch reports it once per video (decoding runs twice with rendering)
            log.info("%s: %s", self.path, self.report.summary())

    def _tail_gap(self, prev: int, prev_t: float | None, trouble: str | None) -> None:
        """Frames missing after the last good one: the file ends early, or damage up to the end."""
        known = len(self._index.pts) if self._index is not None else prev + 1
        header = self._header_frames
        fps = self.info.avg_fps
        start = self._time_of(prev + 1, (prev_t or 0.0) + (1.0 / fps if fps else 0.0))
        end = max(self.info.duration_s, start)
        if header and known < header * 0.98 - 1 and prev + 1 < header:  # header's count > packets in the file
            self.report.gaps.append(DecodeGap(prev + 1, header - 1, start, end,
                                              f"the file ends after frame {prev} of {header} (truncated?)"))
        elif prev + 1 < known and (trouble or prev + 1 < known * 0.98 - 1):
            self.report.gaps.append(DecodeGap(prev + 1, known - 1, start, end, trouble or "the decoder stopped early"))

    def frames_at(self, times: list[float]) -> list[np.ndarray | None]:
        """The frame nearest to each time in seconds, None where unreadable: decord's
        random access where installed, else one PyAV seek per keyframe interval."""
        if self._decord is not None and self._open_decord():
            out: list[np.ndarray | None] = [None] * len(times)
            for k, t in enumerate(times):
                i = _nearest(self._vr_times, t)
                for attempt in range(2):
                    try:
                        out[k] = self._vr[i].asnumpy()
                        break
                    except Exception:  # noqa: BLE001 - corrupt data at that point
                        # A failed seek into damage can leave decord's decoder unusable for
                        # later reads of intact frames: reopen once before giving up on this one.
                        out[k] = None
                        self._vr = None
                        if attempt or not self._open_decord():
                            break
                if self._vr is None and not self._open_decord():
                    break
            return out
        if self._index is None:
            return self._frames_at_scan(times)
        return self._frames_at_seek(times)

    def _open_decord(self) -> bool:
        if self._vr is not None:
            return True
        decord = self._decord
        try:
            with _quiet_stderr():  # decord logs its own open errors to stderr
                vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
            if len(vr) == 0:
                raise RuntimeError("no frames")
            self._vr_times = vr.get_frame_timestamp(np.arange(len(vr)))[:, 0].astype(np.float64)
        except Exception as exc:  # noqa: BLE001 - decord raises its own untyped errors
            log.info("%s: decord cannot open it (%s); random access with PyAV", self.path, str(exc).splitlines()[0] if str(exc) else exc)
            self._decord = None
            return False
        self._vr = vr
        return True

    def _frames_at_seek(self, times: list[float]) -> list[np.ndarray | None]:
        """PyAV random access: seek to the keyframe before each wanted frame and decode up to
        it; targets in the same keyframe interval share one seek."""
        import av

        idx = self._index
        out: list[np.ndarray | None] = [None] * len(times)
        with av.open(str(self.path)) as c:
            stream = c.streams.video[0]
            stream.thread_type = "NONE"
            frames = None
            pos: int | None = None  # pts of the last frame decoded since the last seek
            for k in np.argsort(times, kind="stable"):
                i = _nearest(idx.times, times[k])
                target = int(idx.pts[i])
                key = idx.keyframe_before(target)
                if frames is None or pos is None or target < pos or (key is not None and key > pos):
                    try:
                        c.seek(key if key is not None else target, stream=stream, backward=True)
                    except av.error.FFmpegError:
                        frames = None
                        continue
                    frames, pos = c.decode(stream), None
                try:
                    for fr in frames:
                        if fr.pts is None:
                            continue
                        pos = int(fr.pts)
                        if pos >= target and not fr.is_corrupt:
                            img = fr.to_ndarray(format="rgb24")
                            out[k] = np.ascontiguousarray(np.rot90(img, self._rot_k) if self._rot_k else img)
                            break
                except av.error.FFmpegError:  # damaged there: None, and seek afresh for the next
                    frames = None
        return out

    def _frames_at_scan(self, times: list[float]) -> list[np.ndarray | None]:
        """Without timestamps to seek by: one sequential pass."""
        out: list[np.ndarray | None] = [None] * len(times)
        order = np.argsort(times)
        j = 0
        report = self.report
        for chunk in self.chunks(0):
            for ft, fr in zip(chunk.times, chunk.frames):
                while j < len(order) and ft.seconds >= times[order[j]] - 1e-6:
                    out[order[j]] = fr
                    j += 1
            if j >= len(order):
                break
        self.report = report
        return out

    def close(self) -> None:
        self._vr = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
