"""Options of an analysis run: one typed record shared by the API, the CLI and the metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fervideo.core.errors import ConfigError


#: The classifier's number format: int8 runs on onnxruntime only, bf16 on torch only.
DTYPES = ("auto", "fp32", "bf16", "int8")


@dataclass
class AnalyzeOptions:
    fps: float = 10.0  # analysis rate in frames per second of video time; 0 = every frame
    detector: str = "centerface"
    detect_size: int = 320  # long side of the frame as the detector sees it (pixels)
    detect_threshold: float = 0.5
    detect_interval: float = 0.1  # seconds between detections; the tracker bridges frames between
    detect_max_interval: float = 1.0  # > detect_interval: adaptive, skip due detections while nothing changed, up to this long
    detect_size_auto: bool = False  # per shot, detect at the smallest size that still shows its smallest face 40 px tall
    model: str | None = None  # HF dir / hub id / comma-separated ensemble; None = embedded default
    batch_size: int | None = None  # face crops per classifier batch; None = 64 on CPU, 512 on CUDA
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto (CPU: int8 matrix products on onnxruntime, bf16 on torch; CUDA: bf16/fp16) | fp32 | bf16 | int8
    classifier_runtime: str = "auto"  # auto (onnxruntime for local models, one or an ensemble, on the CPU) | onnx | torch
    tta: bool = False
    margin: float = 1.0  # crop framing relative to FER-2013 (>1 = more context)
    smooth: str = "gaussian"  # none | ema | gaussian | hmm
    smooth_seconds: float = 0.3  # gaussian sigma / EMA time constant
    hmm_switch_rate: float = 0.5  # expected state switches per second (hmm)
    track_buffer: float = 1.0  # seconds a lost face is kept for re-association
    max_gap: float = 1.0  # seconds without the face that split smoothing segments
    min_track: float = 0.5  # seconds; shorter tracks are dropped as flicker
    scene_cut_threshold: float = 30.0
    peak_threshold: float = 0.5  # smoothed probability that starts a peak (peaks.parquet)
    persons: bool = True  # join a video's tracks into persons (person_id) by face embeddings
    embedder: str = "dlib"  # face-embedding backend: dlib | arcface | onnx
    embed_model: str | None = None  # the ONNX model file of embedder "onnx"
    person_threshold: float | None = None  # linkage distance for one person; None = the embedder's default
    render: bool = True
    render_height: int | None = None  # annotated video at most this tall (scaled down, same aspect); None = the input's size
    overwrite: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.fps < 0:
            raise ConfigError("fps must be >= 0 (0 = every frame)")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError("batch_size must be >= 1")
        if self.detect_size < 32:
            raise ConfigError("detect_size must be >= 32")
        if self.detect_max_interval < 0:
            raise ConfigError("detect_max_interval must be >= 0 (0 = a detection every detect_interval)")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.classifier_runtime not in ("auto", "onnx", "torch"):
            raise ConfigError(f"classifier_runtime must be auto, onnx or torch, not {self.classifier_runtime!r}")
        if self.persons and self.embedder == "onnx" and not self.embed_model:
            raise ConfigError("embedder 'onnx' needs a model file: --embed-model PATH.onnx")
        if self.render_height is not None and self.render_height < 64:
            raise ConfigError("render_height must be >= 64 pixels (or unset: the input's size)")
        if self.person_threshold is not None and self.person_threshold <= 0:
            raise ConfigError("person_threshold must be > 0")

    def as_dict(self) -> dict:
        return asdict(self)
