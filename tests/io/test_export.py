"""`fervideo export`: CSV, per-window aggregates, ELAN .eaf, BORIS events, quality filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.core.errors import ConfigError

runner = CliRunner()
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FRONT = np.array([[31.0, 40.0], [69.0, 40.0], [50.0, 60.0], [35.0, 75.0], [65.0, 75.0]])
PROFILE = FRONT + np.array([[0, 0], [0, 0], [17, 0], [6, 0], [6, 0]])  # nose almost at the right eye


def _track(tid: int, plan: list[tuple[float, float, str]], size: float = 60.0, small_after: float = 99.0,
           profile_after: float = 99.0):
    """Rows at 10 fps for each (start, end, label) stretch; faces shrink / turn after the given times."""
    from fervideo.core.types import Faces

    rows = []
    for a, b, lab in plan:
        for t in np.arange(a, b - 1e-9, 0.1):
            rows.append((round(float(t), 3), LABELS.index(lab)))
    n = len(rows)
    t = np.array([r[0] for r in rows])
    lab = np.array([r[1] for r in rows])
    p = np.full((n, 7), 0.1 / 6, np.float32)
    p[np.arange(n), lab] = 0.9
    s = np.where(t >= small_after, size / 2, size)
    boxes = np.stack([np.full(n, 10.0), np.full(n, 10.0), 10 + s, 10 + s * 1.2], 1)
    lms = np.where((t >= profile_after)[:, None, None], PROFILE, FRONT)[:, :, :] * (s / 100)[:, None, None] + 10
    return Faces(boxes, np.full(n, 0.9), lms, np.round(t * 25).astype(int), t, track_ids=np.full(n, tid),
                 probs=p, smoothed=p, label_ids=lab)


def _write_video(out: Path, folder: str, video_path: Path, faces) -> None:
    from fervideo.core.types import Faces
    from fervideo.io.tables import peaks_table, timeline_table, tracks_table, write_table

    faces = Faces.concat(faces)
    meta = {"labels": LABELS, "options": {"fps": 10.0, "max_gap": 1.0}, "video": {"path": str(video_path)}}
    d = out / folder
    d.mkdir(parents=True)
    tl = timeline_table(video_path.name, faces, LABELS, meta, video_path=str(video_path), video_folder=folder)
    write_table(tl, d / "timeline.parquet")
    write_table(tracks_table(video_path.name, tl, LABELS, meta), d / "tracks.parquet")
    write_table(peaks_table(tl, LABELS, meta), d / "peaks.parquet")


@pytest.fixture
def study(tmp_path) -> Path:
    """Two sessions' interview.mp4 (same name, two folders); s1 has two tracks, the second turns away."""
    from fervideo.pipeline.study import rebuild_study

    out = tmp_path / "out"
    _write_video(out, "interview-aaaaaa", tmp_path / "s1" / "interview.mp4", [
        _track(1, [(0.0, 1.0, "neutral"), (1.0, 2.5, "happy"), (3.0, 4.0, "happy")], small_after=3.5),
        _track(2, [(0.0, 2.0, "sad")], profile_after=1.0),
    ])
    _write_video(out, "interview-bbbbbb", tmp_path / "s2" / "interview.mp4", [_track(1, [(0.5, 1.5, "surprise")])])
    rebuild_study(out)
    return out


def test_csv_of_every_table(study, tmp_path):
    from fervideo.io.export import export

    files = export(study, ["csv"], to=tmp_path / "x")
    names = sorted(p.name for p in files)
    assert names == ["failures.csv", "peaks.csv", "study.csv", "timeline.csv", "tracks.csv"]
    tl = pd.read_csv(tmp_path / "x" / "timeline.csv")
    parts = [pq.read_table(study / d / "timeline.parquet").to_pandas() for d in ("interview-aaaaaa", "interview-bbbbbb")]
    want = pd.concat(parts, ignore_index=True)
    assert list(tl.columns) == list(want.columns)
    assert len(tl) == len(want) and tl["video_folder"].tolist() == want["video_folder"].tolist()
    assert np.allclose(tl["smooth_happy"], want["smooth_happy"], atol=1e-6)
    st = pd.read_csv(tmp_path / "x" / "study.csv")
    assert sorted(map(tuple, st[["video_folder", "track_id"]].values)) == [
        ("interview-aaaaaa", 1), ("interview-aaaaaa", 2), ("interview-bbbbbb", 1)]


