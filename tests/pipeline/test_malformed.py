"""A corpus of malformed inputs: each fails alone with one line naming the file and the reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def corpus(clips, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    d = tmp_path_factory.mktemp("corpus")
    data = clips["face"].read_bytes()
    c: dict[str, tuple[Path, str]] = {}

    def add(key: str, name: str, reason: str) -> Path:
        p = d / name
        c[key] = (p, reason)
        return p

    add("zero", "zero.mp4", "empty file").write_bytes(b"")
    add("text", "text.mp4", "not a readable video").write_text("hello\n" * 200)
    for pct in (10, 50, 90):  # moov atom at the end: nothing decodable
        add(f"cut{pct}", f"cut{pct}.mp4", "not a readable video").write_bytes(data[: len(data) * pct // 100])
    moov = data.find(b"moov")
    add("nomoov", "nomoov.mp4", "not a readable video").write_bytes(data[: moov - 4])
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(add("audio", "audio_only.m4a", "no video stream")))
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    add("image", "picture.jpg", "still image").write_bytes(buf.tobytes())
    add("dir", "folder.mp4", "is a directory").mkdir()
    loop = add("loop", "loop.mp4", "no such file")
    os.symlink(loop, loop)  # a link to itself
    add("missing", "missing.mp4", "no such file")
    for key, dims in (("absurd", "W100000 H100000"), ("zerodims", "W0 H0")):  # sizes only the header states
        p = add(key, f"{key}.y4m", "Picture size")
        p.write_bytes(f"YUV4MPEG2 {dims} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode() + bytes(1000))
    return c


def test_each_malformed_input_fails_alone_with_its_reason(corpus, clips, tmp_path):
    out = tmp_path / "out"
    inputs = [p for p, _ in corpus.values()] + [clips["face"]]
    r = runner.invoke(app, ["analyze", *map(str, inputs), "--out", str(out), "--no-render"])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    lines = r.output.splitlines()
    handled = 0
    for key, (p, reason) in corpus.items():
        mine = [ln for ln in lines if ln.startswith("failed") and p.name in ln]
        assert len(mine) == 1, (key, r.output)
        assert reason in mine[0], (key, mine[0])
        handled += 1
    assert handled == len(corpus)
    fails = pq.read_table(out / "failures.parquet").to_pandas()
    assert len(fails) == len(corpus)
    assert (out / "face" / "timeline.parquet").exists()
    assert sorted(x.name for x in out.iterdir()) == ["face", "failures.parquet", "study.parquet", "study_persons.parquet"]


def test_spaces_and_non_ascii_in_paths(clips, tmp_path):
    d = tmp_path / "Interviews Ünïcödé 日本"
    d.mkdir()
    src = d / "séance 1 (take 2).mp4"
    src.write_bytes(clips["face"].read_bytes())
    out = tmp_path / "out dir é"
    r = runner.invoke(app, ["analyze", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "séance 1 (take 2)" / "annotated.mp4").exists()


def test_single_frame_video_is_analysed(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples"))
    import make_samples

    src = tmp_path / "one.mp4"
    make_samples.write_clip(src, make_samples.moving_face(0.04, fps=25.0, size=(320, 240)))
    r = runner.invoke(app, ["analyze", str(src), "--out", str(tmp_path / "o"), "--min-track", "0"])
    assert r.exit_code == 0, r.output
    # the one face of the one frame is a track of one row (nothing can confirm it later)
    tl = pq.read_table(tmp_path / "o" / "one" / "timeline.parquet").to_pandas()
    assert len(tl) == 1 and tl.track_id.tolist() == [1] and tl.detected.tolist() == [True]
    assert tl.frame_index.tolist() == [0] and tl.time_s.tolist() == [0.0]
    assert tl.label.iloc[0] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert pq.read_table(tmp_path / "o" / "one" / "tracks.parquet").num_rows == 1


def _drop_file_override_capabilities() -> None:
    """In a child running as root: give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so file
    permissions apply to it as to any user (root's Python stays readable as its owner)."""
    import ctypes
    import ctypes.util

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for cap in (1, 2):  # out of the bounding set too, or exec gives them back to uid 0
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
    hdr, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    drop = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    data[0].effective &= drop
    data[0].permitted &= drop
    data[0].inheritable &= drop
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def test_unreadable_file(clips, tmp_path):
    import subprocess
    import sys

    p = tmp_path / "locked.mp4"
    p.write_bytes(clips["face"].read_bytes())
    p.chmod(0)
    fine = tmp_path / "fine.mp4"
    fine.write_bytes(clips["face"].read_bytes())
    # As root, permissions do not apply: the child gives up the capabilities that bypass them.
    as_user = _drop_file_override_capabilities if os.geteuid() == 0 else None
    try:
        r = subprocess.run([sys.executable, "-m", "fervideo._cli", "analyze", str(p), str(fine), "--out",
                            str(tmp_path / "o"), "--no-render"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"}, preexec_fn=as_user, timeout=300)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot give up root's file capabilities here ({exc})")
    said = r.stdout + r.stderr  # the CLI's messages and progress go to stderr
    assert r.returncode == 1, said
    assert "failed locked.mp4" in said and "not readable (permission denied)" in said, said
    assert (tmp_path / "o" / "fine" / "timeline.parquet").exists()  # the batch went on
