"""Real-world variety: containers, pixel formats, sizes and frame rates (issue: reliability)."""

from __future__ import annotations

import subprocess

import av
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.io.tables import read_metadata

runner = CliRunner()


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


CASES = {
    # name: (output file, ffmpeg args after the input, expect a face track)
    "mkv": ("v.mkv", ["-c:v", "libx264"], True),
    "mov": ("v.mov", ["-c:v", "libx264"], True),
    "webm": ("v.webm", ["-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"], True),
    "avi_mjpeg": ("v.avi", ["-c:v", "mjpeg", "-q:v", "5"], True),
    "yuv444": ("v444.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"], True),
    "10bit": ("v10.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"], True),
    "odd_size": ("odd.mp4", ["-vf", "scale=321:241", "-c:v", "libx264", "-pix_fmt", "yuv444p"], True),
    "odd_1081x721": ("odd1081.mp4", ["-vf", "scale=1081:721", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-preset", "ultrafast"], True),
    "4k": ("uhd.mp4", ["-t", "1", "-vf", "scale=3840:2160", "-c:v", "libx264", "-preset", "ultrafast"], True),
    "fps1": ("slow.mp4", ["-r", "1", "-c:v", "libx264"], False),
    "fps120": ("fast.mp4", ["-vf", "fps=120", "-c:v", "libx264"], True),
}


@pytest.mark.parametrize("side", [1, 2])
def test_tiny_frames_are_refused_with_a_reason(clips, tmp_path, side):
    src = tmp_path / "tiny.mp4"
    _ffmpeg("-i", str(clips["face"]), "-vf", f"scale={side}:{side}", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(src))
    r = runner.invoke(app, ["analyze", str(src), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1 and "too small" in r.output and f"{side}x{side}" in r.output


@pytest.mark.parametrize("case", sorted(CASES))
def test_container_and_format_variety(case, clips, tmp_path):
    name, args, face = CASES[case]
    src = tmp_path / name
    _ffmpeg("-i", str(clips["face"]), *args, str(src))
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(src), "--out", str(out), "--fps", "0" if case == "fps1" else "10"])
    assert r.exit_code == 0, r.output
    stem = src.stem
    tl = pq.read_table(out / stem / "timeline.parquet").to_pandas()
    meta = read_metadata(out / stem / "timeline.parquet")
    with av.open(str(src)) as c:
        ref = [float(f.time) for f in c.decode(video=0)]
    for fi, t in zip(tl.frame_index, tl.time_s):
        assert t == pytest.approx(ref[fi], abs=2e-3)
    if face:
        assert tl.track_id.nunique() == 1, case
    with av.open(str(out / stem / "annotated.mp4")) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
    assert n == len(ref)
    assert meta["video"]["width"] >= 1