def test_a_persons_table_is_exported_when_present(study, tmp_path):
    from fervideo.io.export import export
    from fervideo.io.tables import write_table

    persons = pa.table({"video_folder": ["interview-aaaaaa"], "person_id": [1], "tracks": [2]})
    write_table(persons, study / "interview-aaaaaa" / "persons.parquet")
    files = export(study, ["csv"], to=tmp_path / "x")
    assert "persons.csv" in {p.name for p in files}
    assert pd.read_csv(tmp_path / "x" / "persons.csv")["person_id"].tolist() == [1]


def test_windows_per_video_and_track(study, tmp_path):
    from fervideo.io.export import export

    (path,) = export(study, ["windows"], to=tmp_path / "x", every=1.0)
    w = pd.read_csv(path)
    assert path.name == "windows_1s.csv"
    t1 = w[(w.video_folder == "interview-aaaaaa") & (w.track_id == 1)].set_index("window")
    assert t1.index.tolist() == [0, 1, 2, 3]
    assert t1.loc[0, "rows"] == 10 and t1.loc[0, "share_neutral"] == 1.0
    assert t1.loc[1, "share_happy"] == 1.0 and np.isclose(t1.loc[1, "mean_happy"], 0.9)
    assert t1.loc[2, "rows"] == 5  # 2.0-2.4: the face is lost from 2.5 to 3.0
    assert t1.loc[3, "start_s"] == 3.0 and t1.loc[3, "end_s"] == 4.0
    for c in ("mean_valence", "mean_face_px", "mean_frontal", "mean_det_score"):
        assert c in w.columns
    assert np.allclose(w[[f"share_{c}" for c in LABELS]].sum(axis=1), 1.0)
    (five,) = export(study, ["windows"], to=tmp_path / "x", every=5.0)
    assert five.name == "windows_5s.csv" and len(pd.read_csv(five)) == 3  # one window per track


def test_windows_group_by_person_when_the_column_exists(study, tmp_path):
    from fervideo.io.export import export
    from fervideo.io.tables import write_table

    p = study / "interview-aaaaaa" / "timeline.parquet"
    tl = pq.read_table(p)
    i = tl.column_names.index("person_id")
    tl = tl.set_column(i, tl.field(i), pa.array(np.ones(tl.num_rows, np.int32)))  # both tracks: one person
    write_table(tl, p)
    (path,) = export(study, ["windows"], to=tmp_path / "x", every=1.0)
    w = pd.read_csv(path)
    assert "person_id" in w.columns
    a = w[w.video_folder == "interview-aaaaaa"]
    assert set(a["person_id"]) == {1}


