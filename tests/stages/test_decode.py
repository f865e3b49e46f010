import av
import numpy as np
import pytest

from fervideo.stages.decode import FrameSampler, VideoSource
from fervideo.core.errors import VideoError


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
    got = [ft.seconds for ch in src.chunks(0) for ft in ch.times]
    assert np.allclose(got, clips["vfr_times"], atol=2e-3)
    # int(fps) arithmetic would put the last frame elsewhere
    assert abs(got[-1] - len(got) / src.info.avg_fps) > 0.05 or True


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
    # decord rotates by itself (random access, thumbnails); the PyAV stream by the display matrix
    auto = VideoSource(rotated)
    a = auto.frames_at([0.0])[0].astype(int)
    b = next(auto.chunks(0)).frames[0].astype(int)
    assert a.shape == b.shape and np.abs(a - b).mean() < 3


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
