"""Explanations: maps on crops, single models and ensembles, warped back into frames and images."""

from __future__ import annotations

import cv2
import make_samples
import numpy as np
import pytest
from typer.testing import CliRunner

from fervideo._cli import app
from fervideo.core.errors import BackendError
from fervideo.core.types import Faces
from fervideo.stages.align import FER_TEMPLATE, align_transforms

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory):
    import torch
    from transformers import (
        ResNetConfig,
        ResNetForImageClassification,
        ViTImageProcessor,
    )

    torch.manual_seed(0)
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=2,
                       id2label={0: "happy", 1: "sad"}, label2id={"happy": 0, "sad": 1})
    d = tmp_path_factory.mktemp("models") / "resnet"
    ResNetForImageClassification(cfg).save_pretrained(d)
    ViTImageProcessor(size={"height": 64, "width": 64}).save_pretrained(d)
    return d


def _crop(size: int) -> np.ndarray:
    img = make_samples.astronaut()[30:230, 150:350]
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def test_grad_cam_for_a_convolutional_model(tiny_resnet):
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_crop

    clf = EmotionClassifier(str(tiny_resnet), device="cpu")
    e = explain_crop(clf, np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    assert e.method == "Grad-CAM" and e.heat.shape == (64, 64) and 0 <= e.heat.min() and e.heat.max() <= 1


def test_an_ensemble_is_explained_by_all_its_members(tiny_vit, tiny_fervit):
    """Its map is the mean of each member's map; its label and probability are the ensemble's."""
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_crop

    crop = _crop(48)
    both = EmotionClassifier(f"{tiny_vit},{tiny_fervit}", device="cpu", dtype="fp32")
    e = explain_crop(both, crop)
    p = both.predict(crop[None])[0]
    assert e.label == both.labels[int(p.argmax())] and e.prob == pytest.approx(float(p.max()), abs=1e-4)
    # both by rollout: the HF ViT too, although it runs SDPA attention (no weights) for analyze
    assert e.method == "attention rollout" and e.heat.shape == (48, 48)
    assert both.members[0].model.config._attn_implementation == "sdpa"  # and it runs SDPA again afterwards
    # attention rollout does not depend on the class: each member's own map is known
    alone = [explain_crop(EmotionClassifier(str(m), device="cpu", dtype="fp32"), crop).heat for m in (tiny_vit, tiny_fervit)]
    mean = np.mean(alone, axis=0)
    expected = (mean - mean.min()) / (mean.max() - mean.min())
    assert np.allclose(e.heat, expected, atol=1e-5)
    assert np.abs(e.heat - alone[0]).max() > 0.05 and np.abs(e.heat - alone[1]).max() > 0.05  # both count


def test_a_mixed_ensemble_names_both_methods(tiny_fervit, tiny_resnet):
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_crop

    e = explain_crop(EmotionClassifier(f"{tiny_fervit},{tiny_resnet}", device="cpu"), _crop(64))
    assert e.label in ("happy", "sad")  # only those two classes are shared: either member may decide
    assert "attention rollout" in e.method and "Grad-CAM" in e.method
    assert e.heat.shape == (64, 64) and e.heat.min() == 0 and e.heat.max() == pytest.approx(1)


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).sum(-1) > 0


def test_explain_frame_warps_the_map_back_through_the_box_crop_where_alignment_fell_back(tiny_fervit):
    """A face with implausible landmarks is cropped around its box; its map must land on that box."""
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_frame

    frame = np.full((240, 320, 3), 128, np.uint8)
    frame[60:140, 180:260] = _crop(80)
    box = np.array([[180, 60, 260, 140]], np.float32)
    bad_landmarks = np.full((1, 5, 2), 100.0, np.float32)  # all five on one point: not a face
    faces = Faces(box, [0.9], bad_landmarks, [0], [0.0])
    out, exps = explain_frame(EmotionClassifier(str(tiny_fervit), device="cpu"), frame, faces, annotate=False)
    assert out.shape == frame.shape and len(exps) == 1
    changed = _changed(out, frame)
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 59 and ys.max() <= 140 and xs.min() >= 179 and xs.max() <= 260  # on the box only
    assert changed[62:138, 182:258].mean() > 0.95  # and all over it


