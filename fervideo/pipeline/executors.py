"""Where a batch's videos run: in this process, or as tasks on a Ray cluster.

The batch decides *what* is done (which videos, into which folders, with which per-video
function); an executor decides *where*. Both executors run the same per-video function, so a
video's folder is written the same way everywhere: into a ``.NAME.partial-PID`` folder that is
renamed into place when complete, under a per-video lock (``pipeline/folders.py``). That is
what makes a cluster run safe: a worker killed mid-video leaves only a partial folder of a
dead PID, which the retry of that video removes; a rerun skips finished folders.

Ray: each video is one Ray task, retried by Ray (``max_retries``) when its worker process or
node dies. Tasks rather than an actor pool because tasks follow the cluster's size (an
autoscaler adds nodes, Ray places tasks on them) and Ray retries them itself; the models
still stay loaded between videos, because Ray reuses a CPU task's worker process and each
process keeps its backends (measured in docs/cluster.md). Ray does not reuse GPU task
workers (``max_calls=1``, ray-project/ray#29624), so on GPUs each video loads the models once.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from fervideo.core.errors import BackendError, ConfigError, FervideoError, OutputError
from fervideo.pipeline.backends import Backends
from fervideo.pipeline.folders import is_finished
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.pipeline.progress import Progress, VideoResult

log = logging.getLogger(__name__)

#: Times Ray runs a video again after its worker process or node died.
MAX_RETRIES = 3
#: Seconds the driver waits for each node to answer the shared-folder check.
NODE_CHECK_TIMEOUT_S = 120.0
#: Seconds between two progress messages a worker sends for one video.
PROGRESS_EVERY_S = 0.5


class VideoJob(NamedTuple):
    path: Path  # the input video
    final: Path  # its output folder


#: The per-video function of the batch: (video, output folder, options, backends, progress) -> result.
RunOne = Callable[[Path, Path, AnalyzeOptions, Backends, Progress], VideoResult]


class Executor(ABC):
    """Runs a batch's videos somewhere; the batch calls ``prepare``, ``run``, then ``close``."""

    name: str

    @abstractmethod
    def prepare(self, out: Path, opts: AnalyzeOptions, models: Backends) -> None:
        """Batch-level checks (models load, output folder reachable); raise a FervideoError once, before any video."""

    @abstractmethod
    def run(self, jobs: list[VideoJob], opts: AnalyzeOptions, models: Backends, prog: Progress,
            run_one: RunOne, results: list[VideoResult]) -> None:
        """Analyse ``jobs``, appending one result per job to ``results`` as each video ends."""

    def close(self) -> None:
        """Release what ``prepare`` acquired (a cluster connection)."""


def _not_started(job: VideoJob, why: str) -> VideoResult:
    return VideoResult(str(job.path), str(job.final), "failed", f"{job.path}: not started: {why}")


class LocalExecutor(Executor):
    """One video after another in this process, with the batch's backends."""

    name = "local"

    def prepare(self, out: Path, opts: AnalyzeOptions, models: Backends) -> None:
        # Batch-level problems (unknown or offline model, unknown embedder) fail once, here.
        _ = models.detector, models.classifier, models.embedder

    def run(self, jobs: list[VideoJob], opts: AnalyzeOptions, models: Backends, prog: Progress,
            run_one: RunOne, results: list[VideoResult]) -> None:
        for k, job in enumerate(jobs):
            results.append(run_one(job.path, job.final, opts, models, prog))
            if results[-1].disk_full:
                # Every further video would fail the same way: stop, and say which were not started.
                for rest in jobs[k + 1:]:
                    results.append(_not_started(rest, "the output disk is full"))
                    prog.video_end(results[-1])
                break


# ---------------------------------------------------------------------------------------------
# Ray. Functions below marked "on a worker" run in Ray worker processes, possibly on other nodes.

_WORKER_BACKENDS: dict[str, Backends] = {}  # on a worker: the process's backends, kept between videos


def _worker_backends(opts: AnalyzeOptions, threads: int) -> Backends:
    """On a worker: backends for ``opts``, loaded once per worker process and reused by its next videos."""
    key = repr(opts)
    if key not in _WORKER_BACKENDS:
        _WORKER_BACKENDS.clear()  # one batch's models at a time
        # The threads of the detector, of a torch classifier and of the persons' descriptor
        # workers follow the CPUs Ray reserved for the task, not the node's core count.
        _WORKER_BACKENDS[key] = Backends(replace(opts, threads=threads))
    return _WORKER_BACKENDS[key]


def _task_threads(opts: AnalyzeOptions) -> int:
    if opts.threads:
        return opts.threads
    import ray

    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


