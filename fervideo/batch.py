"""The public entry point ``analyze``: a batch of videos to per-video outputs and a study table.

Robustness rules: each video is written under a temporary folder and renamed into place only
when complete, so a crash or Ctrl-C never leaves a half-written result under its final name;
finished videos are skipped unless ``overwrite``; a per-video lock keeps two processes on one
output folder from writing the same video; one video's failure is recorded (with its reason)
and the batch goes on.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fervideo import __version__
from fervideo.analysis import StageTimes, run_frame_loop
from fervideo.classify import EmotionClassifier
from fervideo.decode import VideoSource
from fervideo.errors import DiskFullError, FervideoError, OutputError, VideoError, is_disk_full
from fervideo.options import AnalyzeOptions
from fervideo.outputs import (
    failures_table,
    peaks_table,
    study_table,
    timeline_table,
    tracks_table,
    write_table,
)
from fervideo.track import drop_short_tracks, renumber

log = logging.getLogger(__name__)

TIMELINE = "timeline.parquet"
TRACKS = "tracks.parquet"
ANNOTATED = "annotated.mp4"
PEAKS = "peaks.parquet"
STUDY = "study.parquet"
FAILURES = "failures.parquet"
MIN_FREE_BYTES = 200 * 1024 * 1024


@dataclass
class VideoResult:
    path: str
    out_dir: str
    status: str  # done | skipped | failed | locked
    reason: str = ""
    frames: int = 0
    tracks: int = 0
    seconds: float = 0.0
    duration_s: float = 0.0
    complete: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    disk_full: bool = False  # the output disk filled up while writing this video's results

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BatchResult:
    out_dir: str
    videos: list[VideoResult]

    @property
    def failed(self) -> list[VideoResult]:
        return [v for v in self.videos if v.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


class Progress:
    """Callbacks the CLI hooks its progress bars to; all optional."""

    def video_start(self, path: Path, frames_estimate: int, phase: str) -> None: ...

    def frames(self, n: int) -> None: ...

    def video_end(self, result: VideoResult) -> None: ...


def output_names(paths: list[Path]) -> dict[Path, str]:
    """Output folder name per input: the file stem, disambiguated when stems collide."""
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    names = {}
    for p in paths:
        if stems[p.stem] > 1:
            h = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:6]
            names[p] = f"{p.stem}-{h}"
        else:
            names[p] = p.stem
    return names


def is_finished(d: Path, render: bool) -> bool:
    return all((d / f).exists() for f in (TIMELINE, TRACKS, PEAKS)) and (not render or (d / ANNOTATED).exists())


def _check_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"the output folder {out} is not writable")
    free = shutil.disk_usage(out).free
    if free < MIN_FREE_BYTES:
        raise OutputError(f"only {free / 1e6:.0f} MB free in {out}; fervideo needs at least {MIN_FREE_BYTES / 1e6:.0f} MB to write results")
    probe = out / f".fervideo-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"x" * 4096)
    except OSError as exc:
        raise OutputError(f"cannot write into the output folder {out}: {exc.strerror or exc}") from exc
    finally:
        probe.unlink(missing_ok=True)


class _Models:
    """Detector and classifier, built once per batch and only when a video needs them."""

    def __init__(self, opts: AnalyzeOptions) -> None:
        self.opts = opts
        self._det = None
        self._clf = None
        self._emb = None

    @property
    def detector(self):
        if self._det is None:
            from fervideo import detect

            self._det = detect.create(
                self.opts.detector, size=self.opts.detect_size, threshold=self.opts.detect_threshold,
                device=self.opts.device, threads=self.opts.threads,
            )
        return self._det

    def reid(self):
        from fervideo.reid import ArcFaceEmbedder, ReID

        if self._emb is None:
            self._emb = ArcFaceEmbedder(self.opts.device)
        return ReID(self._emb, self.opts.reid_threshold)

    @property
    def classifier(self) -> EmotionClassifier:
        if self._clf is None:
            self._clf = EmotionClassifier(self.opts.model, device=self.opts.device, batch_size=self.opts.batch_size, dtype=self.opts.dtype, tta=self.opts.tta)
        return self._clf


def analyze(
    videos: Iterable[str | Path],
    out: str | Path = "out",
    options: AnalyzeOptions | None = None,
    *,
    progress: Progress | None = None,
    **kwargs,
) -> BatchResult:
    """Analyse videos into ``out/<video stem>/`` (timeline, tracks, annotated video) and ``out/study.parquet``.

    Options are an ``AnalyzeOptions`` or its fields as keyword arguments
    (``analyze(["a.mp4"], "out", fps=5, smooth="hmm")``). Returns a ``BatchResult``; a video
    that fails is reported in it (and in ``out/failures.parquet``), not raised. Errors that
    concern the whole batch (unknown model or detector, unwritable output folder) raise a
    ``FervideoError`` before any video is read.
    """
    opts = options or AnalyzeOptions(**kwargs)
    if options is not None and kwargs:
        raise TypeError("pass either options= or keyword options, not both")
    prog = progress or Progress()
    out = Path(out)
    _check_out_dir(out)
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    paths = [Path(v) for v in videos]
    names = output_names(paths)
    models = _Models(opts)
    from fervideo import detect, smooth

    if opts.detector not in detect.available():
        detect.create(opts.detector)  # raises with the list of valid names
    smooth.create(opts.smooth)  # validates the name before any work
    if any(opts.overwrite or not is_finished(out / names[p], opts.render) for p in paths):
        # Batch-level problems (unknown or offline model, missing reid weights) fail once, here.
        models.detector
        models.classifier
        if opts.reid:
            models.reid()
    results: list[VideoResult] = []
    try:
        for k, p in enumerate(paths):
            results.append(_one(p, out / names[p], opts, models, prog))
            if results[-1].disk_full:
                # Every further video would fail the same way: stop, and say which were not started.
                for q in paths[k + 1 :]:
                    results.append(VideoResult(str(q), str(out / names[q]), "failed",
                                               f"{q}: not started: the output disk is full"))
                    prog.video_end(results[-1])
                break
    except KeyboardInterrupt as exc:
        # Ctrl-C: the video in progress left nothing behind; record what is finished.
        _write_study(out, results)
        exc.partial_result = BatchResult(str(out), results)  # type: ignore[attr-defined]
        raise
    _write_study(out, results)
    return BatchResult(str(out), results)


def _write_study(out: Path, results: list[VideoResult]) -> None:
    try:
        _write_study_tables(out, results)
    except DiskFullError as exc:
        done = [Path(r.path).name for r in results if r.status == "done"]
        raise DiskFullError(f"{exc}. Finished before the disk filled up: {len(done)} video(s)"
                            + (f" ({', '.join(done[:10])}{', ...' if len(done) > 10 else ''})" if done else "")) from exc


def _write_study_tables(out: Path, results: list[VideoResult]) -> None:
    # A video another process was analysing counts once it is finished: with two runs of one
    # command, the one that ends last writes the study with every video in it.
    tracks = [Path(r.out_dir) / TRACKS for r in results
              if r.status in ("done", "skipped") or (r.status == "locked" and is_finished(Path(r.out_dir), render=False))]
    write_table(study_table(tracks), out / STUDY)
    fails = [(Path(r.path).name, r.path, r.reason) for r in results if r.status == "failed"]
    write_table(failures_table(fails), out / FAILURES)


def _one(path: Path, final: Path, opts: AnalyzeOptions, models: _Models, prog: Progress) -> VideoResult:
    from filelock import FileLock, Timeout

    res = VideoResult(path=str(path), out_dir=str(final), status="failed")
    if is_finished(final, opts.render) and not opts.overwrite:
        res.status, res.reason = "skipped", "already analysed (use --overwrite to redo)"
        prog.video_end(res)
        return res
    lock = FileLock(str(final.parent / f".{final.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        res.status, res.reason = "locked", "being analysed by another fervideo process; skipped"
        prog.video_end(res)
        return res
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    _remove_stale(final)
    t0 = time.perf_counter()
    try:
        if is_finished(final, opts.render) and not opts.overwrite:  # finished by another run meanwhile
            res.status, res.reason = "skipped", "already analysed (use --overwrite to redo)"
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            _analyze_into(path, tmp, opts, models, prog, res)
            if final.exists():
                old = final.parent / f".{final.name}.old-{os.getpid()}"
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            res.status = "done"
    except (KeyboardInterrupt, SystemExit):
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:  # noqa: BLE001 - one bad video must not stop the batch
        if is_disk_full(exc):
            res.disk_full = True
            res.reason = (f"{path}: not saved: no space left on the disk of {final.parent}; "
                          "its partial output was removed")
        elif isinstance(exc, FervideoError):
            res.reason = str(exc)
            if not isinstance(exc, VideoError):
                log.debug("failure", exc_info=True)
        elif isinstance(exc, MemoryError):
            res.reason = f"{path}: ran out of memory"
        else:
            log.debug("unexpected failure on %s", path, exc_info=True)
            res.reason = f"{path}: {type(exc).__name__}: {exc}"
    finally:
        if res.status not in ("done", "skipped"):
            shutil.rmtree(tmp, ignore_errors=True)
        lock.release()
        try:
            Path(lock.lock_file).unlink(missing_ok=True)
        except OSError:
            pass
        res.seconds = time.perf_counter() - t0
    prog.video_end(res)
    return res


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(final: Path) -> None:
    """Temporary folders of runs that were killed (SIGKILL, power loss) are removed on the next run."""
    stale = [*final.parent.glob(f".{final.name}.partial-*"), *final.parent.glob(f".{final.name}.old-*")]
    for p in stale:
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _analyze_into(path: Path, tmp: Path, opts: AnalyzeOptions, models: _Models, prog: Progress, res: VideoResult) -> None:
    from fervideo import smooth

    times = StageTimes()
    src = VideoSource(path)
    info = src.info
    res.duration_s = info.duration_s
    est = int(info.num_frames if opts.fps == 0 else max(1, info.duration_s * opts.fps)) if info.num_frames else 0
    prog.video_start(path, est, "analyse")
    reid = models.reid() if opts.reid else None
    loop = run_frame_loop(src, models.detector, models.classifier, opts, times, on_frames=prog.frames, reid=reid)
    src.close()  # release decord's reader and its buffers before the render pass
    if loop.frames_analysed == 0:
        raise VideoError(f"{path}: no decodable video frames")
    clf = models.classifier
    labels = clf.labels
    t0 = time.perf_counter()
    faces = loop.faces
    if reid is not None:
        faces = reid.merge(faces)
    faces = renumber(drop_short_tracks(faces, opts.min_track))
    smoother = smooth.create(opts.smooth, **_smooth_kwargs(opts))
    smoother.reset()
    faces = smoother.update(faces) if len(faces) else faces.with_(smoothed=faces.probs)
    times.smooth += time.perf_counter() - t0
    t0 = time.perf_counter()
    meta = {
        "fervideo_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "video": {**info.__dict__, "file_size": path.stat().st_size},
        "models": [m.__dict__ for m in clf.infos],
        "labels": labels,
        "detector": {"name": opts.detector, "provider": getattr(models.detector, "provider", "")},
        "options": opts.as_dict(),
        "complete": src.report.complete,
        "decode_error": src.report.error,
        "decode_notes": src.report.notes,
        "frames_analysed": loop.frames_analysed,
        "detection_frames": loop.detections,
        "scene_cuts_s": [c.seconds for c in loop.scene_cuts],
    }
    tl = timeline_table(path.name, faces, labels, meta)
    write_table(tl, tmp / TIMELINE)
    write_table(tracks_table(path.name, tl, labels, meta), tmp / TRACKS)
    write_table(peaks_table(tl, labels, meta, opts.peak_threshold, opts.max_gap), tmp / PEAKS)
    times.write += time.perf_counter() - t0
    res.frames = loop.frames_analysed
    res.tracks = int(len(set(faces.track_ids.tolist())))
    res.complete = src.report.complete
    if not src.report.complete:
        res.reason = f"incomplete: {src.report.error}"
    if opts.render:
        t0 = time.perf_counter()
        prog.video_start(path, info.num_frames, "render")
        from fervideo.render import render_video

        render_video(path, tmp / ANNOTATED, faces, labels, max_gap=opts.max_gap, on_frames=prog.frames)
        times.render += time.perf_counter() - t0
    res.stage_seconds = times.as_dict()


def _smooth_kwargs(opts: AnalyzeOptions) -> dict:
    if opts.smooth == "gaussian":
        return {"sigma": opts.smooth_seconds, "max_gap": opts.max_gap}
    if opts.smooth == "ema":
        return {"tau": opts.smooth_seconds, "max_gap": opts.max_gap}
    if opts.smooth == "hmm":
        return {"switch_rate": opts.hmm_switch_rate, "max_gap": opts.max_gap}
    return {"max_gap": opts.max_gap}


