"""`fervideo report` and `fervideo plot`: looking at a study's results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import ConfigError, FervideoError
from fervideo.core.files import TIMELINE, figure_name


def timeline_of(path: Path) -> Path:
    """The timeline a ``plot`` argument means: the file, a video's output folder, or the only
    video of a study folder; otherwise a line that says what to give instead."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder (give a {TIMELINE} or a video's output folder)")
    if path.is_dir():
        if (path / TIMELINE).exists():
            return path / TIMELINE
        videos = sorted(d for d in path.iterdir() if d.is_dir() and (d / TIMELINE).exists())
        if len(videos) == 1:
            return videos[0] / TIMELINE
        if not videos:
            raise ConfigError(f"{path}: no {TIMELINE} in this folder or its sub-folders (is it an output folder of analyze?)")
        names = ", ".join(str(d) for d in videos[:6]) + (", ..." if len(videos) > 6 else "")
        raise ConfigError(f"{path} is a study folder of {len(videos)} videos; plot one of them: {names}")
    if path.suffix.lower() != ".parquet":
        raise ConfigError(f"{path}: not a timeline (give a {TIMELINE} or a video's output folder)")
    return path


@app.command()
def plot(
    timeline: Annotated[Path, typer.Argument(help="A timeline.parquet, or a video's output folder (OUT/<video>)")],
    track: Annotated[int | None, typer.Option("--track", "-t", help="Track id (default 1)")] = None,
    person: Annotated[int | None, typer.Option("--person", "-p", help="Person id: all the tracks joined into this person")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Figure file: .png, .pdf or .svg (default: VIDEO_person<N>.png or VIDEO_track<N>.png in the current folder)")] = None,
    dpi: int = 200,
) -> None:
    """One track's or one person's emotion timeline as a figure for a paper."""
    from fervideo.study.plot import plot_person, plot_track

    try:
        if track is not None and person is not None:
            raise ConfigError("--track and --person: give one (a person's figure shows all of its tracks)")
        tl = timeline_of(timeline)
        if person is not None:
            written = plot_person(tl, person, out or Path(figure_name(tl.parent.name, "person", person)), dpi=dpi)
        else:
            track = 1 if track is None else track
            written = plot_track(tl, track, out or Path(figure_name(tl.parent.name, "track", track)), dpi=dpi)
        console.print(f"wrote {written}", markup=False)
    except (FervideoError, ValueError, OSError) as exc:
        fail(exc, False)


@app.command()
def report(
    out_dir: Annotated[Path, typer.Argument(help="The output folder of analyze")],
    open_browser: Annotated[bool, typer.Option("--open", help="Open the report in a browser")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """A self-contained HTML report of a study: OUT_DIR/report.html."""
    setup_logging(verbose)
    from fervideo.study.report import write_report

    try:
        path = write_report(out_dir)
    except (FervideoError, OSError) as exc:
        fail(exc, verbose)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False)
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
