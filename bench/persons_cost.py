"""What persons cost: `fervideo analyze` wall time with and without persons, same videos, same run.

    python bench/persons_cost.py ../shared/data/videos/talking_head_596x336.mp4 ../shared/data/videos/stage_cuts_640x360.mp4

Default options otherwise (annotated video included), the CLI as a user runs it (process
start and model loading included). Runs alternate (on, off, off, on, ...) so a change of the
machine's load hits both alike; prints the median wall time and the median CPU time (user +
system of the process and its threads: on a machine shared with other work the wall time
mostly measures the others) of each and their ratios, the persons stage's own seconds from
the run metadata, and tracks vs persons per video.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(video: Path, out: Path, persons: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `fervideo analyze`."""
    cmd = [sys.executable, "-m", "fervideo._cli", "analyze", str(video), "--out", str(out), "--overwrite"]
    cmd += [] if persons else ["--no-persons"]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from fervideo.io.tables import read_metadata

    with tempfile.TemporaryDirectory() as tmp:
        for v in args.videos:
            times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for k in range(args.repeat):
                for persons in ((True, False) if k % 2 == 0 else (False, True)):
                    times[persons].append(run(v, Path(tmp) / str(persons), persons))
            meta = read_metadata(Path(tmp) / "True" / v.stem / "timeline.parquet")["persons"]
            med = {(p, k): statistics.median(t[k] for t in times[p]) for p in (True, False) for k in (0, 1)}
            print(json.dumps({
                "video": v.name,
                "wall_s": {"with": round(med[True, 0], 2), "without": round(med[False, 0], 2),
                           "added": f"{100 * (med[True, 0] / med[False, 0] - 1):+.1f}%"},
                "cpu_s": {"with": round(med[True, 1], 2), "without": round(med[False, 1], 2),
                          "added": f"{100 * (med[True, 1] / med[False, 1] - 1):+.1f}%"},
                "runs_with": [[round(x, 2) for x in t] for t in times[True]],
                "runs_without": [[round(x, 2) for x in t] for t in times[False]], "persons_stage_s": meta.get("seconds"),
                "tracks": meta.get("tracks"), "persons": meta.get("persons"), "embedded_faces": meta.get("embedded_faces"),
            }))


if __name__ == "__main__":
    main()
