"""The canonical emotion vocabulary and the mapping of model label names onto it.

Models name their classes in many ways (``anger``, ``Happiness``, ``LABEL_3``, ``sadness``);
timelines from different models can only be compared if every label is mapped to one
vocabulary. Unknown names are refused with the offending labels named, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from fervideo.core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

#: Canonical emotions, in the FER-2013 order followed by contempt (AffectNet / CK+).
CANONICAL: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
    "contempt",
)

_SYNONYMS: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "smile": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
    "contempt": "contempt",
}

#: FER-2013 label order (integer labels of the original CSV release).
FER2013_LABELS: tuple[str, ...] = CANONICAL[:7]


def normalize_label(name: str) -> str | None:
    """Map one label name to the canonical vocabulary, or ``None`` if it has no mapping."""
    key = str(name).strip().lower().replace("-", " ").replace("_", " ")
    key = " ".join(key.split())
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    # "happy face", "0 angry", "class angry": keep the last word that maps.
    for word in reversed(key.split()):
        if word in _SYNONYMS:
            return _SYNONYMS[word]
    return None


def normalize_labels(names: Iterable[str], *, source: str = "the model") -> list[str]:
    """Map every label name; refuse the whole set if any name cannot be mapped or repeats."""
    names = list(names)
    mapped = [normalize_label(n) for n in names]
    unknown = [n for n, m in zip(names, mapped) if m is None]
    if unknown:
        raise ModelError(
            f"{source} has labels that cannot be mapped to the emotion vocabulary "
            f"({', '.join(CANONICAL)}): {', '.join(map(repr, unknown))}"
        )
    dupes = sorted({m for m in mapped if mapped.count(m) > 1})  # type: ignore[arg-type]
    if dupes:
        raise ModelError(f"{source} maps several labels onto the same emotion: {', '.join(dupes)}")
    return mapped  # type: ignore[return-value]


def labels_from_id2label(id2label: Mapping[int | str, str], *, source: str = "the model") -> list[str]:
    """Canonical labels in class-index order from a Hugging Face ``id2label`` mapping."""
    items = sorted(((int(k), v) for k, v in id2label.items()), key=lambda kv: kv[0])
    if [k for k, _ in items] != list(range(len(items))):
        raise ModelError(f"{source} has non-contiguous class ids in id2label: {[k for k, _ in items]}")
    return normalize_labels([v for _, v in items], source=source)


def canonical_union(label_lists: Sequence[Sequence[str]]) -> tuple[list[str], list[np.ndarray]]:
    """The canonical-order union of several models' (canonical) labels, and for each model the
    columns its labels take in it: how an ensemble, or one model, puts its probabilities on the
    canonical vocabulary."""
    import numpy as np  # here: the CLI imports this module before it needs numpy

    union = {lab for labels in label_lists for lab in labels}
    out = [c for c in CANONICAL if c in union]
    return out, [np.array([out.index(lab) for lab in labels], dtype=np.int64) for labels in label_lists]
