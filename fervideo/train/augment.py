"""Batched image augmentation in torch (runs on the training device, no per-image Python).

Per-image PIL/torchvision pipelines cost more than the model itself for 48x48 faces on a
2-core CPU; one ``affine_grid``/``grid_sample`` call per batch does flip, rotation, scale and
shift together, then brightness/contrast and random erasing are tensor ops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

from fervideo.core.errors import ConfigError


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
    # Video conditions (see ``video_degrade``); probabilities per image, 0 switches one off.
    perspective: float = 0.0  # max perspective coefficient (yaw/pitch); 0.25 ~ a three-quarter view
    gamma_p: float = 0.0  # gamma in [1/2.5, 2.5], log-uniform
    low_light_p: float = 0.0  # signal x0.2..0.6, then sensor noise and 8-bit quantisation
    blur_p: float = 0.0  # defocus (Gaussian, sigma 0.4..1.2 px) or motion blur (2..5 px line)
    downscale_p: float = 0.0  # down to 16..32 px and back up (small faces in wide shots)
    noise_p: float = 0.0  # Gaussian sensor noise, sigma 0.5..4% of full scale
    jpeg_p: float = 0.0  # 8x8 block-DCT quantisation at JPEG quality 20..70 (H.264/JPEG blocking)
    occlude_p: float = 0.0  # a flat or textured block over the lower face or a side (hand, microphone)
    turn_p: float = 0.0  # a head turn: the face wrapped on a cylinder and rotated (see ``_turn``)
    turn_deg: float = 50.0  # largest turn, degrees (each turned image: 15..turn_deg, either way)

    def __post_init__(self) -> None:
        for f in fields(self):
            if (f.name.endswith("_p") or f.name == "flip") and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ConfigError(f"augmentation {f.name} is a share of the images, 0 to 1, not {getattr(self, f.name)}")
        if not 15.0 <= self.turn_deg < 90.0:
            raise ConfigError(f"augmentation turn_deg must be 15 to under 90 degrees, not {self.turn_deg}")


def video_config(**overrides) -> AugmentConfig:
    """The recipe for models meant for video: FER-2013's geometry plus video degradations."""
    base = dict(
        rotate_deg=15.0, scale=0.15, shift=0.08, perspective=0.25, erase_p=0.25, gamma_p=0.25, low_light_p=0.2,
        blur_p=0.25, downscale_p=0.25, noise_p=0.25, jpeg_p=0.25, occlude_p=0.1,
    )
    base.update(overrides)
    return AugmentConfig(**base)


#: Augmentation ingredients by name, each the AugmentConfig fields it sets to 0 when switched
#: off (``fervideo train --augment-off``): the video conditions one by one, plus FER-2013's
#: own geometry and photometry, so each one's effect can be measured (recipes/augment_ablation.py).
INGREDIENTS: dict[str, tuple[str, ...]] = {
    "perspective": ("perspective",),
    "gamma": ("gamma_p",),
    "low_light": ("low_light_p",),
    "blur": ("blur_p",),
    "downscale": ("downscale_p",),
    "noise": ("noise_p",),
    "jpeg": ("jpeg_p",),
    "occlude": ("occlude_p",),
    "turn": ("turn_p",),
    "erase": ("erase_p",),
    "flip": ("flip",),
    "geometry": ("rotate_deg", "scale", "shift"),
    "photometric": ("brightness", "contrast"),
}


def without(cfg: AugmentConfig, names: list[str]) -> AugmentConfig:
    """``cfg`` with the named ingredients switched off; an unknown name lists the valid ones."""
    unknown = [n for n in names if n not in INGREDIENTS]
    if unknown:
        raise ConfigError(f"unknown augmentation ingredient(s) {', '.join(unknown)}; valid: {', '.join(INGREDIENTS)}")
    return replace(cfg, **{f: 0.0 for n in names for f in INGREDIENTS[n]})


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch (B, C, H, W) of images in [0, 1]."""
    return augment_views(x, cfg, gen)[0]


def augment_views(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None = None,
                  clean: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The augmented batch and, with ``clean``, the same faces cropped and lit the same way but undegraded.

    The clean view shares each image's crop geometry (rotation, scale, shift, mirror) and its
    brightness and contrast, but has no head turn, perspective, erasing or video degradation.
    It is what a teacher trained on FER-2013 alone can read (``--teacher-view clean``): its
    probabilities then say what the face expresses, and the student learns to say the same from
    the degraded view, instead of learning the teacher's guesses on pictures it never saw. It
    draws no random numbers, so the augmented batch is the same with or without it.
    """
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
    if cfg.turn_p > 0:
        eye = torch.eye(2, 3, dtype=x.dtype, device=dev).expand(b, 2, 3)
        base = _turn(F.affine_grid(eye, list(x.shape), align_corners=False), cfg, rand)
        grid = base @ theta[:, :, :2].transpose(1, 2).unsqueeze(1) + theta[:, :, 2].view(b, 1, 1, 2)
    else:
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if cfg.perspective > 0:
        # Homography with a random perspective row: one side of the face recedes, as when the
        # head turns (yaw) or tilts (pitch) away from the camera.
        px = ((rand(b) * 2 - 1) * cfg.perspective).view(b, 1, 1)
        py = ((rand(b) * 2 - 1) * cfg.perspective * 0.5).view(b, 1, 1)
        w = 1 + px * grid[..., 0] + py * grid[..., 1]
        grid = grid / w.unsqueeze(-1)
    plain = None
    if clean:
        plain = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), mode="bilinear",
                              padding_mode="reflection", align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = 1 + (rand(b, 1, 1, 1) * 2 - 1) * cfg.contrast
    br = (rand(b, 1, 1, 1) * 2 - 1) * cfg.brightness
    x = ((x - mean) * c + mean + br).clamp(0, 1)
    if plain is not None:
        pm = plain.mean(dim=(1, 2, 3), keepdim=True)
        plain = ((plain - pm) * c + pm + br).clamp(0, 1)
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
    return video_degrade(x, cfg, gen), plain


