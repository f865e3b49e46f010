"""Backends of a batch (detector, emotion classifier, face embedder), loaded once and lazily.

Loading is slow (ONNX sessions, transformer weights), so one ``Backends`` serves every video
of a batch; a batch whose videos are all finished never loads them at all.
"""

from __future__ import annotations

import logging

from fervideo.core.errors import BackendError, ModelError, QuantizationError
from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages import detect, embed


class Backends:
    """The batch's detector, classifier and embedder: built once, and only when a video needs them."""

    def __init__(self, opts: AnalyzeOptions) -> None:
        self.opts = opts
        self._det = None
        self._clf = None
        self._emb = None
        self.embedder_missing: str | None = None  # why persons cannot be found (no backend installed)

    @property
    def detector(self):
        if self._det is None:

            self._det = detect.create(
                self.opts.detector, size=self.opts.detect_size, threshold=self.opts.detect_threshold,
                device=self.opts.device, threads=self.opts.threads,
            )
        return self._det

    @property
    def embedder(self) -> embed.Embedder | None:
        """The face embedder for persons, or None: persons off, or its backend is not installed.

        A missing backend is not an error: the batch says so in one warning and goes on, every
        track its own person. An unknown name is an error (the batch checks it before any video).
        """
        if not self.opts.persons or self.embedder_missing is not None:
            return None
        if self._emb is None:
            embed.check_name(self.opts.embedder)  # a typo is an error, not a missing backend
            try:
                self._emb = embed.create(self.opts.embedder, model=self.opts.embed_model, device=self.opts.device,
                                         threads=self.opts.threads)
            except BackendError as exc:
                self.embedder_missing = str(exc)
                logging.getLogger(__name__).warning("persons off: %s; each track is its own person (person_id = track_id)", exc)
        return self._emb

    def close(self) -> None:
        """End what runs beside this process (the dlib embedder's worker processes)."""
        close = getattr(self._emb, "close", None)
        if close is not None:
            close()

    @property
    def classifier(self):
        """onnxruntime (``OnnxEmotionClassifier``/``OnnxEnsemble``) where it can serve (``_use_onnx``), else torch's ``EmotionClassifier``."""
        if self._clf is None:
            o = self.opts
            if _use_onnx(o):
                from fervideo.stages.classify_onnx import onnx_classifier

                def onnx(precision: str):
                    return onnx_classifier(o.model, batch_size=o.batch_size, tta=o.tta, threads=o.threads, precision=precision)

                try:
                    self._clf = onnx("fp32" if o.dtype == "fp32" else "int8")
                except QuantizationError as exc:  # the fp32 export exists by then: its graph runs
                    if o.dtype == "int8":
                        raise
                    logging.getLogger(__name__).warning("classifier in fp32: %s", exc)
                    self._clf = onnx("fp32")
                except ModelError:
                    raise
                except Exception as exc:  # an architecture torch cannot export: torch runs it
                    if o.classifier_runtime == "onnx" or o.dtype == "int8":
                        raise BackendError(f"the model cannot run on onnxruntime ({type(exc).__name__}: {str(exc)[:200]})") from exc
                    logging.getLogger(__name__).warning("classifier on torch: ONNX export failed (%s)", str(exc)[:200])
            if self._clf is None:
                if o.threads:  # here, where torch runs: on the onnxruntime path it is never imported (1.1 s)
                    import torch

                    torch.set_num_threads(o.threads)
                from fervideo.stages.classify import EmotionClassifier

                self._clf = EmotionClassifier(o.model, device=o.device, batch_size=o.batch_size, dtype=o.dtype, tta=o.tta)
        return self._clf


def _use_onnx(o: AnalyzeOptions) -> bool:
    """The classifier runs on onnxruntime (no torch import) for local models (one, or an ensemble) on the CPU.

    ``classifier_runtime``: "onnx" insists (an error where it cannot), "torch" refuses, "auto"
    takes it unless the run asked for what only torch does (CUDA, bf16, a hub id).
    """
    from fervideo.core.device import cuda_possible
    from fervideo.stages.classify_onnx import local_model_dirs

    if o.classifier_runtime == "torch":
        if o.dtype == "int8":
            raise BackendError("--dtype int8 runs on onnxruntime; it cannot go with --classifier-runtime torch")
        return False
    why = None
    if o.device.startswith("cuda"):
        why = "--device cuda"
    elif o.dtype == "bf16":
        why = "--dtype bf16"
    elif local_model_dirs(o.model) is None:
        why = "a hub model"
    elif o.device == "auto" and cuda_possible():
        from fervideo.core.device import resolve_device

        if resolve_device("auto").type == "cuda":
            why = "a CUDA GPU"
    if why and o.classifier_runtime == "onnx":
        raise BackendError(f"--classifier-runtime onnx runs local models on the CPU, not with {why}")
    if why and o.dtype == "int8":
        raise BackendError(f"--dtype int8 runs local models on onnxruntime on the CPU, not with {why}")
    return why is None
