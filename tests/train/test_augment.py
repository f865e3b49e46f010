"""Augmentation ingredients: each can be switched off by name, and with all off nothing changes."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from fervideo.core.errors import ConfigError
from fervideo.train.augment import INGREDIENTS, AugmentConfig, augment, augment_views, video_config, without


@pytest.mark.parametrize("name", sorted(INGREDIENTS))
def test_switching_an_ingredient_off_zeroes_its_fields_and_only_those(name):
    full = video_config()
    off = without(full, [name])
    changed = {k for k, v in asdict(off).items() if v != asdict(full)[k]}
    assert changed == {f for f in INGREDIENTS[name] if asdict(full)[f] != 0}
    assert all(getattr(off, f) == 0 for f in INGREDIENTS[name])


def test_with_every_ingredient_off_images_pass_unchanged():
    # 8-bit images, as training sees them (the recipe ends on an 8-bit quantisation)
    x = torch.randint(0, 256, (6, 1, 48, 48), generator=torch.Generator().manual_seed(0)).float() / 255
    cfg = without(video_config(), list(INGREDIENTS))
    y = augment(x, cfg, torch.Generator().manual_seed(1))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)
    # ... and the full recipe does change them, so the test above can fail
    assert (augment(x, video_config(), torch.Generator().manual_seed(1)) - x).abs().max() > 0.05


def test_train_help_names_every_ingredient():
    """The CLI lists the names without importing torch; this keeps that list and INGREDIENTS one."""
    import inspect

    from fervideo._cli.train import train

    help_text = inspect.signature(train).parameters["augment_off"].annotation
    for name in INGREDIENTS:
        assert name in str(help_text), name


def _only(**on) -> AugmentConfig:
    """No augmentation but the fields given."""
    return AugmentConfig(**{**dict(flip=0, rotate_deg=0, scale=0, shift=0, brightness=0, contrast=0, erase_p=0), **on})


def test_a_turned_face_moves_its_middle_aside_and_keeps_its_columns_in_order():
    # a horizontal ramp: each column's value says which source column it shows
    x = torch.linspace(0, 1, 48).expand(8, 1, 48, 48).contiguous()
    y = augment(x, _only(turn_p=1.0, turn_deg=50.0), torch.Generator().manual_seed(0))[:, 0, 24]
    # a turn of at least 15 degrees moves the face's middle column at least 0.1 of the width off the middle
    assert ((y[:, 23:25].mean(1) - 0.5).abs() > 0.1).all()
    both = set()
    for row in y:
        d = torch.diff(row[12:36])
        assert (d >= -1e-6).all() or (d <= 1e-6).all()  # no fold-over across the middle of the face
        both.add(bool(row[24] > 0.5))
    assert both == {True, False}  # turned either way
    # the same batch with turn_p 0 passes unchanged
    torch.testing.assert_close(augment(x, _only(turn_p=0.0), torch.Generator().manual_seed(0)), x, atol=1 / 255, rtol=0)


@pytest.mark.parametrize(("field", "value"), [("turn_p", 1.5), ("blur_p", -0.1), ("flip", 2.0), ("turn_deg", 95.0)])
def test_augment_config_refuses_values_out_of_range(field, value):
    with pytest.raises(ConfigError, match=field):
        AugmentConfig(**{field: value})


def test_the_clean_view_shares_the_crop_geometry_and_drops_turns_and_video_conditions():
    x = torch.randint(0, 256, (8, 1, 48, 48), generator=torch.Generator().manual_seed(0)).float() / 255
    heavy = _only(flip=1.0, turn_p=1.0, low_light_p=1.0, blur_p=1.0, jpeg_p=1.0, erase_p=1.0)
    y, clean = augment_views(x, heavy, torch.Generator().manual_seed(3), clean=True)
    # the clean view: only the mirror of this recipe's geometry
    torch.testing.assert_close(clean, x.flip(-1), atol=1e-5, rtol=0)
    assert (y - x.flip(-1)).abs().mean() > 0.1  # ... while the augmented batch is far from it
    # asking for the clean view draws no random numbers: the augmented batch is the same without it
    y2, none = augment_views(x, heavy, torch.Generator().manual_seed(3))
    assert none is None
    torch.testing.assert_close(y, y2, atol=0, rtol=0)
    # with rotation, scale and shift, both views crop each face the same way (no turn, no degradation)
    geo = _only(rotate_deg=15.0, scale=0.15, shift=0.08)
    y, clean = augment_views(x, geo, torch.Generator().manual_seed(4), clean=True)
    torch.testing.assert_close(clean, y, atol=1 / 255, rtol=0)  # the augmented batch ends 8-bit
