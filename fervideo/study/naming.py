"""Naming the persons of a study (``fervideo persons OUT``): contact sheet, ``persons.csv``, names in every table.

``analyze`` gives each video's persons ids (``person_id``, joined tracks). A researcher knows
who they are: ``write_sheet`` writes ``OUT/persons.png`` (one face per person per video) and a
``OUT/persons.csv`` template (video, person_id, name, role; ``video`` is the video's output
folder, ``OUT/<video>/``, which is unique where file names are not); rows already named in an
existing CSV are kept. ``apply_names`` then writes ``person_name`` and ``person_role`` into every
video's timeline, tracks, persons and peaks tables and the study tables, so dropping the interviewer
is one line of pandas (``tl[tl.person_role != "interviewer"]``).

``across_videos=True`` matches persons across the videos (the same participant in sessions
1-5) by their mean face embeddings, with the embedder and threshold the videos were analysed
with; persons of one video never match each other. The match is a suggestion: it fills the
``study_person`` column of the CSV and groups the sheet by it, and a name given on one row of
a group names the group's other rows when applied; edit ``study_person`` to split a group.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fervideo.core.errors import ConfigError, DataError, FervideoError
from fervideo.core.files import CONTACT_SHEET, PEAKS, PERSONS, PERSONS_CSV, TIMELINE, TRACKS
from fervideo.io.tables import read_metadata, write_table
from fervideo.pipeline.study import rebuild_study, video_folders

log = logging.getLogger(__name__)

CSV_COLUMNS = ["video", "person_id", "study_person", "name", "role"]
FACE = 96  # pixels of one face on the sheet


def video_dirs(out: Path) -> list[Path]:
    """The finished video folders of an output folder (those with a persons table)."""
    dirs = [d for d in video_folders(out) if (d / PERSONS).is_file()]
    if not dirs:
        raise FervideoError(f"{out}: no analysed videos with persons here (run `fervideo analyze ... --out {out}` first)")
    return dirs


def load_persons(out: Path) -> pd.DataFrame:
    """Every video's persons (one row per person), with the folder they came from."""
    frames = []
    for d in video_dirs(out):
        df = pd.read_parquet(d / PERSONS)
        df["folder"] = d.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def match_across_videos(out: Path, persons: pd.DataFrame) -> pd.Series:
    """A study-wide label ``S1``, ``S2``, ... per person: one label for the same face in several videos."""
    from fervideo.stages.persons import match_across

    used = {}
    for d in video_dirs(out):
        info = read_metadata(d / PERSONS).get("persons", {})
        if info.get("backend"):
            used[d.name] = (info["backend"], info.get("metric"), info.get("threshold"))
    kinds = set(used.values())
    if not kinds:
        raise ConfigError("--across-videos needs face embeddings: the videos were analysed without persons (--no-persons "
                          "or no embedding backend installed); analyse them again with --persons")
    if len(kinds) > 1:
        raise ConfigError(f"--across-videos: the videos were analysed with different embedders or thresholds ({sorted(kinds)}); "
                          "analyse them again with the same --embedder and --person-threshold")
    _, metric, threshold = kinds.pop()
    has = persons["embedding"].notna()
    groups, index, sizes = [], [], []
    for _, g in persons[has].groupby("folder", sort=True):
        groups.append(np.stack([np.asarray(e, np.float32) for e in g["embedding"]]))
        index.append(g.index)
        # small faces join only closer, as within a video (tables from before face_px: as large)
        sizes.append(g["face_px"].to_numpy(np.float64) if "face_px" in g else np.full(len(g), np.nan))
    labels = pd.Series(-1, index=persons.index)
    for idx, lab in zip(index, match_across(groups, metric, float(threshold), sizes)):
        labels.loc[idx] = lab
    lone = persons.index[~has]  # no usable face: a study person of its own
    labels.loc[lone] = labels.max() + 1 + np.arange(len(lone))
    # S1.. in the order of the persons table (video, then person id)
    order = {lab: k + 1 for k, lab in enumerate(pd.unique(labels))}
    return labels.map(lambda v: f"S{order[v]}")


