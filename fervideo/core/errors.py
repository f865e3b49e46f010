"""Dedicated exceptions with messages a researcher can act on.

Every error that reaches the user names the file or model involved and what to do next;
the CLI prints ``str(exc)`` as one line and only shows a traceback with ``--verbose``.
"""

from __future__ import annotations


class FervideoError(Exception):
    """Base class of every error fervideo raises on purpose."""


class VideoError(FervideoError):
    """A video cannot be opened or decoded (missing, not a video, corrupt, empty)."""


class ModelError(FervideoError):
    """A model cannot be found, loaded, verified or mapped to the emotion vocabulary."""


class BackendError(FervideoError):
    """An unknown backend name, or a backend whose optional dependency is missing."""


class QuantizationError(BackendError):
    """A model's int8 variant could not be made (an operator the quantiser does not handle)."""


class ConfigError(FervideoError, ValueError):
    """An option has a value that cannot work (unknown architecture, bad range), found before any work.

    Also a ``ValueError``, so callers that validate values the usual Python way catch it.
    """


class DeviceError(ConfigError):
    """The compute device asked for does not exist on this machine."""


class TrainingError(FervideoError):
    """Training cannot go on (the loss diverged)."""


class DataError(FervideoError):
    """A training or evaluation data set cannot be read or has no usable labels."""


class OutputError(FervideoError):
    """The output directory cannot be written."""


class DiskFullError(OutputError):
    """The output disk filled up while results were being written."""


DISK_FULL_ERRNOS = (28, 122)  # ENOSPC, EDQUOT (quota exceeded)


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError (also PyAV's and pyarrow's) that says the disk or quota is full."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    text = str(exc)
    return "No space left on device" in text or "Disk quota exceeded" in text
