"""The CLI configures fervideo's logger only, never the root logger or other libraries'."""

from __future__ import annotations

import logging

from fervideo._cli.app import setup_logging


def test_setup_logging_leaves_the_root_logger_alone():
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    fv = logging.getLogger("fervideo")
    try:
        setup_logging(verbose=False)
        setup_logging(verbose=True)  # a second call replaces its handler, it does not add one
        assert (list(root.handlers), root.level) == before
        ours = [h for h in fv.handlers if getattr(h, "_fervideo_cli", False)]
        assert len(ours) == 1 and fv.level == logging.DEBUG
        assert fv.propagate  # records still reach handlers the caller installed (notebook, pytest)
    finally:
        for h in [h for h in fv.handlers if getattr(h, "_fervideo_cli", False)]:
            fv.removeHandler(h)
        fv.setLevel(logging.NOTSET)
