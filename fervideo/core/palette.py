"""One fixed, colour-blind-safe colour per emotion (Okabe-Ito), used everywhere we draw."""

from __future__ import annotations

#: RGB, 0-255.
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (213, 94, 0),  # vermillion
    "disgust": (0, 158, 115),  # bluish green
    "fear": (204, 121, 167),  # reddish purple
    "happy": (240, 228, 66),  # yellow
    "sad": (0, 114, 178),  # blue
    "surprise": (230, 159, 0),  # orange
    "neutral": (153, 153, 153),  # grey
    "contempt": (86, 180, 233),  # sky blue
}


def color(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, (255, 255, 255))


def hex_color(label: str) -> str:
    r, g, b = color(label)
    return f"#{r:02x}{g:02x}{b:02x}"
