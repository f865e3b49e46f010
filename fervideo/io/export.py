"""Export a study to the formats researchers already work in: CSV, per-window tables, ELAN, BORIS.

* ``csv``: every table as CSV (UTF-8 with a byte-order mark, so Excel shows non-ASCII names;
  SPSS and R read it as UTF-8): the per-video tables stacked over the videos (``timeline.csv``,
  ``tracks.csv``, ``peaks.csv``, ``persons.csv`` where persons were found) and the study's
  own (``study.csv``, ``failures.csv``, ...). Binary columns (face thumbnails) and embeddings
  are left out; lists become ``1;2;3``.
* ``windows``: per video, person (where the column exists), track and window of ``every``
  seconds of video time: rows, mean smoothed probability and share of rows per label, mean
  valence, confidence, face size, frontal-ness and detector score; the table most analyses
  start from (``windows_1s.csv``). ``by="person"`` merges a person's tracks: one row per
  person and window, with the tracks it draws on (``windows_1s_by_person.csv``), the time
  series of "the participant" across cuts.
* ``elan``: an ELAN ``.eaf`` per video (written with ``pympi-ling``, the library ELAN users
  script with): one tier per person (or per track, for studies without persons) whose
  annotations are the label segments (consecutive rows with one label merged; a gap in the
  face splits), with the input video linked as media.
* ``boris``: per video, the events table BORIS imports into an open observation
  (File > Import observations, spreadsheet; BORIS 8 reads ``.xlsx``/``.ods`` with the columns
  ``time``, ``subject``, ``code``, ``modifier``, ``comment``): each label segment is a state
  event, its start and its stop at their times (BORIS pairs the events of one subject and
  behaviour in turn), with a ``.csv`` twin for other tools.

Quality filters (``min_face`` pixels, ``min_frontal``, ``min_score``) drop timeline rows before
``timeline.csv``, windows and segments are made; the per-track tables are the run's own and are
not filtered.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fervideo.core.errors import ConfigError, OutputError
from fervideo.core.files import TIMELINE
from fervideo.core.quality import face_size

log = logging.getLogger(__name__)

FORMATS = ("csv", "windows", "elan", "boris")
WINDOWS_BY = ("track", "person")
EXCEL_MAX_ROWS = 1_048_575


def export(out: str | Path, formats: Iterable[str], to: str | Path | None = None, *, every: float = 1.0,
           min_face: float = 0.0, min_frontal: float = 0.0, min_score: float = 0.0, by: str = "track") -> list[Path]:
    """Write the exports of the output folder ``out`` into ``to`` (default ``out/export``); the files written."""
    out = Path(out)
    formats = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"unknown export format {bad[0]!r}; choose from: {', '.join(FORMATS)}")
    if by not in WINDOWS_BY:
        raise ConfigError(f"windows by {by!r}: choose from {', '.join(WINDOWS_BY)}")
    if not math.isfinite(every) or every <= 0:
        raise ConfigError(f"every must be a positive number of seconds, got {every}")
    if min_face < 0:
        raise ConfigError(f"min_face must be >= 0 pixels, got {min_face}")
    for name, v in (("min_frontal", min_frontal), ("min_score", min_score)):
        if not 0 <= v <= 1:
            raise ConfigError(f"{name} must be in [0, 1], got {v}")
    folders = _video_folders(out)
    if not folders and not list(out.glob("*.parquet")):
        raise OutputError(f"{out}: not a fervideo output folder (no analysed video folders in it)")
    dest = Path(to) if to is not None else out / "export"
    dest.mkdir(parents=True, exist_ok=True)
    filt = _Filter(min_face, min_frontal, min_score)
    written: list[Path] = []
    if "csv" in formats:
        written += _export_csv(out, folders, dest, filt)
    timelines = None
    if any(f in formats for f in ("windows", "elan", "boris")):
        timelines = {d: filt(d, _read_timeline(d)) for d in folders}
    if "windows" in formats:
        path = dest / (f"windows_{every:g}s.csv" if by == "track" else f"windows_{every:g}s_by_{by}.csv")
        parts = [window_table(tl, every, _labels(tl), by=by) for tl in timelines.values() if len(tl)]
        _write_csv(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(), path)
        written.append(path)
    if "elan" in formats:
        (dest / "elan").mkdir(exist_ok=True)
        for d, tl in timelines.items():
            written.append(write_eaf(tl, dest / "elan" / f"{d.name}.eaf", _video_path(d, tl)))
    if "boris" in formats:
        (dest / "boris").mkdir(exist_ok=True)
        for d, tl in timelines.items():
            ev = boris_events(tl)
            xlsx = dest / "boris" / f"{d.name}.xlsx"
            ev.to_excel(xlsx, index=False)
            _write_csv(ev, xlsx.with_suffix(".csv"))
            written += [xlsx, xlsx.with_suffix(".csv")]
    return written


# ---------------------------------------------------------------------------------------------- reading


def _video_folders(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(d for d in out.iterdir() if d.is_dir() and not d.name.startswith(".") and (d / TIMELINE).is_file())


def _read_timeline(d: Path) -> pd.DataFrame:
    tl = pq.read_table(d / TIMELINE).to_pandas()
    if "video_folder" not in tl.columns:  # written before the source columns existed
        tl.insert(1, "video_folder", d.name)
    if "video_path" not in tl.columns:
        tl.insert(1, "video_path", _meta_video_path(d))
    if "face_px" not in tl.columns and len(tl):
        tl["face_px"] = face_size(tl[["x1", "y1", "x2", "y2"]].to_numpy())
    return tl


def _meta_video_path(d: Path) -> str | None:
    from fervideo.io.tables import read_metadata

    meta = read_metadata(d / TIMELINE)
    return meta.get("video_path") or (meta.get("video") or {}).get("path")


def _video_path(d: Path, tl: pd.DataFrame) -> str | None:
    if len(tl) and "video_path" in tl.columns and isinstance(tl["video_path"].iloc[0], str):
        return tl["video_path"].iloc[0]
    return _meta_video_path(d)


def _labels(tl: pd.DataFrame) -> list[str]:
    return [c[len("smooth_"):] for c in tl.columns if c.startswith("smooth_")]


class _Filter:
    """Drops timeline rows of poor faces; says which study cannot be filtered and why."""

    def __init__(self, min_face: float, min_frontal: float, min_score: float) -> None:
        self.min_face, self.min_frontal, self.min_score = min_face, min_frontal, min_score

    def __call__(self, d: Path, tl: pd.DataFrame) -> pd.DataFrame:
        if not len(tl):
            return tl
        keep = np.ones(len(tl), bool)
        if self.min_face > 0:
            keep &= tl["face_px"].to_numpy() >= self.min_face
        if self.min_frontal > 0:
            if "frontal" not in tl.columns:
                raise ConfigError(f"{d.name} was analysed before fervideo measured how frontal faces are: "
                                  "analyse it again with --overwrite to filter with --min-frontal")
            keep &= tl["frontal"].to_numpy() >= self.min_frontal  # NaN (no landmarks) is dropped
        if self.min_score > 0:
            keep &= tl["det_score"].to_numpy() >= self.min_score
        return tl[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- CSV


def _export_csv(out: Path, folders: list[Path], dest: Path, filt: _Filter) -> list[Path]:
    written = []
    per_video: dict[str, list[pd.DataFrame]] = {}
    for d in folders:
        for f in sorted(d.glob("*.parquet")):
            df = _read_timeline(d) if f.name == TIMELINE else _csv_ready(pq.read_table(f))
            if f.name == TIMELINE:
                df = filt(d, df)
            elif "video_folder" not in df.columns:
                df.insert(min(1, len(df.columns)), "video_folder", d.name)
            per_video.setdefault(f.stem, []).append(df)
    for stem, parts in per_video.items():
        parts = [p for p in parts if len(p.columns)]
        written.append(_write_csv(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(), dest / f"{stem}.csv"))
    for f in sorted(out.glob("*.parquet")):  # the study's own tables
        try:
            written.append(_write_csv(_csv_ready(pq.read_table(f)), dest / f"{f.stem}.csv"))
        except Exception:  # noqa: BLE001 - a damaged table must not stop the other exports
            log.warning("cannot read %s; not exported", f)
    return written


def _csv_ready(t: pa.Table) -> pd.DataFrame:
    """Columns a spreadsheet can hold: binary and float-list columns left out, lists joined with ';'."""
    keep = []
    for fl in t.schema:
        ty = fl.type
        if pa.types.is_binary(ty) or pa.types.is_large_binary(ty):
            continue
        if (pa.types.is_list(ty) or pa.types.is_large_list(ty)) and (
                pa.types.is_floating(ty.value_type) or pa.types.is_binary(ty.value_type)):
            continue
        keep.append(fl.name)
    df = t.select(keep).to_pandas()
    for fl in t.schema:
        if fl.name in df.columns and (pa.types.is_list(fl.type) or pa.types.is_large_list(fl.type)):
            df[fl.name] = [None if v is None else ";".join(map(str, v)) for v in df[fl.name]]
    return df


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    if len(df) > EXCEL_MAX_ROWS:
        log.warning("%s has %d rows: Excel opens at most %d (SPSS, R and pandas read it all); "
                    "the windows export is the smaller table", path.name, len(df), EXCEL_MAX_ROWS)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_csv(tmp, index=False, encoding="utf-8-sig")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- windows


def window_table(tl: pd.DataFrame, every: float, labels: list[str], by: str = "track") -> pd.DataFrame:
    """Per video, person (if the column exists), track and window of ``every`` seconds: the aggregates.

    ``by="person"``: per video, person and window instead, the rows of all the person's tracks
    together (a person's tracks never share a moment, so nothing is counted twice), with the
    person's name and role where given and ``tracks`` ("1;3") saying which tracks a window draws on."""
    tl = tl.assign(window=np.floor(tl["time_s"].to_numpy() / every + 1e-9).astype(np.int64))
    if by == "person":
        if "person_id" not in tl.columns:
            raise ConfigError("windows by person: this timeline has no person_id (analysed before persons existed); "
                              "export by track")
        keys = ["video", "video_path", "video_folder", "person_id", "person_name", "person_role", "window"]
    else:
        keys = ["video", "video_path", "video_folder"] + (["person_id"] if "person_id" in tl.columns else []) + ["track_id", "window"]
    keys = [k for k in keys if k in tl.columns]
    g = tl.groupby(keys, sort=True, dropna=False)
    res = g.size().rename("rows").to_frame()
    if by == "person":
        res["tracks"] = g["track_id"].agg(lambda t: ";".join(str(v) for v in sorted(set(t.tolist()))))
    res["detected_rows"] = g["detected"].sum().astype(np.int64)
    for c in labels:
        res[f"mean_{c}"] = g[f"smooth_{c}"].mean()
    onehot = pd.get_dummies(tl["label"]).reindex(columns=labels, fill_value=False).astype(np.float64)
    shares = onehot.groupby([tl[k] for k in keys], sort=True, dropna=False).mean()
    for c in labels:
        res[f"share_{c}"] = shares[c]
    for src, name in (("valence", "mean_valence"), ("confidence", "mean_confidence"), ("face_px", "mean_face_px"),
                      ("frontal", "mean_frontal"), ("det_score", "mean_det_score")):
        if src in tl.columns:
            res[name] = g[src].mean()
    res = res.reset_index()
    res.insert(res.columns.get_loc("window") + 1, "start_s", res["window"] * every)
    res.insert(res.columns.get_loc("start_s") + 1, "end_s", (res["window"] + 1) * every)
    return res


# ---------------------------------------------------------------------------------------------- segments


def label_segments(tl: pd.DataFrame) -> list[tuple[str, float, float, str]]:
    """(tier, start_s, end_s, label) of runs of one label per person (or track), in time order.

    Each row stands for the time to the next analysed row (the tier's median step): a run
    ends at its last row plus one step, or at the next row where that comes sooner; a gap of
    more than 1.5 steps (the face lost, or rows filtered out) ends a run.
    """
    if not len(tl):
        return []
    by = "person_id" if "person_id" in tl.columns and tl["person_id"].notna().all() else "track_id"
    segs = []
    for key, g in tl.groupby(by, sort=True):
        g = g.sort_values(["time_s", "track_id"], kind="stable")
        t = g["time_s"].to_numpy(np.float64)
        lab = g["label"].astype(str).to_numpy()
        dt = np.diff(t)
        step = float(np.median(dt[dt > 0])) if (dt > 0).any() else 0.1
        tier = _tier_name(by, key, g)
        start = 0
        for i in range(1, len(t) + 1):
            if i < len(t) and lab[i] == lab[start] and t[i] - t[i - 1] <= 1.5 * step:
                continue
            end = t[i - 1] + step
            if i < len(t):
                end = min(end, t[i])
            if segs and segs[-1][0] == tier and t[start] < segs[-1][2]:  # overlapping tracks of one person
                start_s = segs[-1][2]
            else:
                start_s = t[start]
            if end > start_s:
                segs.append((tier, float(start_s), float(end), str(lab[start])))
            start = i
    return segs


def _tier_name(by: str, key, g: pd.DataFrame) -> str:
    if by == "person_id":
        name = g["person_name"].dropna().iloc[0] if "person_name" in g.columns and g["person_name"].notna().any() else None
        return f"{name} (person {int(key)})" if name else f"person {int(key)}"
    return f"track {int(key)}"


def write_eaf(tl: pd.DataFrame, path: Path, video_path: str | None) -> Path:
    """An ELAN file: one tier per person (or track) with its label segments; the video linked as media."""
    from pympi.Elan import Eaf

    eaf = Eaf(author="fervideo")
    eaf.remove_tier("default")
    segs = label_segments(tl)
    for tier in dict.fromkeys(s[0] for s in segs):
        eaf.add_tier(tier)
    for tier, a, b, lab in segs:
        eaf.add_annotation(tier, round(a * 1000), round(b * 1000), lab)
    if video_path:
        media = Path(video_path)
        mime = mimetypes.guess_type(media.name)[0] or "video/*"
        try:
            rel = "./" + Path(os.path.relpath(media, path.parent)).as_posix()
        except ValueError:  # another drive (Windows)
            rel = None
        eaf.add_linked_file(media.absolute().as_uri(), relpath=rel, mimetype=mime)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    eaf.to_file(str(tmp))
    os.replace(tmp, path)
    return path


def boris_events(tl: pd.DataFrame) -> pd.DataFrame:
    """BORIS's spreadsheet import: a start and a stop event per label segment, in time order."""
    rows = []
    for tier, a, b, lab in label_segments(tl):
        rows.append((round(a, 3), 1, tier, lab))  # start
        rows.append((round(b, 3), 0, tier, lab))  # stop: before a start at the same time
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return pd.DataFrame({"time": [r[0] for r in rows], "subject": [r[2] for r in rows], "code": [r[3] for r in rows],
                         "modifier": [""] * len(rows), "comment": [""] * len(rows)})
