"""File names of fervideo's outputs: the one place they are spelled.

The pipeline writes them, the study tools (report, plot, exports) read them; both import
these constants so a rename can never leave a reader looking for the old name.
"""

from __future__ import annotations

TIMELINE = "timeline.parquet"
TRACKS = "tracks.parquet"
PEAKS = "peaks.parquet"
ANNOTATED = "annotated.mp4"
STUDY = "study.parquet"
FAILURES = "failures.parquet"
REPORT = "report.html"

#: Files that make a video folder finished (the annotated video too when rendering).
VIDEO_TABLES = (TIMELINE, TRACKS, PEAKS)
