"""--shard K/N: job arrays of independent processes on one output folder."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import make_samples
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.core.errors import ConfigError
from fervideo.pipeline import shard


def test_parse():
    assert shard.parse("0/1") == (0, 1)
    assert shard.parse(" 99/100 ") == (99, 100)
    for bad in ("3", "a/4", "4/4", "-1/4", "1/0", "1/2/3", ""):
        with pytest.raises(ConfigError, match="--shard"):
            shard.parse(bad)


def test_slices_partition_the_inputs_whatever_the_order(tmp_path, monkeypatch):
    paths = [Path(f"/data/subj{i:03d}/video.mp4") for i in range(300)]  # one file name in every session
    paths += [Path("/data/a/interview.mp4"), Path("/data/b/interview.mp4")]
    n = 7
    slices = [shard.select(paths, f"{k}/{n}") for k in range(n)]
    # every input in exactly one slice
    assert sorted(p for s in slices for p in s) == sorted(paths)
    # the same slices for a shuffled command line, and for any sub-list (a copy that saw fewer files)
    shuffled = paths[:]
    random.Random(0).shuffle(shuffled)
    for k in range(n):
        assert set(shard.select(shuffled, f"{k}/{n}")) == set(slices[k])
        assert set(shard.select(shuffled[:150], f"{k}/{n}")) == set(slices[k]) & set(shuffled[:150])
    # balanced by the hash: 302 videos in 7 slices of about 43
    assert all(25 <= len(s) <= 65 for s in slices), [len(s) for s in slices]
    # a relative path and the absolute path of one file are one video; sha1, so equal on any machine
    monkeypatch.chdir(tmp_path)
    assert shard.shard_of(Path("v.mp4"), 7) == shard.shard_of(tmp_path / "v.mp4", 7)
    key = str((tmp_path / "v.mp4").resolve()).encode()
    assert shard.shard_of(Path("v.mp4"), 7) == int.from_bytes(hashlib.sha1(key).digest()[:8], "big") % 7


def test_bad_shard_fails_in_one_line_before_creating_the_output(clips, tmp_path):
    r = CliRunner().invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path / "out"), "--shard", "5/5"])
    assert r.exit_code == 1
    assert "error:" in r.output and "K must be from 0 to N-1" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


_ROW = re.compile(r"(clip\d\.mp4)\s*│\s*(done|skipped|failed|locked)\s*│")


@pytest.mark.slow
def test_three_processes_on_one_folder_analyse_each_video_once_and_study_equals_one_run(tiny_vit, tmp_path):
    import fervideo

    videos = []
    for i in range(6):
        v = tmp_path / "in" / f"clip{i}.mp4"
        v.parent.mkdir(exist_ok=True)
        make_samples.write_clip(v, make_samples.moving_face(1.6 + 0.1 * i, fps=25.0, size=(240, 180)))
        videos.append(v)
    common = ["--model", str(tiny_vit), "--no-render", "--threads", "1", "--device", "cpu"]

    out = tmp_path / "out"
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    n = 3
    procs = []
    for k in range(n):
        order = videos[k:] + videos[:k]  # each process gets the list in another order
        cmd = [sys.executable, "-m", "fervideo._cli", "analyze", *map(str, order), "--out", str(out), *common, "--shard", f"{k}/{n}"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    done: dict[str, list[int]] = {}
    for k, p in enumerate(procs):
        output, _ = p.communicate(timeout=600)
        assert p.returncode == 0, output
        rows = dict(_ROW.findall(output))
        expected = {v.name for v in shard.select(videos, f"{k}/{n}")}
        assert set(rows) == expected, output  # a process reports only its own slice
        for name, status in rows.items():
            assert status == "done", output
            done.setdefault(name, []).append(k)
    assert done == {v.name: done[v.name] for v in videos} and all(len(ks) == 1 for ks in done.values()), done
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]

    r = subprocess.run([sys.executable, "-m", "fervideo._cli", "study", str(out)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr

    single = tmp_path / "single"
    fervideo.analyze(videos, single, model=str(tiny_vit), render=False, threads=1, device="cpu")

    def study(d: Path):
        df = pq.read_table(d / "study.parquet").to_pandas()
        return df.sort_values(["video", "track_id"]).reset_index(drop=True)

    a, b = study(out), study(single)
    assert len(a) >= 6 and sorted(a["video"].unique()) == sorted(v.name for v in videos)
    assert list(a.columns) == list(b.columns)
    assert a.equals(b)
    assert pq.read_table(out / "failures.parquet").num_rows == 0
