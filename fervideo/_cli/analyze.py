"""`fervideo analyze`: the batch over the public API ``fervideo.analyze``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError


@app.command()
def analyze(
    videos: Annotated[list[Path], typer.Argument(help="Video files (shell globs such as interviews/*.mp4 work)", readable=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: OUT/<video stem>/ per video and OUT/study.parquet")] = Path("out"),
    fps: Annotated[float, typer.Option(help="Analysis rate in frames per second of video; 0 = every frame")] = 10.0,
    model: Annotated[str | None, typer.Option(help="HF model dir or hub id, or A,B for an ensemble (default: embedded fervit-fer2013)")] = None,
    detector: Annotated[str, typer.Option(help="Face detector: centerface (default, bundled) or scrfd (insightface download)")] = "centerface",
    detect_size: Annotated[int, typer.Option(help="Long side in pixels the detector sees")] = 320,
    detect_interval: Annotated[float, typer.Option(help="Seconds between face detections; the tracker bridges the frames between")] = 0.1,
    smooth: Annotated[str, typer.Option(help="Temporal smoothing: none, ema, gaussian or hmm")] = "gaussian",
    smooth_seconds: Annotated[float, typer.Option(help="Gaussian sigma / EMA time constant in seconds")] = 0.3,
    min_track: Annotated[float, typer.Option(help="Drop tracks shorter than this many seconds")] = 0.5,
    reid: Annotated[bool, typer.Option("--reid/--no-reid", help="Rejoin a person after a cut or occlusion (ArcFace; needs insightface models)")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    batch_size: Annotated[int | None, typer.Option(help="Face crops per classifier batch (default 64 on CPU, 512 on CUDA)")] = None,
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Average with horizontally flipped crops")] = False,
    render: Annotated[bool, typer.Option("--render/--no-render", help="Write annotated.mp4")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo videos that are already finished")] = False,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch and onnxruntime")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details and show tracebacks")] = False,
) -> None:
    """Per-face-track emotion timelines (Parquet) and annotated videos for a batch of videos."""
    setup_logging(verbose)
    from fervideo._cli.progress import run_analyze
    from fervideo.pipeline.options import AnalyzeOptions

    try:
        opts = AnalyzeOptions(
            fps=fps, model=model, detector=detector, detect_size=detect_size, detect_interval=detect_interval,
            smooth=smooth, smooth_seconds=smooth_seconds, min_track=min_track, reid=reid, device=device,
            batch_size=batch_size, tta=tta, render=render, overwrite=overwrite, threads=threads,
        )
    except ValueError as exc:
        fail(exc, verbose)
    try:
        ok = run_analyze(videos, out, opts, console, verbose)
    except FervideoError as exc:
        fail(exc, verbose)
    except KeyboardInterrupt as exc:
        partial = getattr(exc, "partial_result", None)
        done = [Path(v.path).name for v in (partial.videos if partial else []) if v.status in ("done", "skipped")]
        console.print(f"[yellow]interrupted[/yellow]: {len(done)} video(s) finished"
                      + (f" ({', '.join(done[:10])}{', ...' if len(done) > 10 else ''})" if done else "")
                      + "; the one in progress left nothing behind. Run the same command again to continue.", soft_wrap=True)
        raise typer.Exit(130)
    raise typer.Exit(0 if ok else 1)
