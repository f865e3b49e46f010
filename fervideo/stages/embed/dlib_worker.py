"""dlib's face descriptors in worker processes: persons off the GIL, on every core.

dlib's ``compute_face_descriptor`` holds the GIL for the whole batch (about 0.1 s of CPU a
face) and runs on one core. Called in the analysing process it stalls the annotated video,
which is written in a thread beside the persons stage: on the generated 720p multi-face
clip (35 tracks, all faces embedded) the render took 21.4-21.8 s beside persons against
12.2 s alone, the two stages one after the other in effect. With the descriptors in worker
processes: 18.3-19.4 s, now sharing the two cores rather than waiting for the GIL; persons
5.6-5.9 s instead of 9.3 s (2-core machine, idle otherwise).

The workers are plain subprocesses running this file as a script (``python dlib_worker.py
NET``): no ``multiprocessing`` start method, so a user's script without an ``if __name__ ==
"__main__"`` guard is never re-run, and the script imports only numpy and dlib. Requests and
answers are length-prefixed pickles over the worker's stdin and stdout; the aligned chips
(150 x 150 RGB) are computed in the parent, the descriptors (128 floats a face) come back.
A worker ignores Ctrl-C (the parent decides) and exits when its stdin closes, so a parent
that dies never leaves one behind.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("<Q")
#: Faces a worker gets at least per request: fewer would not pay for the pickling.
MIN_FACES_PER_WORKER = 4


def _read(stream) -> object:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the descriptor worker closed its pipe")
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the descriptor worker closed its pipe")
    return pickle.loads(data)


def _write(stream, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class DescriptorWorkers:
    """Up to ``size`` worker processes computing dlib face descriptors; started at first use.

    ``describe(chips)`` splits the chips over the workers in order and returns one row per
    chip, exactly what ``face_recognition_model_v1.compute_face_descriptor`` returns in the
    parent (the same library on the same pixels). Any failure of a worker (it could not start,
    it died, the machine ran out of memory) raises ``OSError`` or ``EOFError`` and closes all
    of them; the caller then computes in its own process.
    """

    def __init__(self, net_path: Path, size: int) -> None:
        self.net_path = Path(net_path)
        self.size = max(1, int(size))
        self._procs: list[subprocess.Popen] = []
        self._finalizer = weakref.finalize(self, _close, self._procs)

    def _start(self, n: int) -> None:
        while len(self._procs) < n:
            self._procs.append(subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(self.net_path)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            ))

    def describe(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, 128), np.float32)
        n = max(1, min(self.size, len(chips) // MIN_FACES_PER_WORKER))
        parts = [p for p in np.array_split(np.arange(len(chips)), n) if len(p)]
        try:
            self._start(len(parts))
            for proc, idx in zip(self._procs, parts):  # all requests out first: the workers run at once
                _write(proc.stdin, [chips[i] for i in idx])
            out = []
            for proc, _ in zip(self._procs, parts):
                got = _read(proc.stdout)
                if isinstance(got, str):
                    raise OSError(f"descriptor worker failed: {got}")
                out.append(got)
        except BaseException:
            self.close()  # a half-answered worker cannot be trusted with the next request
            raise
        return np.concatenate(out).astype(np.float32, copy=False)

    def close(self) -> None:
        _close(self._procs)

    @property
    def running(self) -> int:
        return sum(p.poll() is None for p in self._procs)


def _close(procs: list[subprocess.Popen]) -> None:
    """Close each worker's stdin (it exits at once when idle); kill one that does not."""
    for p in procs:
        try:
            if p.stdin:
                p.stdin.close()
        except OSError:
            pass
    for p in procs:
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout:
            p.stdout.close()
    procs.clear()


def _serve(net_path: str) -> int:
    """The worker's loop: read chips, answer descriptors (or the error as a string), until EOF."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import dlib

    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")  # the answers' own pipe: a library that
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints to stdout writes to stderr instead
    net = dlib.face_recognition_model_v1(net_path)
    while True:
        try:
            chips = _read(stdin)
        except EOFError:
            return 0
        try:
            reply: object = np.asarray(net.compute_face_descriptor(chips), np.float32).reshape(len(chips), 128)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which falls back
            reply = f"{type(exc).__name__}: {exc}"
        try:
            _write(stdout, reply)
        except (BrokenPipeError, OSError):
            return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
