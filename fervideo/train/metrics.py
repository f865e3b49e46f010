"""Classification metrics from a confusion matrix (rows = true class, columns = predicted)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(np.asarray(y_true) * k + np.asarray(y_pred), minlength=k * k).reshape(k, k)


@dataclass
class Metrics:
    classes: list[str]
    confusion: np.ndarray  # (K, K) int

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(1)

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    @property
    def precision(self) -> np.ndarray:
        pred = self.confusion.sum(0)
        return np.divide(np.diag(self.confusion), pred, out=np.zeros(len(pred)), where=pred > 0)

    @property
    def recall(self) -> np.ndarray:
        sup = self.support
        return np.divide(np.diag(self.confusion), sup, out=np.zeros(len(sup)), where=sup > 0)

    @property
    def f1(self) -> np.ndarray:
        p, r = self.precision, self.recall
        return np.divide(2 * p * r, p + r, out=np.zeros(len(p)), where=(p + r) > 0)

    @property
    def macro_f1(self) -> float:
        """Mean F1 over classes present in the data (support > 0)."""
        present = self.support > 0
        return float(self.f1[present].mean()) if present.any() else 0.0

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for c, p, r, f, s in zip(self.classes, self.precision, self.recall, self.f1, self.support)
            },
            "confusion": self.confusion.tolist(),
        }


def metrics_from_predictions(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> Metrics:
    return Metrics(list(classes), confusion_matrix(y_true, y_pred, len(classes)))
