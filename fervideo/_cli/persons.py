"""`fervideo persons`: who is who in a study: contact sheet, names and roles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import FervideoError


@app.command()
def persons(
    out_dir: Annotated[Path, typer.Argument(help="The output folder of analyze")],
    apply: Annotated[bool, typer.Option("--apply", help="Write the names and roles of OUT/persons.csv into every table")] = False,
    across_videos: Annotated[bool, typer.Option("--across-videos", help="Match persons across the videos (the same participant in several sessions)")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Contact sheet (OUT/persons.png) and a persons.csv to fill in; --apply puts names and roles into every table."""
    setup_logging(verbose)
    from fervideo.study.naming import apply_names, write_sheet

    try:
        if apply:
            n = apply_names(out_dir)
            console.print(f"named {n} person(s) in the tables of {out_dir}", markup=False)
        else:
            sheet, csv = write_sheet(out_dir, across_videos=across_videos)
            console.print(f"wrote {sheet} and {csv}: fill in name and role, then run `fervideo persons {out_dir} --apply`", markup=False)
    except (FervideoError, OSError) as exc:
        fail(exc, verbose)
