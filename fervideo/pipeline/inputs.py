"""What to analyse: files, folders of videos and glob patterns, never fervideo's own outputs.

Researchers keep sessions in folders (``fervideo analyze videos/``, ``--recursive`` to descend)
and a glob given as a literal string (quoted on the command line, or from Python) is expanded
here. The annotated videos fervideo writes are MP4 files too, so any file inside a fervideo
output folder is skipped, and the run says how many: a video folder (it holds the per-video
tables), a study folder (``study.parquet`` or ``failures.parquet``), a hidden temporary folder
of a run, and the ``--out`` folder of this run. Files in a folder count as videos by their
extension, or, without a known one, by the container signature in their first bytes.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from fervideo.core.files import FAILURES, STUDY, VIDEO_TABLES

log = logging.getLogger(__name__)

VIDEO_EXTS = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".flv", ".mpg", ".mpeg",
    ".m2v", ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".ogv", ".mxf", ".dv", ".vob", ".y4m", ".nut",
})
#: Extensions that are certainly not videos: never sniffed (saves opening every file of a folder).
_NOT_VIDEO = frozenset({
    ".txt", ".csv", ".tsv", ".json", ".xml", ".eaf", ".pfsx", ".xlsx", ".ods", ".docx", ".pdf", ".html",
    ".parquet", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".wav", ".mp3", ".m4a",
    ".aac", ".flac", ".ogg", ".opus", ".py", ".r", ".md", ".zip", ".gz", ".boris", ".lock", ".tmp",
})
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Inputs:
    """The videos to analyse, the files skipped as fervideo outputs, and inputs that gave nothing."""

    paths: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (input as given, reason)


def expand_inputs(items, out: str | Path | None = None, recursive: bool = False) -> Inputs:
    """Files, folders and glob patterns -> video files in the order given, each once.

    A file named explicitly is kept whatever its extension (it fails later with its own reason
    if it is not a video), unless it lies inside a fervideo output folder. A missing path is
    kept too, so the batch reports it. An empty folder or a pattern that matches nothing is a
    problem with its reason.
    """
    res = Inputs()
    seen: set[str] = set()
    outputs = _OutputFolders(out)

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key in seen:
            return
        seen.add(key)
        if _exists(p) and outputs.contains(p):  # a missing path is reported missing, wherever it points
            res.skipped.append(p)
        else:
            res.paths.append(p)

    for item in items:
        p = Path(item)
        text = str(item)
        if p.is_dir():
            found = _folder_videos(p, recursive, outputs, res.skipped)
            if found is None:
                res.problems.append((text, f"{text}: is a directory that cannot be listed (permission denied)"))
            elif not found and not _any_skipped_under(p, res.skipped):
                res.problems.append((text, f"{text}: is a directory with no video files"
                                           + ("" if recursive else " (use --recursive to include its subfolders)")))
            for f in found or []:
                add(f)
        elif not _exists(p) and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file() and not _hidden(Path(m), text)]
            if not files:
                res.problems.append((text, f"{text}: no file matches this pattern"))
            for f in files:
                add(f)
        else:
            add(p)
    if res.skipped:
        log.debug("skipped %d file(s) inside fervideo output folders", len(res.skipped))
    return res


def is_video_file(p: Path) -> bool:
    """By extension, or (no known extension) by the container signature of the first bytes."""
    ext = p.suffix.lower()
    if ext in VIDEO_EXTS:
        return True
    if ext in _NOT_VIDEO:
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return _sniff(head)


def _sniff(h: bytes) -> bool:
    return (
        h[4:8] == b"ftyp"  # MP4, MOV, 3GP (ISO base media)
        or h[4:8] in (b"moov", b"mdat", b"wide", b"free") and h[8:12] != b""  # QuickTime without ftyp
        or h[:4] == b"\x1a\x45\xdf\xa3"  # Matroska, WebM
        or (h[:4] == b"RIFF" and h[8:12] == b"AVI ")
        or h[:3] == b"FLV"
        or h[:4] == b"\x30\x26\xb2\x75"  # ASF, WMV
        or h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")  # MPEG program / elementary stream
        or h[:4] == b"OggS"
        or h[:9] == b"YUV4MPEG2"
    )


class _OutputFolders:
    """Recognises folders fervideo wrote (answers are cached per folder)."""

    def __init__(self, out: str | Path | None) -> None:
        self.out = os.path.abspath(out) if out is not None else None
        self._cache: dict[str, bool] = {}

    def is_output(self, d: Path) -> bool:
        key = os.path.abspath(d)
        if key not in self._cache:
            self._cache[key] = (
                key == self.out
                or (d.name.startswith(".") and (".partial-" in d.name or ".old-" in d.name))
                or any((d / f).is_file() for f in (*VIDEO_TABLES, STUDY, FAILURES))
            )
        return self._cache[key]

    def contains(self, p: Path) -> bool:
        """Whether a file ``p`` lies inside a fervideo output folder (at any depth)."""
        return self.within(Path(os.path.abspath(p)).parent)

    def within(self, d: Path) -> bool:
        """Whether the folder ``d`` is, or lies inside, a fervideo output folder."""
        a = Path(os.path.abspath(d))
        return any(self.is_output(x) for x in (a, *a.parents))


def _folder_videos(d: Path, recursive: bool, outputs: _OutputFolders, skipped: list[Path]) -> list[Path] | None:
    """Video files of a folder (sorted, hidden files left out), descending when ``recursive``."""
    if outputs.within(d):  # the folder is (inside) an output: all of it is skipped
        try:
            skipped.extend(f for f in sorted(d.rglob("*") if recursive else d.iterdir()) if f.is_file() and is_video_file(f))
        except OSError:
            pass
        return []
    try:
        entries = sorted(d.iterdir(), key=lambda e: e.name)
    except OSError:
        return None
    found: list[Path] = []
    for e in entries:
        if e.name.startswith("."):  # hidden files, macOS "._x.mp4" resource forks, temporary folders
            continue
        if e.is_dir():
            if recursive:
                found += _folder_videos(e, True, outputs, skipped) or []
        elif e.is_file() and is_video_file(e):
            found.append(e)
    return found


def _any_skipped_under(d: Path, skipped: list[Path]) -> bool:
    a = os.path.abspath(d)
    return any(os.path.abspath(s).startswith(a + os.sep) for s in skipped)


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except OSError:
        return False


def _hidden(p: Path, pattern: str) -> bool:
    """A hidden file or folder the pattern did not name explicitly (``glob`` skips these by itself too)."""
    return any(part.startswith(".") and part not in (".", "..") and part not in pattern for part in p.parts)
