"""Size and build time of the HTML report for a large generated study (not a test).

    python bench/report_size.py [--videos 100] [--hours 1] [--tracks 2] [--fps 10]

Writes a synthetic analyze output (timeline, tracks, peaks per video, with the real
schemas and plausible random-walk probabilities, no video files) into a temporary folder,
then times ``fervideo report`` on it and prints the HTML size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fervideo.core.labels import FER2013_LABELS  # noqa: E402
from fervideo.io.tables import peaks_table, study_table, timeline_table, tracks_table, write_table  # noqa: E402
from fervideo.study.report import write_report  # noqa: E402
from fervideo.core.types import Faces  # noqa: E402


def fake_video(name: str, seconds: float, fps: float, n_tracks: int, rng) -> Faces:
    k = len(FER2013_LABELS)
    parts = []
    n = int(seconds * fps)
    t = np.arange(n) / fps
    for tid in range(1, n_tracks + 1):
        logits = np.cumsum(rng.normal(0, 0.15, (n, k)), axis=0)
        logits -= logits.mean(0)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        boxes = np.tile([100.0 * tid, 100, 100.0 * tid + 80, 190], (n, 1))
        parts.append(Faces(boxes, np.full(n, 0.9), np.zeros((n, 5, 2)), np.arange(n) * 3, t, track_ids=np.full(n, tid),
                           probs=p, smoothed=p, label_ids=p.argmax(1)))
    return Faces.concat(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--tracks", type=int, default=2)
    ap.add_argument("--fps", type=float, default=10.0)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    labels = list(FER2013_LABELS)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        t0 = time.perf_counter()
        for i in range(a.videos):
            name = f"interview_{i:03d}"
            vd = out / name
            vd.mkdir()
            meta = {"video": {"path": f"/nonexistent/{name}.mp4", "duration_s": a.hours * 3600, "width": 1280, "height": 720, "avg_fps": 30.0},
                    "complete": True, "models": [{"ref": "fervit-fer2013", "sha256": "0" * 64}], "options": {"fps": a.fps}}
            tl = timeline_table(f"{name}.mp4", fake_video(name, a.hours * 3600, a.fps, a.tracks, rng), labels, meta)
            write_table(tl, vd / "timeline.parquet")
            write_table(tracks_table(f"{name}.mp4", tl, labels, meta), vd / "tracks.parquet")
            write_table(peaks_table(tl, labels, meta), vd / "peaks.parquet")
        write_table(study_table(sorted(out.glob("*/tracks.parquet"))), out / "study.parquet")
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = write_report(out)
        dt = time.perf_counter() - t0
        rows = a.videos * a.tracks * int(a.hours * 3600 * a.fps)
        print(f"study: {a.videos} videos x {a.hours:g} h, {a.tracks} tracks each, {rows:,} timeline rows (generated in {gen:.0f} s)")
        print(f"report.html: {path.stat().st_size / 1e6:.1f} MB, built in {dt:.0f} s")
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe:
            with tempfile.TemporaryDirectory() as prof:
                t0 = time.perf_counter()
                p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                    f"--user-data-dir={prof}", "--dump-dom", path.as_uri()], capture_output=True, text=True)
                load = time.perf_counter() - t0
            print(f"headless Chromium: loaded and dumped the DOM in {load:.1f} s ({len(p.stdout) / 1e6:.1f} MB DOM)")


if __name__ == "__main__":
    main()
