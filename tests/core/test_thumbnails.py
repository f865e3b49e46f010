"""Thumbnails people look at: dark faces brightened, well-lit ones kept."""

from __future__ import annotations

import cv2
import numpy as np

from fervideo.core.thumbnails import display_levels
from persons_data import portraits


def test_dark_thumbnails_are_brightened_and_well_lit_ones_kept():
    """A face under stage light is nearly black at thumbnail size; the thumbnail is stretched to be
    recognisable (colours kept), a well-lit face is left as it is."""
    a, _ = portraits()
    face = cv2.resize(np.ascontiguousarray(a), (96, 96), interpolation=cv2.INTER_AREA)
    assert display_levels(face) is face
    dark = (face.astype(np.float32) * 0.15).astype(np.uint8)
    lit = display_levels(dark)
    light = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
    assert light(lit).mean() > 3 * light(dark).mean() and np.percentile(light(lit), 99) > 180
    # the picture is still the face: lightness ranks kept, hue close to the original's
    assert np.corrcoef(light(lit).ravel(), light(face).ravel())[0, 1] > 0.95
    hue = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2HSV)[..., 0].astype(float)
    sat = cv2.cvtColor(face, cv2.COLOR_RGB2HSV)[..., 1] > 60
    assert np.median(np.abs(hue(lit) - hue(face))[sat]) <= 6
