"""Benchmark: the speed goals, per-stage times, stages alone (not a test).

    python bench/bench.py                     # goals + stage tables on the default videos
    python bench/bench.py --goals-only        # just the three goals (about 10 minutes here)
    python bench/bench.py VIDEOS... --fps 0 10 --repeat 2 --no-goals

Goals (issue 13), each as a ratio measured in this run, side by side:

(a) ``talking_head_596x336.mp4`` at every frame with the annotated video, whole process
    (``fervideo analyze`` in a subprocess: interpreter, imports, model loading included)
    against the ``fer`` package on the same video in the same run (``bench/vs_fer.py``,
    alternating): goal >= 3x. Needs fer in its own venv (see vs_fer.py); skipped without it.
(b) the generated 720p multi-face clip (``bench/make_multiface.py``: 72 s, 25 fps, 2-5
    faces, 13 cuts; made once, cached) at default options: goal >= 6x realtime with the
    annotated video, >= 10x with ``--no-render``; also printed with the fixed detection
    schedule of earlier versions (``--detect-max-interval 0``).
(c) start-up: ``fervideo --help``, ``fervideo analyze --help`` and ``import fervideo``:
    goal < 0.5 s.

Every subprocess time is printed as wall seconds and CPU seconds (user + system): on a shared
machine wall time moves with the load and CPU time much less, so both are given, with the
load average. Then, per video and ``--fps``, ``fervideo.analyze`` in this process: seconds
per stage, stage throughput and end to end; and the stages alone: classifier crops/s (torch
and onnxruntime in fp32 and int8), CenterFace frames/s at three sizes.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fervideo
from fervideo.modeling.catalog import DEFAULT_MODEL
from fervideo.stages.decode import VideoSource

SHARED = ROOT.parent / "shared" / "data" / "videos"
TALKING_HEAD = SHARED / "talking_head_596x336.mp4"


def machine() -> str:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from fervideo.core.device import cuda_possible

    gpu = "no GPU"
    if cuda_possible():
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    import onnxruntime

    return f"{cpu}, {os.cpu_count()} cores, {gpu}, onnxruntime {onnxruntime.__version__}"


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.1f} / {b:.1f} / {c:.1f} on {os.cpu_count()} cores"


# -- subprocess timing ---------------------------------------------------------------------
def timed(cmd: list[str], cwd: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one subprocess; exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])}... failed ({p.returncode}):\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fervideo_exe() -> list[str]:
    exe = Path(sys.executable).parent / "fervideo"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fervideo._cli"]


def analyze_cli(video: Path, extra: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        return timed(fervideo_exe() + ["analyze", str(video), "--out", d, "--overwrite", *extra])


def goal_fer(repeat: int) -> None:
    import vs_fer

    print("\n(a) talking_head at every frame, annotated video, whole process, against fer (goal >= 3x)")
    fer_python = os.environ.get("FER_PYTHON", "/tmp/fervenv/bin/python")
    if not TALKING_HEAD.exists():
        print(f"  skipped: {TALKING_HEAD} not found")
        return
    if not Path(fer_python).exists():
        print(f"  fer not installed ({fer_python}); fervideo alone:")
        runs = [analyze_cli(TALKING_HEAD, ["--fps", "0"]) for _ in range(repeat)]
        print(f"  fervideo: {statistics.median(r[0] for r in runs):.2f} s wall, {statistics.median(r[1] for r in runs):.2f} s CPU (medians)")
        return
    r = vs_fer.compare(TALKING_HEAD, repeat, fer_python, [])
    print(f"  fer: analyze call {r['fer']['analyze']:.2f} s ({r['fer']['analyze_cpu']:.2f} s CPU), whole process {r['fer']['wall']:.2f} s"
          f" ({r['fer']['cpu']:.2f} s CPU); fervideo whole process {r['fervideo']['wall']:.2f} s ({r['fervideo']['cpu']:.2f} s CPU)")
    print(f"  ratio (fer's analyze call / fervideo's whole process): x{r['ratio_analyze_call']:.2f} wall, x{r['ratio_analyze_cpu']:.2f} CPU"
          f" -> {'MET' if r['ratio_analyze_call'] >= 3 else 'not met'} (goal x3, wall)")


def goal_multiface(repeat: int) -> None:
    import make_multiface

    clip = make_multiface.ensure()
    info = VideoSource(clip).info
    print(f"\n(b) {clip.name}: {info.num_frames} frames, {info.duration_s:.1f} s, {info.width}x{info.height}"
          " (goals: x6 realtime with the annotated video, x10 with --no-render)")
    fixed = ["--detect-max-interval", "0"]  # the fixed schedule of earlier versions
    settings = [
        ("defaults", [], 6.0),
        ("--no-render", ["--no-render"], 10.0),
        ("fixed schedule", fixed, 6.0),
        ("fixed schedule --no-render", [*fixed, "--no-render"], 10.0),
    ]
    res: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in settings}
    for _ in range(repeat):  # alternating, so a change of load hits every setting alike
        for name, extra, _ in settings:
            res[name].append(analyze_cli(clip, extra))
    for name, _, goal in settings:
        wall = statistics.median(r[0] for r in res[name])
        cpu = statistics.median(r[1] for r in res[name])
        x = info.duration_s / wall
        print(f"  {name:38s} {wall:6.1f} s wall ({cpu:6.1f} s CPU): realtime x{x:.2f} wall, x{info.duration_s / cpu:.2f} per CPU-second"
              f" -> {'MET' if x >= goal else 'not met'} (goal x{goal:g})")


def goal_startup(repeat: int = 5) -> None:
    print("\n(c) start-up (goal < 0.5 s), median of 5")
    cmds = [("fervideo --help", fervideo_exe() + ["--help"]),
            ("fervideo analyze --help", fervideo_exe() + ["analyze", "--help"]),
            ("python -c 'import fervideo'", [sys.executable, "-c", "import fervideo"])]
    for name, cmd in cmds:
        runs = [timed(cmd) for _ in range(repeat)]
        wall = statistics.median(r[0] for r in runs)
        print(f"  {name:30s} {wall:.2f} s wall ({statistics.median(r[1] for r in runs):.2f} s CPU) -> {'MET' if wall < 0.5 else 'not met'}")


# -- in-process stage tables -----------------------------------------------------------------
def bench_detector(video: str, size: int, device: str, batch: int = 16) -> float:
    from fervideo.stages import detect

    det = detect.create("centerface", size=size, device=device)
    ch = next(VideoSource(video).chunks(0, chunk_frames=batch))
    det.detect(ch.frames, ch.times)
    t = time.perf_counter()
    for _ in range(3):
        det.detect(ch.frames, ch.times)
    return 3 * len(ch.times) / (time.perf_counter() - t)


def bench_onnx_classifier(batch: int = 64, n: int = 2048, precision: str = "fp32") -> float:
    from fervideo.stages.classify_onnx import OnnxEmotionClassifier

    clf = OnnxEmotionClassifier(None, batch_size=batch, precision=precision)
    s = clf.input_size
    x = np.random.default_rng(0).integers(0, 255, (n, s, s, 3), dtype=np.uint8)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        clf.predict(x)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def stage_tables(videos: list[str], fps_list: list[float], dev: str, repeat: int) -> None:
    from fervideo.train.evaluate import measure_speed

    print(f"\n== device {dev}")
    print(f"classifier alone: torch {measure_speed(DEFAULT_MODEL, device=dev, batch_size=64):.0f} crops/s (batch 64, best of 3)"
          + (f"; onnxruntime fp32 {bench_onnx_classifier():.0f} crops/s, int8 (analyze's default) "
             f"{bench_onnx_classifier(precision='int8'):.0f}" if dev == "cpu" else ""))
    for size in (320, 480, 608):
        print(f"centerface alone at {size}px: {bench_detector(videos[0], size, dev):.1f} frames/s (batch 16)")
    for fps in fps_list:
        for v in videos:
            info = VideoSource(v).info
            best = None
            for _ in range(repeat):
                with tempfile.TemporaryDirectory() as out:
                    t = time.perf_counter()
                    r = fervideo.analyze([v], out, fps=fps, device=dev, overwrite=True)
                    wall = time.perf_counter() - t
                vr = r.videos[0]
                if vr.status != "done":
                    sys.exit(f"{v}: {vr.reason}")
                if best is None or wall < best[0]:
                    best = (wall, vr)
            wall, vr = best
            print(f"\n{Path(v).name} ({info.num_frames} frames, {info.duration_s:.1f} s, {info.width}x{info.height}) --fps {fps:g}:"
                  f" {vr.frames} analysed frames, {vr.tracks} track(s)")
            for k, sec in vr.stage_seconds.items():
                n = info.num_frames if k == "render" else vr.frames
                rate = f"{n / sec:8.1f} frames/s" if sec > 0 else ""
                print(f"  {k:9s} {sec:7.2f} s {rate}")
            print(f"  end to end (model loading, render included; imports not): {wall:.2f} s = {vr.frames / wall:.1f} analysed frames/s, "
                  f"{info.num_frames / wall:.1f} video frames/s, realtime x{info.duration_s / wall:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--fps", type=float, nargs="*", default=[0.0, 10.0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--goals", action=argparse.BooleanOptionalAction, default=True, help="measure the three goals first")
    ap.add_argument("--goals-only", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {machine()}; {load()}")
    if args.goals or args.goals_only:
        goal_startup()
        goal_fer(args.repeat)
        goal_multiface(args.repeat)
        print(f"\n{load()}")
        if args.goals_only:
            return
    videos = args.videos
    if not videos:
        import make_multiface

        videos = sorted(glob.glob(str(SHARED / "*.mp4"))) + [str(make_multiface.ensure())]
    from fervideo.core.device import cuda_possible

    devices = [args.device] if args.device else ["cpu"]
    if not args.device and cuda_possible():
        import torch

        devices += ["cuda"] if torch.cuda.is_available() else []
    for dev in devices:
        stage_tables(videos, args.fps, dev, args.repeat)
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
