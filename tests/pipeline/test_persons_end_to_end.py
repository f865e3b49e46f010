"""Persons end to end: analyze joins tracks into persons by default, names come back in every table and the report."""

from __future__ import annotations

import logging
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

import fervideo
import make_samples
from fervideo._cli import app
from fervideo.core.files import CONTACT_SHEET, PEAKS, PERSONS, PERSONS_CSV, STUDY, STUDY_PERSONS, TIMELINE, TRACKS
from fervideo.io.tables import read_metadata
from persons_data import portraits, shots

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two clips in one batch: two people alternating across 4 cuts, and one of them across 2 cuts."""
    d = tmp_path_factory.mktemp("persons")
    a, g = portraits()
    make_samples.write_clip(d / "two.mp4", shots([a, g, a, g]), fps=10.0)
    make_samples.write_clip(d / "one.mp4", shots([a, a]), fps=10.0)
    out = d / "out"
    res = fervideo.analyze([d / "two.mp4", d / "one.mp4"], out, render=False)
    assert [v.status for v in res.videos] == ["done", "done"]
    return out


def test_two_people_across_cuts_are_two_persons_never_one(study):
    tracks = pd.read_parquet(study / "two" / TRACKS)
    assert len(tracks) == 4  # one track per shot
    assert tracks.sort_values("start_s").person_id.tolist() == [1, 2, 1, 2]
    tl = pd.read_parquet(study / "two" / TIMELINE)
    assert tl.groupby("track_id").person_id.nunique().eq(1).all()
    meta = read_metadata(study / "two" / TIMELINE)["persons"]
    assert meta["backend"] == "dlib" and meta["threshold"] == 0.4 and meta["persons"] == 2 and meta["tracks"] == 4
    persons = pd.read_parquet(study / "two" / PERSONS)
    assert persons.person_id.tolist() == [1, 2] and [list(t) for t in persons.tracks] == [[1, 3], [2, 4]]
    assert persons.thumbnail.map(lambda b: b[:2] == b"\xff\xd8").all()  # JPEG
    assert persons.screen_s.gt(1.5).all() and persons.embedding.notna().all()


def test_one_person_across_cuts_is_one_person(study):
    tracks = pd.read_parquet(study / "one" / TRACKS)
    assert len(tracks) == 2 and set(tracks.person_id) == {1}
    sp = pd.read_parquet(study.parent / "out" / STUDY_PERSONS)
    assert sorted(zip(sp.video, sp.person_id)) == [("one.mp4", 1), ("two.mp4", 1), ("two.mp4", 2)]
    assert "person_id" in pd.read_parquet(study / STUDY)


def test_names_round_trip_into_every_table_and_the_report(study):
    runner = CliRunner()
    r = runner.invoke(app, ["persons", str(study), "--across-videos"])
    assert r.exit_code == 0, r.output
    assert (study / CONTACT_SHEET).stat().st_size > 1000
    csv = pd.read_csv(study / PERSONS_CSV, dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["video", "person_id", "study_person", "name", "role"]
    # the astronaut of both videos is one study person, Grace Hopper another
    sp = dict(zip(zip(csv.video, csv.person_id), csv.study_person))
    assert sp[("one", "1")] == sp[("two", "1")] != sp[("two", "2")]
    # name one row of the astronaut's group: the group's other row gets the name when applied
    csv.loc[(csv.video == "two") & (csv.person_id == "1"), ["name", "role"]] = ["Eileen", "participant"]
    csv.loc[(csv.video == "two") & (csv.person_id == "2"), ["name", "role"]] = ["Grace", "interviewer"]
    csv.to_csv(study / PERSONS_CSV, index=False)
    r = runner.invoke(app, ["persons", str(study), "--apply"])
    assert r.exit_code == 0, r.output
    for name in (TIMELINE, TRACKS, PERSONS):
        df = pd.read_parquet(study / "two" / name)
        assert set(zip(df.person_id, df.person_name, df.person_role)) == {(1, "Eileen", "participant"), (2, "Grace", "interviewer")}
        assert read_metadata(study / "two" / name)["persons"]["backend"] == "dlib"  # metadata kept
    peaks = pd.read_parquet(study / "two" / PEAKS)
    assert set(zip(peaks.person_id, peaks.person_name)) <= {(1, "Eileen"), (2, "Grace")}
    one = pd.read_parquet(study / "one" / TIMELINE)
    assert set(one.person_name) == {"Eileen"}
    st = pd.read_parquet(study / STUDY)
    assert set(st[st.person_role != "interviewer"].person_name) == {"Eileen"}  # one line of pandas drops the interviewer
    # writing the template again keeps the names
    assert runner.invoke(app, ["persons", str(study)]).exit_code == 0
    again = pd.read_csv(study / PERSONS_CSV, dtype=str, keep_default_na=False)
    assert set(again.name) == {"Eileen", "Grace", ""}
    r = runner.invoke(app, ["report", str(study)])
    assert r.exit_code == 0, r.output
    html = (study / "report.html").read_text()
    assert "Person 2 &mdash; Grace (interviewer)" in html and "Persons of two" in html
    # each person of "two" has two tracks: a timeline across them follows the gallery (plot --person's figure)
    persons = html.split("Persons of two", 1)[1]
    assert persons.count("<img class='chart'") == 2


def test_no_backend_installed_warns_once_and_keeps_track_ids(tmp_path, monkeypatch, caplog):
    a, g = portraits()
    make_samples.write_clip(tmp_path / "v.mp4", shots([a, g]), fps=10.0)
    monkeypatch.setitem(sys.modules, "dlib", None)  # what Python does when dlib is not installed
    with caplog.at_level(logging.WARNING):
        res = fervideo.analyze([tmp_path / "v.mp4"], tmp_path / "out", render=False)
    assert res.videos[0].status == "done"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "persons off" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "fervideo[persons]" in warnings[0]
    tracks = pd.read_parquet(tmp_path / "out" / "v" / TRACKS)
    assert (tracks.person_id == tracks.track_id).all() and len(tracks) == 2
    meta = read_metadata(tmp_path / "out" / "v" / TRACKS)["persons"]
    assert meta["backend"] is None and "fervideo[persons]" in meta["reason"]


def test_no_persons_option_and_unknown_embedder(tmp_path, clips):
    res = fervideo.analyze([clips["face"]], tmp_path / "off", render=False, persons=False)
    assert res.videos[0].status == "done"
    meta = read_metadata(tmp_path / "off" / "face" / PERSONS)["persons"]
    assert meta["backend"] is None and "--no-persons" in meta["reason"]
    r = CliRunner().invoke(app, ["analyze", str(clips["face"]), "-o", str(tmp_path / "x"), "--embedder", "facenet"])
    assert r.exit_code == 1 and "unknown embedder 'facenet'; choose one of: arcface, dlib, onnx" in r.output