def test_windows_by_person_merge_a_persons_tracks_across_a_cut(tmp_path):
    """Track 1 (0-2 s) and track 3 (after a cut, 2.5-4 s) are one person, track 2 (beside track 1) another."""
    from fervideo.io.export import export
    from fervideo.io.tables import write_table

    out = tmp_path / "out"
    _write_video(out, "v", tmp_path / "v.mp4", [_track(1, [(0.0, 2.0, "happy")]), _track(2, [(0.0, 2.0, "sad")]),
                                                _track(3, [(2.5, 4.0, "neutral")])])
    p = out / "v" / "timeline.parquet"
    tl = pq.read_table(p)
    tracks = np.asarray(tl.column("track_id"))
    person = np.where(tracks == 2, 2, 1).astype(np.int32)
    for col, values in (("person_id", pa.array(person)), ("person_name", pa.array(np.where(person == 1, "Anna", None).tolist(), pa.string()))):
        i = tl.column_names.index(col)
        tl = tl.set_column(i, tl.field(i), values)
    write_table(tl, p)
    (path,) = export(out, ["windows"], to=tmp_path / "x", every=2.0, by="person")
    assert path.name == "windows_2s_by_person.csv"
    w = pd.read_csv(path, keep_default_na=False, dtype={"tracks": str})
    assert "track_id" not in w.columns
    a = w[w.person_id == 1].set_index("window")
    assert a.index.tolist() == [0, 1] and set(a.person_name) == {"Anna"}
    assert a.loc[0, "tracks"] == "1" and a.loc[0, "rows"] == 20 and a.loc[0, "share_happy"] == 1.0
    assert a.loc[1, "tracks"] == "3" and a.loc[1, "rows"] == 15 and a.loc[1, "share_neutral"] == 1.0
    b = w[w.person_id == 2]
    assert b["tracks"].tolist() == ["2"] and b["share_sad"].tolist() == [1.0]
    # one window holding both of a person's tracks: the rows of both, one row out
    (path,) = export(out, ["windows"], to=tmp_path / "y", every=5.0, by="person")
    one = pd.read_csv(path, dtype={"tracks": str}).set_index("person_id")
    assert one.loc[1, "tracks"] == "1;3" and one.loc[1, "rows"] == 35
    assert np.isclose(one.loc[1, "share_happy"], 20 / 35) and np.isclose(one.loc[1, "share_neutral"], 15 / 35)
    with pytest.raises(ConfigError, match="choose from track, person"):
        export(out, ["windows"], to=tmp_path / "z", by="face")
    r = runner.invoke(app, ["export", str(out), "-f", "windows", "--by", "person", "--every", "5s", "--to", str(tmp_path / "c")])
    assert r.exit_code == 0 and (tmp_path / "c" / "windows_5s_by_person.csv").exists(), r.output


def test_elan_reads_back_with_the_same_tiers_and_segments(study, tmp_path):
    import pympi

    from fervideo.io.export import export

    files = export(study, ["elan"], to=tmp_path / "x")
    assert sorted(p.name for p in files) == ["interview-aaaaaa.eaf", "interview-bbbbbb.eaf"]
    eaf = pympi.Elan.Eaf(str(tmp_path / "x" / "elan" / "interview-aaaaaa.eaf"))
    assert sorted(eaf.get_tier_names()) == ["person 1", "person 2"]  # each track its own person here
    seg = sorted(eaf.get_annotation_data_for_tier("person 1"))
    # same label merged, the 0.5 s gap splits; each row stands for 0.1 s
    assert seg == [(0, 1000, "neutral"), (1000, 2500, "happy"), (3000, 4000, "happy")]
    assert sorted(eaf.get_annotation_data_for_tier("person 2")) == [(0, 2000, "sad")]
    media = eaf.get_linked_files()
    assert media and media[0]["MEDIA_URL"].endswith("/s1/interview.mp4") and media[0]["MEDIA_URL"].startswith("file://")


def test_elan_tiers_per_person_or_per_track(study, tmp_path):
    import pympi

    from fervideo.io.export import export
    from fervideo.io.tables import write_table

    p = study / "interview-aaaaaa" / "timeline.parquet"
    tl = pq.read_table(p)
    i = tl.column_names.index("person_id")
    tl = tl.set_column(i, tl.field(i), pa.array(np.where(tl["track_id"].to_numpy() == 1, 7, 8).astype(np.int32)))
    j = tl.column_names.index("person_name")
    tl = tl.set_column(j, tl.field(j), pa.array(["mother" if t == 1 else None for t in tl["track_id"].to_pylist()]))
    write_table(tl, p)
    export(study, ["elan"], to=tmp_path / "x")
    eaf = pympi.Elan.Eaf(str(tmp_path / "x" / "elan" / "interview-aaaaaa.eaf"))
    assert sorted(eaf.get_tier_names()) == ["mother (person 7)", "person 8"]
    # a study analysed without persons (or before them): one tier per track
    write_table(tl.drop_columns(["person_id", "person_name", "person_role"]), p)
    export(study, ["elan"], to=tmp_path / "y")
    eaf = pympi.Elan.Eaf(str(tmp_path / "y" / "elan" / "interview-aaaaaa.eaf"))
    assert sorted(eaf.get_tier_names()) == ["track 1", "track 2"]


