"""Batched image augmentation in torch (runs on the training device, no per-image Python).

Per-image PIL/torchvision pipelines cost more than the model itself for 48x48 faces on a
2-core CPU; one ``affine_grid``/``grid_sample`` call per batch does flip, rotation, scale and
shift together, then brightness/contrast and random erasing are tensor ops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    flip: float = 0.5
    rotate_deg: float = 12.0
    scale: float = 0.12
    shift: float = 0.08
    brightness: float = 0.25
    contrast: float = 0.25
    erase_p: float = 0.4
    erase_max: float = 0.25
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch (B, C, H, W) of images in [0, 1]."""
    b = x.shape[0]
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    ang = (rand(b) * 2 - 1) * math.radians(cfg.rotate_deg)
    sc = 1 + (rand(b) * 2 - 1) * cfg.scale
    flip = torch.where(rand(b) < cfg.flip, -1.0, 1.0).to(dev)
    tx, ty = ((rand(b) * 2 - 1) * cfg.shift * 2), ((rand(b) * 2 - 1) * cfg.shift * 2)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], -1), torch.stack([sin * flip, cos, ty], -1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = 1 + (rand(b, 1, 1, 1) * 2 - 1) * cfg.contrast
    br = (rand(b, 1, 1, 1) * 2 - 1) * cfg.brightness
    x = ((x - mean) * c + mean + br).clamp(0, 1)
    if cfg.erase_p > 0:
        h, w = x.shape[-2:]
        area = rand(b) * cfg.erase_max + 0.02
        ar = torch.exp((rand(b) * 2 - 1) * math.log(3))
        eh = (torch.sqrt(area * ar) * h).clamp(1, h)
        ew = (torch.sqrt(area / ar) * w).clamp(1, w)
        y0 = rand(b) * (h - eh)
        x0 = rand(b) * (w - ew)
        yy = torch.arange(h, device=dev).view(1, h, 1)
        xx = torch.arange(w, device=dev).view(1, 1, w)
        m = (yy >= y0.view(b, 1, 1)) & (yy < (y0 + eh).view(b, 1, 1)) & (xx >= x0.view(b, 1, 1)) & (xx < (x0 + ew).view(b, 1, 1))
        m = m & (rand(b) < cfg.erase_p).view(b, 1, 1)
        noise = rand(*x.shape)
        x = torch.where(m.unsqueeze(1), noise, x)
    return x


def mix(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: AugmentConfig, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Optional mixup / cutmix; returns soft targets (B, K)."""
    t = F.one_hot(y, num_classes).float()
    use_mix = cfg.mixup_alpha > 0
    use_cut = cfg.cutmix_alpha > 0
    if not (use_mix or use_cut):
        return x, t
    perm = torch.randperm(x.shape[0], generator=gen).to(x.device)
    cut = use_cut and (not use_mix or torch.rand(1, generator=gen).item() < 0.5)
    alpha = cfg.cutmix_alpha if cut else cfg.mixup_alpha
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    if cut:
        h, w = x.shape[-2:]
        rh, rw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(torch.randint(h, (1,), generator=gen)), int(torch.randint(w, (1,), generator=gen))
        y0, y1 = max(cy - rh // 2, 0), min(cy + rh // 2, h)
        x0, x1 = max(cx - rw // 2, 0), min(cx + rw // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = lam * x + (1 - lam) * x[perm]
    return x, lam * t + (1 - lam) * t[perm]
