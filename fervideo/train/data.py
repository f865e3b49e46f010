"""Labelled face-image data sets: Parquet (image bytes + label), FER-2013 CSV, ImageFolder.

All three load into one in-memory ``FaceImages`` (uint8 grayscale array + canonical label
names), because FER-style sets are small (28k x 48x48 = 66 MB) and training is much faster
from a contiguous array than from per-image file reads and JPEG decodes every epoch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fervideo.core.errors import DataError
from fervideo.core.files import IMAGE_EXTS
from fervideo.core.labels import FER2013_LABELS, normalize_labels


@dataclass
class FaceImages:
    """Images (N, H, W) uint8 grayscale, labels (N,) int64 indexing ``classes``."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DataError(f"{self.source}: images must be (N, H, W) uint8, got {self.images.shape} {self.images.dtype}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.images) == 0:
            raise DataError(f"{self.source}: no labelled images found")
        if self.labels.min() < 0 or self.labels.max() >= len(self.classes):
            raise DataError(f"{self.source}: labels outside 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.classes))

    def remap(self, classes: list[str]) -> FaceImages:
        """Re-index labels onto another class order (e.g. a model's), refusing unknown ones."""
        missing = [c for c in self.classes if c not in classes and (self.labels == self.classes.index(c)).any()]
        if missing:
            raise DataError(f"{self.source}: classes {missing} are not among the model's classes {classes}")
        lut = np.array([classes.index(c) if c in classes else -1 for c in self.classes])
        return FaceImages(self.images, lut[self.labels], list(classes), self.source)


def _decode(buf: bytes, size: int | None) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise DataError("an image could not be decoded")
    if size is not None and img.shape != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


def load_parquet(path: Path, size: int | None = 48) -> FaceImages:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = set(table.column_names)
    img_col = next((c for c in ("image", "img", "bytes", "pixels") if c in names), None)
    if img_col is None:
        raise DataError(f"{path}: no image column (expected one of image, img, bytes, pixels)")
    meta = table.schema.metadata or {}
    if "emotion" in names:
        raw = [str(v) for v in table.column("emotion").to_pylist()]
    elif "label" in names:
        vals = table.column("label").to_pylist()
        if all(isinstance(v, str) for v in vals):
            raw = vals
        else:
            order = meta.get(b"labels", b"").decode().split(",") if b"labels" in meta else list(FER2013_LABELS)
            raw = [order[int(v)] for v in vals]
    else:
        raise DataError(f"{path}: no label column (expected 'label' or 'emotion')")
    col = table.column(img_col).to_pylist()
    if col and isinstance(col[0], dict):  # Hugging Face datasets layout {'bytes': ..., 'path': ...}
        col = [c["bytes"] for c in col]
    if col and isinstance(col[0], str):  # FER-2013 style space-separated pixels
        images = np.stack([_pixels(p, size, path) for p in col])
    else:
        images = np.stack([_decode(b, size) for b in col])
    return _finish(images, raw, str(path))


def _pixels(text: str, size: int | None, path: Path) -> np.ndarray:
    arr = np.array(text.split(), dtype=np.uint8)
    side = int(round(np.sqrt(arr.size)))
    if side * side != arr.size:
        raise DataError(f"{path}: a pixels row has {arr.size} values, not a square image")
    img = arr.reshape(side, side)
    if size is not None and side != size:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


def load_fer_csv(path: Path, usage: str | None = None, size: int | None = 48) -> FaceImages:
    """The original FER-2013 CSV: ``emotion,pixels,Usage`` (emotion as 0..6)."""
    images, raw = [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "pixels" not in reader.fieldnames or "emotion" not in reader.fieldnames:
            raise DataError(f"{path}: expected the FER-2013 CSV header 'emotion,pixels,Usage'")
        for row in reader:
            if usage is not None and row.get("Usage", "").strip().lower() != usage.lower():
                continue
            images.append(_pixels(row["pixels"], size, path))
            e = row["emotion"].strip()
            raw.append(FER2013_LABELS[int(e)] if e.isdigit() else e)
    if not images:
        raise DataError(f"{path}: no rows" + (f" with Usage={usage!r}" if usage else ""))
    return _finish(np.stack(images), raw, str(path))


def load_image_folder(root: Path, size: int | None = 48) -> FaceImages:
    """One sub-folder per class (``root/happy/001.png``)."""
    if size is None:
        size = 48
    images, raw = [], []
    for cls_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(cls_dir.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTS:
                images.append(_decode(f.read_bytes(), size))
                raw.append(cls_dir.name)
    if not images:
        raise DataError(f"{root}: no images in class sub-folders")
    return _finish(np.stack(images), raw, str(root))


def _finish(images: np.ndarray, raw: list[str], source: str) -> FaceImages:
    uniq = sorted(set(raw))
    canon = normalize_labels(uniq, source=source)
    mapping = dict(zip(uniq, canon))
    # Keep the canonical order (angry, disgust, ...) so class indices are stable across sets.
    from fervideo.core.labels import CANONICAL

    classes = [c for c in CANONICAL if c in set(canon)]
    labels = np.array([classes.index(mapping[r]) for r in raw], dtype=np.int64)
    return FaceImages(np.ascontiguousarray(images), labels, classes, source)


def load_dataset(path: str | Path, usage: str | None = None, size: int | None = 48) -> FaceImages:
    """Load any supported layout, chosen from what ``path`` is."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    if p.is_dir():
        return load_image_folder(p, size)
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return load_parquet(p, size)
    if suffix == ".csv":
        return load_fer_csv(p, usage, size)
    raise DataError(f"{p}: unsupported data layout (use a class-folder tree, a FER-2013 .csv or a .parquet)")


def encode_png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DataError("could not encode image")
    return buf.tobytes()


__all__ = ["FaceImages", "load_dataset", "load_parquet", "load_fer_csv", "load_image_folder", "encode_png"]
