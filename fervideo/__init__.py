"""fervideo: per-person facial-emotion timelines from video files."""

from __future__ import annotations

import os as _os

# OpenMP threads that spin while waiting collapse throughput (measured: bf16 classification
# from 690 to 37 crops/s on 2 cores) as soon as anything else runs: our own decode thread,
# onnxruntime, or another program. Passive waiting must be chosen before torch loads OpenMP.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

import fervideo.models  # noqa: F401  (registers the fervit model type with transformers)

from fervideo.batch import BatchResult, VideoResult, analyze  # noqa: E402
from fervideo.errors import FervideoError  # noqa: E402
from fervideo.options import AnalyzeOptions  # noqa: E402

__all__ = ["analyze", "AnalyzeOptions", "BatchResult", "VideoResult", "FervideoError", "__version__"]
