"""Track figures are drawn without touching pyplot's global state (a notebook's backend stays)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _timeline() -> pd.DataFrame:
    t = np.arange(30) * 0.1
    p = np.linspace(0, 1, 30)
    return pd.DataFrame({"track_id": 1, "time_s": t, "smooth_happy": p, "smooth_sad": 1 - p, "raw_happy": p,
                         "raw_sad": 1 - p, "valence": 2 * p - 1})


def test_track_figure_keeps_the_users_backend_and_figure_list(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from fervideo.study.plot import track_figure

    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # the user's choice (any backend other than Agg shows a switch)
    try:
        figures = plt.get_fignums()
        fig = track_figure(_timeline(), 1)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == figures
    finally:
        matplotlib.use(backend)
    for ext, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        fig.savefig(tmp_path / f"t{ext}")
        assert (tmp_path / f"t{ext}").read_bytes().startswith(magic)
