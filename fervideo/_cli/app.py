"""The Typer app, its console, and what every command shares (logging, one-line errors)."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.logging import RichHandler

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Facial-emotion timelines from video files.")
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """fervideo: per-person facial-emotion timelines and annotated videos from video files."""


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def fail(exc: Exception, verbose: bool) -> None:
    if verbose:
        console.print_exception()
    console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
    raise typer.Exit(1)
