"""Figures of emotion timelines (matplotlib): one per track or per person, for papers and for the report.

Stacked areas of the smoothed probabilities in the fixed colour-blind-safe palette, raw
probabilities as faint lines, peaks marked with their times, valence underneath. Long
tracks are averaged into time bins before plotting, so an hour-long track draws as fast
and as small as a minute-long one. A person's figure joins the tracks of one face across
cuts (``person_id``), each track's start marked, because "how did the participant feel" is
asked of a person, not of the shot-level track.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fervideo.core.files import PEAKS
from fervideo.core.palette import hex_color

FONT = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9, "xtick.labelsize": 9, "ytick.labelsize": 9}


def labels_of(df: pd.DataFrame) -> list[str]:
    return [c[len("smooth_"):] for c in df.columns if c.startswith("smooth_")]


def downsample(g: pd.DataFrame, max_points: int = 800, max_gap: float = 1.0) -> pd.DataFrame:
    """Mean per time bin when a track has more rows than ``max_points``; gaps become NaN rows."""
    g = g.sort_values("time_s")
    if len(g) > max_points:
        t0, t1 = g.time_s.iloc[0], g.time_s.iloc[-1]
        width = max((t1 - t0) / max_points, 1e-9)
        bins = ((g.time_s - t0) / width).astype(int)
        num = g.select_dtypes("number")
        g = num.groupby(bins.values).mean()
        max_gap = max(max_gap, 2 * width)
    else:
        g = g.select_dtypes("number").reset_index(drop=True)
    # break lines/areas where the face was gone: a blank row just after the last sample before a
    # gap and one just before the first after it, so the stacked areas (which draw blanks as 0)
    # stay at 0 across the gap instead of rising in a wedge towards the next sample
    t = g.time_s.to_numpy()
    gaps = np.nonzero(np.diff(t) > max_gap)[0]
    if len(gaps):
        blanks = pd.DataFrame({"time_s": np.concatenate([t[gaps] + 1e-6, t[gaps + 1] - 1e-6])})
        g = pd.concat([g, blanks]).sort_values("time_s", kind="stable").reset_index(drop=True)
    return g


def new_figure(**kwargs):
    """A matplotlib ``Figure`` drawn by the Agg canvas, outside pyplot.

    pyplot's global backend and figure list are left alone (a notebook keeps its inline
    backend), and nothing needs ``plt.close``: the figure is freed with its last reference.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def track_figure(df: pd.DataFrame, track_id: int, peaks: pd.DataFrame | None = None, *, title: str | None = None,
                 width: float = 8.0, height: float = 3.2, max_points: int = 800, show_peaks: int = 3):
    g = df[df.track_id == track_id]
    if g.empty:
        raise ValueError(f"no track {track_id} in the timeline (tracks: {sorted(df.track_id.unique().tolist())})")
    pk = peaks[peaks.track_id == track_id] if peaks is not None and not peaks.empty else None
    return _figure(g, pk, title or f"track {track_id}", width, height, max_points, show_peaks)


def person_figure(df: pd.DataFrame, person_id: int, peaks: pd.DataFrame | None = None, *, title: str | None = None,
                  width: float = 8.0, height: float = 3.2, max_points: int = 800, show_peaks: int = 3):
    """All rows of one person (the tracks ``person_id`` joined across cuts), each track's start marked."""
    if "person_id" not in df:
        raise ValueError("this timeline has no person_id (written before persons existed): plot a --track instead")
    g = df[df.person_id == person_id]
    if g.empty:
        raise ValueError(f"no person {person_id} in the timeline (persons: {sorted(df.person_id.unique().tolist())})")
    tracks = sorted(g.track_id.unique().tolist())
    pk = peaks[peaks.track_id.isin(tracks)] if peaks is not None and not peaks.empty else None
    starts = g.groupby("track_id").time_s.min()
    return _figure(g, pk, title or person_title(g, person_id), width, height, max_points, show_peaks,
                   marks=[(float(starts[t]), f"t{t}") for t in tracks] if len(tracks) > 1 else [])


def person_title(df: pd.DataFrame, person_id: int) -> str:
    """"person 2 (Anna): tracks 3, 7": the id, the name given with ``fervideo persons --apply``, the tracks."""
    g = df[df.person_id == person_id]
    tracks = sorted(g.track_id.unique().tolist())
    name = g.person_name.dropna().iloc[0] if "person_name" in g and g.person_name.notna().any() else None
    return (f"person {person_id}" + (f" ({name})" if name else "")
            + f": track{'s' if len(tracks) > 1 else ''} " + ", ".join(map(str, tracks)))


