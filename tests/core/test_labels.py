import pytest

from fervideo.core.errors import ModelError
from fervideo.core.labels import CANONICAL, labels_from_id2label, normalize_label, normalize_labels


@pytest.mark.parametrize(
    "name,expected",
    [("anger", "angry"), ("Happiness", "happy"), ("SADNESS", "sad"), ("surprised", "surprise"),
     ("Neutral", "neutral"), ("contempt", "contempt"), ("fearful", "fear"), ("disgusted", "disgust"), ("3_happy", "happy")],
)
def test_synonyms_map_to_canonical(name, expected):
    assert normalize_label(name) == expected


def test_unknown_labels_are_refused_with_names():
    with pytest.raises(ModelError, match="'LABEL_0'"):
        normalize_labels(["LABEL_0", "happy"])


def test_duplicate_mapping_refused():
    with pytest.raises(ModelError, match="same emotion"):
        normalize_labels(["happy", "happiness"])


def test_id2label_order_and_sizes():
    assert labels_from_id2label({"1": "sadness", "0": "happiness", "2": "neutral"}) == ["happy", "sad", "neutral"]
    assert labels_from_id2label({i: c for i, c in enumerate(CANONICAL)}) == list(CANONICAL)
