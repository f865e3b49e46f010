"""Memory does not grow with the video's length (the short version of bench/memory.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


@pytest.mark.slow
def test_peak_rss_is_flat_in_video_length(tmp_path):
    import memory

    # long enough for both runs to reach the plateau of decoder and runtime buffers
    short, long_ = memory.measure(0.5, 2.0, (160, 120), 5.0, True, tmp_path)
    assert short["status"] == long_["status"] == "done"
    assert long_["frames"] > 3 * short["frames"]
    assert long_["peak_rss_mb"] <= 1.3 * short["peak_rss_mb"], (short, long_)
