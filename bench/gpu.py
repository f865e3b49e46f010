"""GPU benchmark: the whole pipeline on CUDA over generated 720p and 1080p clips (not a test).

Requirements on a bare CUDA machine (Python 3.10+, an NVIDIA driver), from the repository root:

    pip install torch --index-url https://download.pytorch.org/whl/cu124   # a CUDA build of torch
    pip install -e .                                                       # fervideo + its dependencies
    # optional: pip install onnxruntime-gpu  (CenterFace on onnxruntime's CUDA provider instead
    #           of the torch rebuild of its graph; needs the matching CUDA/cuDNN libraries)
    python bench/gpu.py

On a machine without network whose image already has CUDA torch and the scientific stack (the
project's lent GPU machines), carry the few missing wheels instead: ``recipes/gpu_wheels.sh``
says how (not yet run on such a machine).

What it prints (every number measured in this run; nothing is estimated):

1. the device (GPU name, torch and CUDA versions, onnxruntime providers);
2. the classifier alone: crops/s of the default model in bf16 at batch 512, 1024 and 2048
   (the issue's target on one H100: >= 20,000 crops/s);
3. CenterFace alone on frames of each size: frames/s at batch 16 and 64;
4. decode alone (PyAV, all decoder threads): frames/s per clip;
5. ``fervideo.analyze`` on each clip with ``--no-render`` (and with the annotated video unless
   ``--no-render-pass``): seconds per stage, frames/s per stage and end to end (the issue's
   target on one H100: >= 1,000 frames/s end to end at 720p with ``--no-render``);
6. with ``--parallel N``: N processes analysing copies of the 720p clip at once, aggregate
   frames/s (decode is CPU work: several videos at once keep the GPU fed).

Without CUDA it exits with a message saying so; ``--device cpu`` runs the same steps on the
CPU as a smoke check (use tiny sizes: ``--device cpu --sizes 320x180 --seconds 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def parse_size(s: str) -> tuple[str, tuple[int, int]]:
    if s in SIZES:
        return s, SIZES[s]
    w, h = (int(x) for x in s.lower().split("x"))
    return s, (w, h)


def device_line(device: str) -> str:
    import onnxruntime as ort
    import torch

    parts = [f"torch {torch.__version__}", f"onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())})"]
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        parts.insert(0, f"{p.name}, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}")
    else:
        parts.insert(0, f"CPU, {os.cpu_count()} cores")
    return "; ".join(parts)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_classifier(device: str, batches: list[int]) -> None:
    from fervideo.stages.classify import EmotionClassifier

    print("\nclassifier alone (default model, bf16):")
    for b in batches:
        clf = EmotionClassifier(None, device=device, batch_size=b, dtype="bf16")
        s = clf.input_size
        x = np.random.default_rng(0).integers(0, 255, (4 * b, s, s, 3), dtype=np.uint8)
        clf.predict(x[:b])  # warm-up at this shape
        best = 0.0
        for _ in range(3):
            sync(device)
            t = time.perf_counter()
            clf.predict(x)  # returns numpy: the GPU work is done when it returns
            best = max(best, len(x) / (time.perf_counter() - t))
        print(f"  batch {b:5d}: {best:10.0f} crops/s (best of 3, {len(x)} crops, transfers included)")
        del clf


def bench_detector(device: str, clip: Path, name: str) -> None:
    from fervideo.stages import detect
    from fervideo.stages.decode import VideoSource

    src = VideoSource(clip)
    frames, times = [], []
    for ch in src.chunks(0):
        frames.append(ch.frames)
        times += ch.times
        if len(times) >= 64:
            break
    frames = np.concatenate(frames)[:64]
    times = times[:64]
    det = detect.create("centerface", size=320, device=device)
    print(f"  centerface at 320 px on {name} frames ({det.provider}):", end="")
    for b in (16, 64):
        det.max_batch = b
        det.detect(frames[:b], times[:b])
        sync(device)
        t = time.perf_counter()
        for _ in range(3):
            det.detect(frames[:b], times[:b])
        sync(device)
        print(f" batch {b}: {3 * b / (time.perf_counter() - t):.0f} frames/s;", end="")
    print()


def bench_decode(clip: Path, name: str) -> None:
    import av

    t = time.perf_counter()
    n = 0
    with av.open(str(clip)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        st.codec_context.thread_count = 0  # FFmpeg picks: one per core
        for f in c.decode(st):
            f.to_ndarray(format="rgb24")
            n += 1
    print(f"  decode alone, {name}: {n / (time.perf_counter() - t):.0f} frames/s (PyAV, frame threads, to RGB)")


def bench_pipeline(device: str, clip: Path, name: str, fps: float, render: bool) -> None:
    import fervideo
    from fervideo.stages.decode import VideoSource

    info = VideoSource(clip).info
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = fervideo.analyze([clip], d, fps=fps, device=device, render=render, overwrite=True)
        wall = time.perf_counter() - t
    v = r.videos[0]
    if v.status != "done":
        sys.exit(f"{clip}: {v.reason}")
    tag = "with the annotated video" if render else "--no-render"
    print(f"  {name} {tag}, --fps {fps:g}: {v.frames} analysed frames, {v.tracks} tracks; end to end {wall:.2f} s ="
          f" {v.frames / wall:.0f} analysed frames/s, {info.num_frames / wall:.0f} video frames/s, realtime x{info.duration_s / wall:.1f}")
    for k, sec in v.stage_seconds.items():
        if sec > 0:
            n = info.num_frames if k == "render" else v.frames
            print(f"      {k:9s} {sec:7.2f} s {n / sec:9.0f} frames/s")


CHILD = r"""
import json, sys, time, fervideo
t = time.perf_counter()
r = fervideo.analyze([sys.argv[1]], sys.argv[2], fps=float(sys.argv[3]), device=sys.argv[4], render=False, overwrite=True)
print(json.dumps({"wall": time.perf_counter() - t, "frames": r.videos[0].frames, "status": r.videos[0].status}))
"""


def bench_parallel(device: str, clip: Path, n: int, fps: float) -> None:
    with tempfile.TemporaryDirectory() as d:
        copies = []
        for i in range(n):
            c = Path(d) / f"copy{i}{clip.suffix}"
            shutil.copy(clip, c)
            copies.append(c)
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(c), str(Path(d) / f"out{i}"), str(fps), device],
                                  stdout=subprocess.PIPE, text=True) for i, c in enumerate(copies)]
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        wall = time.perf_counter() - t
    frames = sum(o["frames"] for o in outs)
    print(f"  {n} processes at once on {clip.name} (--no-render): {frames} analysed frames in {wall:.2f} s ="
          f" {frames / wall:.0f} analysed frames/s aggregate (model loading included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke check)")
    ap.add_argument("--sizes", nargs="+", default=["720p", "1080p"], help="720p, 1080p or WxH")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated clips")
    ap.add_argument("--fps", type=float, default=0.0, help="analysis rate (0 = every frame)")
    ap.add_argument("--batches", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--parallel", type=int, default=0, help="also N processes at once on the first size")
    ap.add_argument("--no-render-pass", action="store_true", help="skip the runs with the annotated video")
    a = ap.parse_args()
    if a.device.startswith("cuda"):
        try:
            import torch
        except ImportError:
            sys.exit("bench/gpu.py needs torch: pip install torch --index-url https://download.pytorch.org/whl/cu124")
        if not torch.cuda.is_available():
            sys.exit("no CUDA GPU: torch.cuda.is_available() is False (CPU-only torch build, no NVIDIA driver, or "
                     "CUDA_VISIBLE_DEVICES hides it); run on a GPU machine, or --device cpu for a smoke check")
    import make_multiface

    print(f"device: {device_line(a.device)}")
    bench_classifier(a.device, a.batches)
    clips = []
    for s in a.sizes:
        name, size = parse_size(s)
        t = time.perf_counter()
        clip = make_multiface.ensure(a.seconds, 25.0, size)
        clips.append((name, clip))
        print(f"\n{name}: {clip} ({time.perf_counter() - t:.0f} s to make or find)")
        bench_decode(clip, name)
        bench_detector(a.device, clip, name)
    print("\nwhole pipeline (model loading included, imports not):")
    import fervideo

    with tempfile.TemporaryDirectory() as d:  # warm-up: imports and first CUDA context
        fervideo.analyze([clips[0][1]], d, fps=a.fps, device=a.device, render=False, overwrite=True)
    for name, clip in clips:
        bench_pipeline(a.device, clip, name, a.fps, render=False)
        if not a.no_render_pass:
            bench_pipeline(a.device, clip, name, a.fps, render=True)
    if a.parallel:
        bench_parallel(a.device, clips[0][1], a.parallel, a.fps)


if __name__ == "__main__":
    main()
