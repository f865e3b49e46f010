"""`fervideo explain`: where the model looked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError


@app.command()
def explain(
    path: Annotated[Path, typer.Argument(help="An image or a video")],
    model: Annotated[str | None, typer.Option(help="Model dir or hub id (default: embedded)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the overlay PNGs")] = Path("explain"),
    times: Annotated[str | None, typer.Option(help="Video: comma-separated times in seconds (default: 4 evenly spaced)")] = None,
    device: str = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Where the model looked: attention rollout (ViTs) or Grad-CAM (CNNs) as overlay PNGs."""
    setup_logging(verbose)
    from fervideo.study.explain import explain_path

    try:
        ts = [float(t) for t in times.split(",")] if times else None
        for p in explain_path(path, out, model, times=ts, device=device):
            console.print(f"wrote {p}")
    except FervideoError as exc:
        fail(exc, verbose)
