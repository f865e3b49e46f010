"""The public entry point ``analyze``: a batch of videos to per-video outputs and a study table.

Robustness rules: each video is written under a temporary folder and renamed into place only
when complete, so a crash or Ctrl-C never leaves a half-written result under its final name;
finished videos are skipped unless ``overwrite``; a per-video lock keeps two processes on one
output folder from writing the same video; one video's failure is recorded (with its reason)
and the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from fervideo.core.errors import DiskFullError, FervideoError, VideoError, is_disk_full
from fervideo.core.files import FAILURES, STUDY, TRACKS
from fervideo.io.tables import failures_table, study_table, write_table
from fervideo.pipeline.backends import Backends
from fervideo.pipeline.folders import (
    check_out_dir,
    is_finished,
    lock_path,
    partial_dir,
    publish,
    remove_stale,
)
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.pipeline.progress import BatchResult, Progress, VideoResult
from fervideo.pipeline.video_job import analyze_video

log = logging.getLogger(__name__)

__all__ = ["analyze", "output_names", "BatchResult", "VideoResult", "Progress", "is_finished"]


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
    check_out_dir(out)
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    paths = [Path(v) for v in videos]
    names = output_names(paths)
    models = Backends(opts)
    from fervideo.stages import detect, smooth

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


def _one(path: Path, final: Path, opts: AnalyzeOptions, models: Backends, prog: Progress) -> VideoResult:
    from filelock import FileLock, Timeout

    res = VideoResult(path=str(path), out_dir=str(final), status="failed")
    if is_finished(final, opts.render) and not opts.overwrite:
        res.status, res.reason = "skipped", "already analysed (use --overwrite to redo)"
        prog.video_end(res)
        return res
    lock = FileLock(str(lock_path(final)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        res.status, res.reason = "locked", "being analysed by another fervideo process; skipped"
        prog.video_end(res)
        return res
    tmp = partial_dir(final)
    remove_stale(final)
    t0 = time.perf_counter()
    try:
        if is_finished(final, opts.render) and not opts.overwrite:  # finished by another run meanwhile
            res.status, res.reason = "skipped", "already analysed (use --overwrite to redo)"
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            analyze_video(path, tmp, opts, models, prog, res)
            publish(tmp, final)
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


