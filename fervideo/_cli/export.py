"""`fervideo export`: a study as CSV, per-window tables, ELAN and BORIS files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import ConfigError, FervideoError


@app.command()
def export(
    out_dir: Annotated[Path, typer.Argument(help="The output folder of analyze")],
    format: Annotated[list[str], typer.Option("--format", "-f", help="csv, windows, elan, boris; several as csv,elan or repeated")] = ["csv"],  # noqa: B006
    every: Annotated[str, typer.Option(help="Window length of --format windows: 1s, 5s, 500ms, 2min")] = "1s",
    by: Annotated[str, typer.Option(help="Rows of --format windows per track, or per person (a person's tracks together)")] = "track",
    min_face: Annotated[float, typer.Option(help="Leave out faces smaller than this many pixels (shorter box side)")] = 0.0,
    min_frontal: Annotated[float, typer.Option(help="Leave out faces less frontal than this (0 profile .. 1 frontal)")] = 0.0,
    min_score: Annotated[float, typer.Option(help="Leave out faces with a lower detector score")] = 0.0,
    to: Annotated[Path | None, typer.Option("--to", help="Folder for the exports (default OUT_DIR/export)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Export OUT_DIR's tables for SPSS/Excel (csv), per-window analysis (windows), ELAN (.eaf) and BORIS."""
    setup_logging(verbose)
    from fervideo.io.export import export as run_export

    try:
        formats = [f for item in format for f in item.split(",")]
        files = run_export(out_dir, formats, to, every=parse_seconds(every), min_face=min_face,
                           min_frontal=min_frontal, min_score=min_score, by=by)
    except (FervideoError, OSError) as exc:
        fail(exc, verbose)
    dest = to if to is not None else out_dir / "export"
    console.print(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} into {dest}", soft_wrap=True, markup=False)


def parse_seconds(text: str) -> float:
    """'1s', '5', '500ms', '2min' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|min|m)?\s*", text)
    if not m:
        raise ConfigError(f"--every: expected a duration such as 1s, 5s or 500ms, got {text!r}")
    value = float(m.group(1))
    return value * {"ms": 0.001, "min": 60.0, "m": 60.0}.get(m.group(2) or "s", 1.0)
