"""End to end: the real CLI on generated clips, outputs checked against the containers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.core.labels import CANONICAL
from fervideo.io.tables import read_metadata

runner = CliRunner()


def _container_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def run(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    proc = subprocess.run(
        [sys.executable, "-m", "fervideo._cli", "analyze", str(clips["face"]), str(clips["noface"]), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    return proc, out


def test_exit_code_and_files(run):
    proc, out = run
    assert proc.returncode == 0, proc.stderr
    for name in ("timeline.parquet", "tracks.parquet", "annotated.mp4"):
        assert (out / "face" / name).exists()
    assert (out / "study.parquet").exists() and (out / "failures.parquet").exists()
    assert not list(out.glob(".*partial*"))


def test_timeline_schema_and_one_track(run, clips):
    _, out = run
    t = pq.read_table(out / "face" / "timeline.parquet")
    labels = read_metadata(out / "face" / "timeline.parquet")["labels"]
    assert labels == [c for c in CANONICAL if c in labels] and len(labels) >= 3
    names = t.schema.names
    assert names[:17] == ["video", "video_path", "video_folder", "track_id", "person_id", "person_name", "person_role",
                          "frame_index", "time_s", "x1", "y1", "x2", "y2", "det_score", "detected", "face_px", "frontal"]
    assert [n for n in names if n.startswith("raw_")] == [f"raw_{c}" for c in labels]
    assert [n for n in names if n.startswith("smooth_")] == [f"smooth_{c}" for c in labels]
    assert str(t.schema.field("time_s").type) == "double" and str(t.schema.field("track_id").type) == "int32"
    df = t.to_pandas()
    assert df["track_id"].nunique() == 1  # one moving face -> one track
    assert 18 <= len(df) <= 21  # a row per analysed frame (2 s at 10 fps)
    probs = df[[f"smooth_{c}" for c in labels]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    assert (df["label"].to_numpy() == np.array(labels)[probs.argmax(1)]).mean() > 0.95
    assert ((df.x2 > df.x1) & (df.y2 > df.y1)).all()


def test_timestamps_match_the_container(run, clips):
    _, out = run
    df = pq.read_table(out / "face" / "timeline.parquet").to_pandas()
    ref = _container_times(clips["face"])
    for fi, ts in zip(df.frame_index, df.time_s):
        assert ts == pytest.approx(ref[fi], abs=1e-4)


def test_metadata_records_the_run(run):
    _, out = run
    meta = read_metadata(out / "face" / "timeline.parquet")
    assert meta["fervideo_version"] and meta["complete"] is True
    assert meta["options"]["fps"] == 10.0 and meta["options"]["smooth"] == "gaussian"
    assert meta["models"][0]["sha256"] and len(meta["models"][0]["sha256"]) == 64
    assert meta["video"]["width"] == 320


def test_tracks_and_study(run):
    _, out = run
    tr = pq.read_table(out / "face" / "tracks.parquet").to_pandas()
    assert len(tr) == 1 and tr.duration_s[0] > 1.5
    shares = tr[[c for c in tr.columns if c.startswith("share_")]].to_numpy()
    assert shares.sum() == pytest.approx(1.0, abs=1e-5)
    study = pq.read_table(out / "study.parquet").to_pandas()
    assert set(study.video) == {"face.mp4"}


def test_no_faces_gives_empty_tables_with_full_schema(run):
    _, out = run
    t = pq.read_table(out / "noface" / "timeline.parquet")
    face = pq.read_table(out / "face" / "timeline.parquet")
    assert t.num_rows == 0 and t.schema.remove_metadata() == face.schema.remove_metadata()
    assert pq.read_table(out / "noface" / "tracks.parquet").num_rows == 0


def test_annotated_video_is_h264_at_full_rate(run, clips):
    _, out = run
    with av.open(str(out / "face" / "annotated.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        got = [float(f.time) for f in c.decode(s)]
    assert np.allclose(got, _container_times(clips["face"]), atol=2e-3)


def test_finished_videos_are_skipped_unless_overwrite(run, clips):
    _, out = run
    before = (out / "face" / "timeline.parquet").stat().st_mtime_ns
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0 and "skipped" in r.output
    assert (out / "face" / "timeline.parquet").stat().st_mtime_ns == before


def _zero_frame_video(path: Path) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"


def test_bad_inputs_fail_alone_and_leave_nothing(clips, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.mp4").write_text("not a video\n" * 100)
    data = clips["face"].read_bytes()
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 3])
    _zero_frame_video(bad / "empty_stream.mp4")
    (bad / "zero.mp4").write_bytes(b"")
    out = tmp_path / "out"
    inputs = [bad / "missing.mp4", bad / "notes.mp4", bad / "truncated.mp4", bad / "empty_stream.mp4", bad / "zero.mp4", clips["face"]]
    r = runner.invoke(app, ["analyze", *map(str, inputs), "--out", str(out), "--no-render"])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    for name in ("missing.mp4", "notes.mp4", "truncated.mp4", "empty_stream.mp4", "zero.mp4"):
        lines = [ln for ln in r.output.splitlines() if name in ln and "failed" in ln]
        assert len(lines) >= 1, (name, r.output)
        assert not (out / Path(name).stem).exists()
    assert (out / "face" / "timeline.parquet").exists()  # the batch went on
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    fails = pq.read_table(out / "failures.parquet").to_pandas()
    assert len(fails) == 5 and fails.reason.str.len().min() > 10


def test_batch_errors_are_one_line(clips, tmp_path):
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path), "--detector", "nope"])
    assert r.exit_code == 1 and "centerface" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path), "--smooth", "kalman"])
    assert r.exit_code == 1 and "gaussian" in r.output


def test_library_api_matches_cli(clips, tmp_path):
    import fervideo

    res = fervideo.analyze([clips["face"]], tmp_path, fps=5, smooth="hmm", render=False)
    assert res.ok and res.videos[0].status == "done" and res.videos[0].tracks == 1
    df = pq.read_table(tmp_path / "face" / "timeline.parquet").to_pandas()
    assert 9 <= len(df) <= 11


def test_offline_hub_model_fails_the_batch_in_one_line(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path), "--model", "trpakov/vit-face-expression"])
    assert r.exit_code == 1
    err = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and "fervit-fer2013" in r.output
    assert not (tmp_path / "face").exists()


def test_truncated_file_with_frames_is_kept_and_marked_incomplete(clips, tmp_path):
    import imageio_ffmpeg

    fs = tmp_path / "fs.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clips["face"]), "-c", "copy",
                    "-movflags", "+faststart", str(fs)], check=True)
    data = fs.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 4 // 5])
    r = runner.invoke(app, ["analyze", str(cut), "--out", str(tmp_path / "out"), "--no-render"])
    assert r.exit_code == 0, r.output
    assert "partial" in r.output
    meta = read_metadata(tmp_path / "out" / "cut" / "timeline.parquet")
    assert meta["complete"] is False and "truncated" in meta["decode_error"]
    df = pq.read_table(tmp_path / "out" / "cut" / "timeline.parquet").to_pandas()
    assert len(df) > 5 and df.time_s.max() < 1.9


def test_image_file_is_refused(tmp_path):
    import cv2

    img = tmp_path / "photo.mp4"
    ok, buf = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    img.write_bytes(buf.tobytes())
    r = runner.invoke(app, ["analyze", str(img), "--out", str(tmp_path / "o"), "--no-render"])
    assert r.exit_code == 1 and "still image" in r.output


def test_stale_partial_folders_of_killed_runs_are_removed(clips, tmp_path):
    out = tmp_path / "o"
    stale = out / ".face.partial-999999"
    stale.mkdir(parents=True)
    (stale / "timeline.parquet").write_bytes(b"half")
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0 and not stale.exists() and (out / "face" / "timeline.parquet").exists()


def test_same_input_gives_identical_timelines(clips, tmp_path):
    import fervideo

    tables = []
    for i in range(2):
        fervideo.analyze([clips["face"]], tmp_path / str(i), render=False)
        tables.append(pq.read_table(tmp_path / str(i) / "face" / "timeline.parquet").replace_schema_metadata(None))
    assert tables[0].equals(tables[1])


def test_annotated_video_keeps_the_sound(clips, tmp_path):
    import imageio_ffmpeg

    from fervideo.io.render import render_video
    from fervideo.core.types import Faces

    src = tmp_path / "talk.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(clips["face"]), "-f", "lavfi",
                    "-i", "sine=frequency=440:duration=2", "-c:v", "copy", "-c:a", "aac", "-shortest", str(src)], check=True)
    render_video(src, tmp_path / "ann.mp4", Faces.empty(7), list(CANONICAL[:7]))
    with av.open(str(tmp_path / "ann.mp4")) as c:
        kinds = [(s.type, s.codec_context.name) for s in c.streams]
    assert ("audio", "aac") in kinds and ("video", "h264") in kinds


def test_render_height_scales_the_annotated_video_and_refuses_nonsense(clips, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-persons", "--render-height", "120"])
    assert r.exit_code == 0, r.output
    with av.open(str(out / "face" / "annotated.mp4")) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (160, 120) and s.frames == 50
    assert read_metadata(out / "face" / "timeline.parquet")["options"]["render_height"] == 120
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path / "o2"), "--render-height", "10"])
    assert r.exit_code != 0 and "render_height must be >= 64" in r.output and not (tmp_path / "o2").exists()