def read_csv(path: Path) -> pd.DataFrame:
    """persons.csv as written by ``write_sheet`` (names possibly filled in); refuses a file without its columns."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it as CSV ({exc})") from exc
    missing = {"video", "person_id", "name", "role"} - set(df.columns)
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {', '.join(CSV_COLUMNS)}")
    if "study_person" not in df:
        df["study_person"] = ""
    try:
        df["person_id"] = df["person_id"].astype(int)
    except ValueError as exc:
        raise DataError(f"{path}: person_id must be whole numbers ({exc})") from exc
    return df[CSV_COLUMNS]


def write_sheet(out: str | Path, across_videos: bool = False) -> tuple[Path, Path]:
    """Write ``OUT/persons.png`` and ``OUT/persons.csv``; names already in the CSV are kept."""
    out = Path(out)
    persons = load_persons(out)
    persons["study_person"] = match_across_videos(out, persons) if across_videos else ""
    csv = out / PERSONS_CSV
    rows = persons[["folder", "person_id", "study_person"]].rename(columns={"folder": "video"})
    rows["name"], rows["role"] = "", ""
    if csv.exists():
        old = read_csv(csv).drop_duplicates(["video", "person_id"], keep="last").set_index(["video", "person_id"])
        for i, r in rows.iterrows():
            key = (r.video, int(r.person_id))
            if key in old.index:
                prev = old.loc[key]
                rows.loc[i, ["name", "role"]] = [prev["name"], prev["role"]]
                if not across_videos:
                    rows.loc[i, "study_person"] = prev["study_person"]
    tmp = csv.with_name(f".{csv.name}.tmp")
    rows[CSV_COLUMNS].to_csv(tmp, index=False)
    tmp.replace(csv)
    sheet = out / CONTACT_SHEET
    applied = persons["person_name"].fillna("").to_numpy()  # a name given to the group, already applied
    _draw_sheet(persons.assign(name=np.where(rows["name"] != "", rows["name"], applied)), sheet, by_study_person=across_videos)
    return sheet, csv


def _decode(jpeg: bytes | None) -> np.ndarray:
    import cv2

    if jpeg is None:
        img = np.full((FACE, FACE, 3), 200, np.uint8)
        cv2.line(img, (0, 0), (FACE - 1, FACE - 1), (150, 150, 150), 1)
        return img
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(img, (FACE, FACE), interpolation=cv2.INTER_AREA)


def fit_lines(text: str, width: int, scale: float, max_lines: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` pixels in the sheet's font.

    Video names are how a researcher finds the row to name, and two sessions of one participant
    often differ only at the end ("P017_session1", "P017_session2"): a cut after 22 characters
    made them read the same. A line breaks after its last space, "-" or "_" where it has one,
    else anywhere; only past ``max_lines`` does the last line end in "..."."""
    import cv2

    out, cur = [], ""
    for ch in text:
        if cur and cv2.getTextSize(cur + ch, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
            j = max(cur.rfind(c) for c in " -_")
            cut = j + 1 if j > 0 else len(cur)
            out.append(cur[:cut])
            cur = cur[cut:]
        cur += ch
    out.append(cur)
    if len(out) > max_lines:
        out = out[:max_lines]
        out[-1] = out[-1][: max(0, len(out[-1]) - 3)] + "..."
    return out


def _draw_sheet(persons: pd.DataFrame, path: Path, by_study_person: bool) -> None:
    """One line per video (or per study person): a face per person with its id (and name) under it."""
    import cv2

    key = "study_person" if by_study_person else "folder"
    persons = persons.reset_index(drop=True)  # the captions below are looked up by row label
    lines = list(persons.groupby(key, sort=False))
    cell_w, head, step = FACE + 12, 160, 14
    # under each face: its id (and, across videos, its video's name) in black, the name given to it in red
    black, red = (0, 0, 0), (0, 0, 160)
    caps = {i: [(t, black) for t in ([f"P{p['person_id']}"] + fit_lines(p["folder"], FACE, 0.38, 3) if by_study_person
                                     else [f"P{p['person_id']}: {p['n_tracks']} track{'s' if p['n_tracks'] != 1 else ''}"])]
               + [(t, red) for t in (fit_lines(str(p["name"]), FACE, 0.38, 2) if p.get("name") else [])]
            for i, p in persons.iterrows()}
    cell_h = FACE + 8 + step * max(len(c) for c in caps.values())
    heads = [fit_lines(str(label), head - 12, 0.45, cell_h // 16) for label, _ in lines]
    ncol = max(len(g) for _, g in lines)
    img = np.full((len(lines) * cell_h + 8, head + ncol * cell_w + 8, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for r, ((_, g), label) in enumerate(zip(lines, heads)):
        y = 4 + r * cell_h
        top = y + FACE // 2 - 8 * (len(label) - 1)
        for k, text in enumerate(label):
            cv2.putText(img, text, (6, top + 16 * k), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for c, (i, p) in enumerate(g.iterrows()):
            x = head + c * cell_w
            img[y:y + FACE, x:x + FACE] = _decode(p["thumbnail"])
            for k, (text, colour) in enumerate(caps[i]):
                cv2.putText(img, text, (x, y + FACE + 13 + step * k), font, 0.38, colour, 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), img):
        raise FervideoError(f"{path}: could not write the contact sheet")


def apply_names(out: str | Path) -> int:
    """Write the names and roles of ``OUT/persons.csv`` into every table; returns the number of named persons.

    A name or role given on one row of a ``study_person`` group fills the rows of the group
    that have none. Unnamed persons get nulls (so an emptied cell removes a name again).
    """
    out = Path(out)
    csv = out / PERSONS_CSV
    if not csv.exists():
        raise FervideoError(f"{csv}: not found; write the template first with `fervideo persons {out}`")
    names = read_csv(csv)
    for col in ("name", "role"):
        grouped = names[names.study_person != ""].groupby("study_person")[col]
        fill = grouped.transform(lambda v: next((x for x in v if x), ""))
        empty = (names[col] == "") & (names.study_person != "")
        names.loc[empty, col] = fill[empty]
    by_key = {(r.video, int(r.person_id)): (r["name"] or None, r["role"] or None) for _, r in names.iterrows()}
    dirs = video_dirs(out)
    known = set()
    for d in dirs:
        for name in (TIMELINE, TRACKS, PERSONS, PEAKS):
            table = pq.read_table(d / name)
            if "person_id" not in table.column_names:  # written before persons existed
                continue
            pids = table.column("person_id").to_pylist()
            known.update((d.name, p) for p in pids)
            got = [by_key.get((d.name, p), (None, None)) for p in pids]
            for k, col in enumerate(("person_name", "person_role")):
                i = table.schema.get_field_index(col)
                table = table.set_column(i, table.schema.field(i), pa.array([g[k] for g in got], pa.string()))
            write_table(table, d / name)
    unknown = [k for k in by_key if k not in known and any(by_key[k])]
    if unknown:
        log.warning("%s: %d named row(s) match no analysed person, e.g. %s", csv, len(unknown), unknown[0])
    rebuild_study(out)  # study.parquet and study_persons.parquet with the names
    return sum(1 for k, v in by_key.items() if k in known and (v[0] or v[1]))
