"""Interruption and concurrent runs on one output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import make_samples
import pytest
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


def _snapshot(out):
    import hashlib

    snap = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(d.iterdir()):
            snap[str(f.relative_to(out))] = (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
    return snap


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_at_a_random_point_then_rerun(clips, tmp_path, seed):
    import random
    import shutil

    videos = []
    for i in range(3):
        v = tmp_path / f"clip{i}.mp4"
        shutil.copy(clips["face"], v)
        videos.append(str(v))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fervideo.cli", "analyze", *videos, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(seed).uniform(3.0, 14.0))
    proc.kill()  # SIGKILL: no cleanup code runs
    proc.wait()
    before = _snapshot(out) if out.exists() else {}
    for name in before:  # whatever is visible under a final name is complete
        assert not name.endswith(".tmp")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    after = _snapshot(out)
    for name, sig in before.items():
        assert after[name] == sig, f"{name} changed on rerun"
    for i in range(3):
        assert (out / f"clip{i}" / "timeline.parquet").exists() and (out / f"clip{i}" / "annotated.mp4").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and "partial" in p.name]
