"""Augmentation ingredients: each can be switched off by name, and with all off nothing changes."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from fervideo.train.augment import INGREDIENTS, augment, video_config, without


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
