"""The Typer app, its console, and what every command shares (logging, one-line errors)."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Facial-emotion timelines from video files.")
console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from fervideo.core.version import __version__

        typer.echo(f"fervideo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
) -> None:
    """fervideo: per-person facial-emotion timelines and annotated videos from video files."""


def setup_logging(verbose: bool) -> None:
    """Show fervideo's own log records on the console (warnings; everything with ``--verbose``).

    Only the ``fervideo`` logger is configured: the root logger, other libraries' loggers and
    handlers installed by whoever runs the command (a notebook, pytest) are left as they are.
    Calling it again replaces the handler it added before instead of adding a second one.
    """
    logger = logging.getLogger("fervideo")
    for h in [h for h in logger.handlers if getattr(h, "_fervideo_cli", False)]:
        logger.removeHandler(h)
    handler = RichHandler(console=console, show_path=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._fervideo_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


def fail(exc: Exception, verbose: bool) -> None:
    if verbose:
        console.print_exception()
    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)  # a path or FFmpeg's "[mov,mp4,...]" is not markup
    raise typer.Exit(1)
