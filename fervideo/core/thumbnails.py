"""Face thumbnails for people to look at (the contact sheet, the report's galleries)."""

from __future__ import annotations

import cv2
import numpy as np

#: A thumbnail whose 99th-percentile lightness (CIELAB L, 0-255) is below this is brightened.
DARK_THUMB_L = 200


def display_levels(img: np.ndarray, max_gain: float = 6.0) -> np.ndarray:
    """A dark RGB face made recognisable for the contact sheet and the report's galleries.

    Faces under stage light or at night come out nearly black at thumbnail size, and a
    researcher naming people cannot tell them apart. Where the face's lightness (CIELAB L)
    stays under ``DARK_THUMB_L`` at its 99th percentile, its 1st-99th percentile range is
    stretched to 16-240 (at most ``max_gain`` times), hue and saturation kept; a well-lit face
    comes back unchanged. Only thumbnails get this: samples for face embeddings and crops for
    the classifier see the pixels as recorded.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2LAB)
    light = lab[..., 0].astype(np.float32)
    lo, hi = np.percentile(light, (1, 99))
    if hi >= DARK_THUMB_L:
        return img
    gain = min(max_gain, (240.0 - 16.0) / max(float(hi - lo), 1.0))
    lab[..., 0] = np.clip((light - lo) * gain + 16.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
