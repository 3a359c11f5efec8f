"""Which device runs the model: cuda > mps > cpu for "auto", with a name people can read."""

from __future__ import annotations

import os

import torch

from core.base.errors import ConfigError


def resolve_device(name: str = "auto") -> tuple[str, str]:
    """Pick the device (cuda > mps > cpu for "auto") and a human-readable name for it."""
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
    return "cpu", f"CPU ({os.cpu_count()} cores)"


def amp_dtype(device: str) -> torch.dtype | None:
    """Mixed precision for training: bf16 where CUDA has it, else fp16; none off CUDA."""
    if device != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
