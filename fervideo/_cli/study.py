"""`fervideo report` and `fervideo plot`: looking at a study's results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError


@app.command()
def plot(
    timeline: Annotated[Path, typer.Argument(help="A timeline.parquet written by analyze")],
    track: Annotated[int, typer.Option("--track", "-t", help="Track id")] = 1,
    out: Annotated[Path, typer.Option("-o", "--out", help="Figure file: .png, .pdf or .svg")] = Path("track.png"),
    dpi: int = 200,
) -> None:
    """One track's emotion timeline as a figure for a paper."""
    from fervideo.study.plot import plot_track

    try:
        console.print(f"wrote {plot_track(timeline, track, out, dpi=dpi)}")
    except (ValueError, OSError) as exc:
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
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