class _EventBox:
    """A Ray actor (near the driver): progress messages from the workers, taken by the driver."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def push(self, item: tuple) -> None:
        self.items.append(item)

    def take(self) -> list[tuple]:
        items, self.items = self.items, []
        return items


class _QueueProgress(Progress):
    """On a worker: a video's progress, sent to the driver's event box at most every PROGRESS_EVERY_S.

    Fire and forget (``push.remote`` without ``ray.get``): a task blocked in ``ray.get`` gives
    its CPUs back to Ray, which then starts more videos than there are CPUs (measured: three
    videos at once on two CPUs with ``ray.util.queue.Queue.put``).
    """

    def __init__(self, events, key: int) -> None:
        self.events = events
        self.key = key  # the job's index: the driver reports progress under the path it was given
        self.pending = 0
        self.sent = time.monotonic()

    def video_start(self, path: Path, frames_estimate: int, phase: str) -> None:
        self._flush()
        self._put(("start", self.key, frames_estimate, phase))

    def frames(self, n: int) -> None:
        self.pending += n
        if time.monotonic() - self.sent >= PROGRESS_EVERY_S:
            self._flush()

    def video_end(self, result: VideoResult) -> None:
        self._flush()  # the driver reports the end itself, from the task's result

    def _flush(self) -> None:
        if self.pending:
            self._put(("frames", self.key, self.pending, ""))
            self.pending = 0
        self.sent = time.monotonic()

    def _put(self, item: tuple) -> None:
        try:
            self.events.push.remote(item)
        except Exception:  # progress is cosmetic: a lost message must not fail the video
            log.debug("progress message lost", exc_info=True)


def _video_task(run_one: RunOne, key: int, path: Path, final: Path, opts: AnalyzeOptions, events, marker: Path) -> VideoResult:
    """On a worker: one video, written into the shared output folder."""
    if not marker.exists():  # a node that joined after the driver checked the nodes
        import socket

        return VideoResult(str(path), str(final), "failed",
                           f"{path}: the output folder {final.parent} is not visible on the Ray node {socket.gethostname()}; "
                           "every node must see it at the same path (a shared file system)")
    models = _worker_backends(opts, _task_threads(opts))
    return run_one(path, final, opts, models, _QueueProgress(events, key))


def _check_task(opts: AnalyzeOptions) -> None:
    """On a worker: load the models as a video task would, so a bad model fails once, before the videos."""
    models = _worker_backends(opts, _task_threads(opts))
    _ = models.detector, models.classifier, models.embedder


def _read_marker(marker: Path) -> str:
    """On a worker pinned to one node: the marker's content, or why it cannot be read there."""
    try:
        return marker.read_text()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once where nothing listens at HOST:PORT (ray.init would wait minutes for a GCS there)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "local", "auto": Ray finds (or starts) the instance itself and fails fast
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(f"cannot connect to the Ray cluster at {address}: nothing answers there "
                           f"({exc.strerror or exc}); is `ray start --head` running, and is the port right?") from None


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise BackendError('the Ray executor needs the ray package: pip install "fervideo[ray]"') from exc
    return ray


