"""Which device runs the model: cuda > mps > cpu for "auto", with a name people can read."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.errors import ConfigError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str = "auto") -> tuple[str, str]:
    """Pick the device (cuda > mps > cpu for "auto") and a human-readable name for it.

    The CPU, asked for or the only possible answer to "auto", is named without importing
    torch (seconds of start-up that ONNX Runtime inference does not need)."""
    if name == "cpu" or (name == "auto" and not accelerator_possible()):
        return "cpu", cpu_name()
    import torch

    if name in ("auto", "cuda") and torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    if name == "cuda":
        raise ConfigError(
            "CUDA was requested but no CUDA GPU is available.", "Use --device cpu (or auto)."
        )
    mps = getattr(torch.backends, "mps", None)
    if name in ("auto", "mps") and mps is not None and mps.is_available():
        return "mps", "Apple GPU (MPS)"
    if name == "mps":
        raise ConfigError("MPS was requested but is not available.", "Use --device cpu (or auto).")
    if name not in ("auto", "cpu"):
        raise ConfigError(f"Unknown device '{name}'.", "Use auto, cpu, cuda or mps.")
    return "cpu", cpu_name()


# What CUDA (NVIDIA), ROCm (AMD) and WSL2's GPU bridge need on Linux.
_GPU_DRIVER_FILES = ("/proc/driver/nvidia", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def cpu_name() -> str:
    return f"CPU ({os.cpu_count()} cores)"


def accelerator_possible() -> bool:
    """False only where torch cannot find a GPU: no NVIDIA, ROCm or WSL GPU driver on Linux or
    Windows (CUDA needs one). macOS may have MPS, and a loaded torch answers exactly: True,
    so torch decides."""
    if sys.platform == "darwin" or "torch" in sys.modules:
        return True
    if sys.platform == "win32":
        system = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists()
    return any(Path(p).exists() for p in _GPU_DRIVER_FILES)


def amp_dtype(device: str) -> torch.dtype | None:
    """Mixed precision for training: bf16 where CUDA has it, else fp16; none off CUDA."""
    if device != "cuda":
        return None
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
