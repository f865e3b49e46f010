"""A self-contained HTML report of a study (``fervideo report OUT_DIR``).

One file, no network: figures are inline PNG (base64), the sortable tables use a few lines
of inline JavaScript, styles are inline. Timelines are averaged into at most ``max_points``
time bins per track before plotting, so the report of a study of long videos stays small
and opens fast (see the README for the measured size).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fervideo.core.errors import FervideoError
from fervideo.core.files import ANNOTATED, FAILURES, PEAKS, REPORT, TIMELINE, TRACKS
from fervideo.core.palette import hex_color
from fervideo.io.tables import read_metadata

log = logging.getLogger(__name__)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{margin-bottom:4px} h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;font-size:13px;margin:8px 0} th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{cursor:pointer;background:#f6f6f6;position:sticky;top:0} td:first-child,th:first-child{text-align:left}
.strip img{height:72px;margin-right:4px;border-radius:3px} .track{display:flex;gap:12px;align-items:flex-start;margin:12px 0}
.face{width:96px;height:96px;object-fit:cover;border-radius:4px;border:1px solid #ccc} .chart{max-width:100%}
.muted{color:#777;font-size:13px} .sw{display:inline-block;width:10px;height:10px;margin-right:3px;border-radius:2px}
.fail{color:#a33} code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
"""

JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var rows=Array.from(t.tBodies[0].rows), asc=th.dataset.asc!=='1'; th.dataset.asc=asc?'1':'0';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent, y=b.cells[i].dataset.v||b.cells[i].textContent;
      var nx=parseFloat(x), ny=parseFloat(y); var r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y); return asc?r:-r;});
    rows.forEach(function(r){t.tBodies[0].appendChild(r);});});});});
"""


def _png(fig, dpi: int = 72) -> str:
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    # A 64-colour palette keeps charts sharp (flat colours, few shades) at about a third of the bytes.
    buf.seek(0)
    img = Image.open(buf).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _jpeg(img: np.ndarray, quality: int = 70) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def _e(x) -> str:
    return html.escape(str(x))


def _table(df: pd.DataFrame, cls: str = "sortable", fmt: dict | None = None) -> str:
    fmt = fmt or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if isinstance(v, float):
                s = fmt.get(c, "{:.3f}").format(v)
                cells.append(f'<td data-v="{v}">{s}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _frames_at(video: Path, times: list[float]) -> tuple[list[np.ndarray | None], object | None]:
    """Full-size frames nearest to ``times`` and the video's info, from one opening of the file."""
    from fervideo.stages.decode import VideoSource

    if not video.exists() or not times:
        return [None] * len(times), None
    try:
        src = VideoSource(video)
        return src.frames_at(times), src.info
    except FervideoError as exc:
        log.warning("thumbnails of %s: %s", video, exc)
        return [None] * len(times), None


def _scaled(f: np.ndarray, height: int = 144) -> np.ndarray:
    import cv2

    s = height / f.shape[0]
    return cv2.resize(f, (max(1, int(f.shape[1] * s)), height), interpolation=cv2.INTER_AREA)


def _face_thumb(frame: np.ndarray | None, info, row: pd.Series) -> str:
    """A 96x96 crop of the face in ``row`` (box in the video's pixels) from its frame."""
    if frame is None or info is None:
        return ""
    import cv2

    sx, sy = frame.shape[1] / info.width, frame.shape[0] / info.height
    x1, y1, x2, y2 = row.x1 * sx, row.y1 * sy, row.x2 * sx, row.y2 * sy
    m = 0.15 * (x2 - x1)
    crop = frame[max(0, int(y1 - m)):int(y2 + m), max(0, int(x1 - m)):int(x2 + m)]
    if crop.size == 0:
        return ""
    return _jpeg(cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA), 80)


def _source_video(meta: dict, vdir: Path) -> Path:
    p = Path(meta.get("video", {}).get("path", ""))
    return p if p.exists() else vdir / ANNOTATED


