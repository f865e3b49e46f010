"""The compute device, and how torch's CPU threads wait.

Why passive waiting: OpenMP threads that spin while waiting collapse throughput (measured:
bf16 classification from 690 to 37 crops/s on 2 cores) as soon as anything else runs: our
own decode thread, onnxruntime, or another program. The policy must be chosen before torch
loads OpenMP, so modules that run torch models call ``passive_openmp()`` before importing it;
a user's own ``OMP_WAIT_POLICY`` is respected.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fervideo.core.errors import DeviceError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def passive_openmp() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def check_device_name(device: str) -> None:
    """Refuse a device name that can never work, before anything slow happens."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise DeviceError(f"unknown device {device!r}; choose auto, cpu or cuda")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (Linux flags); elsewhere fp32 is the safe choice."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cuda_possible() -> bool:
    """False where no NVIDIA driver is installed: then "auto" is the CPU without importing torch
    (about a second of start-up for runs that never needed it); True means: ask torch."""
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"))


def resolve_device(device: str) -> torch.device:
    check_device_name(device)
    passive_openmp()
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def ort_providers(device: str) -> list[str]:
    """onnxruntime providers for a device name (detectors, embedders): CUDA first when asked for and available."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
