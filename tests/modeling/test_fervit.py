"""FerViT's architecture options."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("stride, widths, grid", [(2, [8, 16, 32], 6), (1, [8, 16, 32, 64], 6), (1, [8, 16, 32], 12)])
def test_fervit_stem_stride_sets_the_token_grid(stride, widths, grid):
    """stem_stride 1 keeps the first convolution at 48 x 48: one downsampling fewer per width."""
    import torch

    from fervideo.modeling.fervit import FerViTConfig, FerViTForImageClassification

    m = FerViTForImageClassification(FerViTConfig(stem_channels=widths, stem_stride=stride, hidden_size=32,
                                                  num_hidden_layers=1, num_attention_heads=2, num_labels=7)).eval()
    x = torch.rand(2, 1, 48, 48)
    assert m.num_tokens == grid * grid and m.tokens(x).shape == (2, grid * grid, 32)
    assert m(pixel_values=x).logits.shape == (2, 7)
    with pytest.raises(ValueError, match="stem_stride"):
        FerViTConfig(stem_stride=4)


@pytest.mark.parametrize("widths, grid", [([8, 16, 32], 12), ([8, 16, 32, 64], 6)])
def test_vgg_stem_pools_once_between_widths(widths, grid):
    """The VGG stem convolves at full resolution and halves the grid only between widths."""
    import torch

    from fervideo.modeling.fervit import FerViTConfig, FerViTForImageClassification

    m = FerViTForImageClassification(FerViTConfig(stem_channels=widths, stem_type="vgg", hidden_size=32,
                                                  num_hidden_layers=1, num_attention_heads=2, num_labels=7)).eval()
    x = torch.rand(2, 1, 48, 48)
    assert m.num_tokens == grid * grid and m.tokens(x).shape == (2, grid * grid, 32)
    assert m(pixel_values=x).logits.shape == (2, 7)
    convs = [c for c in m.stem if isinstance(c, torch.nn.Conv2d) and c.kernel_size == (3, 3)]
    assert [c.out_channels for c in convs] == [w for w in widths for _ in range(2)]
    with pytest.raises(ValueError, match="stem_type"):
        FerViTConfig(stem_type="inception")


@pytest.mark.parametrize("blocks, scale, grid", [(13, 4 / 3, 4), (6, 4 / 3, 8), (13, 2.0, 6), (3, 1.0, 12)])
def test_mobilenet_stem_downsamples_as_mobilenet_v2(blocks, scale, grid):
    """MobileNetV2 halves the grid at blocks 2, 4, 7 (and 14); the crop is enlarged ``stem_scale`` times first."""
    import torch

    from fervideo.modeling.fervit import FerViTConfig, FerViTForImageClassification

    m = FerViTForImageClassification(FerViTConfig(stem_type="mobilenet", stem_blocks=blocks, stem_scale=scale,
                                                  hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                  num_labels=7)).eval()
    x = torch.rand(2, 1, 48, 48)
    assert m.num_tokens == grid * grid and m.tokens(x).shape == (2, grid * grid, 32)
    assert m(pixel_values=x).logits.shape == (2, 7)
    for bad in (dict(stem_blocks=0), dict(stem_blocks=18), dict(stem_scale=0.5)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FerViTConfig(stem_type="mobilenet", **bad)
