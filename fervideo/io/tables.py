"""Write: the typed Parquet tables (timeline, tracks, study, failures) and their metadata.

Schemas are explicit pyarrow schemas, so an empty result (a video with no faces) still has
every column with its type, and R/pandas users get the same columns every time. The run's
metadata (package version, models with sha256, every option, the video's properties) is
stored as JSON under the ``fervideo`` key of each file's schema metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fervideo.core.affect import find_peaks, valence
from fervideo.core.errors import DiskFullError, is_disk_full
from fervideo.core.quality import clear, face_size, frontal
from fervideo.core.types import Faces

META_KEY = b"fervideo"

#: Which input a row comes from: ``video`` (file name) is not unique across folders, so every table
#: also names the input's absolute path and its output folder; (video_folder, track_id) is a key.
SOURCE_FIELDS = (pa.field("video_path", pa.string()), pa.field("video_folder", pa.string()))

#: Who a row is: ``person_id`` joins one person's tracks within a video (``stages/persons.py``);
#: name and role are null until filled in with ``fervideo persons OUT --apply``.
PERSON_FIELDS = (pa.field("person_id", pa.int32()), pa.field("person_name", pa.string()), pa.field("person_role", pa.string()))


def _key_fields() -> list[pa.Field]:
    """The columns that say whose row it is, first in every per-track table."""
    return [pa.field("video", pa.string()), *SOURCE_FIELDS, pa.field("track_id", pa.int32()), *PERSON_FIELDS]


def timeline_schema(labels: list[str], metadata: dict | None = None) -> pa.Schema:
    fields = [
        *_key_fields(),
        pa.field("frame_index", pa.int64()),
        pa.field("time_s", pa.float64()),
        pa.field("x1", pa.float32()),
        pa.field("y1", pa.float32()),
        pa.field("x2", pa.float32()),
        pa.field("y2", pa.float32()),
        pa.field("det_score", pa.float32()),
        pa.field("detected", pa.bool_()),
        pa.field("face_px", pa.float32()),  # quality: shorter side of the box (core/quality.py)
        pa.field("frontal", pa.float32()),  # quality: 1 = frontal, 0 = profile, from the landmarks
    ]
    fields += [pa.field(f"raw_{c}", pa.float32()) for c in labels]
    fields += [pa.field(f"smooth_{c}", pa.float32()) for c in labels]
    fields += [pa.field("label", pa.string()), pa.field("confidence", pa.float32()), pa.field("valence", pa.float32())]
    return pa.schema(fields, metadata=_meta(metadata))


def tracks_schema(labels: list[str], metadata: dict | None = None) -> pa.Schema:
    fields = [
        *_key_fields(),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("duration_s", pa.float64()),
        pa.field("frames", pa.int32()),
        pa.field("detected_frames", pa.int32()),
        pa.field("mean_det_score", pa.float32()),
        pa.field("clear_share", pa.float32()),  # rows of a near-frontal face of 40 px or more (core/quality.py)
        pa.field("dominant", pa.string()),
    ]
    fields += [pa.field(f"share_{c}", pa.float32()) for c in labels]
    fields += [pa.field(f"mean_{c}", pa.float32()) for c in labels]
    fields += [pa.field("mean_valence", pa.float32())]
    return pa.schema(fields, metadata=_meta(metadata))


def peaks_schema(metadata: dict | None = None) -> pa.Schema:
    return pa.schema(
        [
            pa.field("video", pa.string()),
            *SOURCE_FIELDS,
            pa.field("track_id", pa.int32()),
            *PERSON_FIELDS,
            pa.field("emotion", pa.string()),
            pa.field("time_s", pa.float64()),
            pa.field("frame_index", pa.int64()),
            pa.field("value", pa.float32()),
            pa.field("start_s", pa.float64()),
            pa.field("end_s", pa.float64()),
            pa.field("duration_s", pa.float64()),
        ],
        metadata=_meta(metadata),
    )


FAILURES_SCHEMA = pa.schema(
    [pa.field("video", pa.string()), pa.field("path", pa.string()), pa.field("reason", pa.string()),
     pa.field("video_path", pa.string()),  # absolute path of the input: the record stands until it is analysed
     pa.field("failed_utc", pa.string())]
)


def _meta(metadata: dict | None) -> dict[bytes, bytes] | None:
    if metadata is None:
        return None
    return {META_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}


def read_metadata(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[META_KEY]) if META_KEY in meta else {}


def timeline_table(video: str, faces: Faces, labels: list[str], metadata: dict | None,
                   person_of: dict[int, int] | None = None, *, video_path: str | None = None,
                   video_folder: str | None = None) -> pa.Table:
    """One row per face and analysed frame; ``person_of`` maps track -> person (default: each track its own)."""
    schema = timeline_schema(labels, metadata)
    n = len(faces)
    order = np.lexsort((faces.track_ids, faces.time_s)) if n else np.zeros(0, np.int64)
    f = faces[order] if n else faces
    k = len(labels)
    raw = f.probs if f.probs is not None else np.zeros((n, k), np.float32)
    sm = f.smoothed if f.smoothed is not None else raw
    lab = f.label_ids if f.label_ids is not None else (sm.argmax(1) if n else np.zeros(0, np.int64))
    cols = {
        "video": pa.array([video] * n, pa.string()),
        "video_path": pa.array([video_path] * n, pa.string()),
        "video_folder": pa.array([video_folder] * n, pa.string()),
        "track_id": f.track_ids.astype(np.int32),
        "person_id": np.array([(person_of or {}).get(int(t), int(t)) for t in f.track_ids], np.int32),
        "person_name": pa.nulls(n, pa.string()),
        "person_role": pa.nulls(n, pa.string()),
        "frame_index": f.frame_index,
        "time_s": f.time_s,
        "x1": f.boxes[:, 0],
        "y1": f.boxes[:, 1],
        "x2": f.boxes[:, 2],
        "y2": f.boxes[:, 3],
        "det_score": f.scores,
        "detected": f.detected,
        "face_px": face_size(f.boxes),
        "frontal": frontal(f.landmarks),
    }
    for j, c in enumerate(labels):
        cols[f"raw_{c}"] = raw[:, j].astype(np.float32)
    for j, c in enumerate(labels):
        cols[f"smooth_{c}"] = sm[:, j].astype(np.float32)
    cols["label"] = pa.array([labels[i] for i in lab], pa.string())
    cols["confidence"] = sm[np.arange(n), lab].astype(np.float32) if n else np.zeros(0, np.float32)
    cols["valence"] = valence(sm, labels) if n else np.zeros(0, np.float32)
    return pa.table([pa.array(cols[fl.name], fl.type) for fl in schema], schema=schema)


def tracks_table(video: str, timeline: pa.Table, labels: list[str], metadata: dict | None) -> pa.Table:
    """One row per track, from the timeline table (so both always agree)."""
    schema = tracks_schema(labels, metadata)
    df = timeline.to_pandas()
    rows = []
    for tid, g in df.groupby("track_id", sort=True):
        counts = g["label"].value_counts()
        row = {
            "video": video,
            **{fl.name: _first(g[fl.name]) for fl in SOURCE_FIELDS},
            "track_id": int(tid),
            **{fl.name: _first(g[fl.name]) for fl in PERSON_FIELDS},
            "start_s": float(g["time_s"].min()),
            "end_s": float(g["time_s"].max()),
            "duration_s": float(g["time_s"].max() - g["time_s"].min()),
            "frames": int(len(g)),
            "detected_frames": int(g["detected"].sum()),
            "mean_det_score": float(g["det_score"].mean()),
            "clear_share": float(clear(g["face_px"].to_numpy(), g["frontal"].to_numpy()).mean()),
            "dominant": str(counts.index[0]),
        }
        for c in labels:
            row[f"share_{c}"] = float(counts.get(c, 0) / len(g))
        for c in labels:
            row[f"mean_{c}"] = float(g[f"smooth_{c}"].mean())
        row["mean_valence"] = float(g["valence"].mean())
        rows.append(row)
    arrays = [pa.array([r[fl.name] for r in rows], fl.type) for fl in schema]
    return pa.table(arrays, schema=schema)


def _first(values) -> object:
    """The first non-null value of a column (a track's or person's name), or None."""
    v = values.dropna()
    if len(v) == 0:
        return None
    x = v.iloc[0]
    return x.item() if isinstance(x, np.generic) else x


def persons_schema(labels: list[str], metadata: dict | None = None) -> pa.Schema:
    fields = [
        pa.field("video", pa.string()),
        *SOURCE_FIELDS,
        *PERSON_FIELDS,
        pa.field("tracks", pa.list_(pa.int32())),
        pa.field("n_tracks", pa.int32()),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("screen_s", pa.float64()),
        pa.field("frames", pa.int32()),
        pa.field("face_px", pa.float32()),  # median face size (shorter box side, px) over the person's rows
        pa.field("clear_share", pa.float32()),  # rows of a near-frontal face of 40 px or more (core/quality.py)
        pa.field("dominant", pa.string()),
    ]
    fields += [pa.field(f"share_{c}", pa.float32()) for c in labels]
    fields += [pa.field(f"mean_{c}", pa.float32()) for c in labels]
    fields += [
        pa.field("mean_valence", pa.float32()),
        pa.field("thumbnail", pa.binary()),  # JPEG of the face of the person's longest track
        pa.field("track_thumbnails", pa.list_(pa.binary())),  # JPEG per track, in the order of ``tracks``
        pa.field("embedding", pa.list_(pa.float32())),  # mean face embedding (null: no usable face); for --across-videos
    ]
    return pa.schema(fields, metadata=_meta(metadata))


def persons_table(video: str, timeline: pa.Table, labels: list[str], metadata: dict | None,
                  thumbs: dict[int, bytes] | None = None, embeddings: dict[int, np.ndarray] | None = None) -> pa.Table:
    """One row per person, from the timeline table (so both always agree); ``thumbs`` per track, ``embeddings`` per person."""
    schema = persons_schema(labels, metadata)
    thumbs, embeddings = thumbs or {}, embeddings or {}
    df = timeline.to_pandas()
    rows = []
    for pid, g in df.groupby("person_id", sort=True):
        tracks = g.groupby("track_id")["time_s"].agg(["min", "max", "size"])
        counts = g["label"].value_counts()
        emb = embeddings.get(int(pid))
        row = {
            "video": video,
            **{fl.name: _first(g[fl.name]) for fl in SOURCE_FIELDS},
            "person_id": int(pid),
            "person_name": _first(g["person_name"]),
            "person_role": _first(g["person_role"]),
            "tracks": [int(t) for t in tracks.index],
            "n_tracks": len(tracks),
            "start_s": float(g["time_s"].min()),
            "end_s": float(g["time_s"].max()),
            "screen_s": float((tracks["max"] - tracks["min"]).sum()),  # one person's tracks never overlap
            "frames": int(len(g)),
            "face_px": float(g["face_px"].median()),
            "clear_share": float(clear(g["face_px"].to_numpy(), g["frontal"].to_numpy()).mean()),
            "dominant": str(counts.index[0]),
            "thumbnail": thumbs.get(int(tracks["size"].idxmax())),
            "track_thumbnails": [thumbs.get(int(t)) for t in tracks.index],
            "embedding": None if emb is None else np.asarray(emb, np.float32).tolist(),
        }
        for c in labels:
            row[f"share_{c}"] = float(counts.get(c, 0) / len(g))
        for c in labels:
            row[f"mean_{c}"] = float(g[f"smooth_{c}"].mean())
        row["mean_valence"] = float(g["valence"].mean())
        rows.append(row)
    return pa.table([pa.array([r[fl.name] for r in rows], fl.type) for fl in schema], schema=schema)


def peaks_table(timeline: pa.Table, labels: list[str], metadata: dict | None, threshold: float = 0.5, max_gap: float = 1.0) -> pa.Table:
    schema = peaks_schema(metadata)
    tl = timeline.to_pandas()
    df = find_peaks(tl, labels, threshold, max_gap)
    for fl in SOURCE_FIELDS:  # one video per timeline: its path and folder on every peak
        df[fl.name] = timeline[fl.name][0].as_py() if timeline.num_rows and fl.name in timeline.column_names else None
    who = tl.groupby("track_id")[[fl.name for fl in PERSON_FIELDS]].first() if len(tl) else None
    for fl in PERSON_FIELDS:  # the person of each peak's track
        df[fl.name] = df["track_id"].map(who[fl.name]) if who is not None and len(df) else None
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def write_table(table: pa.Table, path: Path) -> None:
    """Write via a temporary name and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(f"no space left on the disk of {path.parent} while writing {path.name}; "
                                "nothing was left half-written: free some space and run the same command again") from exc
        raise


def study_table(track_files: list[Path]) -> pa.Table:
    """Every video's tracks in one table; columns are the union (models may differ)."""
    tables = [pq.read_table(p) for p in track_files if p.exists()]
    if not tables:
        return tracks_schema([]).empty_table()
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="default")


def failures_table(failures: list[tuple[str | None, ...]]) -> pa.Table:
    """Rows of (video, path, reason[, video_path[, failed_utc]]); missing trailing values are null."""
    k = len(FAILURES_SCHEMA)
    rows = [tuple(f) + (None,) * (k - len(f)) for f in failures]
    return pa.table([pa.array([r[i] for r in rows], pa.string()) for i in range(k)], schema=FAILURES_SCHEMA)
