"""The edges of the CLI: it answers at once, in one line, and says what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.io.tables import read_metadata

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fervideo._cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)


def _errors(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error:")]


@pytest.fixture(scope="module")
def analysed(clips, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edges") / "out"
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--no-render"])
    assert r.exit_code == 0, r.output
    return out


# -- answers at once --------------------------------------------------------------------------
_NO_TORCH = """
import sys
from fervideo._cli import app
try:
    app(sys.argv[1:], prog_name="fervideo")
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in ("torch", "transformers", "onnxruntime") if m in sys.modules)
print("HEAVY:", ",".join(heavy), "EXIT:", code)
"""


@pytest.mark.parametrize("cmd", ["help", "report", "version"])
def test_help_report_and_version_do_not_import_torch(cmd, analysed):
    args = {"help": ["--help"], "report": ["report", str(analysed)], "version": ["--version"]}[cmd]
    r = subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True, text=True, timeout=300)
    last = r.stdout.strip().splitlines()[-1]
    assert last == "HEAVY:  EXIT: 0", (last, r.stderr[-2000:])


def test_version():
    from fervideo import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"fervideo {__version__}"


# -- model names ------------------------------------------------------------------------------
def test_near_miss_model_name_says_did_you_mean_at_once(clips, tmp_path):
    out = tmp_path / "new"
    t = time.perf_counter()
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--model", "fervit-fer2014"])
    took = time.perf_counter() - t
    assert r.exit_code == 1
    err = _errors(r.output)
    assert len(err) == 1 and "did you mean 'fervit-fer2013'?" in err[0], r.output
    assert "Retry" not in r.output and len(r.output.strip().splitlines()) <= 2, r.output
    assert took < 20, took
    assert not out.exists()  # a batch-level error leaves no (empty) output folder behind


def test_hub_model_without_network_fails_after_one_attempt(clips, tmp_path):
    # the hub endpoint points at a closed local port: as offline as a laptop on a train, on any machine
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": ""}
    t = time.perf_counter()
    r = _cli("analyze", str(clips["face"]), "--out", str(tmp_path / "o"), "--model", "someone/emotion-vit", env=env)
    took = time.perf_counter() - t
    assert r.returncode == 1
    err = _errors(r.stderr)
    assert len(err) == 1 and "cannot be reached" in err[0] and "fervit-fer2013" in err[0], r.stderr
    assert "Retry" not in r.stderr and "thrown while requesting" not in r.stderr, r.stderr
    assert took < 30, took
    assert not (tmp_path / "o").exists()


def test_models_info_near_miss_says_did_you_mean():
    r = runner.invoke(app, ["models", "info", "fervit-fer2014"])
    assert r.exit_code == 1
    err = _errors(r.output)
    assert len(err) == 1 and "did you mean 'fervit-fer2013'?" in err[0], r.output


def test_missing_local_model_folder_is_named(clips, tmp_path):
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(tmp_path / "o"), "--model", "./models/fervit-fer2014"])
    assert r.exit_code == 1
    err = _errors(r.output)
    assert len(err) == 1 and "no such model folder" in err[0] and "fervit-fer2013" in err[0], r.output


# -- batch-level errors -----------------------------------------------------------------------
def test_unknown_smoother_leaves_no_output_folder(clips, tmp_path):
    out = tmp_path / "study"
    r = runner.invoke(app, ["analyze", str(clips["face"]), "--out", str(out), "--smooth", "kalman"])
    assert r.exit_code == 1 and "kalman" in r.output
    assert not out.exists()


# -- explain ----------------------------------------------------------------------------------
def test_explain_time_beyond_the_video_fails_clearly(clips, tmp_path):
    out = tmp_path / "x"
    r = runner.invoke(app, ["explain", str(clips["face"]), "--times", "99", "--out", str(out)])
    assert r.exit_code == 1, r.output
    err = _errors(r.output)
    assert len(err) == 1 and "99" in err[0] and "2.0 s" in err[0], r.output
    assert not out.exists() or not any(out.iterdir())


def test_explain_times_that_are_not_numbers_fail_in_one_line(clips, tmp_path):
    r = runner.invoke(app, ["explain", str(clips["face"]), "--times", "0.5,abc", "--out", str(tmp_path / "x")])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert "'abc'" in r.output


def test_explain_missing_image_says_so_without_opencv_noise(tmp_path):
    r = _cli("explain", str(tmp_path / "nosuch.png"), "--out", str(tmp_path / "x"))
    assert r.returncode == 1
    text = (r.stdout + r.stderr).strip()
    assert "WARN" not in text and "imread" not in text, text
    assert len(text.splitlines()) == 1 and "no such file" in text, text


# -- plot -------------------------------------------------------------------------------------
def test_plot_missing_file_says_what_is_wrong(tmp_path):
    r = runner.invoke(app, ["plot", str(tmp_path / "nosuch.parquet"), "--out", str(tmp_path / "f.png")])
    assert r.exit_code == 1
    err = _errors(r.output)
    assert len(err) == 1 and "no such file" in err[0], r.output


def test_plot_accepts_a_video_folder_and_explains_a_study_folder(analysed, tmp_path):
    fig = tmp_path / "f.png"
    r = runner.invoke(app, ["plot", str(analysed / "face"), "--out", str(fig)])
    assert r.exit_code == 0, r.output
    assert fig.exists() and fig.stat().st_size > 1000
    runner.invoke(app, ["report", str(analysed)])  # a report.html next to the video folders
    fig2 = tmp_path / "g.png"
    r = runner.invoke(app, ["plot", str(analysed), "--out", str(fig2)])  # one video in the study: that one
    assert r.exit_code == 0 and fig2.exists(), r.output
    (analysed / "other").mkdir(exist_ok=True)
    (analysed / "other" / "timeline.parquet").write_bytes((analysed / "face" / "timeline.parquet").read_bytes())
    try:
        r = runner.invoke(app, ["plot", str(analysed), "--out", str(tmp_path / "h.png")])
    finally:
        import shutil

        shutil.rmtree(analysed / "other")
    assert r.exit_code == 1
    err = _errors(r.output)
    assert len(err) == 1 and "face" in err[0] and "other" in err[0] and "Parquet" not in err[0], r.output


# -- damaged files, end to end ----------------------------------------------------------------
def test_damaged_video_is_analysed_past_the_damage_and_the_gap_recorded(tmp_path):
    sys.path.insert(0, str(ROOT / "samples"))
    sys.path.insert(0, str(ROOT / "tests" / "stages"))
    import make_samples
    from test_decode_damage import _damage, write_keyframe_clip

    clean = tmp_path / "clean.mp4"
    write_keyframe_clip(clean, make_samples.exact_moving_face(4.0, fps=25.0, size=(240, 180)))
    bad = tmp_path / "damaged.mp4"
    _damage(clean, bad, [(0.5, 3000)])
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", str(bad), "--out", str(out), "--no-render"])
    assert r.exit_code == 0, r.output
    assert "partial" in r.output and "frames lost" in r.output, r.output
    meta = read_metadata(out / "damaged" / "timeline.parquet")
    assert meta["complete"] is False and meta["frames_lost"] > 0
    gaps = meta["decode_gaps"]
    assert gaps and all({"first_frame", "last_frame", "frames", "start_s", "end_s"} <= set(g) for g in gaps)
    assert sum(g["frames"] for g in gaps) == meta["frames_lost"] <= 2 * 10 + 5
    assert 1.0 < gaps[0]["start_s"] < 3.0 and meta["video"]["codec"] == "h264"
    import pandas as pd

    tl = pd.read_parquet(out / "damaged" / "timeline.parquet")
    assert tl.time_s.max() > 3.5  # the second half was analysed
