"""One video from file to finished tables: the frame loop, then everything after it.

Order: frame loop (decode, detect, track, crop, classify, sample faces per track) -> drop
flicker tracks -> renumber -> smooth -> annotated video (in a thread) beside persons ->
metadata -> timeline, tracks, persons and peaks tables. The render draws each box's person, so it
waits for the persons stage before its first frame (its decoder reads ahead meanwhile). Everything is written into ``tmp`` (the batch publishes it when this returns).
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from pathlib import Path

from fervideo.core.errors import VideoError
from fervideo.core.files import ANNOTATED, PEAKS, PERSONS, TIMELINE, TRACKS
from fervideo.core.version import __version__
from fervideo.io.tables import peaks_table, persons_table, timeline_table, tracks_table, write_table
from fervideo.pipeline.backends import Backends
from fervideo.pipeline.frame_loop import StageTimes, run_frame_loop
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.pipeline.progress import Progress, VideoResult
from fervideo.stages import smooth
from fervideo.stages.decode import VideoSource
from fervideo.stages.persons import FaceSampler, find_persons, gate_settings
from fervideo.stages.track import drop_short_tracks, renumber


def analyze_video(path: Path, tmp: Path, opts: AnalyzeOptions, models: Backends, prog: Progress, res: VideoResult) -> None:
    """Analyse ``path`` into the folder ``tmp``, filling ``res`` (frames, tracks, times, completeness)."""
    times = StageTimes()
    src = VideoSource(path)
    info = src.info
    res.duration_s = info.duration_s
    est = int(info.num_frames if opts.fps == 0 else max(1, info.duration_s * opts.fps)) if info.num_frames else 0
    prog.video_start(path, est, "analyse")
    sampler = FaceSampler()
    loop = run_frame_loop(src, models.detector, models.classifier, opts, times, on_frames=prog.frames, sampler=sampler)
    src.close()  # release decord's reader and its buffers before the render pass
    if loop.frames_analysed == 0:
        raise VideoError(f"{path}: no decodable video frames")
    clf = models.classifier
    labels = clf.labels
    t0 = time.perf_counter()
    kept = drop_short_tracks(loop.faces, opts.min_track)
    faces = renumber(kept)
    smoother = smooth.from_settings(opts.smooth, seconds=opts.smooth_seconds, max_gap=opts.max_gap, switch_rate=opts.hmm_switch_rate)
    faces = smoother.update(faces) if len(faces) else faces.with_(smoothed=faces.probs)
    times.smooth += time.perf_counter() - t0

    # The annotated video shows each box's person: its render waits for this before drawing
    # (it is set empty when persons are off, or on a failure so the render can stop).
    person_map: dict[int, int] = {}
    persons_done = threading.Event()

    def tables() -> None:
        """Persons, metadata and the four tables (the annotated video may be rendering meanwhile)."""
        t1 = time.perf_counter()
        tracks = sampler.relabel(dict(zip(kept.track_ids.tolist(), faces.track_ids.tolist())))
        persons = find_persons(faces, tracks, models.embedder, opts.person_threshold, unavailable=models.embedder_missing)
        persons.info.update(gate_settings(sampler))
        if persons.info.get("backend"):
            person_map.update(persons.person_of)
        persons_done.set()
        times.persons += time.perf_counter() - t1
        t0 = time.perf_counter()
        meta = {
            "fervideo_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "video": {**info.__dict__, "file_size": path.stat().st_size},
            "video_path": os.path.abspath(path),  # the input, and the folder the batch publishes this into
            "video_folder": Path(res.out_dir).name,
            "models": [m.__dict__ for m in clf.infos],
            "labels": labels,
            "detector": {"name": opts.detector, "provider": getattr(models.detector, "provider", "")},
            "options": opts.as_dict(),
            "complete": src.report.complete,  # no frame lost; else decode_gaps says which (frames, seconds)
            "frames_lost": src.report.frames_lost,
            "decode_gaps": [g.as_dict() for g in src.report.gaps],
            "decode_error": src.report.error,
            "decode_notes": src.report.notes,
            "frames_analysed": loop.frames_analysed,
            "detection_frames": loop.detections,
            "detections_skipped": loop.detections_skipped,  # adaptive schedule: due detections found unnecessary
            "detection_sizes": {str(k): v for k, v in sorted(loop.detection_sizes.items())},  # detect_size_auto
            "scene_cuts_s": [c.seconds for c in loop.scene_cuts],
            "persons": persons.info,
        }
        tl = timeline_table(path.name, faces, labels, meta, persons.person_of,
                            video_path=meta["video_path"], video_folder=meta["video_folder"])
        write_table(tl, tmp / TIMELINE)
        write_table(tracks_table(path.name, tl, labels, meta), tmp / TRACKS)
        write_table(persons_table(path.name, tl, labels, meta, persons.thumb_jpegs(), persons.embeddings), tmp / PERSONS)
        write_table(peaks_table(tl, labels, meta, opts.peak_threshold, opts.max_gap), tmp / PEAKS)
        times.write += time.perf_counter() - t0
        res.frames = loop.frames_analysed
        res.tracks = int(len(set(faces.track_ids.tolist())))
        res.complete = src.report.complete
        if not src.report.complete:
            res.reason = f"incomplete: {src.report.summary()}"

    # The annotated video needs nothing after smoothing: it is written in a thread beside the
    # persons stage and the tables (pipeline/render_overlap.py).
    render = None
    if opts.render:
        from fervideo.io.render import render_video
        from fervideo.pipeline.render_overlap import BackgroundRender

        t_render = time.perf_counter()
        def person_of() -> dict[int, int]:
            persons_done.wait()
            return person_map

        render = BackgroundRender(lambda on_frames: render_video(path, tmp / ANNOTATED, faces, labels, max_gap=opts.max_gap,
                                                                 on_frames=on_frames, person_of=person_of,
                                                                 max_height=opts.render_height)).start()
    try:
        tables()
    except BaseException:
        if render is not None:
            persons_done.set()  # let the render reach its next frame, where it stops
            render.cancel()
        raise
    if render is not None:
        prog.video_start(path, info.num_frames, "render")
        render.wait(prog.frames)
        times.render += time.perf_counter() - t_render
    res.stage_seconds = times.as_dict()
