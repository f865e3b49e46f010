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
from fervideo.core.files import ANNOTATED, FAILURES, PEAKS, PERSONS, REPORT, TIMELINE, TRACKS
from fervideo.core.palette import hex_color
from fervideo.core.quality import CLEAR_ACCURACY, CLEAR_FACE_PX, CLEAR_FRONTAL, UNCLEAR_ACCURACY
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
.scroll{overflow-x:auto;max-width:100%} table.opts td{text-align:left;padding-right:18px} table.opts td:nth-child(odd){color:#666}
.howto{background:#f6f7f9;border-left:4px solid #99a;padding:6px 16px;max-width:900px;font-size:14px;line-height:1.45}
.howto li{margin:5px 0}
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
    head = "".join(f"<th>{_e(c).replace('_', '_<wbr>')}</th>" for c in df.columns)  # long names may wrap at _
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


def _scroll(table_html: str) -> str:
    """A wide table scrolls inside the page instead of running off it."""
    return f"<div class='scroll'>{table_html}</div>"


def _yes_no(v) -> str:
    return "yes" if v else "no"


def _secs(v) -> str:
    return f"{v:g} s"


#: Options as a researcher reads them: name and how to show the value (in AnalyzeOptions order).
OPTION_NAMES: dict[str, tuple[str, object]] = {
    "fps": ("analysis rate", lambda v: "every frame" if not v else f"{v:g} frames/s"),
    "model": ("emotion model", str),
    "detector": ("face detector", str),
    "detect_size": ("detector input, long side", lambda v: f"{v} px"),
    "detect_threshold": ("detection threshold", lambda v: f"{v:g}"),
    "detect_interval": ("time between detections", _secs),
    "smooth": ("smoothing", str),
    "smooth_seconds": ("smoothing width", _secs),
    "hmm_switch_rate": ("HMM switches per second", lambda v: f"{v:g}"),
    "track_buffer": ("lost face kept for", _secs),
    "max_gap": ("longest gap inside a stretch", _secs),
    "min_track": ("shortest track kept", _secs),
    "peak_threshold": ("peak threshold", lambda v: f"{v:.2f}"),
    "tta": ("flipped-crop averaging", _yes_no),
    "margin": ("crop margin", lambda v: f"{v:g}x"),
    "persons": ("tracks joined into persons", _yes_no),
    "embedder": ("face embedder", str),
    "person_threshold": ("person threshold", lambda v: "embedder's default" if v is None else f"{v:g}"),
    "render_height": ("annotated video height", lambda v: "the input's" if v is None else f"at most {v} px"),
}


def _option_rows(opts: dict, meta: dict) -> list[tuple[str, str]]:
    refs = [str(m.get("ref")) for m in meta.get("models", []) if m.get("ref")]
    rows = []
    order = [k for k in OPTION_NAMES if k in opts] + [k for k in opts if k not in OPTION_NAMES]  # what matters first
    for k in order:
        v = opts[k]
        name, fmt = OPTION_NAMES.get(k, (k.replace("_", " "), None))
        if k == "model":
            text = ", ".join(refs) if refs else str(v)
            text += " (the default)" if v is None else ""
        elif fmt is not None:
            text = fmt(v)  # type: ignore[operator]
        else:
            text = "default" if v is None else _yes_no(v) if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)
        rows.append((name, text))
    return rows


def _options_table(opts: dict, meta: dict, per_row: int = 3) -> str:
    """The run's options as name/value pairs, three to a row (no raw Python)."""
    rows = _option_rows(opts, meta)
    cells = [f"<td>{_e(n)}</td><td>{_e(v)}</td>" for n, v in rows]
    body = "".join("<tr>" + "".join(cells[i:i + per_row]) + "</tr>" for i in range(0, len(cells), per_row))
    return f"<div class='scroll' id='options'><table class='opts'><tbody>{body}</tbody></table></div>"


def _options_that_differ(metas: dict) -> str:
    """Which options differ between videos, with each value's videos (one line each)."""
    if len(metas) < 2:
        return ""
    per_video = {d.name: dict(_option_rows(m.get("options", {}), m)) for d, m in metas.items()}
    names = sorted({n for rows in per_video.values() for n in rows})
    lines = []
    for n in names:
        by_value: dict[str, list[str]] = {}
        for video, rows in per_video.items():
            by_value.setdefault(rows.get(n, "-"), []).append(video)
        if len(by_value) > 1:
            lines.append(f"{_e(n)}: " + "; ".join(f"{_e(v)} ({_e(', '.join(vs))})" for v, vs in by_value.items()))
    if not lines:
        return ""
    return "<p class='fail'>Videos were analysed with different options:</p><ul class='fail'>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"


def _model_card(ref: str, path: str) -> dict:
    """The card of a model the study used: at the path the run recorded, else by its embedded name."""
    from fervideo.modeling.catalog import embedded_models

    for d in (Path(path) if path else None, embedded_models().get(ref)):
        if d is not None and (Path(d) / "card.json").exists():
            try:
                return json.loads((Path(d) / "card.json").read_text())
            except (OSError, ValueError):
                return {}
    return {}


def _how_to_read(metas: dict) -> str:
    """A short guide for readers who did not run the analysis: what the numbers are, how good
    the model is (its measured accuracy), what valence is, and what expressions are not."""
    m0 = next(iter(metas.values()))
    labels = m0.get("labels") or []
    opts = m0.get("options", {})
    k = len(labels) or 7
    models = {}
    for m in metas.values():
        for x in m.get("models", []):
            models.setdefault(str(x.get("ref")), str(x.get("path", "")))
    acc = []
    for ref, path in models.items():
        val = (_model_card(ref, path).get("val") or {})
        if val.get("accuracy") is not None:
            source = Path(str(val.get("source", ""))).parent.name or "its validation set"
            f1 = f", macro-F1 {val['macro_f1']:.2f}" if val.get("macro_f1") is not None else ""
            acc.append(f"<b>{_e(ref)}</b> classified {val['accuracy'] * 100:.1f}% of the held-out validation faces of "
                       f"{_e(source)} correctly{f1}")
        else:
            acc.append(f"<b>{_e(ref)}</b>: no accuracy measured by fervideo (see the model's own card)")
    smooth = opts.get("smooth", "gaussian")
    fps = opts.get("fps", 10.0)
    items = [
        (f"<b>What the numbers are.</b> On every analysed frame ({'all frames' if not fps else f'{fps:g} per second'}) the model "
         f"gives each face a probability for each of {k} expression categories ({_e(', '.join(labels))}), summing to 1; "
         f"timelines show them smoothed over time ({_e(smooth)}) with the raw values as faint lines. A track is one face "
         "followed on screen; its dominant expression is the category with the largest share of its frames."),
        ("<b>How good the model is.</b> " + "; ".join(acc) + f". Chance is 1 in {k} ({100 / k:.0f}%). Those faces are "
         "frontal photographs, mostly posed; on video (turned heads, small, blurred or talking faces) expect less, and "
         "filter rows by face size and frontality where the timeline has them. Check doubtful stretches in the annotated video, "
         "where a label followed by <b>?</b> is a face turned away or smaller than 40 pixels: the faces whose labels to "
         "trust least (a track's <i>clear_share</i> is the share of its rows without it)."),
        ("<b>Valence</b> is the probability of <i>happy</i> minus that of the strongest negative expression (angry, disgust, "
         "fear, sad, contempt), from -1 (clearly negative) to +1 (clearly happy); surprise and neutral count as neither "
         "(FaceReader's definition). It summarises the categories; it is not a separate measurement."),
        (f"<b>Peaks</b> are stretches where an expression's smoothed probability stayed at or above "
         f"{float(opts.get('peak_threshold', 0.5)):.2f}, listed at their highest value with how long they lasted; the time "
         "links into the annotated video."),
        ("<b>Expressions are not emotions.</b> The model describes the face, which is not what the person feels: people "
         "smile out of politeness or embarrassment and feel strongly behind a neutral face, and how feelings show differs "
         "between people, cultures and situations (Barrett et al., 2019, <i>Emotional expressions reconsidered</i>, "
         "Psychological Science in the Public Interest 20(1)). Read the categories as descriptions of facial behaviour, "
         "interpreted with the context."),
    ]
    return "<h2 id='how-to-read'>How to read this report</h2><ul class='howto'>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>"


def _lost(meta: dict) -> str:
    """What a damaged video lost, in one sentence (frames, seconds, where)."""
    gaps = meta.get("decode_gaps") or []
    if not gaps:
        return f"Decoding stopped early: {meta.get('decode_error')}"
    secs = sum(max(0.0, g["end_s"] - g["start_s"]) for g in gaps)
    where = ", ".join(f"{g['start_s']:.2f}-{g['end_s']:.2f} s" for g in gaps[:8]) + (", ..." if len(gaps) > 8 else "")
    n = len(gaps)
    return (f"Damaged file: {meta.get('frames_lost', sum(g['frames'] for g in gaps))} frames lost ({secs:.1f} s) in "
            f"{n} gap{'s' if n > 1 else ''}: {where}; nothing was analysed there ({meta.get('decode_error') or gaps[0].get('reason', '')}).")


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


def _face_thumb(frame: np.ndarray | None, size: tuple[int, int] | None, row: pd.Series) -> str:
    """A 96x96 crop of the face in ``row`` from its frame; ``size`` (w, h) is the analysed video's,
    whose pixels the box is in (the frame may come from a smaller annotated video)."""
    if frame is None or not size:
        return ""
    import cv2

    sx, sy = frame.shape[1] / size[0], frame.shape[0] / size[1]
    x1, y1, x2, y2 = row.x1 * sx, row.y1 * sy, row.x2 * sx, row.y2 * sy
    m = 0.15 * (x2 - x1)
    crop = frame[max(0, int(y1 - m)):int(y2 + m), max(0, int(x1 - m)):int(x2 + m)]
    if crop.size == 0:
        return ""
    from fervideo.core.thumbnails import display_levels

    return _jpeg(display_levels(cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)), 80)


