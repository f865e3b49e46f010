import av
import numpy as np
import pytest

from fervideo.core.errors import VideoError

pytestmark = pytest.mark.usefixtures("frame_backend")  # each test with decord and with decord hidden
from fervideo.stages.decode import FrameSampler, VideoSource


def _container_times(path):
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def test_all_frames_with_container_timestamps(clips):
    src = VideoSource(clips["face"])
    times = [ft for ch in src.chunks(0) for ft in ch.times]
    ref = _container_times(clips["face"])
    assert len(times) == len(ref) == 50
    assert np.allclose([t.seconds for t in times], ref, atol=1e-4)
    assert src.info.width == 320 and src.info.height == 240


def test_variable_frame_rate_keeps_true_times(clips):
    src = VideoSource(clips["vfr"])
    frames = [ft for ch in src.chunks(0) for ft in ch.times]
    got = [ft.seconds for ft in frames]
    assert [ft.index for ft in frames] == list(range(len(clips["vfr_times"])))
    assert np.allclose(got, clips["vfr_times"], atol=2e-3)
    # The clip is really variable-rate (gaps of 0.02 and 0.09 s), so times computed as
    # index / average fps would miss the true ones by far more than the tolerance above.
    steps = np.diff(got)
    assert steps.min() < 0.03 and steps.max() > 0.08
    by_rate = np.arange(len(got)) / src.info.avg_fps
    assert np.abs(by_rate - np.asarray(clips["vfr_times"])).max() > 0.03


def test_sampling_rate_and_exact_times(clips):
    src = VideoSource(clips["face"])
    times = [ft for ch in src.chunks(10) for ft in ch.times]
    assert 19 <= len(times) <= 21
    ref = _container_times(clips["face"])
    for ft in times:
        assert ft.seconds == pytest.approx(ref[ft.index], abs=1e-4)
    gaps = np.diff([t.seconds for t in times])
    assert gaps.min() >= 0.079 and gaps.max() <= 0.121


def test_sampler_is_time_based():
    s = FrameSampler(10, 30)
    picked = [i for i in range(90) if s.take(i / 30)]
    assert len(picked) == 30
    s = FrameSampler(0, 30)
    assert all(s.take(i / 30) for i in range(5))


def test_chunks_are_bounded_in_bytes(clips):
    src = VideoSource(clips["face"], max_chunk_bytes=320 * 240 * 3 * 4)
    sizes = [len(ch.times) for ch in src.chunks(0)]
    assert max(sizes) == 4 and sum(sizes) == 50


def test_rotation_metadata_is_honoured(clips, tmp_path):
    import subprocess

    import imageio_ffmpeg

    rotated = tmp_path / "rot90.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", "90",
                    "-i", str(clips["face"]), "-c", "copy", str(rotated)], check=True)
    for backend in ("auto", "pyav"):
        src = VideoSource(rotated, backend=backend)
        assert (src.info.width, src.info.height) == (240, 320), backend
        ch = next(src.chunks(0))
        assert ch.frames.shape[1:3] == (320, 240)
        assert not src.supports_i420  # the annotated video draws on RGB frames there
        with pytest.raises(ValueError, match="rotated"):
            next(src.chunks(0, i420=True))
    # decord rotates by itself (random access, thumbnails); the PyAV stream by the display matrix
    auto = VideoSource(rotated)
    a = auto.frames_at([0.0])[0].astype(int)
    b = next(auto.chunks(0)).frames[0].astype(int)
    assert a.shape == b.shape and np.abs(a - b).mean() < 3


def test_i420_frames_are_the_rgb_frames_before_conversion(clips):
    """The annotated video's frames (planar YUV 4:2:0): the same frames at the same times, which
    OpenCV's BT.601 conversion turns into the RGB frames within rounding."""
    import cv2

    src = VideoSource(clips["face"])
    assert src.supports_i420
    rgb = list(src.chunks(0))
    yuv = list(src.chunks(0, i420=True))
    assert [t for c in yuv for t in c.times] == [t for c in rgb for t in c.times]
    h, w = src.info.height, src.info.width
    a, b = yuv[0].frames, rgb[0].frames
    assert a.shape[1:] == (h * 3 // 2, w) and a.dtype == np.uint8
    conv = np.stack([cv2.cvtColor(f, cv2.COLOR_YUV2RGB_I420) for f in a]).astype(int)
    assert np.abs(conv - b).mean() < 2.0


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "dir"])
def test_bad_inputs_raise_clear_video_errors(tmp_path, kind):
    p = tmp_path / "bad.mp4"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is not a video\n" * 50)
    elif kind == "dir":
        p.mkdir()
    with pytest.raises(VideoError) as e:
        VideoSource(p)
    assert str(p) in str(e.value)


def test_random_access_returns_the_frame_at_each_time(clips):
    src = VideoSource(clips["face"])
    stream = [(ft.seconds, fr) for ch in src.chunks(0) for ft, fr in zip(ch.times, ch.frames)]
    pick = [stream[i] for i in (0, 7, 23, 24, 31, 49, 12)]  # unsorted on purpose
    got = src.frames_at([t for t, _ in pick])
    for (t, ref), f in zip(pick, got):
        assert f is not None and np.abs(f.astype(int) - ref.astype(int)).mean() < 1.0, t


def test_codec_and_exact_frame_count(clips):
    src = VideoSource(clips["vfr"])
    assert src.info.codec == "h264" and src.info.num_frames == 20
