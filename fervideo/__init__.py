"""fervideo: per-person facial-emotion timelines from video files."""

from __future__ import annotations

__version__ = "0.1.0"

import fervideo.models  # noqa: F401  (registers the fervit model type with transformers)
