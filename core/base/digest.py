"""The one digest of a model's weights, used wherever weights name something: the model
file's `weights_sha256`, the embedding cache's families and the ONNX graph cache's keys.

SHA-256 over the tensors in name order (each one's name, dtype, shape and bytes): the same
weights give the same digest from a module, a state dict or a .safetensors file, and a
file is digested from its bytes without importing torch (a cached ONNX graph starts fast).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import torch
    from torch import nn

WeightsSource: TypeAlias = "str | Path | Mapping[str, torch.Tensor] | nn.Module"

# safetensors' dtype names as torch prints them (the digest's text is torch's).
_TORCH_DTYPES = {
    "F64": "torch.float64",
    "F32": "torch.float32",
    "F16": "torch.float16",
    "BF16": "torch.bfloat16",
    "I64": "torch.int64",
    "I32": "torch.int32",
    "I16": "torch.int16",
    "I8": "torch.int8",
    "U8": "torch.uint8",
    "BOOL": "torch.bool",
}
_MAX_HEADER_BYTES = 100_000_000


def weights_digest(source: WeightsSource) -> str:
    """SHA-256 (hex) of the tensors: names, dtypes, shapes and bytes, in name order."""
    if isinstance(source, str | Path):
        return _file_digest(Path(source))
    import torch

    state = source.state_dict() if isinstance(source, torch.nn.Module) else source
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def short_digest(source: WeightsSource) -> str:
    """The first 12 hex digits of `weights_digest`: enough to tell models apart."""
    return weights_digest(source)[:12]


def _file_digest(path: Path) -> str:
    """`weights_digest` of a .safetensors file, read from its tensor table and bytes
    (little-endian and contiguous there, as torch holds them in memory here)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        if size > _MAX_HEADER_BYTES:
            raise ValueError(f"{path.name}: the safetensors header is implausibly large")
        table = json.loads(handle.read(size))  # JSONDecodeError is a ValueError
        if not isinstance(table, dict):
            raise ValueError(f"{path.name}: the safetensors header is not a table")
        table.pop("__metadata__", None)
        start = 8 + size
        for name in sorted(table):
            entry = table[name]
            begin, end = entry["data_offsets"]
            dtype = _TORCH_DTYPES.get(entry["dtype"], entry["dtype"])
            digest.update(f"{name}|{dtype}|{tuple(entry['shape'])}|".encode())
            handle.seek(start + begin)
            digest.update(handle.read(end - begin))
    return digest.hexdigest()
