"""FerViT: a small hybrid vision transformer for facial-expression crops.

Why a hybrid: a plain ViT on 48x48 faces learns slowly from scratch on FER-2013's 28k images
(no inductive bias for local texture), while a small CNN learns fast but tops out early.
FerViT puts a cheap residual convolutional stem in front (48x48 -> 6x6 feature map), so the
transformer encoder attends over 36 tokens that already describe mouth, eyes and brows.
That keeps it fast enough for >= 500 crops/s on a 2-core CPU.

The model is a regular Hugging Face ``PreTrainedModel``: ``save_pretrained`` writes config
and safetensors, and ``AutoModelForImageClassification.from_pretrained`` loads it once
``fervideo`` is imported (the import registers the ``fervit`` model type).
Input is any ``pixel_values`` tensor (B, C, H, W) normalised by its image processor; colour
input is converted to luminance because the model is trained on grayscale faces.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForImageClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import ImageClassifierOutput

INPUT_NORMS = ("none", "per_image")


class FerViTConfig(PretrainedConfig):
    """``input_norm="per_image"`` standardises every crop to zero mean and unit variance inside
    the model, so a dark, low-contrast video crop and a well-lit training image reach the
    encoder on one scale whatever processor or pipeline fed them. ``logit_temperature`` is the
    calibration temperature fitted on validation data; logits are divided by it, so the
    softmax of any caller (fervideo or plain transformers) gives calibrated probabilities.
    """

    model_type = "fervit"

    def __init__(
        self,
        image_size: int = 48,
        num_channels: int = 1,
        stem_channels: tuple[int, ...] | list[int] = (32, 64, 128),
        hidden_size: int = 192,
        num_hidden_layers: int = 4,
        num_attention_heads: int = 4,
        mlp_ratio: float = 2.0,
        hidden_dropout_prob: float = 0.0,
        drop_path_rate: float = 0.05,
        classifier_dropout: float = 0.2,
        layer_norm_eps: float = 1e-6,
        input_norm: str = "none",
        logit_temperature: float = 1.0,
        **kwargs,
    ) -> None:
        self.image_size = image_size
        self.num_channels = num_channels
        self.stem_channels = list(stem_channels)
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.mlp_ratio = mlp_ratio
        self.hidden_dropout_prob = hidden_dropout_prob
        self.drop_path_rate = drop_path_rate
        self.classifier_dropout = classifier_dropout
        self.layer_norm_eps = layer_norm_eps
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {', '.join(INPUT_NORMS)}, not {input_norm!r}")
        self.input_norm = input_norm
        self.logit_temperature = float(logit_temperature)
        super().__init__(**kwargs)


class _ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1, act: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.GELU())
        super().__init__(*layers)


class _ResBlock(nn.Module):
    """Downsampling residual block: two 3x3 convs, 1x1 projection on the shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _ConvBN(cin, cout, stride)
        self.conv2 = _ConvBN(cout, cout, 1, act=False)
        self.short = (
            nn.Identity()
            if cin == cout and stride == 1
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.short(x))


class _EncoderLayer(nn.Module):
    """Pre-norm transformer layer with stochastic depth (fused SDPA attention)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, drop_path: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)
        self.drop_path = drop_path

    def _dp(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_path == 0.0:
            return x
        keep = 1.0 - self.drop_path
        mask = (torch.rand(x.shape[0], 1, 1, device=x.device) < keep).to(x.dtype) / keep
        return x * mask

    def _attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Explicit attention: with ~37 tokens two small matmuls are several times faster on
        # CPU (forward and backward) than the fused SDPA kernels, and give the weights for
        # attention rollout for free.
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        w = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        w = w.softmax(dim=-1)
        out = (w @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out), w.mean(1)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        a, w = self._attention(self.norm1(x))
        x = x + self._dp(self.drop(a))
        x = x + self._dp(self.drop(self.mlp(self.norm2(x))))
        return (x, w) if return_attention else x


class FerViTPreTrainedModel(PreTrainedModel):
    config_class = FerViTConfig
    base_model_prefix = "fervit"
    main_input_name = "pixel_values"

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class FerViTForImageClassification(FerViTPreTrainedModel):
    def __init__(self, config: FerViTConfig) -> None:
        super().__init__(config)
        c = config.stem_channels
        # 48 -> 24 -> 12 -> 6 with the defaults (3 stride-2 stages + stride-2 projection).
        stem: list[nn.Module] = [_ConvBN(config.num_channels, c[0], stride=2)]
        prev = c[0]
        for ch in c[1:]:
            stem.append(_ResBlock(prev, ch, stride=2))
            prev = ch
        stem.append(_ResBlock(prev, config.hidden_size, stride=1))
        self.stem = nn.Sequential(*stem)
        grid = config.image_size // (2 ** len(c))
        self.num_tokens = grid * grid
        d = config.hidden_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens + 1, d))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        dpr = [config.drop_path_rate * i / max(1, config.num_hidden_layers - 1) for i in range(config.num_hidden_layers)]
        self.layers = nn.ModuleList(
            _EncoderLayer(d, config.num_attention_heads, config.mlp_ratio, config.hidden_dropout_prob, p, config.layer_norm_eps)
            for p in dpr
        )
        self.norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.head_drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(2 * d, config.num_labels)
        self.post_init()

    def _to_input(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values
        if x.shape[1] == 3 and self.config.num_channels == 1:
            w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True)
        size = self.config.image_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        if getattr(self.config, "input_norm", "none") == "per_image":
            xf = x.float()
            mean = xf.mean(dim=(1, 2, 3), keepdim=True)
            std = xf.std(dim=(1, 2, 3), keepdim=True)
            x = ((xf - mean) / (std + 1e-2)).to(x.dtype)
        return x

    def tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Stem feature map as a token sequence (B, 36, D), before the encoder."""
        f = self.stem(self._to_input(pixel_values))
        return f.flatten(2).transpose(1, 2)

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutput:
        t = self.tokens(pixel_values)
        x = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        attentions = []
        for layer in self.layers:
            if output_attentions:
                x, w = layer(x, return_attention=True)
                attentions.append(w)
            else:
                x = layer(x)
        x = self.norm(x)
        pooled = torch.cat([x[:, 0], x[:, 1:].mean(1)], dim=-1)
        logits = self.classifier(self.head_drop(pooled))
        temperature = getattr(self.config, "logit_temperature", 1.0)
        if temperature != 1.0:
            logits = logits / temperature
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float(), labels)
        return ImageClassifierOutput(
            loss=loss, logits=logits, attentions=tuple(attentions) if output_attentions else None
        )


AutoConfig.register("fervit", FerViTConfig)
AutoModelForImageClassification.register(FerViTConfig, FerViTForImageClassification)
