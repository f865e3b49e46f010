"""Valence, peaks, plot and the HTML report on a generated study."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fervideo.core.affect import find_peaks, valence
from fervideo._cli import app

runner = CliRunner()
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_valence_formula():
    p = np.zeros((3, 7), np.float32)
    p[0, 3] = 0.9
    p[0, 6] = 0.1  # happy
    p[1, 4] = 0.7
    p[1, 0] = 0.3  # sad strongest negative
    p[2, 5] = 1.0  # surprise counts as neither
    assert valence(p, LABELS).tolist() == pytest.approx([0.9, -0.7, 0.0])


def test_peaks_are_stretches_above_threshold():
    t = np.arange(40) * 0.1
    happy = np.where((t >= 1.0) & (t < 2.0), 0.8, 0.1)
    happy[15] = 0.95
    df = pd.DataFrame({"video": "v.mp4", "track_id": 1, "time_s": t, "frame_index": np.arange(40)})
    for c in LABELS:
        df[f"smooth_{c}"] = happy if c == "happy" else (1 - happy) / 6
    pk = find_peaks(df, LABELS, threshold=0.5)
    assert len(pk) == 1
    row = pk.iloc[0]
    assert row.emotion == "happy" and row.time_s == pytest.approx(1.5) and row.value == pytest.approx(0.95)
    assert row.start_s == pytest.approx(1.0) and row.duration_s == pytest.approx(0.9)


@pytest.fixture(scope="module")
def study(clips, tmp_path_factory):
    import fervideo

    out = tmp_path_factory.mktemp("study")
    missing = out / "missing.mp4"
    res = fervideo.analyze([clips["face"], clips["noface"], missing], out)
    assert [v.status for v in res.videos] == ["done", "done", "failed"]
    return out


def test_analyze_writes_valence_and_peaks(study):
    tl = pd.read_parquet(study / "face" / "timeline.parquet")
    assert tl.valence.between(-1, 1).all()
    assert "mean_valence" in pd.read_parquet(study / "face" / "tracks.parquet")
    pk = pd.read_parquet(study / "face" / "peaks.parquet")
    assert list(pk.columns) == ["video", "video_path", "video_folder", "track_id", "person_id", "person_name", "person_role", "emotion", "time_s", "frame_index", "value",
                                "start_s", "end_s", "duration_s"]
    assert pd.read_parquet(study / "noface" / "peaks.parquet").empty


@pytest.mark.parametrize("ext,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_formats(study, tmp_path, ext, magic):
    out = tmp_path / f"fig{ext}"
    r = runner.invoke(app, ["plot", str(study / "face" / "timeline.parquet"), "--track", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:5].startswith(magic)


def test_plot_unknown_track_is_one_line(study, tmp_path):
    r = runner.invoke(app, ["plot", str(study / "face" / "timeline.parquet"), "--track", "99", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and "no track 99" in r.output


def test_report_has_every_section_and_no_external_resources(study):
    r = runner.invoke(app, ["report", str(study)])
    assert r.exit_code == 0, r.output
    html = (study / "report.html").read_text()
    for needle in ("Study overview", "Failures", "missing.mp4", "Models and options", "Tracks (click a column to sort)",
                   "Emotion share per video", "Tracks by emotion", "<h2 id='v-face'>", "<h2 id='v-noface'>",
                   "No faces found", "annotated.mp4#t=", "class='face'", "class='strip'"):
        assert needle in html, needle
    assert not re.search(r"""(src|href)=['"]https?://""", html)  # opens offline
    imgs = re.findall(r"data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)", html)
    assert len(imgs) >= 5
    base64.b64decode(imgs[0], validate=True)


def test_peaks_do_not_cross_gaps_and_split_stretches():
    t = np.concatenate([np.arange(10) * 0.1, 5 + np.arange(10) * 0.1])
    happy = np.full(20, 0.9)
    happy[4] = 0.2  # splits the first stretch
    df = pd.DataFrame({"video": "v.mp4", "track_id": 3, "time_s": t, "frame_index": np.arange(20)})
    for c in LABELS:
        df[f"smooth_{c}"] = happy if c == "happy" else (1 - happy) / 6
    pk = find_peaks(df, LABELS, threshold=0.5, max_gap=1.0).sort_values("start_s")
    assert pk.start_s.round(2).tolist() == [0.0, 0.5, 5.0]
    assert pk.end_s.round(2).tolist() == [0.3, 0.9, 5.9]


def chromium_console(html_path) -> tuple[str, str]:
    """Load a page in headless Chromium; returns (DOM after scripts ran, console/log output)."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as prof:
        p = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={prof}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=3000", "--dump-dom", html_path.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    return p.stdout, p.stderr


@pytest.mark.skipif(not __import__("shutil").which("chromium"), reason="Chromium is not installed here")
def test_report_opens_in_headless_chromium_without_console_errors(study):
    runner.invoke(app, ["report", str(study)])
    dom, log = chromium_console(study / "report.html")
    assert "Study overview" in dom and "Tracks by emotion" in dom
    console = [ln for ln in log.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console


def test_face_thumbnail_from_a_scaled_annotated_video_when_the_input_is_gone(clips, tmp_path):
    """The report falls back to annotated.mp4 for thumbnails; with --render-height it is smaller
    than the analysed video, whose pixels the boxes are in: the crop is scaled, not misplaced."""
    import shutil

    import cv2

    import fervideo
    from fervideo.stages.decode import VideoSource
    from fervideo.study.report import write_report

    src = tmp_path / "face.mp4"
    shutil.copy(clips["face"], src)
    out = tmp_path / "out"
    fervideo.analyze([src], out, persons=False, render_height=120)  # 320x240 in, 160x120 out
    src.unlink()  # only the annotated video is left to take frames from
    html = write_report(out).read_text()
    b64 = re.search(r"class='face' loading='lazy' src='data:image/jpeg;base64,([^']+)'", html).group(1)
    thumb = cv2.cvtColor(cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    tl = pd.read_parquet(out / "face" / "timeline.parquet")
    row = tl.loc[tl.det_score.idxmax()]
    frame = VideoSource(out / "face" / "annotated.mp4").frames_at([float(row.time_s)])[0]

    def crop(scale):
        x1, y1, x2, y2 = (row[c] * scale for c in ("x1", "y1", "x2", "y2"))
        m = 0.15 * (x2 - x1)
        c = frame[max(0, int(y1 - m)):int(y2 + m), max(0, int(x1 - m)):int(x2 + m)]
        return cv2.resize(c, (96, 96), interpolation=cv2.INTER_AREA).astype(int)

    right, wrong = np.abs(crop(0.5) - thumb).mean(), np.abs(crop(1.0) - thumb).mean()
    assert right < 6 and wrong > 3 * right, (right, wrong)
