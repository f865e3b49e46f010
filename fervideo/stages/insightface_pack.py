"""insightface's model packs on disk (``~/.insightface/models/<pack>/*.onnx``).

Shared by the SCRFD detector (``det_10g.onnx``) and the ArcFace embedder (``w600k_r50.onnx``)
of the ``buffalo_l`` pack. insightface downloads a pack on first use; without network and
without a cached pack, a backend that needs it fails with one line naming the offline default
the user can switch to.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from fervideo.core.errors import BackendError

PACK = "buffalo_l"


def model_root() -> Path:
    return Path(os.environ.get("INSIGHTFACE_HOME", Path.home() / ".insightface")) / "models"


def find_pack_file(prefix: str, pack: str = PACK) -> Path | None:
    """The pack's first ``.onnx`` file whose name starts with ``prefix``, if the pack is on disk."""
    d = model_root() / pack
    if d.is_dir():
        for f in sorted(d.glob("*.onnx")):
            if f.name.startswith(prefix):
                return f
    return None


def ensure_pack(needed_by: str, instead: str, pack: str = PACK) -> Path:
    """Return the model-pack folder, letting insightface download it if it can.

    ``needed_by`` names the backend in the error, ``instead`` says what to use offline.
    """
    d = model_root() / pack
    if d.is_dir() and any(d.glob("*.onnx")):
        return d
    try:
        from insightface.utils import storage
    except ImportError as exc:
        raise BackendError(f"{needed_by} needs the 'insightface' package: pip install insightface") from exc
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # insightface prints its download URL
            storage.ensure_available("models", pack, root=str(model_root().parent))
    except Exception as exc:  # noqa: BLE001 - network errors come in many types
        raise BackendError(
            f"the {needed_by} weights (insightface pack '{pack}') are not on this machine and could not be "
            f"downloaded ({type(exc).__name__}); {instead}"
        ) from exc
    return d
