"""Damaged files: garbage in the middle costs the frames up to the next keyframe, not the rest.

Each damaged clip is compared with the undamaged original frame by frame: every frame that
comes out must be the original's frame at the same index (nothing garbled passes as a frame),
the frames that do not come out must be recorded as gaps (frames and seconds), and decoding
must go on after each damaged region. Run with decord present and hidden.
"""

from __future__ import annotations

import hashlib
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fervideo.stages.decode import VideoSource

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "samples"))
import make_samples  # noqa: E402

GOP = 10


def write_keyframe_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0, gop: int = GOP, asm: str = "") -> None:
    """H.264 MP4 with a keyframe every ``gop`` frames and the index (moov) at the front, so
    damage in the middle of the file hits frame data, as it does in a real damaged recording.

    The same file on every machine, so the damage lands on the same bytes: frames from
    ``make_samples.exact_moving_face``, YUV made in numpy (FFmpeg's RGB to YUV conversion
    differs with the CPU's SIMD), one encoder thread. With OpenCV-made frames the clip changed
    with the CPU, and on CI's machine the damage landed where the decoder gave no sign.
    ``asm`` limits x264 to the named SIMD sets, to show the file does not depend on them."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.codec_context.gop_size = gop
        st.codec_context.thread_count = 1  # bit-identical clips run after run: the damage lands on the same bytes
        # constant QP, no macroblock tree, no adaptive quantisation: x264's float code for those
        # takes other paths with AVX-512 than with AVX2, and with CRF the file differed
        st.options = {"qp": "20", "preset": "veryfast", "keyint": str(gop), "min-keyint": str(gop), "scenecut": "0",
                      "x264-params": "mbtree=0:aq-mode=0" + (f":asm={asm}" if asm else "")}
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(make_samples.rgb_to_yuv420p(f), format="yuv420p")
            vf.pts = i
            vf.time_base = Fraction(1, int(fps))
            for p in st.encode(vf):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def test_the_clean_clip_is_the_same_file_whatever_simd_the_encoder_finds(tmp_path):
    frames = make_samples.exact_moving_face(1.0, fps=25.0, size=(192, 144))
    sums = set()
    for asm in ("", "MMX2,SSE,SSE2,SSSE3,SSE4.1,SSE4.2", "MMX2,SSE,SSE2,SSSE3,SSE4.1,SSE4.2,AVX,FMA3,BMI1,BMI2,AVX2"):
        write_keyframe_clip(tmp_path / "c.mp4", frames, asm=asm)
        sums.add(hashlib.sha256((tmp_path / "c.mp4").read_bytes()).hexdigest())
    assert len(sums) == 1
    # and numpy's YUV is FFmpeg's own conversion: luma to rounding, chroma up to where FFmpeg
    # filters the 2x2 blocks differently
    diff = np.abs(make_samples.rgb_to_yuv420p(frames[0]).astype(int)
                  - av.VideoFrame.from_ndarray(frames[0], format="rgb24").reformat(format="yuv420p").to_ndarray())
    assert diff[:144].max() <= 1 and diff[144:].mean() < 1.0


def _reference(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as c:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [f for _, f in frames], [t for t, _ in frames]


def _packets(path: Path) -> list[tuple[int, int, int]]:
    """(byte position, size, frame index) of every video packet."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pk = [(p.pos, p.size, p.pts) for p in c.demux(s) if p.size]
    order = {pts: i for i, pts in enumerate(sorted(p[2] for p in pk))}
    return [(pos, size, order[pts]) for pos, size, pts in pk]


