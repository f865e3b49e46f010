"""Face-embedding backends: the registry, each backend offline, and the errors that name what to install."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fervideo.core.errors import BackendError, ConfigError
from fervideo.core.types import Faces, FrameTime
from fervideo.stages import detect, embed
from persons_data import portraits


def tiny_onnx(path, size: int = 112, dim: int = 8):
    """A real ONNX embedding model (mean colour per 4x4 grid cell, projected to ``dim``): runs, is no face model."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    w = rng.normal(size=(3 * 16, dim)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[size // 4, size // 4], strides=[size // 4, size // 4]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("MatMul", ["f", "w"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel())],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    return path


@pytest.fixture(scope="module")
def faces_of_two():
    """The astronaut at two scales and Grace Hopper: images and their detected faces (CenterFace)."""
    import cv2

    a, g = portraits()
    small = cv2.resize(a, (100, 100), interpolation=cv2.INTER_AREA)
    pad = np.zeros((150, 150, 3), np.uint8)
    pad[25:125, 25:125] = small
    images = [a, pad, g]
    det = detect.create("centerface", size=320)
    found = [det.detect(im[None], [FrameTime(0, 0.0)]) for im in images]
    return images, Faces.concat([f[np.argsort(-f.scores)[:1]] for f in found])


def test_registry_lists_every_backend_and_refuses_unknown_names():
    assert embed.available() == ["arcface", "dlib", "onnx"]
    with pytest.raises(BackendError, match="unknown embedder 'facenet'; choose one of: arcface, dlib, onnx"):
        embed.create("facenet")


@pytest.mark.parametrize("name", embed.available())
def test_each_backend_embeds_or_says_in_one_line_what_is_missing(name, monkeypatch, tmp_path, faces_of_two):
    """Every registered backend, as this offline machine has it: dlib works; arcface has no pack; onnx needs a file."""
    images, faces = faces_of_two
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "insightface"))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # no network in any environment
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    if name == "dlib":
        e = embed.create(name)
        v = e.embed(images, faces)
        assert v.shape == (3, 128) and e.metric == "euclidean"
        same, other = np.linalg.norm(v[0] - v[1]), np.linalg.norm(v[0] - v[2])
        assert same < e.threshold < 0.6 < other  # one person at two sizes; two people
    elif name == "arcface":
        with pytest.raises(BackendError) as err:
            embed.create(name)
        msg = str(err.value)
        assert "\n" not in msg and "buffalo_l" in msg and "--embedder dlib" in msg
    else:
        with pytest.raises(ConfigError, match="--embed-model PATH.onnx"):
            embed.create(name)
        with pytest.raises(ConfigError, match="no such file"):
            embed.create(name, model=tmp_path / "missing.onnx")
        e = embed.create(name, model=tiny_onnx(tmp_path / "m.onnx"))
        v = e.embed(images, faces)
        assert v.shape == (3, 8) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5) and e.metric == "cosine"


def test_arcface_runs_the_pack_model_when_it_is_on_disk(monkeypatch, tmp_path, faces_of_two):
    """The pack lookup and ArcFace preprocessing, with a small stand-in file where w600k_r50.onnx goes."""
    images, faces = faces_of_two
    pack = tmp_path / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    tiny_onnx(pack / "w600k_r50.onnx", dim=16)
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path))
    e = embed.create("arcface")
    assert e.name == "arcface" and e.size == 112
    crops = e.crops(images, faces).astype(np.float32)
    assert crops.shape == (3, 112, 112, 3)
    # aligned by the landmarks: one face at 150 and 100 px gives nearly the same crop, another face does not
    assert np.abs(crops[0] - crops[1]).mean() < 0.5 * np.abs(crops[0] - crops[2]).mean()
    assert e.embed(images, faces).shape == (3, 16)


def test_missing_dlib_names_the_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # what Python does when the package is not installed
    with pytest.raises(BackendError, match=r"pip install 'fervideo\[persons\]'") as err:
        embed.create("dlib")
    assert "\n" not in str(err.value)


def test_dlib_descriptors_in_worker_processes_equal_the_in_process_ones(faces_of_two):
    """The workers (dlib off the GIL, one per CPU) return exactly what dlib returns in this process,
    in order, for batches split over several workers and for a single face once they run."""
    from fervideo.stages.embed.dlib_resnet import WORKERS_FROM_FACES

    images, faces = faces_of_two
    reps = -(-WORKERS_FROM_FACES // len(faces))  # enough faces to start the workers
    imgs, many = images * reps, Faces.concat([faces] * reps)
    here = embed.create("dlib", workers=False).embed(imgs, many)
    emb = embed.create("dlib", threads=2)
    try:
        assert emb._workers.running == 0  # not started before there is work for them
        got = emb.embed(imgs, many)
        assert emb._workers.running == 2
        np.testing.assert_array_equal(got, here)
        np.testing.assert_array_equal(emb.embed(images[:1], faces[:1]), here[:1])  # one face, through a worker
    finally:
        emb.close()
    assert emb._workers.running == 0


def test_dlib_small_batches_stay_in_process(faces_of_two):
    """A video with a few faces to embed never pays for starting a worker process."""
    images, faces = faces_of_two
    emb = embed.create("dlib")
    try:
        assert emb.embed(images, faces).shape == (3, 128)
        assert emb._workers.running == 0
    finally:
        emb.close()


def test_dlib_falls_back_to_this_process_when_a_worker_dies(faces_of_two, caplog):
    """A killed worker (out of memory, a signal) costs speed, not the persons: the batch is embedded
    here, with one warning, and so is every later one."""
    from fervideo.stages.embed.dlib_resnet import WORKERS_FROM_FACES

    images, faces = faces_of_two
    reps = -(-WORKERS_FROM_FACES // len(faces))
    imgs, many = images * reps, Faces.concat([faces] * reps)
    emb = embed.create("dlib", threads=2)
    try:
        first = emb.embed(imgs, many)
        for p in emb._workers._procs:
            p.kill()
            p.wait()
        with caplog.at_level("WARNING"):
            again = emb.embed(imgs, many)
        np.testing.assert_array_equal(again, first)
        assert emb._workers is None
        assert sum("worker processes failed" in r.getMessage() for r in caplog.records) == 1
    finally:
        emb.close()