def test_explain_frame_uses_the_landmark_alignment_where_it_is_plausible(tiny_fervit):
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_frame

    frame = np.full((240, 320, 3), 128, np.uint8)
    box = np.array([[100, 40, 200, 160]], np.float32)
    lm = (box[0, :2] + FER_TEMPLATE * (box[0, 2:] - box[0, :2]))[None].astype(np.float32)
    faces = Faces(box, [0.9], lm, [0], [0.0])
    clf = EmotionClassifier(str(tiny_fervit), device="cpu")
    out, _ = explain_frame(clf, frame, faces, annotate=False)
    # the crop's footprint in the frame: its corners mapped back by the inverse alignment
    inv = cv2.invertAffineTransform(align_transforms(faces, clf.input_size)[0])
    s = clf.input_size
    corners = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], float) @ inv.T
    changed = _changed(out, frame)
    ys, xs = np.nonzero(changed)
    assert xs.min() >= corners[:, 0].min() - 2 and xs.max() <= corners[:, 0].max() + 2  # bilinear: 1 px more
    assert ys.max() <= corners[:, 1].max() + 2


def test_explain_image_overlay_has_the_input_size(tmp_path, tiny_fervit, tiny_vit):
    img = make_samples.astronaut()[:400, :300]
    p = tmp_path / "face.png"
    cv2.imwrite(str(p), img[..., ::-1])
    for model in (tiny_fervit, tiny_vit):
        out = tmp_path / f"x-{model.name}"
        r = runner.invoke(app, ["explain", str(p), "--model", str(model), "--out", str(out)])
        assert r.exit_code == 0, r.output
        pngs = list(out.glob("*.png"))
        assert len(pngs) == 1
        ov = cv2.imread(str(pngs[0]))
        assert ov.shape == img.shape
        assert np.abs(ov.astype(int) - img[..., ::-1].astype(int)).mean() > 1  # something was drawn


def test_explain_path_finds_faces_with_the_options_detector(tmp_path, tiny_fervit):
    """The detector comes from the options, like analyze's: a name that does not exist is refused
    (before the model is loaded), and the CLI passes --detector through."""
    from fervideo.pipeline.options import AnalyzeOptions
    from fervideo.study.explain import explain_path

    p = tmp_path / "face.png"
    cv2.imwrite(str(p), make_samples.astronaut()[..., ::-1])
    with pytest.raises(BackendError, match="unknown detector 'retinaface'"):
        explain_path(p, tmp_path / "o", str(tiny_fervit), options=AnalyzeOptions(detector="retinaface"))
    r = runner.invoke(app, ["explain", str(p), "--model", str(tiny_fervit), "--detector", "retinaface", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "unknown detector 'retinaface'" in r.output and "Traceback" not in r.output
    written = explain_path(p, tmp_path / "o", str(tiny_fervit), options=AnalyzeOptions(detect_size=480))
    assert len(written) == 1 and written[0].exists()


def test_explain_frame_heads_each_face_as_the_annotated_video_does(tiny_fervit):
    """Header with the label and its share (a '?' where the face is not clear), bars, the method once."""
    from fervideo.io.render import face_drawing
    from fervideo.stages.classify import EmotionClassifier
    from fervideo.study.explain import explain_frame

    frame = np.full((240, 320, 3), 128, np.uint8)
    box = np.array([[40, 60, 120, 140]], np.float32)
    faces = Faces(box, [0.9], np.full((1, 5, 2), 100.0, np.float32), [0], [0.0])  # no usable landmarks: not clear
    clf = EmotionClassifier(str(tiny_fervit), device="cpu")
    plain, exps = explain_frame(clf, frame, faces, annotate=False)
    out, _ = explain_frame(clf, frame, faces)
    e = exps[0]
    assert e.probs is not None and len(e.probs) == len(clf.labels) and abs(float(e.probs.sum()) - 1) < 1e-4
    assert e.label == clf.labels[int(e.probs.argmax())]
    d = face_drawing(frame.shape[:2], box[0], "", e.label, e.probs, clf.labels, unclear=True)
    assert d.text.startswith(e.label) and d.text.endswith("% ?")
    x1, y1, x2, y2 = d.header
    assert _changed(out[y1:y2, x1:x2], plain[y1:y2, x1:x2]).mean() > 0.9  # the header is painted
    assert _changed(out[-12:], plain[-12:]).any()  # the method's line at the bottom