def write_report(out_dir: str | Path, *, max_points: int = 600, thumbs: int = 6) -> Path:
    from fervideo.study.plot import labels_of, track_figure

    out_dir = Path(out_dir)
    vdirs = sorted(d for d in out_dir.iterdir() if d.is_dir() and (d / TIMELINE).exists()) if out_dir.is_dir() else []
    fail_path = out_dir / FAILURES
    failures = pd.read_parquet(fail_path) if fail_path.exists() else pd.DataFrame(columns=["video", "path", "reason"])
    if not vdirs and failures.empty:
        raise FervideoError(f"{out_dir}: no analysed videos here (run `fervideo analyze ... --out {out_dir}` first)")
    metas = {d: read_metadata(d / TIMELINE) for d in vdirs}
    tracks = pd.concat([pd.read_parquet(d / TRACKS) for d in vdirs], ignore_index=True) if vdirs else pd.DataFrame()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>fervideo report: {_e(out_dir.name)}</title><style>{CSS}</style></head><body>"]
    parts.append(f"<h1>fervideo report</h1><div class='muted'>{_e(out_dir.resolve())}</div>")
    # -- overview -------------------------------------------------------------------------
    total = sum(m.get("video", {}).get("duration_s", 0.0) for m in metas.values())
    parts.append("<h2 id='overview'>Study overview</h2>")
    parts.append(f"<p>{len(vdirs)} videos analysed ({total / 60:.1f} min), {len(tracks)} face tracks, {len(failures)} failures.</p>")
    rows = []
    for d, m in metas.items():
        v = m.get("video", {})
        rows.append({"video": d.name, "duration_s": float(v.get("duration_s", 0.0)), "size": f"{v.get('width')}x{v.get('height')}",
                     "fps": float(v.get("avg_fps", 0.0)), "tracks": int((tracks.video == Path(v.get("path", d.name)).name).sum()) if len(tracks) else 0,
                     "complete": str(m.get("complete", True))})
    if rows:
        parts.append(_table(pd.DataFrame(rows), fmt={"duration_s": "{:.1f}", "fps": "{:.2f}"}))
    if not failures.empty:
        parts.append("<h3 class='fail'>Failures</h3>" + _table(failures[["video", "reason"]]))
    if metas:
        m0 = next(iter(metas.values()))
        models = "; ".join(f"{x.get('ref')} (sha256 {str(x.get('sha256'))[:12]}...)" for x in m0.get("models", []))
        opts = m0.get("options", {})
        parts.append(f"<h3>Models and options</h3><p>fervideo {_e(m0.get('fervideo_version'))}; model: {_e(models)}; detector: {_e(m0.get('detector', {}).get('name'))}</p>")
        parts.append("<p class='muted'>" + ", ".join(f"{_e(k)}={_e(v)}" for k, v in opts.items()) + "</p>")
        distinct = {json.dumps(m.get("options", {}), sort_keys=True) for m in metas.values()}
        if len(distinct) > 1:
            parts.append("<p class='fail'>Videos were analysed with different options; see each video's metadata.</p>")
    if len(tracks):
        labels = [c[len("share_"):] for c in tracks.columns if c.startswith("share_")]
        cols = ["video", "track_id", "duration_s", "dominant", *[f"share_{c}" for c in labels]] + (["mean_valence"] if "mean_valence" in tracks else [])
        parts.append("<h3>Tracks (click a column to sort)</h3>" + _table(tracks[cols], fmt={"duration_s": "{:.1f}"}))
        parts.append(_study_figures(tracks, labels))
    # -- per video ------------------------------------------------------------------------
    for d, m in metas.items():
        parts.append(_video_section(d, m, max_points, thumbs, labels_of, track_figure))
    parts.append(f"<script>{JS}</script></body></html>")
    path = out_dir / REPORT
    tmp = out_dir / ".report.html.tmp"
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def _study_figures(tracks: pd.DataFrame, labels: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fervideo.study.plot import FONT

    out = ["<h2 id='study'>Emotions across the study</h2>"]
    # share of time per emotion per video (weighted by track duration)
    w = tracks.frames.clip(lower=1)
    share = tracks[[f"share_{c}" for c in labels]].mul(w, axis=0).groupby(tracks.video).sum()
    share = share.div(share.sum(axis=1), axis=0).fillna(0)
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(share) + 1.2))
        left = np.zeros(len(share))
        for c in labels:
            v = share[f"share_{c}"].to_numpy()
            ax.barh(share.index, v, left=left, color=hex_color(c), label=c)
            left += v
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of face time")
        ax.invert_yaxis()
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.tight_layout()
        out.append(f"<h3>Emotion share per video</h3><img class='chart' src='{_png(fig)}'>")
        mean = tracks[[f"mean_{c}" for c in labels]].to_numpy()
        names = [f"{v} #{t}" for v, t in zip(tracks.video, tracks.track_id)]
        show = min(len(names), 200)
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(labels), 0.22 * show + 1.2))
        im = ax.imshow(mean[:show], aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(show), names[:show], fontsize=7)
        fig.colorbar(im, ax=ax, label="mean probability")
        fig.tight_layout()
        note = f" (first {show} of {len(names)})" if show < len(names) else ""
        out.append(f"<h3>Tracks by emotion{note}</h3><img class='chart' src='{_png(fig)}'>")
    return "\n".join(out)