def _source_video(meta: dict, vdir: Path) -> Path:
    p = Path(meta.get("video", {}).get("path", ""))
    return p if p.exists() else vdir / ANNOTATED


def write_report(out_dir: str | Path, *, max_points: int = 600, thumbs: int = 6) -> Path:
    from fervideo.study.plot import labels_of, person_figure, track_figure

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
                     "complete": "yes" if m.get("complete", True) else f"no: {m.get('frames_lost', '?')} frames lost"})
    if rows:
        parts.append(_scroll(_table(pd.DataFrame(rows), fmt={"duration_s": "{:.1f}", "fps": "{:.2f}"})))
    if not failures.empty:
        parts.append("<h3 class='fail'>Failures</h3>" + _table(failures[["video", "reason"]]))
    if metas:
        m0 = next(iter(metas.values()))
        models = "; ".join(f"{x.get('ref')} (sha256 {str(x.get('sha256'))[:12]}...)" for x in m0.get("models", []))
        opts = m0.get("options", {})
        parts.append(f"<h3>Models and options</h3><p>fervideo {_e(m0.get('fervideo_version'))}; model: {_e(models)}; detector: {_e(m0.get('detector', {}).get('name'))}</p>")
        parts.append(_options_table(opts, m0))
        parts.append(_options_that_differ(metas))
        parts.append(_how_to_read(metas))
    if len(tracks):
        labels = [c[len("share_"):] for c in tracks.columns if c.startswith("share_")]
        cols = ["video", "track_id", "duration_s", *(["clear_share"] if "clear_share" in tracks else []), "dominant",
                *[f"share_{c}" for c in labels]] + (["mean_valence"] if "mean_valence" in tracks else [])
        parts.append("<h3>Tracks (click a column to sort)</h3>" + _scroll(_table(tracks[cols], fmt={"duration_s": "{:.1f}"}))
                     + _clear_note(tracks))
        parts.append(_study_figures(tracks, labels))
    # -- per video ------------------------------------------------------------------------
    for d, m in metas.items():
        tl = pd.read_parquet(d / TIMELINE)
        pk = pd.read_parquet(d / PEAKS) if (d / PEAKS).exists() else None
        parts.append(_video_section(d, m, tl, pk, max_points, thumbs, labels_of, track_figure))
        parts.append(_persons_section(d, tl, pk, max_points, person_figure))
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


