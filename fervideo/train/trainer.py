"""Train or fine-tune an emotion classifier; resumable, reproducible, written in HF format.

Recipe (defaults): AdamW, linear warm-up then cosine decay, label smoothing, class weights
from label frequencies (inverse square root, so rare classes such as disgust count more
without wrecking accuracy), batched torch augmentation, an exponential moving average of the
weights (evaluated and exported: it is smoother and usually 1-2 points better on val), early
stopping on val macro-F1, bf16 autocast. A checkpoint with model, EMA, optimiser, scheduler
and RNG state is written every epoch, so ``resume=True`` continues an interrupted run and a
fixed seed reproduces it on the same machine.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fervideo.core.device import check_device_name, resolve_device
from fervideo.core.errors import ConfigError, DataError, TrainingError
from fervideo.modeling.data_config import DataConfig, resolve_data_config, to_luminance
from fervideo.train.augment import AugmentConfig, augment_views, mix
from fervideo.train.data import FaceImages
from fervideo.train.metrics import Metrics, metrics_from_predictions
from fervideo.train.votes import VOTE_MODES, VoteTargets, vote_targets

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    label_smoothing: float = 0.1
    class_weights: bool = True
    class_weight_power: float = 0.5
    ema_decay: float = 0.999
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    bf16: bool = True
    threads: int | None = None
    init: str | None = None  # HF checkpoint to fine-tune; None = a new model of ``arch``
    arch: str = "fervit"  # from scratch: "fervit" (the project's ViT) or "resnet" (HF ResNet, for comparison)
    image_size: int = 48
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    stem_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    stem_stride: int = 2  # FerViT: 1 = first convolution at full resolution
    stem_type: str = "residual"  # FerViT: "residual", "vgg" or "mobilenet" (fervideo.modeling.fervit.STEM_TYPES)
    stem_blocks: int = 13  # FerViT mobilenet stem: MobileNetV2 blocks kept (13: 96 channels, 1/16 resolution)
    stem_scale: float = 1.0  # FerViT mobilenet stem: the crop is enlarged this much first (48 px x 4/3 = 64)
    stem_init: str | None = None  # pretrained stem weights (fervideo.train.pretrained_stem.STEM_INITS)
    stem_lr_scale: float = 1.0  # the stem's learning rate relative to --lr (a pretrained stem learns slower)
    # Weight each image so that head pose does not predict the label (fervideo.train.pose); the
    # weights themselves come to ``train`` as ``sample_weights``.
    pose_balance: bool = False
    input_norm: str = "per_image"  # new FerViTs standardise each crop inside the model (see FerViTConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    max_steps_per_epoch: int | None = None  # for smoke tests
    # A second head trained on crowd vote distributions (FER+) of the same images, exported
    # as its own model to ``votes_out`` (default OUT/ferplus); see fervideo.train.votes.
    votes_mode: str = "crossentropy"
    votes_weight: float = 1.0
    votes_out: str | None = None
    # Distillation: a teacher (a model or an ensemble "A,B", as analyze takes them) labels every
    # augmented batch, and the main head also learns its probabilities (``Teacher``).
    teacher: str | None = None
    teacher_weight: float = 1.0
    teacher_temperature: float = 2.0
    # What the teacher sees: "same" = the student's augmented batch; "clean" = the same crops
    # (geometry, mirror, brightness, contrast) without head turns, perspective, erasing and video
    # degradations (``augment_views``), for a teacher trained without them.
    teacher_view: str = "same"

    def __post_init__(self) -> None:
        """Refuse values that cannot work now, before any data is loaded."""
        if self.init is None and self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}; valid: {', '.join(ARCHS)}")
        from fervideo.modeling.fervit import STEM_TYPES

        if self.stem_type not in STEM_TYPES:
            raise ConfigError(f"unknown stem type {self.stem_type!r}; valid: {', '.join(STEM_TYPES)}")
        if self.stem_init is not None:
            from fervideo.train.pretrained_stem import STEM_INITS

            if self.stem_init not in STEM_INITS:
                raise ConfigError(f"unknown stem init {self.stem_init!r}; valid: {', '.join(STEM_INITS)}")
            if self.init is not None or self.arch != "fervit" or self.stem_type != "mobilenet":
                raise ConfigError("--stem-init starts a new FerViT's stem: it needs --stem-type mobilenet and no --init")
        if self.stem_lr_scale <= 0:
            raise ConfigError(f"stem_lr_scale must be > 0, not {self.stem_lr_scale}")
        if self.votes_mode not in VOTE_MODES:
            raise ConfigError(f"unknown vote mode {self.votes_mode!r}; valid: {', '.join(VOTE_MODES)}")
        if self.teacher is not None and (self.teacher_weight <= 0 or self.teacher_temperature <= 0):
            raise ConfigError("--teacher-weight and --teacher-temperature must be > 0")
        if self.teacher_view not in TEACHER_VIEWS:
            raise ConfigError(f"unknown teacher view {self.teacher_view!r}; valid: {', '.join(TEACHER_VIEWS)}")
        if self.teacher_view == "clean" and (self.augment.mixup_alpha > 0 or self.augment.cutmix_alpha > 0):
            raise ConfigError("--teacher-view clean does not combine with --mixup/--cutmix (the teacher would see "
                              "unmixed faces); use --teacher-view same")
        for name in ("epochs", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs must be >= 0, not {self.warmup_epochs}")
        check_device_name(self.device)


ARCHS = ("fervit", "resnet")
TEACHER_VIEWS = ("same", "clean")


class Teacher:
    """Soft targets from a trained model or ensemble, for the student's main-head classes.

    The teacher sees each augmented training batch (or its clean view, ``TrainConfig.teacher_view``)
    as ``analyze`` would show it a face (RGB uint8 crops through ``EmotionClassifier``: its own
    input size, normalisation and calibration); its probabilities are mapped onto the student's classes by name (a class the
    teacher lacks gets 0) and sharpened or softened by ``temperature`` (p ** (1/T), renormalised:
    Hinton et al.'s tempered softmax, for a teacher that gives probabilities, not logits).
    """

    def __init__(self, model: str, classes: list[str], temperature: float, device: torch.device) -> None:
        from fervideo.stages.classify import EmotionClassifier

        self.clf = EmotionClassifier(model, device=str(device))
        missing = [c for c in classes if c not in self.clf.labels]
        if len(missing) == len(classes):
            raise ConfigError(f"teacher {model!r} has none of the classes {classes}")
        if missing:
            log.warning("teacher %s has no class %s: it teaches 0 for them", model, missing)
        self.cols = [self.clf.labels.index(c) if c in self.clf.labels else -1 for c in classes]
        self.temperature = float(temperature)

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) gray in [0, 1] -> (B, K) tempered teacher probabilities on the student's classes."""
        crops = (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        p = self.clf.predict(np.repeat(crops[..., None], 3, axis=3))
        q = np.stack([p[:, c] if c >= 0 else np.zeros(len(p), np.float32) for c in self.cols], 1)
        q = np.power(np.maximum(q, 1e-8), 1.0 / self.temperature)
        return torch.from_numpy(q / q.sum(1, keepdims=True)).to(x.device)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_accuracy: float
    val_macro_f1: float
    seconds: float
    votes_accuracy: float | None = None  # vote head: accuracy on the validation majority labels
    votes_macro_f1: float | None = None


class ModelInput:
    """[0, 1] gray batches (B, 1, h, w) -> the model's ``pixel_values``, fed as ``analyze`` feeds it.

    The model's ``DataConfig`` (size, per-channel mean and std, channels) decides: gray faces are
    resized to the input size, replicated to RGB, normalised per channel and converted to
    luminance where the model has one channel and does not convert itself, exactly the path an
    RGB crop takes in ``stages.classify``.
    """

    def __init__(self, data: DataConfig, device: torch.device) -> None:
        self.data = data
        mean, std = data.stats()
        self.mean = torch.from_numpy(mean).to(device)
        self.std = torch.from_numpy(std).to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        side = self.data.input_size
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        x = (x.expand(-1, 3, -1, -1) - self.mean) / self.std
        return to_luminance(x) if self.data.gray else x


def build_model(classes: list[str], cfg: TrainConfig, vote_classes: Sequence[str] = ()):
    """A new FerViT (or HF ResNet), or a HF checkpoint with a head for ``classes`` (+ a vote head).

    With ``--init``, each output row starts from the init model's row of the same class name
    where it has one (``_init_rows_by_name``): fine-tuning the FER+ model into a 7-class model
    with a vote head keeps what both heads know, and a checkpoint whose classes come in
    another order is not silently relabelled.

    The ResNet exists so that the ViT can be compared with a convolutional network trained by the
    same recipe on the same data: its stages take their widths from ``stem_channels`` and
    ``num_hidden_layers`` basic blocks each.
    """
    from transformers import (
        AutoImageProcessor,
        AutoModelForImageClassification,
        ResNetConfig,
        ResNetForImageClassification,
        ViTImageProcessor,
    )

    from fervideo.modeling.fervit import FerViTConfig, FerViTForImageClassification

    main_classes = list(classes)
    names = main_classes + [f"vote_{i}" for i in range(len(vote_classes))]
    id2label = {i: c for i, c in enumerate(names)}
    label2id = {c: i for i, c in id2label.items()}
    classes = names
    if cfg.init is not None:
        from fervideo.modeling.catalog import hub_error

        try:
            model = AutoModelForImageClassification.from_pretrained(
                cfg.init, num_labels=len(classes), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True
            )
            processor = AutoImageProcessor.from_pretrained(cfg.init)
        except OSError as exc:
            raise hub_error(cfg.init, exc) from exc
        _init_rows_by_name(model, cfg.init, main_classes, list(vote_classes))
        # A calibration temperature belongs to the weights it was fitted on: the fine-tuned
        # model starts uncalibrated (fervideo calibrate fits its own).
        if getattr(model.config, "logit_temperature", 1.0) != 1.0:
            log.info("--init %s: its logit_temperature %.3f is reset to 1 for the new weights", cfg.init,
                     model.config.logit_temperature)
            model.config.logit_temperature = 1.0
        return model, processor
    processor = ViTImageProcessor(
        do_resize=True,
        size={"height": cfg.image_size, "width": cfg.image_size},
        do_rescale=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    if cfg.arch == "resnet":
        config = ResNetConfig(
            num_channels=1,
            embedding_size=cfg.stem_channels[0],
            hidden_sizes=list(cfg.stem_channels),
            depths=[cfg.num_hidden_layers] * len(cfg.stem_channels),
            layer_type="basic",
            downsample_in_first_stage=False,
            image_size=cfg.image_size,
            num_labels=len(classes),
            id2label=id2label,
            label2id=label2id,
        )
        return ResNetForImageClassification(config), processor
    if cfg.arch != "fervit":
        raise ConfigError(f"unknown architecture {cfg.arch!r}; valid: {', '.join(ARCHS)}")
    config = FerViTConfig(
        image_size=cfg.image_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        stem_channels=cfg.stem_channels,
        stem_stride=cfg.stem_stride,
        stem_type=cfg.stem_type,
        stem_blocks=cfg.stem_blocks,
        stem_scale=cfg.stem_scale,
        input_norm=cfg.input_norm,
        num_labels=len(classes),
        id2label=id2label,
        label2id=label2id,
    )
    model = FerViTForImageClassification(config)
    if cfg.stem_init is not None:
        from fervideo.train.pretrained_stem import init_stem

        init_stem(model, cfg.stem_init)
    return model, processor


def _init_rows_by_name(model, init: str, classes: list[str], vote_classes: list[str]) -> None:
    """Give each output row of ``model`` the init checkpoint's row of the same class name.

    ``from_pretrained`` keeps a head of the right size whatever its classes mean and discards
    one of another size; this matches rows by name instead (the main classes, then the vote
    classes), so the FER+ model's 8-class head seeds both the 7-class and the vote head. A row
    with no namesake gets a fresh initialisation (normal, std 0.02, bias 0), also where
    ``from_pretrained`` had kept a head of the same size: its row there meant another class.
    """
    from transformers import AutoModelForImageClassification

    src = AutoModelForImageClassification.from_pretrained(init)
    src_lin, dst_lin = _classifier_linear(src), _classifier_linear(model)
    if src_lin.in_features != dst_lin.in_features:
        return
    from fervideo.core.labels import normalize_label

    def key(name: str) -> str:
        return normalize_label(str(name)) or str(name).lower()

    src_rows = {key(name): int(i) for i, name in src.config.id2label.items()}
    wanted = [key(c) for c in classes] + [key(c) for c in vote_classes]
    copied = []
    with torch.no_grad():
        w, b = src_lin.weight.detach().float(), src_lin.bias.detach().float() if src_lin.bias is not None else None
        for row, name in enumerate(wanted):
            if name in src_rows:
                dst_lin.weight[row] = w[src_rows[name]]
                if b is not None and dst_lin.bias is not None:
                    dst_lin.bias[row] = b[src_rows[name]]
                copied.append(row)
            else:
                dst_lin.weight[row].normal_(0.0, 0.02)
                if dst_lin.bias is not None:
                    dst_lin.bias[row] = 0.0
    log.info("--init %s: %d of %d output rows start from its rows of the same class", init, len(copied), len(wanted))


def class_weights(counts: np.ndarray, power: float) -> torch.Tensor:
    freq = counts / counts.sum()
    w = np.where(counts > 0, (1.0 / np.maximum(freq, 1e-12)) ** power, 0.0)
    w = w / (w[counts > 0] * freq[counts > 0]).sum()  # mean weight over samples = 1
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def predict_logits(model, images: np.ndarray, feed: ModelInput, device: torch.device, batch: int = 256, bf16: bool = True) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i : i + batch]).to(device).float().unsqueeze(1) / 255.0
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            out.append(model(pixel_values=feed(x)).logits.float().cpu().numpy())
    return np.concatenate(out)


def _evaluate(model, data: FaceImages, feed: ModelInput, device, bf16: bool, votes: VoteTargets | None = None) -> tuple[Metrics, Metrics | None]:
    """Metrics of the main head on ``data``; of the vote head on the majority labels of ``votes``."""
    k = len(data.classes)
    logits = predict_logits(model, data.images, feed, device, bf16=bf16)
    main = metrics_from_predictions(data.labels, logits[:, :k].argmax(1), data.classes)
    aux = None
    if votes is not None:
        m = votes.mask
        aux = metrics_from_predictions(votes.majority[m], logits[m, k:].argmax(1), votes.classes)
    return main, aux


def train(
    train_data: FaceImages,
    val_data: FaceImages,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    on_epoch: Callable[[EpochResult], None] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    votes: VoteTargets | None = None,
    val_votes: VoteTargets | None = None,
    sample_weights: np.ndarray | None = None,
) -> dict:
    """Train and export the best (EMA) model to ``out_dir`` in Hugging Face format.

    Returns a summary dict (best epoch, val metrics, history). ``on_epoch`` and ``on_step``
    are progress hooks for the CLI. ``sample_weights`` (one per training image, e.g.
    ``fervideo.train.pose.pose_balance_weights``) scale each image's label and teacher losses
    (with ``--mixup``/``--cutmix`` a mixed image carries the weight of the image it was mixed into).
    """
    from torch.optim.swa_utils import AveragedModel

    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    classes = train_data.classes
    val_data = val_data.remap(classes)
    if votes is not None:
        if len(votes) != len(train_data):
            raise DataError(f"{len(votes)} vote rows for {len(train_data)} training images")
        if val_votes is None or len(val_votes) != len(val_data):
            raise DataError("a vote head needs vote targets for the validation images too")
        if cfg.augment.mixup_alpha > 0 or cfg.augment.cutmix_alpha > 0:
            raise ConfigError("mixup/cutmix are not combined with a vote head; drop --mixup/--cutmix or --votes")
    if (sample_weights is not None) != cfg.pose_balance:
        raise ConfigError("pose_balance and sample_weights go together (fervideo.train.pose.pose_balance_weights)")
    if sample_weights is not None and (len(sample_weights) != len(train_data) or not np.all(np.isfinite(sample_weights))
                                       or (np.asarray(sample_weights) < 0).any()):
        raise DataError(f"sample weights must be finite, non-negative and one per training image: {len(sample_weights)} "
                        f"weights for {len(train_data)} images")
    k = len(classes)
    n_votes = len(votes.classes) if votes is not None else 0
    votes_out = Path(cfg.votes_out) if cfg.votes_out else out / "ferplus"
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model, processor = build_model(classes, cfg, vote_classes=votes.classes if votes is not None else ())
    model.to(device=device, dtype=torch.float32)  # fp32 master weights, also for checkpoints stored in fp16
    # Channels-last convolution weights: oneDNN convolves NHWC without reordering
    # each layer's input; a training step of the VGG stem took 632-652 ms instead of 745-793
    # (batch 128, bf16, 2-core CPU). The same values, so checkpoints and exports do not change.
    model.to(memory_format=torch.channels_last)
    feed = ModelInput(resolve_data_config(model.config, processor), device)
    ema = AveragedModel(model, multi_avg_fn=_ema_warmup(cfg.ema_decay), use_buffers=True)
    # (weight decay?, the stem at its own rate?): the stem gets groups of its own only when its
    # rate differs, so checkpoints of earlier runs (two groups) still resume
    groups: dict[tuple[bool, bool], list] = {(d, st): [] for d in (True, False) for st in (False, True)}
    for n, p in model.named_parameters():
        decays = not (p.ndim <= 1 or n.endswith(("cls_token", "pos_embed")))
        groups[decays, cfg.stem_lr_scale != 1.0 and n.startswith("stem.")].append(p)
    opt = torch.optim.AdamW(
        [{"params": ps, "weight_decay": cfg.weight_decay if d else 0.0, "lr": cfg.lr * (cfg.stem_lr_scale if st else 1.0)}
         for (d, st), ps in groups.items() if ps], lr=cfg.lr
    )
    n = len(train_data)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    weights = class_weights(train_data.class_counts(), cfg.class_weight_power).to(device) if cfg.class_weights else None
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, best, history, bad, best_votes = 0, -1.0, [], 0, -1.0
    last = ckpt_dir / "last.pt"
    if resume and last.exists():
        # on the CPU: the generator states must be CPU tensors; weights and optimizer state are
        # copied onto the model's device by load_state_dict
        state = torch.load(last, map_location="cpu", weights_only=False)
        _check_resumable(state.get("config"), cfg, last)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best, history, bad = state["epoch"], state["best"], state["history"], state["bad"]
        best_votes = state.get("best_votes", -1.0)
        log.info("resumed from %s at epoch %d", last, start_epoch)
    images = torch.from_numpy(train_data.images)
    labels = torch.from_numpy(train_data.labels)
    vdist = torch.from_numpy(votes.dist) if votes is not None else None
    vmask = torch.from_numpy(votes.mask) if votes is not None else None
    sw = torch.from_numpy(np.asarray(sample_weights, np.float32)) if sample_weights is not None else None
    use_bf16 = cfg.bf16 and (device.type == "cpu" or torch.cuda.is_bf16_supported())
    if device.type == "cuda":
        images, labels = images.to(device), labels.to(device)
        if sw is not None:
            sw = sw.to(device)
        if vdist is not None:
            vdist, vmask = vdist.to(device), vmask.to(device)
    teacher = Teacher(cfg.teacher, list(classes[:k]), cfg.teacher_temperature, device) if cfg.teacher else None
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(n, generator=gen)
        losses = []
        for step in range(steps_per_epoch):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            if len(idx) < 2:
                continue
            idx = idx.to(images.device)
            x = images[idx].float().unsqueeze(1).div_(255.0)
            y = labels[idx]
            x, plain = augment_views(x, cfg.augment, gen, clean=teacher is not None and cfg.teacher_view == "clean")
            x, target = mix(x, y, len(classes), cfg.augment, gen)
            soft = teacher.targets(x if plain is None else plain) if teacher is not None else None
            x = feed(x)
            with torch.autocast(device.type, torch.bfloat16, enabled=use_bf16):
                out_logits = model(pixel_values=x).logits.float()
            logits = out_logits[:, :k]
            target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / len(classes)
            per = -(target * logits.log_softmax(-1)).sum(-1)
            if weights is not None:
                per = per * (target @ weights)
            if sw is not None:
                per = per * sw[idx]
            loss = per.mean()
            if soft is not None:  # KL(teacher || student) at the teacher's temperature, scaled by T^2 (Hinton)
                t_ = cfg.teacher_temperature
                kd = (soft * (soft.clamp_min(1e-8).log() - (logits / t_).log_softmax(-1))).sum(-1)
                kd = (kd * sw[idx]).mean() if sw is not None else kd.mean()
                loss = loss + cfg.teacher_weight * t_ * t_ * kd
            if vdist is not None:
                vm = vmask[idx]
                if vm.any():
                    vt = vote_targets(vdist[idx][vm], cfg.votes_mode, gen)
                    if cfg.votes_mode == "majority":
                        vt = vt * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_votes
                    vl = -(vt * out_logits[vm, k:].log_softmax(-1)).sum(-1).mean()
                    loss = loss + cfg.votes_weight * vl
            if not torch.isfinite(loss):
                raise TrainingError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            ema.update_parameters(model)
            losses.append(loss.item())
            if on_step:
                on_step(step + 1, steps_per_epoch, losses[-1])
        m, mv = _evaluate(ema.module, val_data, feed, device, use_bf16, val_votes)
        res = EpochResult(epoch + 1, float(np.mean(losses)) if losses else float("nan"), m.accuracy, m.macro_f1, time.time() - t0)
        if mv is not None:
            res.votes_accuracy, res.votes_macro_f1 = mv.accuracy, mv.macro_f1
        history.append(asdict(res))
        improved = False
        if m.macro_f1 > best:
            best, bad, improved = m.macro_f1, 0, True
            _export(ema.module, processor, out, classes, m, cfg, history, rows=slice(0, k))
        if mv is not None and mv.accuracy > best_votes:
            best_votes, improved = mv.accuracy, True
            _export(ema.module, processor, votes_out, votes.classes, mv, cfg, history, rows=slice(k, k + n_votes))
        if not improved:
            bad += 1
        torch.save(
            {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "epoch": epoch + 1,
                "best": best,
                "history": history,
                "bad": bad,
                "best_votes": best_votes,
                "config": asdict(cfg),
            },
            last.with_suffix(".tmp"),
        )
        last.with_suffix(".tmp").replace(last)
        if on_epoch:
            on_epoch(res)
        log.info("epoch %d loss %.4f val acc %.4f macro-F1 %.4f votes acc %s (%.0fs)", res.epoch, res.train_loss, res.val_accuracy,
                 res.val_macro_f1, f"{res.votes_accuracy:.4f}" if res.votes_accuracy is not None else "-", res.seconds)
        if bad >= cfg.patience:
            log.info("early stop: no macro-F1 gain for %d epochs", bad)
            break
    summary = json.loads((out / "training.json").read_text())
    return summary


#: options a resumed run may change: where and how fast it runs, when it stops early, and the
#: number of epochs (the cosine schedule is recomputed for the new length, so from the resumed
#: step on the learning rate follows the new curve, with a step at the resume; the warm-up does
#: not depend on it). Everything else changes the recipe in mid-run.
RESUME_MAY_CHANGE = frozenset({"epochs", "patience", "device", "threads", "max_steps_per_epoch", "votes_out"})


def _check_resumable(saved: dict | None, cfg: TrainConfig, last: Path) -> None:
    """Refuse to continue a checkpoint with another recipe (a different learning rate,
    augmentation, architecture...): the run would be neither the one started nor a new one.
    A long run is resumed by hand, sessions later, so a retyped command is a real risk."""
    if saved is None:
        return
    now = asdict(cfg)
    # An option added since the checkpoint was written had its default then (or the option
    # did not exist, which is the same recipe); an option removed since is not compared.
    saved = dict(saved)
    for f in fields(TrainConfig):
        default = f.default_factory() if f.default is MISSING else f.default
        if is_dataclass(default):  # the augmentation options, one level down
            saved[f.name] = {**asdict(default), **saved.get(f.name, {})}
        else:
            saved.setdefault(f.name, default)
    diff = sorted(k for k in now if k not in RESUME_MAY_CHANGE and now[k] != saved.get(k))
    if diff:
        shown = "; ".join(f"{k}: {saved.get(k)!r} in the checkpoint, {now.get(k)!r} now" for k in diff)
        raise ConfigError(f"{last} was trained with other options ({shown}). Resume it with the options it was "
                          "started with (its training.json has them), or train into a new --out.")
    if now["epochs"] != saved.get("epochs"):
        log.warning("resuming %s with --epochs %s instead of %s: the cosine schedule is stretched from here on",
                    last, now["epochs"], saved.get("epochs"))


def _ema_warmup(decay: float):
    """EMA whose decay ramps up as (1+n)/(10+n): early epochs are not dominated by the init."""

    @torch.no_grad()
    def fn(ema_params, params, num_averaged) -> None:
        n = int(num_averaged) if not torch.is_tensor(num_averaged) else int(num_averaged.item())
        d = min(decay, (1 + n) / (10 + n))
        floats = [(e, p) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [p for _, p in floats], 1 - d)
        for e, p in zip(ema_params, params):
            if not e.is_floating_point():  # BatchNorm's num_batches_tracked
                e.copy_(p)

    return fn


def _head_model(model, classes: list[str], rows: slice):
    """A copy of ``model`` whose classifier keeps only the output rows ``rows`` (one head)."""
    import copy

    if rows.start == 0 and rows.stop == model.config.num_labels:
        return model
    config = copy.deepcopy(model.config)
    config.num_labels = len(classes)
    config.id2label = {i: c for i, c in enumerate(classes)}
    config.label2id = {c: i for i, c in enumerate(classes)}
    head = type(model)(config)
    state = {n: t for n, t in model.state_dict().items()}
    lin = _classifier_linear(model)
    prefix = next(n for n, mod in model.named_modules() if mod is lin)
    state[f"{prefix}.weight"] = state[f"{prefix}.weight"][rows]
    state[f"{prefix}.bias"] = state[f"{prefix}.bias"][rows]
    head.load_state_dict(state)
    return head


def _classifier_linear(model) -> torch.nn.Linear:
    clf = model.classifier
    if isinstance(clf, torch.nn.Linear):
        return clf
    return [m for m in clf.modules() if isinstance(m, torch.nn.Linear)][-1]


def _export(model, processor, out: Path, classes: list[str], m: Metrics, cfg: TrainConfig, history: list[dict], rows: slice | None = None) -> None:
    """Write the HF directory: weights first, then the summary. A card of earlier weights is removed.

    Every file is written into a staging folder and moved into place with ``os.replace``, so a
    reader (another process copying the best model while the run goes on) never sees a file
    half written."""
    import shutil
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    (out / "card.json").unlink(missing_ok=True)
    model = _head_model(model, classes, rows or slice(0, len(classes)))
    stage = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        model.save_pretrained(stage, safe_serialization=True)
        processor.save_pretrained(stage)
        from fervideo.modeling.remote_code import write_remote_code

        write_remote_code(stage)  # FerViT: its code + auto_map, so plain transformers loads the directory
        for f in sorted(stage.iterdir(), key=lambda f: f.name == "model.safetensors", reverse=True):  # weights first
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    best_epoch = history[-1]["epoch"]
    summary = {
        "best_epoch": best_epoch,
        "val": m.as_dict(),
        "history": history,
        "config": asdict(cfg),
        "classes": classes,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    tmp = out / "training.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out / "training.json")
