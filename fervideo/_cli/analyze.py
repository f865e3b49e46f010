"""`fervideo analyze`: the batch over the public API ``fervideo.analyze``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError


@app.command()
def analyze(
    videos: Annotated[list[Path], typer.Argument(help="Video files, folders of videos, or glob patterns ('sessions/*/*.mp4')", readable=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: OUT/<video stem>/ per video and OUT/study.parquet")] = Path("out"),
    fps: Annotated[float, typer.Option(help="Analysis rate in frames per second of video; 0 = every frame")] = 10.0,
    model: Annotated[str | None, typer.Option(help="HF model dir or hub id, or A,B for an ensemble (default: embedded fervit-fer2013)")] = None,
    detector: Annotated[str, typer.Option(help="Face detector: centerface (default, bundled) or scrfd (insightface download)")] = "centerface",
    detect_size: Annotated[int, typer.Option(help="Long side in pixels the detector sees")] = 320,
    detect_interval: Annotated[float, typer.Option(help="Seconds between face detections; the tracker bridges the frames between")] = 0.1,
    detect_max_interval: Annotated[float, typer.Option(help="Adaptive detection: skip a due detection while the faces and the scene look unchanged, "
                                                        "up to this many seconds between detections (0 = off: every --detect-interval)")] = 1.0,
    detect_size_auto: Annotated[bool, typer.Option("--detect-size-auto/--no-detect-size-auto",
                                                   help="Per shot, detect at the smallest size that still shows its smallest face "
                                                        "40 px tall (never above --detect-size)")] = False,
    smooth: Annotated[str, typer.Option(help="Temporal smoothing: none, ema, gaussian or hmm")] = "gaussian",
    smooth_seconds: Annotated[float, typer.Option(help="Gaussian sigma / EMA time constant in seconds")] = 0.3,
    min_track: Annotated[float, typer.Option(help="Drop tracks shorter than this many seconds")] = 0.5,
    persons: Annotated[bool, typer.Option("--persons/--no-persons", help="Join each video's tracks into persons (person_id) by face embeddings")] = True,
    embedder: Annotated[str, typer.Option(help="Face embeddings for persons: dlib (default, offline), arcface (insightface pack) or onnx (--embed-model)")] = "dlib",
    embed_model: Annotated[str | None, typer.Option(help="The ONNX face-embedding model of --embedder onnx")] = None,
    person_threshold: Annotated[float | None, typer.Option(help="Linkage distance for one person (default: the embedder's, dlib 0.40); lower = fewer merges")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    batch_size: Annotated[int | None, typer.Option(help="Face crops per classifier batch (default 64 on CPU, 512 on CUDA)")] = None,
    classifier_runtime: Annotated[str, typer.Option(help="auto (onnxruntime for local models on the CPU, else torch), onnx or torch")] = "auto",
    dtype: Annotated[str, typer.Option(help="Classifier numbers: auto (CPU: int8 matrix products on onnxruntime, bf16 on torch), fp32, bf16 (torch) or int8 (onnxruntime)")] = "auto",
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Average with horizontally flipped crops")] = False,
    render: Annotated[bool, typer.Option("--render/--no-render", help="Write annotated.mp4")] = True,
    render_height: Annotated[int | None, typer.Option(help="Scale annotated.mp4 down to at most this many pixels tall (default: the input's size)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo videos that are already finished")] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also the videos in sub-folders of the folders given")] = False,
    threads: Annotated[int | None, typer.Option(help="CPU threads for onnxruntime (and torch where a model runs on it); dlib descriptor workers for persons")] = None,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS",
                                            help="Run each video as a task on a Ray cluster: auto (the cluster of this machine), "
                                                 "HOST:PORT, or local (a Ray instance on this machine); OUT must be shared by every node")] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N",
                                              help="Analyse only slice K of N of the videos (job arrays: K from 0 to N-1); "
                                                   "then `fervideo study OUT`")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details and show tracebacks")] = False,
) -> None:
    """Per-face-track emotion timelines (Parquet) and annotated videos for a batch of videos."""
    setup_logging(verbose)
    from fervideo._cli.progress import run_analyze
    from fervideo.pipeline.options import AnalyzeOptions

    try:
        opts = AnalyzeOptions(
            fps=fps, model=model, detector=detector, detect_size=detect_size, detect_interval=detect_interval,
            detect_max_interval=detect_max_interval, detect_size_auto=detect_size_auto, classifier_runtime=classifier_runtime,
            dtype=dtype,
            smooth=smooth, smooth_seconds=smooth_seconds, min_track=min_track, device=device,
            persons=persons, embedder=embedder, embed_model=embed_model, person_threshold=person_threshold,
            batch_size=batch_size, tta=tta, render=render, render_height=render_height, overwrite=overwrite, threads=threads,
        )
    except ValueError as exc:
        fail(exc, verbose)
    try:
        batch = {"shard": shard} if ray is None else {"shard": shard, "executor": "ray", "ray_address": _ray_address(ray)}
        videos = _expand(videos, out, recursive)
        ok = run_analyze(videos, out, opts, console, verbose, recursive=recursive, **batch)
    except FervideoError as exc:
        fail(exc, verbose)
    except KeyboardInterrupt as exc:
        partial = getattr(exc, "partial_result", None)
        done = [Path(v.path).name for v in (partial.videos if partial else []) if v.status in ("done", "skipped")]
        console.print(f"[yellow]interrupted[/yellow]: {len(done)} video(s) finished"
                      + (f" ({escape(', '.join(done[:10]))}{', ...' if len(done) > 10 else ''})" if done else "")
                      + "; the one in progress left nothing behind. Run the same command again to continue.", soft_wrap=True)
        raise typer.Exit(130)
    raise typer.Exit(0 if ok else 1)


def _expand(videos: list[Path], out: Path, recursive: bool) -> list[Path]:
    """Folders and patterns to video files (so progress counts them), saying what was skipped as output."""
    from fervideo.pipeline.inputs import expand_inputs

    found = expand_inputs(videos, out=out, recursive=recursive)
    n = len(found.skipped)
    if n:
        console.print(f"[dim]skipped {n} file{'s' if n != 1 else ''} inside fervideo output folders[/dim] "
                      f"(e.g. {escape(str(found.skipped[0]))}): fervideo's outputs are never analysed as inputs", soft_wrap=True)
    return found.paths + [Path(item) for item, _ in found.problems]  # problems: analyze reports each


def _ray_address(value: str) -> str | None:
    """--ray's value: None for a local instance; refuses a video taken as the address (``--ray a.mp4 b.mp4``)."""
    from fervideo.core.errors import ConfigError

    if value == "local":
        return None
    if Path(value).is_file():
        raise ConfigError(f"--ray took the video {value} as the cluster address: give it one "
                          "(--ray local, --ray auto or --ray HOST:PORT)")
    return value