def _video_section(d: Path, meta: dict, tl: pd.DataFrame, pk: pd.DataFrame | None, max_points: int, thumbs: int,
                   labels_of, track_figure) -> str:
    dur = float(meta.get("video", {}).get("duration_s", 0.0))
    threshold = float(meta.get("options", {}).get("peak_threshold", 0.5))
    src = _source_video(meta, d)
    out = [f"<h2 id='v-{_e(d.name)}'>{_e(d.name)}</h2>"]
    ann = d / ANNOTATED
    link = f"{d.name}/annotated.mp4"
    out.append(f"<p class='muted'>{dur:.1f} s; {tl.track_id.nunique()} track(s); "
               + (f"<a href='{_e(link)}'>annotated video</a>" if ann.exists() else "no annotated video") + "</p>")
    if not meta.get("complete", True):
        out.append(f"<p class='fail'>{_e(_lost(meta))}</p>")
    times = [dur * (i + 0.5) / thumbs for i in range(thumbs)] if dur > 0 else []
    tids = sorted(tl.track_id.unique())
    best_rows = [tl[tl.track_id == t].loc[lambda g: g.det_score.idxmax()] for t in tids]
    # one opening of the video for the strip and every track's face
    frames, info = _frames_at(src, times + [float(b.time_s) for b in best_rows])
    video = meta.get("video", {})
    size = ((video["width"], video["height"]) if video.get("width") and video.get("height")
            else (info.width, info.height) if info is not None else None)
    strip = [_jpeg(_scaled(f)) for f in frames[: len(times)] if f is not None]
    out.append("<div class='strip'>" + "".join(f"<img loading='lazy' src='{s}'>" for s in strip) + "</div>")
    for k, tid in enumerate(tids):
        g = tl[tl.track_id == tid]
        face = _face_thumb(frames[len(times) + k], size, best_rows[k])
        fig = track_figure(tl, int(tid), pk, title=f"track {tid}", width=7.5, height=2.8, max_points=max_points)
        chart = _png(fig)
        peaks_html = ""
        if pk is not None and not pk.empty:
            rows = []
            for c, pg in pk[pk.track_id == tid].groupby("emotion"):
                for _, p in pg.nlargest(3, "value").iterrows():
                    href = f"{link}#t={p.time_s:.2f}"
                    rows.append(f"<li><span class='sw' style='background:{hex_color(c)}'></span>{_e(c)} {p.value:.2f} at "
                                f"<a href='{_e(href)}'>{p.time_s:.1f} s</a> (above {threshold:.2f} for {p.duration_s:.1f} s)</li>")
            peaks_html = "<ul>" + "".join(rows) + "</ul>" if rows else "<p class='muted'>no peaks above threshold</p>"
        face_img = f"<img class='face' loading='lazy' src='{face}'>" if face else ""
        out.append(f"<div class='track'><div>{face_img}"
                   f"<div class='muted'>track {tid}<br>{g.time_s.min():.1f}-{g.time_s.max():.1f} s</div></div>"
                   f"<div><img class='chart' loading='lazy' decoding='async' src='{chart}'>{peaks_html}</div></div>")
    if tl.empty:
        out.append("<p class='muted'>No faces found in this video.</p>")
    return "\n".join(out)


