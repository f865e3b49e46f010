"""What a psychologist reads in the report: options in words, tables that fit the page, peaks
explained, a "how to read this" with the model's measured accuracy, and damaged videos shown
with what they lost. The report is built with decord and with decord hidden."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study(clips, tmp_path_factory) -> Path:
    import fervideo

    sys.path.insert(0, str(ROOT / "samples"))
    sys.path.insert(0, str(ROOT / "tests" / "stages"))
    import make_samples
    from test_decode_damage import _damage, write_keyframe_clip

    d = tmp_path_factory.mktemp("views")
    clean = d / "clean.mp4"
    write_keyframe_clip(clean, make_samples.exact_moving_face(3.0, fps=25.0, size=(240, 180)))
    damaged = d / "damaged.mp4"
    _damage(clean, damaged, [(0.5, 3000)])
    out = d / "out"
    res = fervideo.analyze([clips["face"], damaged], out, render=False, peak_threshold=0.2)
    assert [v.status for v in res.videos] == ["done", "done"]
    return out


@pytest.fixture
def html(study, frame_backend) -> str:
    from fervideo.study.report import write_report

    return write_report(study).read_text()


def test_options_are_a_readable_table_with_the_resolved_model(html):
    assert "model=None" not in html and "[" not in re.sub(r"<script>.*?</script>", "", html, flags=re.S).split("id='options'")[1][:3000]
    block = html.split("id='options'")[1].split("</table>")[0]
    assert "<table" in block and "fervit-fer2013" in block
    assert re.search(r"<td>analysis rate</td><td>10 frames/s</td>", block), block[:2000]


def test_tables_scroll_inside_the_page(html):
    tracks = html.split("Tracks (click a column to sort)")[1]
    assert tracks.lstrip().startswith("</h3><div class='scroll'><table")
    assert ".scroll{overflow-x:auto" in html


def test_peaks_say_what_above_means(html, study):
    assert not re.search(r"\(\d+\.\d s above\)", html)
    pk = pd.read_parquet(study / "face" / "peaks.parquet")
    assert len(pk)  # threshold 0.2: the test clip has peaks
    assert re.search(r"above 0\.20 for \d+\.\d s", html)


def test_how_to_read_this_with_the_models_measured_accuracy(html):
    card = json.loads((ROOT / "models" / "fervit-fer2013" / "card.json").read_text())
    acc = f"{card['val']['accuracy'] * 100:.1f}%"
    part = html.split("id='how-to-read'")[1].split("<h2")[0]
    for needle in (acc, "fervit-fer2013", "valence", "happy", "not what the person feels", "1 in 7", "followed by <b>?</b>"):
        assert needle.lower() in part.lower(), needle


def test_damaged_video_shows_what_was_lost(html, study):
    from fervideo.io.tables import read_metadata

    gap = read_metadata(study / "damaged" / "timeline.parquet")["decode_gaps"][0]
    part = html.split("<h2 id='v-damaged'>")[1].split("<h2")[0]
    assert "frames lost" in part and f"{gap['start_s']:.2f}-{gap['end_s']:.2f} s" in part


def test_thumbnails_with_either_decoder(html):
    assert len(re.findall(r"class='face' loading='lazy' src='data:image/jpeg;base64,", html)) >= 2


def test_figure_title_does_not_overlap_peak_labels():
    import matplotlib

    from fervideo.study.plot import track_figure

    matplotlib.use("Agg")
    t = np.arange(60) * 0.1
    p = np.clip(np.sin(t) * 0.5 + 0.5, 0, 1)
    df = pd.DataFrame({"track_id": 1, "time_s": t, "smooth_happy": p, "smooth_sad": 1 - p, "raw_happy": p,
                       "raw_sad": 1 - p, "valence": 2 * p - 1})
    peaks = pd.DataFrame({"track_id": [1, 1], "emotion": ["happy", "sad"], "time_s": [0.2, 4.7], "value": [0.9, 0.9]})
    fig = track_figure(df, 1, peaks, title="a fairly long title - track 1", width=7.5, height=2.8)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    import matplotlib.text

    title = next(c for c in ax.get_children() if isinstance(c, matplotlib.text.Text)
                 and c.get_text() == "a fairly long title - track 1").get_window_extent(r)
    labels = [a.get_window_extent(r) for a in ax.texts]
    assert labels
    for b in labels:
        assert not title.overlaps(b), (title, b)


def test_tracks_and_persons_say_how_much_of_each_is_a_clear_face(html, study):
    """The report carries the timeline's quality into the summaries: clear_share per track (with
    what it means) and per person, computed from the rows (near-frontal and >= 40 px)."""
    from fervideo.core.quality import clear

    tl = pd.read_parquet(study / "face" / "timeline.parquet")
    tr = pd.read_parquet(study / "face" / "tracks.parquet").set_index("track_id")
    for tid, g in tl.groupby("track_id"):
        assert tr.loc[tid, "clear_share"] == pytest.approx(clear(g.face_px, g.frontal).mean(), abs=1e-6)
    part = html.split("Tracks (click a column to sort)")[1].split("<h2")[0]
    assert "clear_share" in part and "near-frontal" in part
    assert "clear face on" in html