def _turn(base: torch.Tensor, cfg: AugmentConfig, rand) -> torch.Tensor:
    """Output-to-source sampling grid (B, H, W, 2) of a head turned by a yaw angle.

    The real-video faces the model gets wrong are turned ones, and FER-2013 has few of them. A
    perspective warp (``perspective``) tilts a flat picture; a turning head instead shows its far
    side compressed and then hidden, its near side spread. This models the face as a vertical
    cylinder spanning the crop (FER-2013 crops are tight): a column at angle phi lands at
    sin(phi + yaw), so an output column w on the face reads the source at sin(asin(w) - yaw),
    the visible span [-cos yaw, 1] centred in the crop as a detector's box would centre it.
    Beyond the face's edges the background continues outwards (the grid's reflection padding
    fills what the crop never had). A nose does not stick out of a cylinder: this is a crude
    turn, 15 degrees to ``turn_deg`` either way, of ``turn_p`` of the images.
    """
    b = base.shape[0]
    on = rand(b) < cfg.turn_p
    lo = math.radians(15.0)
    yaw = (lo + rand(b) * (math.radians(cfg.turn_deg) - lo)).to(base.dtype).view(b, 1, 1)  # turn_deg >= 15
    sgn = torch.where(rand(b) < 0.5, -1.0, 1.0).to(base.dtype).view(b, 1, 1)  # turned left or right
    cos = torch.cos(yaw)
    w = sgn * base[..., 0] + (1 - cos) / 2  # mirrored so the head turns towards +x, span centred
    face = torch.sin((torch.asin(w.clamp(-1, 1)) - yaw).clamp(-math.pi / 2, math.pi / 2))
    beyond = torch.where(w > 1, w, w + cos - 1)  # background past the near / the far edge
    u = sgn * torch.where((w >= -cos) & (w <= 1), face, beyond)
    return torch.stack([torch.where(on.view(b, 1, 1), u, base[..., 0]), base[..., 1]], -1)


def _pick(p: float, b: int, rand) -> torch.Tensor:
    return rand(b) < p


def _blur_kernels(b: int, k: int, rand) -> torch.Tensor:
    """Per-image (B, k, k) kernels: half Gaussian defocus, half linear motion blur."""
    r = torch.arange(k, dtype=torch.float32) - k // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    sigma = (0.4 + rand(b) * 0.8).view(b, 1, 1)
    gauss = torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    ang = (rand(b) * math.pi).view(b, 1, 1)
    length = (1.0 + rand(b) * 1.5).view(b, 1, 1)  # half-length 1..2.5 px
    along = xx * torch.cos(ang) + yy * torch.sin(ang)
    across = -xx * torch.sin(ang) + yy * torch.cos(ang)
    motion = torch.exp(-(across**2) / 0.18) * (along.abs() <= length)
    kern = torch.where((rand(b) < 0.5).view(b, 1, 1), gauss, motion)
    return kern / kern.sum(dim=(1, 2), keepdim=True)