def _figure(g: pd.DataFrame, pk: pd.DataFrame | None, title: str, width: float, height: float, max_points: int,
            show_peaks: int, marks: Sequence[tuple[float, str]] = ()):
    import matplotlib

    labels = labels_of(g)
    d = downsample(g, max_points)
    t = d.time_s.to_numpy()
    with matplotlib.rc_context(FONT):
        fig = new_figure(figsize=(width, height))
        ax, axv = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        sm = np.nan_to_num(np.stack([d[f"smooth_{c}"].to_numpy() for c in labels]))
        ax.stackplot(t, sm, colors=[hex_color(c) for c in labels], labels=labels, alpha=0.85, linewidth=0)
        for c in labels:
            ax.plot(t, d[f"raw_{c}"], color=hex_color(c), lw=0.6, alpha=0.35)
        for x, text in marks:  # where each of a person's tracks begins (a cut, or the face back)
            for a in (ax, axv):
                a.axvline(x, color="0.35", lw=0.7, ls=":")
            ax.text(x, 0.02, f" {text}", fontsize=7, color="white", va="bottom", ha="left")
        lo = float(np.nanmin(t)) if len(t) else 0.0
        span = max(float(np.nanmax(t)) - lo, 1e-3) if len(t) else 1.0  # the time axis: [lo, lo + span]
        if pk is not None:
            for c, pg in pk.groupby("emotion"):
                for _, p in pg.nlargest(show_peaks, "value").iterrows():
                    at = (p.time_s - lo) / span  # a label centred on a peak at either end would leave the figure
                    ax.annotate(f"{c} {p.time_s:.1f}s", (p.time_s, 1.0), xytext=(0, 2), textcoords="offset points",
                                ha="left" if at < 0.1 else "right" if at > 0.9 else "center", va="bottom", fontsize=7,
                                color="black", arrowprops=None)
                    ax.axvline(p.time_s, color=hex_color(c), lw=1.0, ls="--")
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        # peak labels sit just above the axes: the title goes above them, not on them
        ax.set_title(title, loc="left", pad=14 if pk is not None and len(pk) else 6)
        handles, names = ax.get_legend_handles_labels()
        n = len(labels)  # the stack's bands, listed top to bottom as they are drawn
        ax.legend(handles[:n][::-1], names[:n][::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        if "valence" in d:
            v = d.valence.to_numpy()
            axv.fill_between(t, 0, v, where=v >= 0, interpolate=True, color=hex_color("happy"), alpha=0.8, lw=0)
            axv.fill_between(t, 0, v, where=v < 0, interpolate=True, color=hex_color("sad"), alpha=0.8, lw=0)
            axv.axhline(0, color="black", lw=0.5)
        axv.set_ylim(-1, 1)
        axv.set_ylabel("valence")
        axv.set_xlabel("time (s)")
        if len(t):
            ax.set_xlim(lo, lo + span)
        fig.tight_layout()
    return fig


def plot_track(timeline: str | Path, track_id: int, out: str | Path, *, peaks: str | Path | None = None, dpi: int = 200) -> Path:
    """Write one track's figure; the format follows the extension (.png, .pdf, .svg)."""
    df, pk, video = _read(timeline, peaks)
    track_figure(df, track_id, pk, title=f"{video} - track {track_id}").savefig(out, dpi=dpi, bbox_inches="tight")
    return Path(out)


def plot_person(timeline: str | Path, person_id: int, out: str | Path, *, peaks: str | Path | None = None, dpi: int = 200) -> Path:
    """Write one person's figure (all their tracks in the video); the format follows the extension."""
    df, pk, video = _read(timeline, peaks)
    title = f"{video} - {person_title(df, person_id)}" if "person_id" in df else None
    person_figure(df, person_id, pk, title=title).savefig(out, dpi=dpi, bbox_inches="tight")
    return Path(out)


def _read(timeline: str | Path, peaks: str | Path | None) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    timeline = Path(timeline)
    df = pd.read_parquet(timeline)
    pk_path = Path(peaks) if peaks else timeline.with_name(PEAKS)
    pk = pd.read_parquet(pk_path) if pk_path.exists() else None
    return df, pk, df.video.iloc[0] if len(df) else timeline.parent.name
