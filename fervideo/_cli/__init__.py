"""Command-line interface: a thin private layer over the public API, one module per command group.

Heavy libraries (torch, transformers, OpenCV, pandas) are imported inside the commands that
use them, so ``fervideo --help`` answers at once.
"""

from __future__ import annotations

import os
import sys

from fervideo._cli import analyze, explain, models, study, train  # noqa: F401  (register the commands)
from fervideo._cli import persons  # noqa: F401  (register the command)
from fervideo._cli import export, study_cmd  # noqa: F401  (register the commands)
from fervideo._cli.app import app


def main() -> None:  # console-script entry point
    from fervideo.core.device import passive_openmp

    passive_openmp()
    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)


def exit_now(code: object) -> None:
    """End the process as soon as the command is done, skipping the interpreter's teardown.

    Why: after ``analyze`` has written everything, CPython's finalisation (clearing the modules
    of pandas, SciPy, onnxruntime, PyAV... and collecting their objects) took 0.2-0.37 s, 7% of
    an every-frame run of ``talking_head`` (measured on the project's 2-core machine: last output
    to exit 0.21-0.37 s, 0.02-0.04 s with this). What finalisation does that matters is done
    here first, in its order: wait for non-daemon threads, run the ``atexit`` handlers (logging's
    flush, temporary-directory clean-up, worker shutdowns), flush stdout and stderr. Every
    file the commands write is closed by then (context managers), and the dlib descriptor
    workers exit on their own when their stdin closes with this process.
    """
    import atexit
    import threading

    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing left to say
            pass
    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): print it, exit 1, as Python does
        try:
            print(code, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
        code = 1
    os._exit(code)


__all__ = ["app", "exit_now", "main"]
