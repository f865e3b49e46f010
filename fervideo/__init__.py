"""fervideo: per-person facial-emotion timelines from video files.

The public API: ``fervideo.analyze(videos, out, **options)`` and its types. Importing the
package is cheap: the pipeline (and with it torch and transformers) loads on first use of
``analyze`` or the option and result types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fervideo.core.errors import FervideoError
from fervideo.core.version import __version__

if TYPE_CHECKING:
    from fervideo.pipeline.batch import BatchResult, VideoResult, analyze
    from fervideo.pipeline.options import AnalyzeOptions

_LAZY = {
    "analyze": "fervideo.pipeline.batch",
    "BatchResult": "fervideo.pipeline.batch",
    "VideoResult": "fervideo.pipeline.batch",
    "AnalyzeOptions": "fervideo.pipeline.options",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fervideo' has no attribute {name!r}")


__all__ = ["analyze", "AnalyzeOptions", "BatchResult", "VideoResult", "FervideoError", "__version__"]
