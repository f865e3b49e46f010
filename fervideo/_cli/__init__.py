"""Command-line interface: a thin private layer over the public API, one module per command group.

Heavy libraries (torch, transformers, OpenCV, pandas) are imported inside the commands that
use them, so ``fervideo --help`` answers at once.
"""

from __future__ import annotations

from fervideo._cli import analyze, explain, models, study, train  # noqa: F401  (register the commands)
from fervideo._cli import persons  # noqa: F401  (register the command)
from fervideo._cli import export, study_cmd  # noqa: F401  (register the commands)
from fervideo._cli.app import app


def main() -> None:  # console-script entry point
    from fervideo.core.device import passive_openmp

    passive_openmp()
    app()


__all__ = ["app", "main"]
