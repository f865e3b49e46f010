"""Explain: where a model looked, as heat-map overlays on the input.

Transformers (FerViT, HF ViT/DeiT...) use attention rollout (Abnar & Zuidema 2020): the
head-averaged attention of every layer, mixed with the identity for the residual path,
multiplied through the layers; the class token's row over the patch tokens is the map.
Convolutional models use Grad-CAM (Selvaraju et al. 2017) on their last convolution.
The map is computed on the aligned face crop and warped back into the input image, so the
overlay has the input's size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from fervideo.core.errors import FervideoError, ModelError
from fervideo.core.types import Faces, FrameTime
from fervideo.stages.align import FER_TEMPLATE, align_crops, similarity
from fervideo.stages.classify import EmotionClassifier

log = logging.getLogger(__name__)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Explanation:
    heat: np.ndarray  # (S, S) float in [0, 1] on the crop
    label: str
    prob: float
    method: str


def attention_rollout(attentions: list[torch.Tensor]) -> np.ndarray:
    """Rollout over layers; each item (B, N, N) or (B, heads, N, N). Returns (B, N-1) CLS->patch."""
    result = None
    for a in attentions:
        a = a.float()
        if a.dim() == 4:
            a = a.mean(1)
        eye = torch.eye(a.shape[-1], device=a.device).expand_as(a)
        a = 0.5 * a + 0.5 * eye
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result[:, 0, 1:].cpu().numpy()


def _last_conv(model: torch.nn.Module) -> torch.nn.Module:
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise ModelError("no convolution in the model for Grad-CAM")
    return convs[-1]


def grad_cam(model: torch.nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    layer = _last_conv(model)
    store: dict[str, torch.Tensor] = {}
    h1 = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    h2 = layer.register_full_backward_hook(lambda m, gi, go: store.__setitem__("g", go[0]))
    try:
        with torch.enable_grad():
            x = x.contiguous().clone().requires_grad_(True)  # oneDNN bf16 backward crashes on channels-last input
            logits = model(pixel_values=x).logits.float()
            model.zero_grad(set_to_none=True)
            logits[0, target].backward()
    finally:
        h1.remove()
        h2.remove()
    a, g = store["a"][0].float(), store["g"][0].float()
    cam = torch.relu((g.mean((1, 2), keepdim=True) * a).sum(0)).detach().cpu().numpy()
    return cam


def explain_crop(clf: EmotionClassifier, crop: np.ndarray) -> Explanation:
    """Heat map on one aligned RGB crop (S, S, 3) for the first model of ``clf``."""
    member = clf.members[0]
    model = member.model
    s = member.info.input_size
    x = cv2.resize(crop, (s, s)) if crop.shape[0] != s else crop
    t = member.prepare(x[None])
    with torch.no_grad():
        out = model(pixel_values=t, output_attentions=True)  # CNNs accept and ignore it
    probs = out.logits.float().softmax(-1)[0].cpu().numpy()
    k = int(probs.argmax())
    atts = getattr(out, "attentions", None)
    if atts:
        flat = attention_rollout(list(atts))[0]
        side = int(round(np.sqrt(flat.size)))
        heat = flat[: side * side].reshape(side, side)
        method = "attention rollout"
    else:
        heat = grad_cam(model, t, k)
        method = "Grad-CAM"
    heat = cv2.resize(heat.astype(np.float32), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_CUBIC)
    heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-9)
    return Explanation(heat, member.info.labels[k], float(probs[k]), method)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend a [0,1] heat map (image-sized) as a colour map onto an RGB image."""
    cm = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    a = alpha if mask is None else (alpha * mask)[..., None]
    return (image * (1 - a) + cm * a).astype(np.uint8)


def explain_frame(clf: EmotionClassifier, frame: np.ndarray, faces: Faces, margin: float = 1.0) -> tuple[np.ndarray, list[Explanation]]:
    """Overlay (frame-sized) with every face's map warped back into the frame."""
    size = clf.input_size
    crops = align_crops(frame, faces, size, margin)
    out = frame.copy()
    exps = []
    tmpl = ((FER_TEMPLATE - 0.5) / margin + 0.5) * size
    for i in range(len(faces)):
        e = explain_crop(clf, crops[i])
        exps.append(e)
        m = similarity(faces.landmarks[i], tmpl)
        inv = cv2.invertAffineTransform(m)
        h, w = frame.shape[:2]
        heat = cv2.warpAffine(e.heat, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(np.ones((size, size), np.float32), inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        out = overlay(out, heat, mask=mask)
        x1, y1 = int(faces.boxes[i, 0]), int(faces.boxes[i, 1])
        cv2.putText(out, f"{e.label} {e.prob:.0%} ({e.method})", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out, exps


def _whole_image_face(img: np.ndarray) -> Faces:
    h, w = img.shape[:2]
    lm = FER_TEMPLATE * np.array([w, h])
    return Faces(np.array([[0, 0, w, h]]), [1.0], lm[None], [0], [0.0])


def explain_path(path: str | Path, out_dir: str | Path, model: str | None = None, *, times: list[float] | None = None,
                 n_times: int = 4, device: str = "auto") -> list[Path]:
    """Write overlay PNGs for an image, or for frames of a video at ``times`` (seconds)."""
    from fervideo.stages import detect
    from fervideo.stages.decode import VideoSource

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clf = EmotionClassifier(model, device=device, batch_size=1)
    det = detect.create("centerface", size=480, device=device)
    written = []
    if path.suffix.lower() in IMAGE_EXTS:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FervideoError(f"{path}: not a readable image")
        img = np.ascontiguousarray(bgr[..., ::-1])
        faces = det.detect(img[None], [FrameTime(0, 0.0)])
        if len(faces) == 0:
            log.warning("%s: no face found; explaining the whole image as one face", path)
            faces = _whole_image_face(img)
        ov, _ = explain_frame(clf, img, faces)
        p = out_dir / f"{path.stem}_explain.png"
        cv2.imwrite(str(p), ov[..., ::-1])
        return [p]
    src = VideoSource(path)
    dur = src.info.duration_s
    want = sorted(times) if times else [dur * (i + 0.5) / n_times for i in range(n_times)]
    pending = list(want)
    for chunk in src.chunks(0):
        for ft, fr in zip(chunk.times, chunk.frames):
            while pending and ft.seconds >= pending[0] - 1e-6:
                pending.pop(0)
                faces = det.detect(fr[None], [ft])
                if len(faces) == 0:
                    log.warning("%s: no face at %.2f s", path, ft.seconds)
                    continue
                ov, _ = explain_frame(clf, fr, faces)
                p = out_dir / f"{path.stem}_t{ft.seconds:08.3f}.png"
                cv2.imwrite(str(p), ov[..., ::-1])
                written.append(p)
        if not pending:
            break
    return written