def _video_section(d: Path, meta: dict, max_points: int, thumbs: int, labels_of, track_figure) -> str:
    tl = pd.read_parquet(d / TIMELINE)
    pk = pd.read_parquet(d / PEAKS) if (d / PEAKS).exists() else None
    dur = float(meta.get("video", {}).get("duration_s", 0.0))
    src = _source_video(meta, d)
    out = [f"<h2 id='v-{_e(d.name)}'>{_e(d.name)}</h2>"]
    ann = d / ANNOTATED
    link = f"{d.name}/annotated.mp4"
    out.append(f"<p class='muted'>{dur:.1f} s; {tl.track_id.nunique()} track(s); "
               + (f"<a href='{_e(link)}'>annotated video</a>" if ann.exists() else "no annotated video") + "</p>")
    if not meta.get("complete", True):
        out.append(f"<p class='fail'>Decoding stopped early: {_e(meta.get('decode_error'))}</p>")
    times = [dur * (i + 0.5) / thumbs for i in range(thumbs)] if dur > 0 else []
    tids = sorted(tl.track_id.unique())
    best_rows = [tl[tl.track_id == t].loc[lambda g: g.det_score.idxmax()] for t in tids]
    # one opening of the video for the strip and every track's face
    frames, info = _frames_at(src, times + [float(b.time_s) for b in best_rows])
    strip = [_jpeg(_scaled(f)) for f in frames[: len(times)] if f is not None]
    out.append("<div class='strip'>" + "".join(f"<img loading='lazy' src='{s}'>" for s in strip) + "</div>")
    for k, tid in enumerate(tids):
        g = tl[tl.track_id == tid]
        face = _face_thumb(frames[len(times) + k], info, best_rows[k])
        fig = track_figure(tl, int(tid), pk, title=f"track {tid}", width=7.5, height=2.8, max_points=max_points)
        chart = _png(fig)
        peaks_html = ""
        if pk is not None and not pk.empty:
            rows = []
            for c, pg in pk[pk.track_id == tid].groupby("emotion"):
                for _, p in pg.nlargest(3, "value").iterrows():
                    href = f"{link}#t={p.time_s:.2f}"
                    rows.append(f"<li><span class='sw' style='background:{hex_color(c)}'></span>{_e(c)} {p.value:.2f} at "
                                f"<a href='{_e(href)}'>{p.time_s:.1f} s</a> ({p.duration_s:.1f} s above)</li>")
            peaks_html = "<ul>" + "".join(rows) + "</ul>" if rows else "<p class='muted'>no peaks above threshold</p>"
        face_img = f"<img class='face' loading='lazy' src='{face}'>" if face else ""
        out.append(f"<div class='track'><div>{face_img}"
                   f"<div class='muted'>track {tid}<br>{g.time_s.min():.1f}-{g.time_s.max():.1f} s</div></div>"
                   f"<div><img class='chart' loading='lazy' decoding='async' src='{chart}'>{peaks_html}</div></div>")
    if tl.empty:
        out.append("<p class='muted'>No faces found in this video.</p>")
    return "\n".join(out)
