"""Explain: where a model looked, as heat-map overlays on the input.

Transformers (FerViT, HF ViT/DeiT...) use attention rollout (Abnar & Zuidema 2020): the
head-averaged attention of every layer, mixed with the identity for the residual path,
multiplied through the layers; the class token's row over the patch tokens is the map.
Convolutional models use Grad-CAM (Selvaraju et al. 2017) on their last convolution.
The map is computed on the aligned face crop and warped back into the input image, so the
overlay has the input's size.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from fervideo.core.device import check_device_name
from fervideo.core.errors import DataError, ModelError
from fervideo.core.files import IMAGE_EXTS
from fervideo.core.types import Faces, FrameTime
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages.align import FER_TEMPLATE, align_crops, align_transforms
from fervideo.stages.classify import EmotionClassifier

log = logging.getLogger(__name__)


@dataclass
class Explanation:
    heat: np.ndarray  # (S, S) float in [0, 1] on the crop
    label: str
    method: str
    probs: np.ndarray  # every class, in the classifier's label order
    labels: list[str]

    @property
    def prob(self) -> float:
        """The probability of ``label``."""
        return float(self.probs[self.labels.index(self.label)])


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


#: model -> its float32, NCHW copy for Grad-CAM's backward pass (made once per model, not per face)
_BACKWARD_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _backward_model(model: torch.nn.Module) -> torch.nn.Module:
    """On a CPU the classifier runs in bf16 with channels-last convolutions (speed), and oneDNN's
    backward for that crashed the process (a segfault in autograd, with 2 threads, after an
    ONNX export in the same process: 4 of 4 test runs). Gradients for explained crops need no
    speed: a float32, NCHW copy of the model does the backward pass."""
    if all(p.dtype == torch.float32 for p in model.parameters()):
        return model
    if model not in _BACKWARD_COPIES:
        import copy

        _BACKWARD_COPIES[model] = copy.deepcopy(model).float().to(memory_format=torch.contiguous_format)
    return _BACKWARD_COPIES[model]


def grad_cam(model: torch.nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    if x.device.type == "cpu":
        model, x = _backward_model(model), x.float()
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


@contextlib.contextmanager
def _eager_attention(model: torch.nn.Module) -> Iterator[None]:
    """Eager attention while explaining, then the model's own again.

    Hugging Face transformers run SDPA attention by default, which returns no attention
    weights; without this an HF ViT would silently be explained by Grad-CAM on its patch
    embedding instead of by attention rollout.
    """
    impl = getattr(model.config, "_attn_implementation", None)
    switch = impl not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(impl)


def _unit(heat: np.ndarray) -> np.ndarray:
    return (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-9)


def explain_crop(clf: EmotionClassifier, crop: np.ndarray) -> Explanation:
    """Heat map on one aligned RGB crop (S, S, 3) for the class ``clf`` predicts.

    An ensemble is explained as it classifies: the label and probability are the ensemble's
    (members' probabilities averaged on the canonical labels), and the map is the mean of every
    member's map for that label, each scaled to [0, 1] first because attention rollout and
    Grad-CAM have different scales; a member without the label contributes no map.
    """
    runs = []
    probs = np.zeros(len(clf.labels), np.float32)
    for member in clf.members:
        s = member.info.input_size
        x = cv2.resize(crop, (s, s)) if crop.shape[:2] != (s, s) else crop
        t = member.prepare(x[None])
        with torch.no_grad(), _eager_attention(member.model):
            out = member.model(pixel_values=t, output_attentions=True)  # CNNs accept and ignore it
        probs[[clf.labels.index(lab) for lab in member.info.labels]] += out.logits.float().softmax(-1)[0].cpu().numpy()
        runs.append((member, t, getattr(out, "attentions", None)))
    probs /= max(float(probs.sum()), 1e-12)
    k = int(probs.argmax())
    label = clf.labels[k]
    heats, methods = [], []
    for member, t, atts in runs:
        if label not in member.info.labels:
            continue
        if atts:
            flat = attention_rollout(list(atts))[0]
            side = int(round(np.sqrt(flat.size)))
            heat = flat[: side * side].reshape(side, side)
            methods.append("attention rollout")
        else:
            heat = grad_cam(member.model, t, member.info.labels.index(label))
            methods.append("Grad-CAM")
        heat = cv2.resize(heat.astype(np.float32), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_CUBIC)
        heats.append(_unit(heat))
    return Explanation(_unit(np.mean(heats, axis=0)), label, " + ".join(dict.fromkeys(methods)), probs, list(clf.labels))


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend a [0,1] heat map (image-sized) as a colour map onto an RGB image."""
    cm = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    a = alpha if mask is None else (alpha * mask)[..., None]
    return (image * (1 - a) + cm * a).astype(np.uint8)


def explain_frame(clf: EmotionClassifier, frame: np.ndarray, faces: Faces, margin: float = 1.0,
                  annotate: bool = True) -> tuple[np.ndarray, list[Explanation]]:
    """Overlay (frame-sized) with every face's map warped back into the frame.

    Each map goes back through the inverse of the very transform its crop was cut with
    (``align_transforms``: the landmark alignment, or the box crop where the landmarks were
    implausible), so it lands on the pixels the model saw. With ``annotate``, each face gets
    the annotated video's box, header and bars, and a line at the bottom names the method.
    """
    from fervideo.core.quality import clear, face_size, frontal
    from fervideo.io.render import FaceToDraw, arrange, paint

    size = clf.input_size
    crops = align_crops(frame, faces, size, margin)
    transforms = align_transforms(faces, size, margin)
    out = frame.copy()
    h, w = frame.shape[:2]
    exps = []
    for i in range(len(faces)):
        e = explain_crop(clf, crops[i])
        exps.append(e)
        inv = cv2.invertAffineTransform(transforms[i])
        heat = cv2.warpAffine(e.heat, inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(np.ones((size, size), np.float32), inv, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        out = overlay(out, heat, mask=mask)
    if not annotate or not exps:
        return out, exps
    # Each face headed and barred as in the annotated video (no header covers another face, a
    # '?' on faces that are not clear), the method named once: this frame alone, not smoothed.
    ok = clear(face_size(faces.boxes), frontal(faces.landmarks))
    drawings = arrange((h, w), [FaceToDraw(i, faces.boxes[i], "", e.label, e.probs, not ok[i]) for i, e in enumerate(exps)],
                       clf.labels)
    for d in drawings:
        paint(out, d)
    _banner(out, f"where the model looked: {' / '.join(dict.fromkeys(e.method for e in exps))}; this frame alone, not smoothed")
    return out, exps


def _banner(img: np.ndarray, text: str) -> None:
    """One line of text on a dark strip at the image's bottom left, scaled to the image."""
    h, w = img.shape[:2]
    scale = max(0.35, min(0.6, h / 900))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    y2 = h - 2
    y1 = max(0, y2 - th - base - 4)
    cv2.rectangle(img, (0, y1), (min(w - 1, tw + 6), y2), (30, 30, 30), -1)
    cv2.putText(img, text, (3, y2 - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1, cv2.LINE_AA)


def _whole_image_face(img: np.ndarray) -> Faces:
    h, w = img.shape[:2]
    lm = FER_TEMPLATE * np.array([w, h])
    return Faces(np.array([[0, 0, w, h]]), [1.0], lm[None], [0], [0.0])


def explain_path(path: str | Path, out_dir: str | Path, model: str | None = None, *, times: list[float] | None = None,
                 n_times: int = 4, device: str | None = None, options: AnalyzeOptions | None = None) -> list[Path]:
    """Write overlay PNGs for an image, or for frames of a video at ``times`` (seconds).

    Faces are found and cropped as ``analyze`` finds and crops them: detector, detector size and
    threshold, crop margin and dtype come from ``options`` (``AnalyzeOptions``' defaults
    when None); ``model`` and ``device``, where given, take the place of the options' ones.
    """
    from fervideo.stages import detect
    from fervideo.stages.decode import VideoSource

    opts = options or AnalyzeOptions()
    model = model if model is not None else opts.model
    device = device or opts.device
    check_device_name(device)
    path, out_dir = Path(path), Path(out_dir)
    # The input is opened first and the detector built before the classifier: a wrong path or
    # detector name fails in a second, before the slow model load.
    img = src = None
    if path.suffix.lower() in IMAGE_EXTS:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{path}: not a readable image")
        img = np.ascontiguousarray(bgr[..., ::-1])
    else:
        src = VideoSource(path)
        late = [t for t in times or [] if t > src.info.duration_s]
        if late:
            raise DataError(f"{path}: --times {', '.join(f'{t:g}' for t in late)} s is beyond the end of the video "
                            f"({src.info.duration_s:.1f} s long)")
    det = detect.create(opts.detector, size=opts.detect_size, threshold=opts.detect_threshold, device=device, threads=opts.threads)
    clf = EmotionClassifier(model, device=device, batch_size=1, dtype=opts.dtype)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if img is not None:
        faces = det.detect(img[None], [FrameTime(0, 0.0)])
        if len(faces) == 0:
            log.warning("%s: no face found; explaining the whole image as one face", path)
            faces = _whole_image_face(img)
        ov, _ = explain_frame(clf, img, faces, opts.margin)
        p = out_dir / f"{path.stem}_explain.png"
        cv2.imwrite(str(p), ov[..., ::-1])
        return [p]
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
                ov, _ = explain_frame(clf, fr, faces, opts.margin)
                p = out_dir / f"{path.stem}_t{ft.seconds:08.3f}.png"
                cv2.imwrite(str(p), ov[..., ::-1])
                written.append(p)
        if not pending:
            break
    return written