def _clear_note(tracks) -> str:
    """Why ``clear_share`` is in the tracks table: the measured gap in accuracy it stands for."""
    if "clear_share" not in tracks:
        return ""
    return (f"<p class='muted'>clear_share: the share of a track's rows whose face was near-frontal "
            f"(frontal &ge; {CLEAR_FRONTAL:g}) and at least {CLEAR_FACE_PX:g} px. With the default model, on labelled "
            f"real-video faces, such rows were labelled right {CLEAR_ACCURACY:.0%} of the time, the others "
            f"{UNCLEAR_ACCURACY:.0%} (profile views, small faces): weigh a track's labels by it, or filter rows by "
            "the timeline's <code>frontal</code> and <code>face_px</code>.</p>")


def _clear_of(p) -> str:
    """', clear face on NN% of rows' for a person row (persons tables from before the column have none)."""
    v = getattr(p, "clear_share", None)
    return f", clear face on {v:.0%} of rows" if v is not None and v == v else ""


def _persons_section(d: Path, tl: pd.DataFrame, pk: pd.DataFrame | None, max_points: int, person_figure) -> str:
    """Per person of a video: name and role (once given), time on screen, emotions, a gallery of their tracks'
    faces and, for a person of several tracks, their timeline across them (``plot --person``'s figure)."""
    if not (d / PERSONS).exists():
        return ""
    persons = pd.read_parquet(d / PERSONS)
    tracks = pd.read_parquet(d / TRACKS).set_index("track_id") if (d / TRACKS).exists() else pd.DataFrame()
    if persons.empty:
        return ""
    meta = read_metadata(d / PERSONS).get("persons", {})
    how = (f"joined by {_e(meta.get('backend'))} face embeddings (threshold {_e(meta.get('threshold'))})"
           if meta.get("backend") else f"each track its own person: {_e(meta.get('reason', 'persons off'))}")
    out = [f"<h3 id='p-{_e(d.name)}'>Persons of {_e(d.name)}</h3><p class='muted'>{len(persons)} person(s) from "
           f"{int(persons.n_tracks.sum())} track(s), {how}.</p>"]
    for _, p in persons.iterrows():
        name, role = (v if isinstance(v, str) and v else "" for v in (p.person_name, p.person_role))
        who = _e(" ".join(x for x in (name, f"({role})" if role else "") if x))
        out.append(f"<h4>Person {int(p.person_id)}{' &mdash; ' + who if who else ''}</h4>"
                   f"<p class='muted'>{len(p.tracks)} track(s), {p.screen_s:.1f} s on screen, mostly {_e(p.dominant)}, "
                   f"mean valence {p.mean_valence:+.2f}{_clear_of(p)}</p>")
        gallery = []
        for tid, jpeg in zip(p.tracks, p.track_thumbnails):
            src = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode() if jpeg is not None else ""
            span = (f"{tracks.loc[tid, 'start_s']:.1f}-{tracks.loc[tid, 'end_s']:.1f} s" if tid in tracks.index else "")
            img = f"<img class='face' loading='lazy' src='{src}'>" if src else ""
            gallery.append(f"<div>{img}<div class='muted'>track {int(tid)}<br>{span}</div></div>")
        out.append("<div class='track'>" + "".join(gallery) + "</div>")
        if len(p.tracks) > 1 and "person_id" in tl and (tl.person_id == p.person_id).any():
            fig = person_figure(tl, int(p.person_id), pk, width=7.5, height=2.8, max_points=max_points)
            out.append(f"<img class='chart' loading='lazy' decoding='async' src='{_png(fig)}'>")
    return "\n".join(out)
