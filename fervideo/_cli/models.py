"""`fervideo models list|info`: what models are available offline."""

from __future__ import annotations

from typing import Annotated

import typer

from fervideo._cli.app import app, console, fail
from fervideo.core.errors import FervideoError

models_app = typer.Typer(help="Embedded, local and cached emotion models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Every model fervideo can load without network: embedded ones and the HF cache."""
    from rich.table import Table

    from fervideo.modeling.catalog import DEFAULT_MODEL, catalog

    models = catalog()
    t = Table(title="emotion models", caption="* the default of fervideo analyze; `fervideo models info NAME`: source, sha256, parameters")
    # The name is what a researcher types: never cut (in an 80-column terminal the long license
    # and source texts had squeezed both embedded models to "fervit-f…").
    t.add_column("name", no_wrap=True, min_width=max([len(m.name) + 2 for m in models] + [4]))
    for c in ("classes", "input", "val acc", "crops/s", "license"):
        t.add_column(c, overflow="fold")
    for m in models:
        name = m.name + (" *" if m.name == DEFAULT_MODEL else "")
        t.add_row(name, ", ".join(m.classes), f"{m.input_size}px", m.fmt_acc(), m.fmt_speed(), m.license)
    console.print(t)


@models_app.command("info")
def models_info(name: Annotated[str, typer.Argument(help="Embedded name, local directory or hub id")], verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Classes, input size, measured accuracy, speed, license and source of one model."""
    from fervideo.modeling.catalog import describe

    try:
        m = describe(name)
    except FervideoError as exc:
        fail(exc, verbose)
    for k, v in m.as_rows():
        console.print(f"[bold]{k:>10}[/bold]  {v}")
