"""One colour per emotion that stays distinguishable, for everyone, on any background.

Colour-vision deficiency is simulated with colorspacious (Machado et al. 2009, severity 100:
deuteranopia, protanopia, tritanopia) and differences are measured as CAM02-UCS Delta E,
where about 10 is clearly different at a glance and under 5 is easily confused.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fervideo.core.labels import CANONICAL
from fervideo.core.palette import EMOTION_COLORS, OUTLINE, color, contrast_ratio, hex_color, short_name, text_color

colorspacious = pytest.importorskip("colorspacious")

VISIONS = ["normal", "deuteranomaly", "protanomaly", "tritanomaly"]
FER7 = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _seen(rgb: list[tuple[int, int, int]], vision: str) -> np.ndarray:
    x = np.asarray(rgb, float) / 255
    if vision != "normal":
        x = np.clip(colorspacious.cspace_convert(x, {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}, "sRGB1"), 0, 1)
    return colorspacious.cspace_convert(x, "sRGB1", "CAM02-UCS")


def min_delta_e(labels: list[str]) -> dict[str, tuple[float, str, str]]:
    out = {}
    for vision in VISIONS:
        u = _seen([color(c) for c in labels], vision)
        out[vision] = min((float(np.linalg.norm(u[i] - u[j])), labels[i], labels[j])
                          for i, j in itertools.combinations(range(len(labels)), 2))
    return out


@pytest.mark.parametrize("labels", [FER7, list(CANONICAL)], ids=["fer2013-7", "ferplus-8"])
def test_every_pair_of_emotions_differs_under_colour_blindness(labels):
    worst = min_delta_e(labels)
    for vision, (de, a, b) in worst.items():
        # the previous palette: 6.5 (fear/neutral, deuteranopia); angry/surprise were two oranges
        assert de >= 12.0, f"{vision}: {a} and {b} differ by Delta E {de:.1f}"


def test_colours_read_on_dark_and_light_backgrounds():
    for c in CANONICAL:
        # boxes have a dark outline and bars a dark background: every colour must stand out on them
        assert contrast_ratio(color(c), OUTLINE) >= 3.0, c
        # figures have a white background: no colour may vanish there (neutral was light grey on light hair)
        assert contrast_ratio(color(c), (255, 255, 255)) >= 1.25, c
        # the label text on the coloured header is legible (WCAG AA for large text: 4.5 for small)
        assert contrast_ratio(text_color(c), color(c)) >= 4.5, c
        assert hex_color(c) == "#%02x%02x%02x" % color(c)
    assert len({color(c) for c in CANONICAL}) == len(CANONICAL) == len(EMOTION_COLORS)


def test_short_names_are_unique_and_readable():
    shorts = [short_name(c) for c in CANONICAL]
    assert len(set(shorts)) == len(shorts)
    assert all(2 <= len(s) <= 4 and c.startswith(s.lower()) for s, c in zip(shorts, CANONICAL))
