"""Memory does not grow with the video's length (the short version of bench/memory.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.mark.slow
def test_peak_rss_is_flat_in_video_length(tmp_path):
    import memory

    # 360p, 20 s vs 60 s, default 10 fps, annotated video included. Frame size matters: decord's
    # read-ahead (the old streaming decoder) gave 1.44x on this pair and passed at 160x120.
    short, long_ = memory.measure(0.25, 1.0, (640, 360), 10.0, True, tmp_path)
    assert short["status"] == long_["status"] == "done"
    assert long_["frames"] >= 3 * short["frames"]
    assert long_["peak_rss_mb"] <= 1.3 * short["peak_rss_mb"], (short, long_)