@pytest.fixture(scope="module")
def clean_clip(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("damage") / "clean.mp4"
    write_keyframe_clip(p, make_samples.exact_moving_face(4.0, fps=25.0, size=(192, 144)))  # 100 frames
    return p


def _damage(clean: Path, out: Path, spots: list[tuple[float, int]], seed: int = 0) -> list[int]:
    """Overwrite ``size`` bytes at ``fraction`` of the frame data with random bytes; returns the
    indices of the frames whose packets were hit."""
    data = bytearray(clean.read_bytes())
    pk = _packets(clean)
    start = min(p[0] for p in pk)
    end = max(p[0] + p[1] for p in pk)
    rng = np.random.default_rng(seed)
    hit = set()
    for frac, size in spots:
        a = start + int((end - start) * frac)
        b = min(a + size, end)
        data[a:b] = rng.integers(0, 256, b - a, dtype=np.uint8).tobytes()
        hit |= {i for pos, sz, i in pk if pos < b and pos + sz > a}
    out.write_bytes(bytes(data))
    return sorted(hit)


@pytest.fixture
def backend(frame_backend) -> str:
    return frame_backend


def _read_all(src: VideoSource) -> tuple[list[int], list[np.ndarray], list[float]]:
    idx, frames, times = [], [], []
    for ch in src.chunks(0):
        idx += [t.index for t in ch.times]
        times += [t.seconds for t in ch.times]
        frames += list(ch.frames)
    return idx, frames, times


def test_undamaged_clip_is_complete_with_its_codec(clean_clip, backend):
    src = VideoSource(clean_clip)
    idx, _, _ = _read_all(src)
    assert idx == list(range(100))
    assert src.report.complete and src.report.gaps == [] and src.report.frames_lost == 0
    assert src.info.codec == "h264" and src.info.num_frames == 100


SPOTS = {
    "early-small": [(0.2, 600)],
    "middle-4k": [(0.5, 4096)],
    "late-16k": [(0.75, 16384)],
    "three-spots": [(0.15, 1000), (0.5, 3000), (0.85, 1500)],
}


@pytest.mark.parametrize("name", list(SPOTS))
def test_decoding_goes_on_after_damage_and_records_each_gap(clean_clip, tmp_path, backend, name):
    ref, ref_t = _reference(clean_clip)
    bad = tmp_path / f"{name}.mp4"
    hit = _damage(clean_clip, bad, SPOTS[name])
    assert hit, "the damage must land in frame data"
    src = VideoSource(bad)
    idx, frames, times = _read_all(src)
    # nothing garbled passes: each frame that comes out is the original frame at that index
    for i, f, t in zip(idx, frames, times):
        assert np.abs(f.astype(int) - ref[i].astype(int)).mean() < 1.0, (name, i)
        assert t == pytest.approx(ref_t[i], abs=1e-3)
    assert idx == sorted(set(idx))
    rep = src.report
    assert not rep.complete and rep.gaps
    lost = sorted(set(range(100)) - set(idx))
    assert rep.frames_lost == len(lost) == sum(g.frames for g in rep.gaps)
    in_gaps = sorted(i for g in rep.gaps for i in range(g.first_frame, g.last_frame + 1))
    assert in_gaps == lost
    # every damaged packet is either a recorded loss or decoded bit-exact (checked above)
    # and decoding resynchronises: at most the damaged frames plus one keyframe interval each
    assert len(lost) <= len(hit) + len(SPOTS[name]) * (GOP + 2), (name, lost, hit)
    assert max(idx) >= 100 - GOP - 1 or rep.gaps[-1].last_frame == 99
    # each gap in seconds: from its first lost frame to the next frame that came out (or the end)
    for g in rep.gaps:
        assert g.start_s == pytest.approx(ref_t[g.first_frame], abs=1e-3)
        nxt = g.last_frame + 1
        assert g.end_s == pytest.approx(ref_t[nxt] if nxt < 100 else src.info.duration_s, abs=0.05)
        assert g.reason and "\n" not in g.reason
        d = g.as_dict()
        assert d["frames"] == g.frames and {"first_frame", "last_frame", "start_s", "end_s"} <= set(d)


def test_random_access_never_returns_a_damaged_frame(clean_clip, tmp_path, backend):
    ref, ref_t = _reference(clean_clip)
    bad = tmp_path / "bad.mp4"
    _damage(clean_clip, bad, SPOTS["middle-4k"])
    src = VideoSource(bad)
    list(src.chunks(0))
    gap = src.report.gaps[0]
    want = [ref_t[5], ref_t[gap.first_frame], ref_t[gap.last_frame], ref_t[90], ref_t[30]]
    got = src.frames_at(want)
    for t, f in zip(want, got):
        if f is None:
            continue
        # the frame at t, or (inside the damage) a later intact one: never garbage
        assert any(np.abs(f.astype(int) - ref[i].astype(int)).mean() < 1.0 for i in range(len(ref)) if ref_t[i] >= t - 1e-6)
    for k in (0, 3, 4):
        assert got[k] is not None and np.abs(got[k].astype(int) - ref[ref_t.index(want[k])].astype(int)).mean() < 1.0