class RayExecutor(Executor):
    """Each video one Ray task on a cluster (``auto``, an address) or on a local Ray instance (None/``local``)."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.ray = _import_ray()
        self.address = address or "local"
        self.owns_connection = False
        self.marker: Path | None = None
        self.resources: dict[str, float] = {}

    # -- driver side ----------------------------------------------------------------------------

    def prepare(self, out: Path, opts: AnalyzeOptions, models: Backends) -> None:
        try:
            self._prepare(out, opts)
        except BaseException:
            self.close()
            raise

    def _prepare(self, out: Path, opts: AnalyzeOptions) -> None:
        ray = self.ray
        self._connect()
        total = ray.cluster_resources()
        cpus = float(opts.threads or 1)
        self.resources = {"num_cpus": cpus, "num_gpus": 1} if total.get("GPU", 0) >= 1 else {"num_cpus": cpus}
        if total.get("CPU", 0) < cpus:
            raise ConfigError(f"the Ray cluster at {self.address} has {total.get('CPU', 0):g} CPUs; "
                              f"each video asks for {cpus:g} (--threads)")
        self._check_shared(out.resolve())
        check = ray.remote(**self.resources, max_retries=MAX_RETRIES)(_check_task)
        try:
            ray.get(check.remote(opts))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            if isinstance(cause, FervideoError):
                raise cause from None
            raise BackendError(f"the Ray workers cannot load fervideo's models: {type(cause).__name__}: {cause}"
                               " (is fervideo installed on every node?)") from exc

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():  # a Python user connected already: use that cluster, leave it open
            return
        kw = {"address": self.address, "logging_level": logging.WARNING, "log_to_driver": True}
        if self.address == "local":
            kw["include_dashboard"] = False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        _check_reachable(self.address)
        try:
            ray.init(**kw)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BackendError(f"cannot connect to the Ray cluster at {self.address!r}: {str(exc).splitlines()[0]}") from exc
        self.owns_connection = True

    def _check_shared(self, out: Path) -> None:
        """Every node that can run a video must see ``out`` (a token written here, read there)."""
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        token = secrets.token_hex(8)
        self.marker = out / f".fervideo-ray-{token}"
        self.marker.write_text(token)
        need = {"CPU": self.resources["num_cpus"], "GPU": self.resources.get("num_gpus", 0)}
        nodes = [n for n in ray.nodes()  # the nodes a video can run on (a head with --num-cpus 0 runs none)
                 if n.get("Alive") and all(n.get("Resources", {}).get(r, 0) >= v for r, v in need.items())]
        read = ray.remote(_read_marker)
        refs = {read.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(self.marker): n
                for n in nodes}
        try:
            answers = ray.get(list(refs), timeout=NODE_CHECK_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise OutputError(f"Ray nodes did not answer within {NODE_CHECK_TIMEOUT_S:.0f} s whether they see {out}") from None
        for answer, node in zip(answers, refs.values()):
            if answer != token:
                where = node.get("NodeManagerHostname") or node.get("NodeManagerAddress")
                raise OutputError(f"the output folder {out} is not visible on the Ray node {where}: "
                                  "every node must see it at the same path (a shared file system such as NFS)")

    def run(self, jobs: list[VideoJob], opts: AnalyzeOptions, models: Backends, prog: Progress,
            run_one: RunOne, results: list[VideoResult]) -> None:
        start = len(results)
        try:
            self._run(jobs, opts, models, prog, run_one, results)
        finally:
            self.close()
        # Results arrive as videos end; the batch reports them in the order of its inputs, as a local run does.
        order = {str(job.path): k for k, job in enumerate(jobs)}
        results[start:] = sorted(results[start:], key=lambda r: order.get(r.path, len(order)))

    def _run(self, jobs: list[VideoJob], opts: AnalyzeOptions, models: Backends, prog: Progress,
             run_one: RunOne, results: list[VideoResult]) -> None:
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        todo = []
        for job in jobs:  # finished videos are reported here, without the cluster
            if is_finished(job.final, opts.render) and not opts.overwrite:
                results.append(run_one(job.path, job.final, opts, models, prog))
            else:
                todo.append(job)
        if not todo:
            return
        jobs = todo
        if self.marker is None:
            raise OutputError("RayExecutor.run before prepare: the cluster and the output folder were not checked")
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        events = ray.remote(num_cpus=0, scheduling_strategy=here)(_EventBox).remote()
        # Resources in ray.remote itself (not .options): there Ray keeps its default for GPU tasks,
        # one video per worker process, so GPU memory is always given back.
        task = ray.remote(**self.resources, max_retries=MAX_RETRIES, retry_exceptions=False)(_video_task)
        pending = {task.remote(run_one, k, job.path.resolve(), job.final.resolve(), opts, events, self.marker): job
                   for k, job in enumerate(jobs)}

        def drain() -> None:
            try:
                batch = ray.get(events.take.remote(), timeout=30)
            except ray.exceptions.RayError:  # progress is cosmetic: the videos go on without it
                log.debug("progress messages lost", exc_info=True)
                return
            for kind, k, n, phase in batch:
                if kind == "start":
                    prog.video_start(jobs[k].path, n, phase)
                else:
                    prog.video_frames(jobs[k].path, n)

        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
                drain()
                for ref in ready:
                    job = pending.pop(ref)
                    results.append(self._result(ref, job))
                    prog.video_end(results[-1])
                    if results[-1].disk_full:
                        for r in list(pending):
                            ray.cancel(r)
                            results.append(_not_started(pending.pop(r), "the output disk is full"))
                            prog.video_end(results[-1])
        except KeyboardInterrupt:
            for r in pending:
                ray.cancel(r)  # what a cancelled task leaves is a partial folder of a dead PID: the next run removes it
            raise
        finally:
            ray.kill(events)

    def _result(self, ref, job: VideoJob) -> VideoResult:
        ray = self.ray
        ex = ray.exceptions
        try:
            res = ray.get(ref)
        except ex.OutOfMemoryError:
            reason = "ran out of memory on its Ray node (stopped by Ray's memory monitor)"
        except (ex.WorkerCrashedError, ex.NodeDiedError, ex.LocalRayletDiedError) as exc:
            n = MAX_RETRIES + 1
            reason = f"its Ray worker died in each of {n} attempt{'s' if n > 1 else ''} ({type(exc).__name__})"
        except ex.TaskCancelledError:
            reason = "cancelled"
        except ex.RayTaskError as exc:
            reason = f"{type(exc.cause).__name__}: {str(exc.cause).splitlines()[0] if str(exc.cause) else ''}"
        except ex.RayError as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:
            # The worker saw resolved paths; report the paths the caller gave.
            res.path, res.out_dir = str(job.path), str(job.final)
            return res
        return VideoResult(str(job.path), str(job.final), "failed", f"{job.path}: {reason}")

    def close(self) -> None:
        if self.marker is not None:
            self.marker.unlink(missing_ok=True)
        if self.owns_connection:
            self.ray.shutdown()
            self.owns_connection = False


EXECUTORS = ("local", "ray")


def available() -> list[str]:
    return list(EXECUTORS)


def create(name: str, *, ray_address: str | None = None) -> Executor:
    """The executor called ``name``; checked (and Ray imported) before any video is read."""
    if name == "local":
        if ray_address is not None:
            raise ConfigError("ray_address is only used with executor='ray'")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(ray_address)
    raise ConfigError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
