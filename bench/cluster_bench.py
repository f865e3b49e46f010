"""Benchmark: a batch in this process against the same batch on Ray (not a test).

    python bench/cluster_bench.py CONFIG [VIDEOS...] [--copies 2] [--no-render]

CONFIG is one of
  local      fervideo.analyze in this process (one video after another)
  ray-local  executor="ray" on a Ray instance started by fervideo on this machine
  nodes1     a Ray cluster made here: a head that runs nothing (--num-cpus 0) and 1 worker node (1 CPU)
  nodes2     the same with 2 worker nodes (1 CPU each)
  reuse      seconds a fresh Ray worker process needs to load the models, against a reused one

Defaults to ../shared/data/videos/*.mp4, each given ``--copies`` times (as separate files in
their own names, so each copy is a video of its own). Prints one JSON line: time to the first
finished video, total time, videos per minute and video seconds per wall second.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fervideo
from fervideo.pipeline.progress import Progress


class Clock(Progress):
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None

    def video_end(self, result) -> None:
        if self.first is None and result.status == "done":
            self.first = time.perf_counter() - self.t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(marker: str) -> set[int]:
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            procs[int(d)] = (ppid, cmd)
    found = {p for p, (_, c) in procs.items() if marker in c and p != os.getpid()}
    while kids := {p for p, (pp, _) in procs.items() if pp in found} - found:
        found |= kids
    return found


def start_cluster(workers: int) -> tuple[str, str]:
    temp = tempfile.mkdtemp(prefix="fvbench", dir="/tmp")
    ray = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    # Token authentication off for this private cluster on 127.0.0.1 (once ~/.ray/auth_token exists,
    # Ray 2.60's nodes otherwise disagree on it); the driver (this process) must agree.
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}

    def ports() -> list[str]:
        return ["--dashboard-agent-listen-port", str(_free_port()), "--dashboard-agent-grpc-port", str(_free_port()),
                "--metrics-export-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port()),
                "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]

    try:
        subprocess.run([ray, "start", "--head", "--port", str(port), "--num-cpus", "0", "--temp-dir", temp,
                        "--include-dashboard", "false", *ports()], env=env, check=True, capture_output=True, timeout=180)
        for _ in range(workers):
            subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", *ports()],
                           env=env, check=True, capture_output=True, timeout=180)
    except BaseException:
        stop_cluster(temp)  # a node that failed to start must not leave the others running
        raise
    return f"127.0.0.1:{port}", temp


def stop_cluster(temp: str) -> None:
    pids = _descendants(temp)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        time.sleep(3)


def reuse() -> dict:
    """Model load in a fresh worker process (what each GPU task pays) against a reused CPU worker."""
    import ray

    from fervideo.pipeline.executors import _check_task
    from fervideo.pipeline.options import AnalyzeOptions

    ray.init(address="local", include_dashboard=False, num_cpus=1)
    opts = AnalyzeOptions()
    fresh = ray.remote(num_cpus=1, max_calls=1)(_check_task)
    kept = ray.remote(num_cpus=1)(_check_task)
    times = {}
    for name, fn in (("fresh_1", fresh), ("fresh_2", fresh), ("kept_1", kept), ("kept_2", kept), ("kept_3", kept)):
        t = time.perf_counter()
        ray.get(fn.remote(opts))
        times[name] = round(time.perf_counter() - t, 2)
    ray.shutdown()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", choices=["local", "ray-local", "nodes1", "nodes2", "reuse"])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--no-render", action="store_true")
    a = ap.parse_args()
    if a.config == "reuse":
        print(json.dumps({"config": "reuse", **reuse()}))
        return
    src = [Path(v) for v in (a.videos or sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "shared/data/videos/*.mp4"))))]
    work = Path(tempfile.mkdtemp(prefix="fvbench-io"))
    videos = []
    for c in range(a.copies):
        for v in src:  # real copies under their own names: each is a video (and an output folder) of its own
            videos.append(work / f"c{c}_{v.name}")
            shutil.copy(v, videos[-1])
    duration = 0.0
    from fervideo.stages.decode import VideoSource

    for v in videos:
        s = VideoSource(v)
        duration += s.info.duration_s
        s.close()
    kw: dict = {}
    temp = None
    if a.config == "ray-local":
        kw = {"executor": "ray"}
    elif a.config.startswith("nodes"):
        address, temp = start_cluster(int(a.config[-1]))
        kw = {"executor": "ray", "ray_address": address}
    clock = Clock()
    try:
        res = fervideo.analyze(videos, work / "out", render=not a.no_render, progress=clock, **kw)
        total = time.perf_counter() - clock.t0
    finally:
        if temp:
            stop_cluster(temp)
            shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    assert all(v.status == "done" for v in res.videos), [(v.path, v.status, v.reason) for v in res.videos]
    print(json.dumps({"config": a.config, "videos": len(videos), "video_s": round(duration, 1), "render": not a.no_render,
                      "first_result_s": round(clock.first or 0, 1), "total_s": round(total, 1),
                      "videos_per_min": round(60 * len(videos) / total, 2), "realtime": round(duration / total, 3),
                      "load1": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
