"""fervideo against the ``fer`` package on the same video, same run (not a test).

    python bench/vs_fer.py [VIDEO] [--repeat 3] [--fer-python /tmp/fervenv/bin/python]

Both do the same job: every frame analysed, an annotated video written. Each runs as a
subprocess, alternating (fer, fervideo, fer, fervideo...), so a busy machine slows both alike.
Times:

- fervideo: the whole ``fervideo analyze VIDEO --fps 0`` command (interpreter start, imports,
  model loading, analysis, tables, annotated video);
- fer: the whole process, and its ``Video.analyze`` call alone (what the issue measured: no
  TensorFlow import, no model loading). fer runs with its defaults (Haar cascade, its
  quantised mini-Xception through TFLite) and writes only its annotated video
  (``save_frames=False``: its default also writes every frame as a JPEG).

The ratio against the goal (>= 3x) is fer's ``analyze`` call over fervideo's whole process,
the harder of the two. CPU seconds (user + system of the child) are printed as well: they
move much less than wall time when other processes compete for the CPU.

fer lives in its own virtual environment, because it needs TensorFlow:
``python3 -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install fer tensorflow-cpu "setuptools<81"``
(fer 25.10 imports ``pkg_resources``, which setuptools 81 removed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "videos" / "talking_head_596x336.mp4"

FER_CHILD = r"""
import json, os, resource, sys, time, logging
logging.disable(logging.INFO)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
import fer
from fer.classes import Video  # fer 25.x: the package root exports nothing
from fer.fer import FER
# Defaults (Haar cascade + quantised mini-Xception through TFLite), with the cascade file fer
# ships itself: opencv 5 no longer has cv2.data's copy, where FER() looks by default.
det = FER(cascade_file=os.path.join(os.path.dirname(fer.__file__), "data", "haarcascade_frontalface_default.xml"))
video = Video(sys.argv[1], outdir=sys.argv[2])
t, c = time.perf_counter(), cpu()
data = video.analyze(det, display=False, save_frames=False, save_video=True, annotate_frames=True, zip_images=False)
print(json.dumps({"analyze_s": time.perf_counter() - t, "analyze_cpu": cpu() - c, "frames_with_faces": len(data)}))
"""


def _timed(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, child CPU seconds, result) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return wall, cpu, p


def fervideo_cmd(video: Path, out: Path, extra: list[str]) -> list[str]:
    exe = Path(sys.executable).parent / "fervideo"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "fervideo._cli"]
    return base + ["analyze", str(video), "--out", str(out), "--fps", "0", "--overwrite", *extra]


def run_fervideo(video: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as d:
        wall, cpu, _ = _timed(fervideo_cmd(video, Path(d), extra))
        if not (Path(d) / video.stem / "annotated.mp4").exists():
            sys.exit("fervideo wrote no annotated.mp4")
    return {"wall": wall, "cpu": cpu}


def run_fer(video: Path, fer_python: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        # cwd: fer's analyze() always writes data.csv into the working directory
        wall, cpu, p = _timed([fer_python, "-c", FER_CHILD, str(video), d], env, cwd=d)
        if not any(Path(d).glob("*_output*")):
            sys.exit("fer wrote no output video")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"wall": wall, "cpu": cpu, "analyze": r["analyze_s"], "analyze_cpu": r["analyze_cpu"], "frames_with_faces": r["frames_with_faces"]}


def compare(video: Path, repeat: int, fer_python: str, extra: list[str]) -> dict:
    """Alternating runs; medians and ratios."""
    fer, fv = [], []
    for i in range(repeat):
        fer.append(run_fer(video, fer_python))
        fv.append(run_fervideo(video, extra))
        print(f"  run {i + 1}: fer {fer[-1]['wall']:.2f} s (analyze call {fer[-1]['analyze']:.2f} s, cpu {fer[-1]['cpu']:.2f} s,"
              f" analyze call cpu {fer[-1]['analyze_cpu']:.2f} s)"
              f" | fervideo {fv[-1]['wall']:.2f} s (cpu {fv[-1]['cpu']:.2f} s)", flush=True)
    med = {k: statistics.median(r[k] for r in fer) for k in ("wall", "cpu", "analyze", "analyze_cpu")}
    mfv = {k: statistics.median(r[k] for r in fv) for k in ("wall", "cpu")}
    return {
        "fer": med, "fervideo": mfv,
        "ratio_analyze_call": med["analyze"] / mfv["wall"],
        "ratio_whole_process": med["wall"] / mfv["wall"],
        "ratio_cpu": med["cpu"] / mfv["cpu"],
        "ratio_analyze_cpu": med["analyze_cpu"] / mfv["cpu"],
        "per_run": [f["analyze"] / v["wall"] for f, v in zip(fer, fv)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fer-python", default=os.environ.get("FER_PYTHON", "/tmp/fervenv/bin/python"))
    ap.add_argument("fervideo_args", nargs=argparse.REMAINDER, help="after --: extra options for fervideo analyze")
    a = ap.parse_args()
    extra = [x for x in a.fervideo_args if x != "--"]
    if not a.video.exists():
        sys.exit(f"{a.video}: no such video")
    if not Path(a.fer_python).exists():
        sys.exit(f"{a.fer_python}: no such interpreter; python3 -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install fer tensorflow-cpu 'setuptools<81'")
    print(f"{a.video.name}, every frame, annotated video; {a.repeat} alternating runs; load average {os.getloadavg()[0]:.1f}")
    r = compare(a.video, a.repeat, a.fer_python, extra)
    print(f"fer      : whole process {r['fer']['wall']:.2f} s, analyze call {r['fer']['analyze']:.2f} s, cpu {r['fer']['cpu']:.2f} s,"
          f" analyze call cpu {r['fer']['analyze_cpu']:.2f} s (medians)")
    print(f"fervideo : whole process {r['fervideo']['wall']:.2f} s, cpu {r['fervideo']['cpu']:.2f} s (medians)")
    print(f"ratio fer analyze call / fervideo whole process: x{r['ratio_analyze_call']:.2f} (goal >= 3; per run "
          + ", ".join(f"x{x:.2f}" for x in r["per_run"]) + ")")
    print(f"ratio whole process: x{r['ratio_whole_process']:.2f}; cpu seconds, whole processes: x{r['ratio_cpu']:.2f},"
          f" fer's analyze call / fervideo's whole process: x{r['ratio_analyze_cpu']:.2f}; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
