"""Backends of a batch (detector, emotion classifier, face embedder), loaded once and lazily.

Loading is slow (ONNX sessions, transformer weights), so one ``Backends`` serves every video
of a batch; a batch whose videos are all finished never loads them at all.
"""

from __future__ import annotations

from fervideo.pipeline.options import AnalyzeOptions
from fervideo.stages import detect
from fervideo.stages.classify import EmotionClassifier


class Backends:
    """The batch's detector, classifier and embedder: built once, and only when a video needs them."""

    def __init__(self, opts: AnalyzeOptions) -> None:
        self.opts = opts
        self._det = None
        self._clf = None
        self._emb = None

    @property
    def detector(self):
        if self._det is None:

            self._det = detect.create(
                self.opts.detector, size=self.opts.detect_size, threshold=self.opts.detect_threshold,
                device=self.opts.device, threads=self.opts.threads,
            )
        return self._det

    def reid(self):
        from fervideo.stages.reid import ArcFaceEmbedder, ReID

        if self._emb is None:
            self._emb = ArcFaceEmbedder(self.opts.device)
        return ReID(self._emb, self.opts.reid_threshold)

    @property
    def classifier(self) -> EmotionClassifier:
        if self._clf is None:
            self._clf = EmotionClassifier(self.opts.model, device=self.opts.device, batch_size=self.opts.batch_size, dtype=self.opts.dtype, tta=self.opts.tta)
        return self._clf
