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
from fervideo.pipeline import executors
from fervideo.pipeline import shard as shards
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
from fervideo.pipeline.inputs import expand_inputs
from fervideo.pipeline.progress import BatchResult, Progress, VideoResult
from fervideo.pipeline.study import folder_inputs, rebuild_study, same_input
from fervideo.pipeline.video_job import analyze_video

log = logging.getLogger(__name__)

__all__ = ["analyze", "output_names", "BatchResult", "VideoResult", "Progress", "is_finished"]


def output_names(paths: list[Path], out: Path | None = None) -> dict[Path, str]:
    """Output folder name per input: the file stem, disambiguated when stems collide.

    With ``out``, an input that already has a finished folder there keeps it, and a stem whose
    folder holds another input (s1/interview.mp4 analysed before s2/interview.mp4) is
    disambiguated too, so a later run never takes a different video for "already analysed".
    """
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    held = folder_inputs(out) if out is not None else {}
    names = {}
    for p in paths:
        mine = ([f for f, src in held.items() if same_input(src, p, exact_only=True)]
                or [f for f, src in held.items() if same_input(src, p)])
        if mine:
            names[p] = p.stem if p.stem in mine else sorted(mine)[0]
        elif stems[p.stem] > 1 or p.stem in held:
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
    executor: str = "local",
    ray_address: str | None = None,
    shard: str | None = None,
    recursive: bool = False,
    **kwargs,
) -> BatchResult:
    """Analyse videos into ``out/<video stem>/`` (timeline, tracks, annotated video) and ``out/study.parquet``.

    Options are an ``AnalyzeOptions`` or its fields as keyword arguments
    (``analyze(["a.mp4"], "out", fps=5, smooth="hmm")``). Returns a ``BatchResult``; a video
    that fails is reported in it (and in ``out/failures.parquet``), not raised. Errors that
    concern the whole batch (unknown model or detector, unwritable output folder) raise a
    ``FervideoError`` before any video is read.

    Where and which: ``executor="ray"`` runs each video as a task on the Ray cluster at
    ``ray_address`` ("auto", "host:port"; None = a local Ray instance), ``out`` being a folder
    every node shares; ``shard="K/N"`` analyses only slice K of N of ``videos`` (job arrays:
    N processes on one ``out``, see docs/cluster.md). Neither changes a video's results.

    ``videos`` may name folders (their video files; sub-folders too with ``recursive``) and
    glob patterns (``"sessions/*/*.mp4"``); files inside fervideo output folders are skipped.
    """
    runner = executors.create(executor, ray_address=ray_address)
    if shard is not None:
        shards.parse(shard)
    opts = options or AnalyzeOptions(**kwargs)
    if options is not None and kwargs:
        raise TypeError("pass either options= or keyword options, not both")
    prog = progress or Progress()
    out = Path(out)
    from fervideo.stages import detect, smooth

    if opts.detector not in detect.available():
        detect.create(opts.detector)  # raises with the list of valid names
    smooth.create(opts.smooth)  # names are checked before the output folder is made
    created = not out.exists()
    check_out_dir(out)
    found = expand_inputs(videos, out=out, recursive=recursive)  # folders, globs; never our own outputs
    if found.skipped:
        log.warning("skipped %d file%s inside fervideo output folders (e.g. %s)", len(found.skipped),
                    "s" if len(found.skipped) != 1 else "", found.skipped[0])
    paths = found.paths
    names = output_names(paths, out)  # of every input, so a name is the same in every slice
    if shard is not None:
        paths = shards.select(paths, shard)
    models = Backends(opts)
    jobs = [executors.VideoJob(p, out / names[p]) for p in paths]
    if any(opts.overwrite or not is_finished(j.final, opts.render) for j in jobs):
        try:
            runner.prepare(out, opts, models)  # batch-level problems (model, cluster) fail once, here
        except BaseException:
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()  # no empty output folder left behind by a batch that never started
            raise
    results: list[VideoResult] = []
    for item, reason in found.problems:  # an empty folder, a pattern that matches nothing
        results.append(VideoResult(item, "", "failed", reason))
        prog.video_end(results[-1])
    try:
        runner.run(jobs, opts, models, prog, _one, results)
    except KeyboardInterrupt as exc:
        # Ctrl-C: the video in progress left nothing behind; record what is finished.
        _write_study(out, results)
        exc.partial_result = BatchResult(str(out), results)  # type: ignore[attr-defined]
        raise
    finally:
        models.close()
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
    # From the folders, not from this run's list: every finished video of ``out`` (earlier runs,
    # another process's), and failures that still stand (pipeline/study.py).
    rebuild_study(out, results)


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


