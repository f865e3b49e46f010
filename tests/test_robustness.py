"""Interruption and concurrent runs on one output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import make_samples
from typer.testing import CliRunner

from fervideo.cli import app

runner = CliRunner()


def test_ctrl_c_stops_fast_and_leaves_nothing_half_written(tmp_path):
    clip = tmp_path / "long.mp4"
    make_samples.write_clip(clip, make_samples.moving_face(12.0, fps=25.0, size=(320, 240)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fervideo.cli", "analyze", str(clip), "--out", str(out), "--fps", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".long.partial-*")):
        time.sleep(0.1)
    assert list(out.glob(".long.partial-*")), "analysis never started"
    time.sleep(1.0)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    took = time.time() - t0
    assert proc.returncode == 130, output
    assert took < 5, took
    assert "interrupted" in output and "Traceback" not in output
    assert not (out / "long").exists() and not list(out.glob(".long.partial-*"))


def test_a_video_locked_by_another_run_is_skipped(clips, tmp_path):
    from filelock import FileLock

    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".face.lock")):
        r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0
    assert "another fervideo process" in r.output
    assert not (out / "face").exists()
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0 and (out / "face" / "timeline.parquet").exists()
