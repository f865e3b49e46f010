"""Options of an analysis run: one typed record shared by the API, the CLI and the metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class AnalyzeOptions:
    fps: float = 10.0  # analysis rate in frames per second of video time; 0 = every frame
    detector: str = "centerface"
    detect_size: int = 320  # long side of the frame as the detector sees it (pixels)
    detect_threshold: float = 0.5
    detect_interval: float = 0.1  # seconds between detections; the tracker bridges frames between
    model: str | None = None  # HF dir / hub id / comma-separated ensemble; None = embedded default
    batch_size: int | None = None  # face crops per classifier batch; None = 64 on CPU, 512 on CUDA
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto (bf16 on CPU, bf16/fp16 on CUDA) | fp32
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
    reid: bool = False
    reid_threshold: float = 0.45
    render: bool = True
    overwrite: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.fps < 0:
            raise ValueError("fps must be >= 0 (0 = every frame)")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.detect_size < 32:
            raise ValueError("detect_size must be >= 32")

    def as_dict(self) -> dict:
        return asdict(self)
