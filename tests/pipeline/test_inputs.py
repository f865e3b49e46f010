"""Folders and globs as inputs; fervideo's own outputs never become inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


@pytest.fixture
def vids(clips, tmp_path) -> Path:
    """vids/a.mp4, vids/B.MOV, vids/noext (an MP4 without extension), vids/notes.txt,
    vids/._a.mp4 (macOS resource fork), vids/s1/c.mp4 and a finished fervideo output in vids/out."""
    d = tmp_path / "vids"
    (d / "s1").mkdir(parents=True)
    for name in ("a.mp4", "B.MOV", "noext", "s1/c.mp4"):
        shutil.copy(clips["face"], d / name)
    (d / "notes.txt").write_text("session notes")
    (d / "._a.mp4").write_bytes(b"\x00\x05\x16\x07" + bytes(100))
    o = d / "out" / "a"
    o.mkdir(parents=True)
    for f in ("timeline.parquet", "tracks.parquet", "peaks.parquet"):
        (o / f).write_bytes(b"PAR1")
    shutil.copy(clips["face"], o / "annotated.mp4")
    (d / "out" / "study.parquet").write_bytes(b"PAR1")
    return d


def _names(paths, root):
    return sorted(str(Path(p).relative_to(root)) for p in paths)


def test_a_folder_is_its_video_files(vids):
    from fervideo.pipeline.inputs import expand_inputs

    found = expand_inputs([vids])
    assert _names(found.paths, vids) == ["B.MOV", "a.mp4", "noext"]
    assert found.skipped == []
    found = expand_inputs([vids], recursive=True)
    assert _names(found.paths, vids) == ["B.MOV", "a.mp4", "noext", "s1/c.mp4"]
    assert _names(found.skipped, vids) == ["out/a/annotated.mp4"]


def test_globs_given_as_strings_are_expanded(vids):
    from fervideo.pipeline.inputs import expand_inputs

    found = expand_inputs([str(vids / "*.mp4"), str(vids / "*" / "*.mp4"), str(vids / "*" / "*" / "*.mp4")])
    assert _names(found.paths, vids) == ["a.mp4", "s1/c.mp4"]
    assert _names(found.skipped, vids) == ["out/a/annotated.mp4"]
    found = expand_inputs([str(vids / "**" / "*.mp4")])
    assert _names(found.paths, vids) == ["a.mp4", "s1/c.mp4"]
    nothing = expand_inputs([str(vids / "*.mkv")])
    assert nothing.paths == [] and "no file matches" in nothing.problems[0][1]


def test_files_named_explicitly_inside_an_output_folder_are_skipped(vids):
    """What a shell glob like vids/*/*/*.mp4 passes: outputs named one by one."""
    from fervideo.pipeline.inputs import expand_inputs

    found = expand_inputs([vids / "a.mp4", vids / "out" / "a" / "annotated.mp4", vids / "a.mp4"], out=vids / "out")
    assert _names(found.paths, vids) == ["a.mp4"]  # the duplicate too
    assert _names(found.skipped, vids) == ["out/a/annotated.mp4"]


def test_the_out_folder_is_never_an_input(vids):
    from fervideo.pipeline.inputs import expand_inputs

    fresh = vids / "results"  # not yet a fervideo folder, but it is where this run writes
    (fresh / "x").mkdir(parents=True)
    shutil.copy(vids / "a.mp4", fresh / "x" / "copy.mp4")
    found = expand_inputs([vids], out=fresh, recursive=True)
    assert "results/x/copy.mp4" not in _names(found.paths, vids)
    assert "results/x/copy.mp4" in _names(found.skipped, vids)


def test_an_empty_folder_is_a_failure_with_its_reason(tmp_path):
    from fervideo.pipeline.inputs import expand_inputs

    (tmp_path / "empty").mkdir()
    found = expand_inputs([tmp_path / "empty"])
    assert found.paths == [] and "is a directory with no video files" in found.problems[0][1]


@pytest.mark.slow
def test_analyze_a_folder_twice_with_its_output_inside(vids):
    out = vids / "out"
    r = runner.invoke(app, ["analyze", str(vids / "s1"), "--out", str(out), "--no-render"])
    assert r.exit_code == 0, r.output
    assert (out / "c" / "timeline.parquet").exists()
    # the second run descends into vids/out: its annotated video is skipped, and said so
    r = runner.invoke(app, ["analyze", str(vids / "s1"), str(vids / "out"), "--recursive", "--out", str(out), "--no-render"])
    assert r.exit_code == 0, r.output
    assert "skipped 1 file inside fervideo output folders" in r.output
    assert not (out / "annotated").exists()
