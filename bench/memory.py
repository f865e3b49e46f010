"""Peak memory (RSS) of ``fervideo analyze`` on a short and a long video (not a test).

    python bench/memory.py [--short-min 1] [--long-min 60] [--size 1280x720] [--fps 10]

Builds the two videos by looping a generated clip with stream copy (seconds, not hours, to
make), then runs ``fervideo analyze`` on each in a fresh process and prints the peak RSS of
each run and their ratio. Memory must not grow with the video's length: the ratio should
stay near 1 (the reliability bar is <= 1.3).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

CHILD = r"""
import json, resource, sys, time
import fervideo
t = time.perf_counter()
r = fervideo.analyze([sys.argv[1]], sys.argv[2], fps=float(sys.argv[3]), render=sys.argv[4] == "1")
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds": time.perf_counter() - t,
                  "status": r.videos[0].status, "frames": r.videos[0].frames, "reason": r.videos[0].reason}))
"""


def make_long(base: Path, minutes: float, out: Path, base_seconds: float) -> None:
    import imageio_ffmpeg

    loops = max(0, int(round(minutes * 60 / base_seconds)) - 1)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-stream_loop", str(loops), "-i", str(base),
                    "-c", "copy", str(out)], check=True)


def peak_rss(video: Path, out: Path, fps: float, render: bool) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD, str(video), str(out), str(fps), "1" if render else "0"],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def measure(short_min: float, long_min: float, size: tuple[int, int], fps: float, render: bool, work: Path) -> tuple[dict, dict]:
    import make_samples

    base = work / "base.mp4"
    make_samples.write_clip(base, make_samples.moving_face(10.0, fps=25.0, size=size))
    short, long_ = work / "short.mp4", work / "long.mp4"
    make_long(base, short_min, short, 10.0)
    make_long(base, long_min, long_, 10.0)
    return peak_rss(short, work / "out_s", fps, render), peak_rss(long_, work / "out_l", fps, render)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short-min", type=float, default=1.0)
    ap.add_argument("--long-min", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--no-render", action="store_true")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    with tempfile.TemporaryDirectory() as d:
        s, l_ = measure(a.short_min, a.long_min, (w, h), a.fps, not a.no_render, Path(d))
    print(f"{a.short_min:g} min {a.size}: peak RSS {s['peak_rss_mb']:.0f} MB ({s['seconds']:.0f} s, {s['frames']} analysed frames)")
    print(f"{a.long_min:g} min {a.size}: peak RSS {l_['peak_rss_mb']:.0f} MB ({l_['seconds']:.0f} s, {l_['frames']} analysed frames)")
    print(f"ratio long/short: {l_['peak_rss_mb'] / s['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
