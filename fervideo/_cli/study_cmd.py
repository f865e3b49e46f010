"""`fervideo study`: rebuild an output folder's study tables from its video folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError, OutputError
from fervideo.core.files import FAILURES, STUDY


@app.command()
def study(
    out_dir: Annotated[Path, typer.Argument(help="The output folder of analyze")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Rebuild OUT_DIR/study.parquet and failures.parquet from the video folders (after sharded or split runs)."""
    setup_logging(verbose)
    from fervideo.pipeline.study import rebuild_study, video_folders

    try:
        if not out_dir.is_dir() or not (video_folders(out_dir) or (out_dir / FAILURES).exists()):
            raise OutputError(f"{out_dir}: not a fervideo output folder (no analysed video folders in it)")
        s = rebuild_study(out_dir)
    except (FervideoError, OSError) as exc:
        fail(exc, verbose)
    console.print(f"wrote {out_dir / STUDY}: {s.videos} video{'s' if s.videos != 1 else ''}, "
                  f"{s.tracks} track{'s' if s.tracks != 1 else ''}; {out_dir / FAILURES}: "
                  f"{s.failures} failure{'s' if s.failures != 1 else ''} still standing"
                  + (f"; unreadable folders left out: {', '.join(s.unreadable)}" if s.unreadable else ""), soft_wrap=True, markup=False)
