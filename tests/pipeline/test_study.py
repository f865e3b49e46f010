"""study.parquet and failures.parquet describe the output folder, however the runs were split."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import make_samples
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app

runner = CliRunner()


def _analyze(*args: object) -> str:
    r = runner.invoke(app, ["analyze", *map(str, args), "--no-render", "--min-track", "0"])
    assert r.exit_code in (0, 1), r.output
    return r.output


def _study(out: Path):
    return pq.read_table(out / "study.parquet").to_pandas()


def _failures(out: Path):
    return pq.read_table(out / "failures.parquet").to_pandas()


@pytest.fixture(scope="module")
def other_clip(tmp_path_factory) -> Path:
    """A second clip with different content (and size) from clips['face']."""
    p = tmp_path_factory.mktemp("other") / "other.mp4"
    make_samples.write_clip(p, make_samples.moving_face(1.2, fps=25.0, size=(256, 192)))
    return p


def test_a_later_run_keeps_the_earlier_videos_in_the_study(clips, other_clip, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    shutil.copy(clips["face"], a)
    shutil.copy(other_clip, b)
    out = tmp_path / "out"
    _analyze(a, "-o", out)
    _analyze(b, "--overwrite", "-o", out)  # the README's "redo one video" command
    study = _study(out)
    assert sorted(set(study["video_folder"])) == ["a", "b"]
    assert sorted(set(study["video"])) == ["a.mp4", "b.mp4"]
    assert set(study["video_path"]) == {os.path.abspath(a), os.path.abspath(b)}


def test_a_failure_stands_until_that_input_is_analysed(clips, other_clip, tmp_path):
    bad = tmp_path / "take1.mp4"
    bad.write_text("not a video\n" * 100)
    good = tmp_path / "good.mp4"
    shutil.copy(clips["face"], good)
    out = tmp_path / "out"
    _analyze(bad, good, "-o", out)
    assert list(_failures(out)["video"]) == ["take1.mp4"]
    other = tmp_path / "other.mp4"
    shutil.copy(other_clip, other)
    _analyze(other, "-o", out)  # a run that does not mention take1.mp4 keeps its failure
    fails = _failures(out)
    assert list(fails["video"]) == ["take1.mp4"] and "not a readable video" in fails["reason"][0]
    assert sorted(_study(out)["video_folder"].unique()) == ["good", "other"]
    shutil.copy(other_clip, bad)  # the researcher replaced the broken file; it now analyses
    _analyze(bad, "-o", out)
    assert _failures(out).empty
    assert sorted(_study(out)["video_folder"].unique()) == ["good", "other", "take1"]


def test_same_file_name_in_two_sessions_gives_two_keys(clips, other_clip, tmp_path):
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    s1.mkdir(), s2.mkdir()
    shutil.copy(clips["face"], s1 / "interview.mp4")
    shutil.copy(other_clip, s2 / "interview.mp4")
    out = tmp_path / "out"
    _analyze(s1 / "interview.mp4", s2 / "interview.mp4", "-o", out)
    study = _study(out)
    assert study["video_folder"].nunique() == 2 and set(study["video"]) == {"interview.mp4"}
    assert not study.duplicated(["video_folder", "track_id"]).any()
    for d in study["video_folder"].unique():  # every table of a folder names that folder and its input
        for name in ("timeline", "tracks", "peaks"):
            t = pq.read_table(out / d / f"{name}.parquet").to_pandas()
            assert set(t["video_folder"]) <= {d}
            assert set(t["video_path"]) <= set(study.loc[study["video_folder"] == d, "video_path"])
    paths = {r.video_folder: r.video_path for r in study.itertuples()}
    assert sorted(paths.values()) == sorted(os.path.abspath(p) for p in (s1 / "interview.mp4", s2 / "interview.mp4"))


def test_same_file_name_in_separate_runs_is_not_mistaken_for_done(clips, other_clip, tmp_path):
    """s2/interview.mp4 analysed after s1/interview.mp4 gets its own folder instead of 'already analysed'."""
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    s1.mkdir(), s2.mkdir()
    shutil.copy(clips["face"], s1 / "interview.mp4")
    shutil.copy(other_clip, s2 / "interview.mp4")
    out = tmp_path / "out"
    _analyze(s1 / "interview.mp4", "-o", out)
    output = _analyze(s2 / "interview.mp4", "-o", out)
    assert "already analysed" not in output
    study = _study(out)
    assert study["video_folder"].nunique() == 2
    # and the first one, run again, is recognised as done (same folder, no duplicate)
    output = _analyze(s1 / "interview.mp4", "-o", out)
    assert "already analysed" in output
    assert _study(out)["video_folder"].nunique() == 2


def test_study_command_rebuilds_both_tables_from_the_folders(clips, other_clip, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    shutil.copy(clips["face"], a)
    shutil.copy(other_clip, b)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    _analyze(a, b, bad, "-o", out)
    before = _study(out)
    (out / "study.parquet").unlink()
    r = runner.invoke(app, ["study", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 videos" in r.output and "1 failure" in r.output
    after = _study(out)
    assert sorted(map(tuple, after[["video_folder", "track_id"]].values)) == sorted(map(tuple, before[["video_folder", "track_id"]].values))
    shutil.rmtree(out / "b")  # a folder the researcher deleted leaves the study too
    assert runner.invoke(app, ["study", str(out)]).exit_code == 0
    assert list(_study(out)["video_folder"].unique()) == ["a"]
    assert list(_failures(out)["video"]) == ["bad.mp4"]
    r = runner.invoke(app, ["study", str(tmp_path / "nothing-here")])
    assert r.exit_code == 1 and "not a fervideo output folder" in r.output


def test_rebuild_study_reads_folders_of_older_versions(clips, tmp_path):
    """A video folder written before video_path/video_folder existed still enters the study."""
    import pyarrow as pa

    from fervideo.io.tables import write_table
    from fervideo.pipeline.study import rebuild_study

    out = tmp_path / "out"
    _analyze(clips["face"], "-o", out)
    tracks = pq.read_table(out / "face" / "tracks.parquet")
    old = tracks.drop_columns(["video_path", "video_folder"])
    write_table(old.replace_schema_metadata(tracks.schema.metadata), out / "face" / "tracks.parquet")
    rebuild_study(out)
    study = _study(out)
    assert list(study["video_folder"]) == ["face"] * len(study)
    assert study["video_path"].iloc[0].endswith("face.mp4")
    assert pa.types.is_string(pq.read_schema(out / "study.parquet").field("video_path").type)
