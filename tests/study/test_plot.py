"""Track and person figures: drawn without touching pyplot's global state, gaps left empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _timeline() -> pd.DataFrame:
    t = np.arange(30) * 0.1
    p = np.linspace(0, 1, 30)
    return pd.DataFrame({"track_id": 1, "time_s": t, "smooth_happy": p, "smooth_sad": 1 - p, "raw_happy": p,
                         "raw_sad": 1 - p, "valence": 2 * p - 1})


def test_track_figure_keeps_the_users_backend_and_figure_list(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from fervideo.study.plot import track_figure

    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # the user's choice (any backend other than Agg shows a switch)
    try:
        figures = plt.get_fignums()
        fig = track_figure(_timeline(), 1)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == figures
    finally:
        matplotlib.use(backend)
    for ext, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        fig.savefig(tmp_path / f"t{ext}")
        assert (tmp_path / f"t{ext}").read_bytes().startswith(magic)


def _two_tracks_one_person() -> pd.DataFrame:
    """Person 1 = track 1 (0-2.9 s) and track 3 (6-8.9 s), person 2 = track 2 (3-5.9 s), as after cuts."""
    parts = []
    for track, person, start in ((1, 1, 0.0), (2, 2, 3.0), (3, 1, 6.0)):
        d = _timeline()
        d["time_s"] += start
        d["track_id"], d["person_id"], d["person_name"], d["video"] = track, person, None, "v.mp4"
        parts.append(d)
    df = pd.concat(parts, ignore_index=True)
    df.loc[df.person_id == 1, "person_name"] = "Anna"
    return df


def test_gaps_stay_empty_instead_of_a_wedge_towards_the_next_sample():
    """The stacked areas draw blank rows as 0: a blank row on each side of a gap keeps them at 0 across it."""
    from fervideo.study.plot import downsample

    d = _two_tracks_one_person()
    g = downsample(d[d.person_id == 1])
    blank = g.smooth_happy.isna().to_numpy()
    assert blank.sum() == 2
    t = g.time_s.to_numpy()
    assert abs(t[blank][0] - 2.9) < 1e-3 and abs(t[blank][1] - 6.0) < 1e-3


def test_person_figure_joins_the_persons_tracks_and_marks_where_each_starts(tmp_path):
    from fervideo.study.plot import person_figure

    df = _two_tracks_one_person()
    fig = person_figure(df, 1)
    ax = fig.axes[0]
    assert ax.get_title(loc="left") == "person 1 (Anna): tracks 1, 3"
    lo, hi = ax.get_xlim()
    assert lo <= 0.0 and hi >= 8.9 - 1e-6
    assert [t.get_text().strip() for t in ax.texts] == ["t1", "t3"]
    assert person_figure(df, 2).axes[0].get_title(loc="left") == "person 2: track 2"
    with pytest.raises(ValueError, match=r"persons: \[1, 2\]"):
        person_figure(df, 7)
    with pytest.raises(ValueError, match="no person_id"):
        person_figure(df.drop(columns="person_id"), 1)


def test_plot_command_draws_a_person_or_a_track_not_both(tmp_path):
    from typer.testing import CliRunner

    from fervideo._cli import app

    video = tmp_path / "v"
    video.mkdir()
    _two_tracks_one_person().to_parquet(video / "timeline.parquet")
    r = CliRunner().invoke(app, ["plot", str(video), "--person", "1", "-o", str(tmp_path / "p.png")])
    assert r.exit_code == 0 and (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG"), r.output
    r = CliRunner().invoke(app, ["plot", str(video), "-t", "2", "-p", "1", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and "give one" in r.output and not (tmp_path / "x.png").exists()
    r = CliRunner().invoke(app, ["plot", str(video), "-p", "5", "-o", str(tmp_path / "x.png")], env={"COLUMNS": "200"})
    assert r.exit_code == 1 and "no person 5" in r.output


def test_plot_names_its_figure_after_the_video_and_the_person_or_track(tmp_path, monkeypatch):
    """Without --out, figures of different people and videos made in one folder do not overwrite each other."""
    from typer.testing import CliRunner

    from fervideo._cli import app

    video = tmp_path / "interview_03"
    video.mkdir()
    _two_tracks_one_person().to_parquet(video / "timeline.parquet")
    here = tmp_path / "figs"
    here.mkdir()
    monkeypatch.chdir(here)
    for args in (["--person", "1"], ["--person", "2"], ["--track", "3"], []):
        r = CliRunner().invoke(app, ["plot", str(video), *args])
        assert r.exit_code == 0, r.output
    assert sorted(f.name for f in here.iterdir()) == [
        "interview_03_person1.png", "interview_03_person2.png", "interview_03_track1.png", "interview_03_track3.png"]
    r = CliRunner().invoke(app, ["plot", "--help"], env={"COLUMNS": "200"})
    assert "(default 1)" in r.output and "VIDEO_person<N>.png" in r.output  # not eaten as markup


def test_legend_lists_the_bands_top_down_and_peak_labels_at_the_ends_stay_inside():
    from fervideo.study.plot import track_figure

    tl = _timeline()
    peaks = pd.DataFrame({"track_id": 1, "emotion": ["sad", "happy", "happy"], "time_s": [0.0, 1.5, 2.9],
                          "value": [1.0, 0.6, 1.0]})
    fig = track_figure(tl, 1, peaks)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sad", "happy"]  # sad is drawn on top of happy
    ha = {a.get_text(): a.get_horizontalalignment() for a in ax.texts}
    assert ha == {"sad 0.0s": "left", "happy 1.5s": "center", "happy 2.9s": "right"}