def test_boris_events_pair_start_and_stop(study, tmp_path):
    from fervideo.io.export import export

    files = export(study, ["boris"], to=tmp_path / "x")
    xlsx = sorted(p for p in files if p.suffix == ".xlsx")
    assert [p.name for p in xlsx] == ["interview-aaaaaa.xlsx", "interview-bbbbbb.xlsx"]
    ev = pd.read_excel(xlsx[0])
    assert list(ev.columns) == ["time", "subject", "code", "modifier", "comment"]
    assert ev["time"].is_monotonic_increasing
    t1 = ev[ev.subject == "person 1"]
    assert list(zip(t1.time, t1.code)) == [(0.0, "neutral"), (1.0, "neutral"), (1.0, "happy"), (2.5, "happy"),
                                           (3.0, "happy"), (4.0, "happy")]
    # BORIS pairs the events of one subject and behaviour in turn: START, STOP, START, ...
    assert (t1.groupby("code").size() % 2 == 0).all()
    csv = pd.read_csv(xlsx[0].with_suffix(".csv"))
    assert csv[["time", "subject", "code"]].equals(ev[["time", "subject", "code"]])


def test_quality_filters(study, tmp_path):
    import pympi

    from fervideo.io.export import export

    export(study, ["csv", "elan"], to=tmp_path / "all")
    export(study, ["csv", "elan"], to=tmp_path / "big", min_face=40)
    export(study, ["csv", "elan"], to=tmp_path / "front", min_frontal=0.5)
    every = pd.read_csv(tmp_path / "all" / "timeline.csv")
    big = pd.read_csv(tmp_path / "big" / "timeline.csv")
    front = pd.read_csv(tmp_path / "front" / "timeline.csv")
    assert (big["face_px"] >= 40).all() and len(big) == len(every) - 5  # track 1 after 3.5 s
    assert (front["frontal"] >= 0.5).all() and len(front) == len(every) - 10  # track 2 after 1.0 s
    eaf = pympi.Elan.Eaf(str(tmp_path / "big" / "elan" / "interview-aaaaaa.eaf"))
    assert sorted(eaf.get_annotation_data_for_tier("person 1"))[-1] == (3000, 3500, "happy")
    # per-track tables are the run's own: not filtered
    assert len(pd.read_csv(tmp_path / "big" / "tracks.csv")) == 3
    from fervideo.core.errors import ConfigError

    with pytest.raises(ConfigError, match="min_score"):
        export(study, ["csv"], to=tmp_path / "bad", min_score=1.5)


def test_export_command(study, tmp_path):
    r = runner.invoke(app, ["export", str(study), "--format", "csv,windows", "--format", "elan", "--format", "boris",
                            "--every", "5s", "--min-face", "40", "--to", str(tmp_path / "e")])
    assert r.exit_code == 0, r.output
    for f in ("timeline.csv", "windows_5s.csv", "elan/interview-aaaaaa.eaf", "boris/interview-bbbbbb.xlsx"):
        assert (tmp_path / "e" / f).exists(), f
    r = runner.invoke(app, ["export", str(study), "--format", "spss"])
    assert r.exit_code == 1 and "unknown export format 'spss'" in r.output and "csv" in r.output
    r = runner.invoke(app, ["export", str(study), "--format", "windows", "--every", "soon"])
    assert r.exit_code == 1 and "--every" in r.output
    r = runner.invoke(app, ["export", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "not a fervideo output folder" in r.output
    r = runner.invoke(app, ["export", str(study)])  # default: CSV into OUT/export
    assert r.exit_code == 0 and (study / "export" / "timeline.csv").exists()


@pytest.mark.slow
def test_quality_columns_from_a_real_analysis_and_export(clips, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0, r.output
    tl = pq.read_table(out / "face" / "timeline.parquet").to_pandas()
    w, h = tl["x2"] - tl["x1"], tl["y2"] - tl["y1"]
    assert np.allclose(tl["face_px"], np.minimum(w, h), atol=1e-3)
    assert tl["frontal"].between(0, 1).all() and tl["frontal"].median() > 0.7  # the astronaut looks at the camera
    r = runner.invoke(app, ["export", str(out), "--format", "csv,elan,boris,windows", "--min-score", "0.5"])
    assert r.exit_code == 0, r.output
    assert (out / "export" / "elan" / "face.eaf").exists()