_JPEG_LUMA = torch.tensor(
    [
        [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=torch.float32,
)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float32).view(n, 1)
    i = torch.arange(n, dtype=torch.float32).view(1, n)
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


def _jpeg(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG-like blocking: quantise each 8x8 block's DCT with the standard luminance table."""
    b, c, h, w = x.shape
    ph, pw = (-h) % 8, (-w) % 8
    xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
    hh, ww = xp.shape[-2:]
    d = _dct_matrix().to(x.device, x.dtype)
    blocks = xp.reshape(b, c, hh // 8, 8, ww // 8, 8).permute(0, 1, 2, 4, 3, 5) * 255 - 128
    coef = d @ blocks @ d.T
    scale = torch.where(quality < 50, 50 / quality, 2 - quality / 50).view(b, 1, 1, 1, 1, 1)
    q = (_JPEG_LUMA.to(x.device, x.dtype) * scale).clamp(min=1)
    coef = torch.round(coef / q) * q
    out = (d.T @ coef @ d + 128) / 255
    out = out.permute(0, 1, 2, 4, 3, 5).reshape(b, c, hh, ww)
    return out[..., :h, :w]


def video_degrade(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """What a face crop from real video looks like: dim, blurred, small, noisy, compressed, occluded.

    Each degradation hits a random subset of the batch; all are batched tensor ops. Order
    follows the camera: occlusion in the scene, lighting, optics (blur), sampling (down-scale),
    sensor noise, quantisation, compression.
    """
    b, c, h, w = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    if cfg.occlude_p > 0:
        sel = _pick(cfg.occlude_p, b, rand)
        oh, ow = (0.2 + rand(b) * 0.3) * h, (0.25 + rand(b) * 0.45) * w
        y0 = h * (0.45 + rand(b) * 0.55) - oh / 2  # lower face: mouth, chin (hands, microphones)
        side = rand(b) < 0.3
        x0 = torch.where(side, torch.where(rand(b) < 0.5, -ow / 2, w - ow / 2), rand(b) * (w - ow))
        y0 = torch.where(side, rand(b) * (h - oh), y0)
        yy = torch.arange(h, device=dev).view(1, h, 1)
        xx = torch.arange(w, device=dev).view(1, 1, w)
        m = (yy >= y0.view(b, 1, 1)) & (yy < (y0 + oh).view(b, 1, 1)) & (xx >= x0.view(b, 1, 1)) & (xx < (x0 + ow).view(b, 1, 1))
        m = (m & sel.view(b, 1, 1)).unsqueeze(1)
        fill = rand(b, 1, 1, 1) * 0.9 + 0.05 + (rand(b, 1, h, w) - 0.5) * 0.1
        x = torch.where(m, fill, x)
    if cfg.gamma_p > 0:
        g = torch.exp((rand(b) * 2 - 1) * math.log(2.5)).view(b, 1, 1, 1)
        g = torch.where(_pick(cfg.gamma_p, b, rand).view(b, 1, 1, 1), g, torch.ones_like(g))
        x = x.clamp(1e-4, 1) ** g
    dark = torch.zeros(b, dtype=torch.bool, device=dev)
    if cfg.low_light_p > 0:
        dark = _pick(cfg.low_light_p, b, rand)
        gain = torch.where(dark, 0.2 + rand(b) * 0.4, torch.ones(b, device=dev)).view(b, 1, 1, 1)
        x = x * gain
    if cfg.blur_p > 0:
        sel = _pick(cfg.blur_p, b, rand)
        if sel.any():
            k = 7
            kern = _blur_kernels(int(sel.sum()), k, rand).to(dev, x.dtype)
            xs = x[sel]
            n = xs.shape[0]
            xs = F.pad(xs.reshape(1, n * c, h, w), (k // 2,) * 4, mode="replicate")
            xs = F.conv2d(xs, kern.repeat_interleave(c, 0).unsqueeze(1), groups=n * c).reshape(n, c, h, w)
            x = x.clone()
            x[sel] = xs
    if cfg.downscale_p > 0:
        sel = _pick(cfg.downscale_p, b, rand)
        idx = sel.nonzero().flatten()
        if len(idx):
            # Four size groups per batch keep it batched while sizes still vary.
            x = x.clone()
            for part in idx.chunk(4):
                side = int(16 + rand(1).item() * 16)
                small = F.interpolate(x[part], size=(side, side), mode="bilinear", align_corners=False, antialias=True)
                x[part] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    sigma = torch.zeros(b, device=dev)
    if cfg.noise_p > 0:
        sigma = torch.where(_pick(cfg.noise_p, b, rand), 0.005 + rand(b) * 0.035, sigma)
    sigma = torch.where(dark, torch.maximum(sigma, 0.01 + rand(b) * 0.02), sigma)
    if (sigma > 0).any():
        noise = torch.randn(x.shape, generator=gen).to(dev, x.dtype)
        x = x + noise * sigma.view(b, 1, 1, 1)
    x = torch.round(x.clamp(0, 1) * 255) / 255  # 8-bit: dark crops lose their grey levels here
    if cfg.jpeg_p > 0:
        sel = _pick(cfg.jpeg_p, b, rand)
        if sel.any():
            quality = 20 + rand(int(sel.sum())) * 50
            x = x.clone()
            x[sel] = _jpeg(x[sel], quality).clamp(0, 1)
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
