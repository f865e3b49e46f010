"""One fixed colour per emotion, used everywhere we draw (annotated video, figures, report).

Chosen for colour-blind readers from Okabe-Ito's and Paul Tol's colour-blind-safe sets: the
smallest difference between any two emotions is CAM02-UCS Delta E 14.7 in normal vision and
under simulated deuteranopia, protanopia and tritanopia (colorspacious, Machado et al. 2009;
``tests/core/test_palette.py``). The previous palette fell to 6.5 (fear vs neutral under
deuteranopia) and drew angry and surprise as two oranges. Every colour stands out against
the dark outline drawn under boxes and bars (contrast >= 3:1) and against the white of the
figures (neutral is a grey that still shows on white; on the video the dark outline keeps
it from vanishing on light hair, as the old grey box did).
"""

from __future__ import annotations

#: RGB, 0-255.
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (238, 102, 119),  # red (Tol bright)
    "disgust": (34, 136, 51),  # green (Tol bright)
    "fear": (170, 68, 153),  # purple (Tol muted)
    "happy": (240, 228, 66),  # yellow (Okabe-Ito)
    "sad": (119, 170, 221),  # light blue (Tol light)
    "surprise": (153, 221, 255),  # light cyan (Tol light)
    "neutral": (200, 200, 200),  # grey
    "contempt": (170, 170, 0),  # olive (Tol light)
}

#: The dark line drawn under every coloured box and behind the bars, so they read on any background.
OUTLINE: tuple[int, int, int] = (20, 20, 20)

_SHORT = {"angry": "Ang", "disgust": "Dis", "fear": "Fear", "happy": "Hap", "sad": "Sad",
          "surprise": "Sur", "neutral": "Neu", "contempt": "Con"}


def color(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, (255, 255, 255))


def hex_color(label: str) -> str:
    r, g, b = color(label)
    return f"#{r:02x}{g:02x}{b:02x}"


def short_name(label: str) -> str:
    """A bar label for the annotated video: 'Ang', 'Sur', ... (unique among the emotions)."""
    return _SHORT.get(label, label[:3].capitalize())


def _luminance(rgb: tuple[int, int, int]) -> float:
    c = [v / 255 for v in rgb]
    c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color(label: str) -> tuple[int, int, int]:
    """Black or white, whichever reads better on the emotion's colour."""
    c = color(label)
    return (0, 0, 0) if contrast_ratio((0, 0, 0), c) >= contrast_ratio((255, 255, 255), c) else (255, 255, 255)
