"""Interruption and concurrent runs on one output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import make_samples
import pytest
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


def _copies(clip, tmp_path, n):
    """n copies clip0.mp4... of one clip: a batch of distinct files with known content."""
    import shutil

    videos = []
    for i in range(n):
        v = tmp_path / f"clip{i}.mp4"
        shutil.copy(clip, v)
        videos.append(str(v))
    return videos


def test_ctrl_c_stops_fast_and_leaves_nothing_half_written(tmp_path):
    clip = tmp_path / "long.mp4"
    make_samples.write_clip(clip, make_samples.moving_face(12.0, fps=25.0, size=(320, 240)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C as from a terminal: SIGINT at its default in the child, also when pytest itself runs
    # as a background job (which starts with SIGINT ignored, and children inherit that).
    proc = subprocess.Popen([sys.executable, "-m", "fervideo._cli", "analyze", str(clip), "--out", str(out), "--fps", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
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
    videos = _copies(clips["face"], tmp_path, 3)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fervideo._cli", "analyze", *videos, "--out", str(out)]
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


@pytest.mark.slow
def test_two_processes_on_one_output_folder(clips, tmp_path):
    """Two real `fervideo analyze` processes started together on the same videos and folder."""
    import pyarrow.parquet as pq

    videos = _copies(clips["face"], tmp_path, 4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fervideo._cli", "analyze", *videos, "--out", str(out), "--no-render"]
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for i in range(4):  # each video analysed once and complete, whichever process took it
        d = out / f"clip{i}"
        assert sorted(f.name for f in d.iterdir()) == ["peaks.parquet", "persons.parquet", "timeline.parquet", "tracks.parquet"]
        assert pq.read_table(d / "timeline.parquet").num_rows > 0
        # the other process said why it left this video alone
        said = [o for o in outputs if f"clip{i}" in o and ("another fervideo process" in o or "already analysed" in o)]
        assert said, outputs
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no locks or partial folders left
    study = pq.read_table(out / "study.parquet").to_pandas()
    assert sorted(set(study["video"])) == [f"clip{i}.mp4" for i in range(4)]  # whichever process wrote it last


def _no_half_files(out):
    """Only finished results under final names; no temporary or partial leftovers."""
    from fervideo.pipeline.batch import is_finished

    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    for d in (p for p in out.iterdir() if p.is_dir()):
        assert is_finished(d, render=True), sorted(f.name for f in d.iterdir())
        assert not [f for f in d.iterdir() if f.name.startswith(".")]


def test_disk_full_mid_write_stops_the_batch_and_leaves_no_partial_file(clips, tmp_path, monkeypatch):
    """ENOSPC while the second video's Parquet is half written (simulated at the writer)."""
    import errno

    import pyarrow.parquet as pq

    import fervideo.io.tables

    real = pq.write_table

    def filling_up(table, where, **kw):
        if "clip1" in str(where):
            with open(where, "wb") as f:
                f.write(b"PAR1" + b"\0" * 1000)  # half a file, as a full disk leaves it
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, **kw)

    monkeypatch.setattr(fervideo.io.tables.pq, "write_table", filling_up)
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", *_copies(clips["face"], tmp_path, 3), "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "clip1" in r.output and "no space left" in r.output and "not started" in r.output
    assert "Traceback" not in r.output
    _no_half_files(out)
    assert (out / "clip0" / "timeline.parquet").exists() and not (out / "clip1").exists() and not (out / "clip2").exists()
    fails = pq.read_table(out / "failures.parquet").to_pandas()
    assert len(fails) == 2 and fails.iloc[:, 2].str.contains("no space left|disk is full").all()


def _mount_tmpfs(where, size):
    where.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.decode().strip()[:80]}); the simulated test covers the logic")


@pytest.mark.slow
def test_real_full_disk_mid_write(clips, tmp_path, monkeypatch):
    """A real 200 KB filesystem: the first video fits, the second's annotated video does not."""
    import fervideo
    import fervideo.pipeline.folders
    from fervideo.core.errors import DiskFullError

    out = tmp_path / "small"
    _mount_tmpfs(out, "200k")
    try:
        monkeypatch.setattr(fervideo.pipeline.folders, "MIN_FREE_BYTES", 0)  # let the run start on a tiny disk
        try:
            res = fervideo.analyze(_copies(clips["face"], tmp_path, 3), out)
        except DiskFullError as exc:  # not even the study table fitted: also a clear, single error
            assert "no space left" in str(exc) and "Finished before" in str(exc)
        else:
            status = {Path(v.path).name: (v.status, v.reason) for v in res.videos}
            assert status["clip0.mp4"][0] == "done", status
            assert status["clip1.mp4"][0] == "failed" and "no space left" in status["clip1.mp4"][1], status
            assert "not started" in status["clip2.mp4"][1], status
        _no_half_files(out)
    finally:
        # lazily where a handle is still open ("target is busy"): never leave the mount behind
        if subprocess.run(["umount", str(out)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(out)], check=False, capture_output=True)


def test_unusable_output_folder_fails_before_any_video_is_read(clips, tmp_path, monkeypatch):
    import shutil

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(blocker / "out")])
    assert r.exit_code != 0 and "cannot create the output folder" in r.output, r.output
    assert "face" not in r.output.replace(str(clips["face"]), "")  # no video was started

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=50 * 1024 * 1024))
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path / "out")])
    assert r.exit_code != 0 and "MB free" in r.output and "at least 210 MB" in r.output, r.output
    assert not (tmp_path / "out" / "face").exists()
