"""Benchmark: per-stage and end-to-end frames/s and realtime factor (not a test).

    python bench/bench.py [VIDEOS...] [--fps 0] [--device cpu|cuda|auto] [--repeat 2]

Defaults to ../shared/data/videos/*.mp4. For each device (CPU, and CUDA when torch sees a
GPU) and analysis setting, runs ``fervideo.analyze`` end to end (render included) and
prints, per video, seconds per stage, stage throughput and end-to-end frames/s plus the
realtime factor (video seconds per wall second). Also times the classifier alone
(crops/s at batch 64) and the detector alone (frames/s at each detection size).
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fervideo  # noqa: E402
from fervideo.modeling.catalog import DEFAULT_MODEL  # noqa: E402
from fervideo.stages.decode import VideoSource  # noqa: E402
from fervideo.train.evaluate import measure_speed  # noqa: E402


def machine() -> str:
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def bench_detector(video: str, size: int, device: str, batch: int = 16) -> float:
    from fervideo.stages import detect

    det = detect.create("centerface", size=size, device=device)
    ch = next(VideoSource(video).chunks(0, chunk_frames=batch))
    det.detect(ch.frames, ch.times)
    t = time.perf_counter()
    for _ in range(3):
        det.detect(ch.frames, ch.times)
    return 3 * len(ch.times) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--fps", type=float, nargs="*", default=[0.0, 10.0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    videos = args.videos or sorted(glob.glob(str(Path(__file__).resolve().parent.parent.parent / "shared/data/videos/*.mp4")))
    if not videos:
        sys.exit("no videos: pass paths or put them in ../shared/data/videos/")
    import torch

    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"machine: {machine()}")
    for dev in devices:
        print(f"\n== device {dev}")
        print(f"classifier alone: {measure_speed(DEFAULT_MODEL, device=dev, batch_size=64):.0f} crops/s (batch 64, best of 3)")
        for size in (320, 480, 608):
            print(f"centerface alone at {size}px: {bench_detector(videos[0], size, dev):.1f} frames/s (batch 16)")
        for fps in args.fps:
            for v in videos:
                info = VideoSource(v).info
                best = None
                for _ in range(args.repeat):
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
                st = vr.stage_seconds
                print(f"\n{Path(v).name} ({info.num_frames} frames, {info.duration_s:.1f} s, {info.width}x{info.height}) --fps {fps:g}:"
                      f" {vr.frames} analysed frames, {vr.tracks} track(s)")
                for k, sec in st.items():
                    n = info.num_frames if k == "render" else vr.frames
                    rate = f"{n / sec:8.1f} frames/s" if sec > 0 else ""
                    print(f"  {k:9s} {sec:7.2f} s {rate}")
                print(f"  end to end (incl. model load, render): {wall:.2f} s = {vr.frames / wall:.1f} analysed frames/s, "
                      f"{info.num_frames / wall:.1f} video frames/s, realtime x{info.duration_s / wall:.2f}")


if __name__ == "__main__":
    main()
