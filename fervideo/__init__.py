"""fervideo: per-person facial-emotion timelines from video files."""

from __future__ import annotations

__version__ = "0.1.0"

import fervideo.models  # noqa: F401  (registers the fervit model type with transformers)

from fervideo.batch import BatchResult, VideoResult, analyze  # noqa: E402
from fervideo.errors import FervideoError  # noqa: E402
from fervideo.options import AnalyzeOptions  # noqa: E402

__all__ = ["analyze", "AnalyzeOptions", "BatchResult", "VideoResult", "FervideoError", "__version__"]
