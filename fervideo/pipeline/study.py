"""The study tables of an output folder, rebuilt from its video folders.

``study.parquet`` (and ``study_persons.parquet``) must describe every finished video in the
output folder however the runs were split (``analyze a.mp4``, later ``analyze b.mp4
--overwrite``), so they are built from the folders themselves, never from the last command's
list. ``failures.parquet`` keeps one record per failed input that stands until that input is
analysed successfully: the previous table is read and merged, records of inputs that failed
again are replaced, and records of inputs whose video folder was finished after the failure
are dropped.

Two processes may finish videos in one output folder at the same time; each rebuild holds an
exclusive lock on the output folder itself (``flock`` on the directory: no lock file is left
behind), so the last rebuild sees every published folder and no failure record is lost.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fervideo.core.errors import OutputError
from fervideo.core.files import FAILURES, PERSONS, STUDY, STUDY_PERSONS, TIMELINE, TRACKS
from fervideo.io.tables import SOURCE_FIELDS, failures_table, read_metadata, tracks_schema, write_table
from fervideo.pipeline.progress import VideoResult

log = logging.getLogger(__name__)


@dataclass
class FolderInput:
    """Which input a finished video folder holds (from its metadata)."""

    folder: str
    video_path: str | None  # absolute path at analysis time (None: written before fervideo recorded it)
    name: str  # the input's file name
    file_size: int | None
    created_utc: str


@dataclass
class StudySummary:
    videos: int = 0
    tracks: int = 0
    failures: int = 0
    unreadable: list[str] = field(default_factory=list)  # video folders whose tables could not be read


def video_folders(out: Path) -> list[Path]:
    """Finished video folders of ``out``: visible sub-folders holding a timeline and a tracks table."""
    if not out.is_dir():
        return []
    return sorted(d for d in out.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and (d / TIMELINE).is_file() and (d / TRACKS).is_file())


def folder_inputs(out: Path) -> dict[str, FolderInput]:
    """Per finished video folder, the input it was analysed from (unreadable folders are left out)."""
    found = {}
    for d in video_folders(out):
        try:
            meta = read_metadata(d / TRACKS)
        except Exception:  # noqa: BLE001 - a damaged folder must not stop a batch or a rebuild
            log.warning("cannot read %s; left out of the study", d / TRACKS)
            continue
        video = meta.get("video") or {}
        path = meta.get("video_path")
        name = Path(path or video.get("path") or d.name).name
        found[d.name] = FolderInput(d.name, path, name, video.get("file_size"), str(meta.get("created_utc", "")))
    return found


def same_input(a: FolderInput, path: Path, exact_only: bool = False) -> bool:
    """Whether a folder holds ``path``: the same absolute path, or, where the recorded path is
    gone (the study was moved with its videos) or was never recorded, the same name and size."""
    if a.video_path == os.path.abspath(path):
        return True
    if exact_only or a.name != path.name or (a.video_path is not None and os.path.exists(a.video_path)):
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return a.file_size == size if a.file_size is not None else a.video_path is None


def rebuild_study(out: str | Path, results: Iterable[VideoResult] = ()) -> StudySummary:
    """Rewrite ``study.parquet``, ``study_persons.parquet`` and ``failures.parquet`` of ``out`` from its folders.

    ``results`` are the videos of the run that just ended (the batch passes them): their
    failures are recorded, replacing older records of the same inputs. Without ``results``
    (``fervideo study OUT``) the failure records are only checked against the folders.
    """
    out = Path(out)
    if not out.is_dir():
        raise OutputError(f"{out}: not a fervideo output folder (no such folder)")
    results = list(results)
    with _locked(out):
        summary = StudySummary()
        inputs = folder_inputs(out)
        tracks, persons = [], []
        for name in sorted(inputs):
            d = out / name
            try:
                t = _with_source(pq.read_table(d / TRACKS), inputs[name])
                p = _with_source(pq.read_table(d / PERSONS), inputs[name]) if (d / PERSONS).is_file() else None
            except Exception:  # noqa: BLE001 - one damaged folder must not hide the others
                log.warning("cannot read the tables of %s; left out of the study", d)
                summary.unreadable.append(name)
                continue
            tracks.append(t)
            if p is not None:
                persons.append(p)
        summary.videos, summary.tracks = len(tracks), sum(t.num_rows for t in tracks)
        write_table(_stack(tracks, tracks_schema([])), out / STUDY)
        if persons or (out / STUDY_PERSONS).exists():
            from fervideo.io.tables import persons_schema

            write_table(_stack(persons, persons_schema([])), out / STUDY_PERSONS)
        fails = _merge_failures(out, results, inputs)
        write_table(failures_table(fails), out / FAILURES)
        summary.failures = len(fails)
    return summary


def _with_source(t: pa.Table, src: FolderInput) -> pa.Table:
    """Tables of folders written before ``video_path``/``video_folder`` existed get them from the metadata."""
    t = t.replace_schema_metadata(None)
    values = {"video_path": src.video_path, "video_folder": src.folder}
    for i, fl in enumerate(SOURCE_FIELDS):
        if fl.name not in t.column_names:
            t = t.add_column(min(1 + i, t.num_columns), fl, pa.array([values[fl.name]] * t.num_rows, fl.type))
    return t


def _stack(tables: list[pa.Table], empty: pa.Schema) -> pa.Table:
    if not tables:
        return empty.empty_table()
    return pa.concat_tables(tables, promote_options="default")


def _merge_failures(out: Path, results: list[VideoResult], inputs: dict[str, FolderInput]) -> list[tuple]:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    new = {}
    for r in results:
        if r.status == "failed":
            key = os.path.abspath(r.path)
            new[key] = (Path(r.path).name, r.path, r.reason, key, now)
    old = []
    if (out / FAILURES).is_file():
        try:
            old = pq.read_table(out / FAILURES).to_pylist()
        except Exception:  # noqa: BLE001
            log.warning("cannot read %s; earlier failures are not carried over", out / FAILURES)
    kept = []
    for row in old:
        key = row.get("video_path") or os.path.abspath(row.get("path") or "")
        if key in new or _resolved(row, key, inputs):
            continue
        kept.append((row.get("video"), row.get("path"), row.get("reason"), key, row.get("failed_utc")))
    return kept + list(new.values())


def _resolved(row: dict, key: str, inputs: dict[str, FolderInput]) -> bool:
    """An old failure is resolved once a folder of that input was finished after it."""
    when = row.get("failed_utc") or ""
    for src in inputs.values():
        if src.video_path == key and src.created_utc >= when:
            return True
    return False


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Exclusive lock on the output folder for the length of a rebuild."""
    try:
        import fcntl
    except ImportError:  # Windows: filelock's lock file cannot be deleted while held, and is deleted after
        from filelock import FileLock

        with FileLock(str(out / ".study.lock"), timeout=600):
            yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. a network file system without flock on folders
            log.warning("cannot lock %s (%s); rebuilding the study without a lock", out, exc)
        yield
    finally:
        os.close(fd)
