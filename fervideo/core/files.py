"""File names of fervideo's outputs: the one place they are spelled.

The pipeline writes them, the study tools (report, plot, exports) read them; both import
these constants so a rename can never leave a reader looking for the old name.
"""

from __future__ import annotations

TIMELINE = "timeline.parquet"
TRACKS = "tracks.parquet"
PEAKS = "peaks.parquet"
PERSONS = "persons.parquet"
ANNOTATED = "annotated.mp4"
STUDY = "study.parquet"
STUDY_PERSONS = "study_persons.parquet"
PERSONS_CSV = "persons.csv"  # names and roles, filled in by the researcher (``fervideo persons``)
CONTACT_SHEET = "persons.png"  # one face per person per video, to fill persons.csv from
FAILURES = "failures.parquet"
REPORT = "report.html"


def figure_name(video_folder: str, kind: str, number: int) -> str:
    """``fervideo plot``'s default figure file: ``<video>_person3.png`` / ``<video>_track2.png``,
    so that figures of several people and videos made in one folder do not overwrite each other."""
    return f"{video_folder}_{kind}{number}.png"


#: Files that make a video folder finished (the annotated video too when rendering).
VIDEO_TABLES = (TIMELINE, TRACKS, PEAKS, PERSONS)

#: Suffixes read as still images (face data sets, ``fervideo explain`` inputs).
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
