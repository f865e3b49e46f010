"""`fervideo explain`: where the model looked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import ConfigError, FervideoError


def parse_times(text: str | None) -> list[float] | None:
    """``--times 1.5,4,12`` as seconds; a clear one-line error for anything else."""
    if not text:
        return None
    out = []
    for part in text.split(","):
        try:
            t = float(part.strip())
        except ValueError:
            raise ConfigError(f"--times: {part.strip()!r} is not a number of seconds (e.g. --times 1.5,4,12)") from None
        if not t >= 0:
            raise ConfigError(f"--times: {part.strip()} is before the start of the video (times are seconds from 0)")
        out.append(t)
    return out


@app.command()
def explain(
    path: Annotated[Path, typer.Argument(help="An image or a video")],
    model: Annotated[str | None, typer.Option(help="Model dir or hub id (default: embedded)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the overlay PNGs")] = Path("explain"),
    times: Annotated[str | None, typer.Option(help="Video: comma-separated times in seconds (default: 4 evenly spaced)")] = None,
    device: str = "auto",
    detector: Annotated[str, typer.Option(help="Face detector, as for analyze: centerface or scrfd")] = "centerface",
    detect_size: Annotated[int, typer.Option(help="Long side in pixels the detector sees, as for analyze")] = 320,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Where the model looked: attention rollout (ViTs) or Grad-CAM (CNNs) as overlay PNGs."""
    setup_logging(verbose)
    try:  # checked before the slow imports and the model load
        if not path.exists():
            raise ConfigError(f"{path}: no such file")
        ts = parse_times(times)
    except FervideoError as exc:
        fail(exc, verbose)
    from fervideo.pipeline.options import AnalyzeOptions
    from fervideo.study.explain import explain_path

    try:
        opts = AnalyzeOptions(model=model, device=device, detector=detector, detect_size=detect_size)
        for p in explain_path(path, out, times=ts, options=opts):
            console.print(f"wrote {p}", markup=False)
    except FervideoError as exc:
        fail(exc, verbose)
