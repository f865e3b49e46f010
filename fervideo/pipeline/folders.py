"""Output folders that are either complete or absent: probing, atomic renames, locks, cleanup.

Each video is written into a hidden ``.NAME.partial-PID`` folder and renamed into place when
complete, so a crash, Ctrl-C or full disk never leaves a half-written result under its final
name. A per-video lock file keeps two processes on one output folder from writing the same
video. Temporary folders of killed runs (their PID is gone) are removed by the next run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fervideo.core.errors import OutputError
from fervideo.core.files import ANNOTATED, VIDEO_TABLES

MIN_FREE_BYTES = 200 * 1024 * 1024


def is_finished(d: Path, render: bool) -> bool:
    return all((d / f).exists() for f in VIDEO_TABLES) and (not render or (d / ANNOTATED).exists())


def check_out_dir(out: Path) -> None:
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(final: Path) -> None:
    """Temporary folders of runs that were killed (SIGKILL, power loss) are removed on the next run."""
    stale = [*final.parent.glob(f".{final.name}.partial-*"), *final.parent.glob(f".{final.name}.old-*")]
    for p in stale:
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def partial_dir(final: Path) -> Path:
    return final.parent / f".{final.name}.partial-{os.getpid()}"


def lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


def publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary folder into place, replacing an older result atomically."""
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
