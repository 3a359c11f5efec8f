"""A model file's tensors checked against its metadata: before anything is built, and once read.

Before the classifier is built, the safetensors tensor table (names, dtypes, shapes: the
header, not the weights) must agree with the metadata: float32 weights (int64 only for
BatchNorm's counters) and a head whose shapes match the label count and `head_hidden`.
So a hostile header cannot make Marquee allocate more than the file really ships. Once
read, every weight must be finite and, where the file records one, the weights digest
must match: flipped bytes are refused instead of predicting garbage.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from core.base.digest import short_digest, weights_digest
from core.base.errors import ModelFileError

if TYPE_CHECKING:
    import torch

__all__ = ["check_table", "check_tensors", "short_digest", "tensor_table", "weights_digest"]

MAX_HEADER_BYTES = 8_000_000  # the whole safetensors header (tensor table plus metadata)
_WEIGHT_DTYPE = "F32"
_COUNTER_DTYPE = "I64"  # BatchNorm's num_batches_tracked
_COUNTER_SUFFIX = ".num_batches_tracked"


def invalid(name: str, what: str) -> ModelFileError:
    """The one-line refusal every check here raises."""
    return ModelFileError(f"{name}: invalid model file ({what}). Re-export it from Marquee.")


def read_header(handle: BinaryIO, path: Path) -> tuple[dict[str, Any], int]:
    """The safetensors header (tensor table plus `__metadata__`) and where the data starts."""
    raw = handle.read(8)
    size = struct.unpack("<Q", raw)[0] if len(raw) == 8 else -1
    if not 0 < size <= MAX_HEADER_BYTES:
        raise ModelFileError(f"{path.name}: its safetensors header is damaged.")
    try:
        header = json.loads(handle.read(size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path.name}: its safetensors header is damaged.") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: its safetensors header is damaged.")
    return header, 8 + size


def tensor_table(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from the file's header, without reading any weight."""
    with path.open("rb") as handle:
        header, _ = read_header(handle, path)
    table = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(n, int) for n in shape):
            raise invalid(path.name, f"the tensor table entry for {key[:80]} is damaged")
        table[key] = (str(entry.get("dtype")), tuple(shape))
    return table


def check_table(
    table: Mapping[str, tuple[str, tuple[int, ...]]],
    backbone: str,
    num_labels: int,
    config: Mapping[str, Any],
    name: str,
) -> None:
    """Refuse dtypes the architecture does not use and a head that disagrees with the metadata."""
    for key, (dtype, _) in table.items():
        expected = _COUNTER_DTYPE if key.endswith(_COUNTER_SUFFIX) else _WEIGHT_DTYPE
        if dtype != expected:
            raise invalid(name, f"the tensor {key[:80]} is {dtype}; Marquee writes {expected}")
    for key, shape in _head_shapes(num_labels, config, table).items():
        found = table[key][1] if key in table else None
        if found != shape:
            raise ModelFileError(
                f"{name}: its weights do not fit a {backbone} with {num_labels} labels "
                f"(its head tensor {key} is {found or 'missing'}, the metadata implies {shape})."
            )


def _head_shapes(
    num_labels: int,
    config: Mapping[str, Any],
    table: Mapping[str, tuple[str, tuple[int, ...]]],
) -> dict[str, tuple[int, ...]]:
    """The head tensors the metadata implies; the input width is the file's (the backbone's)."""
    first = table.get("head.1.weight", (None, (0, 0)))[1]
    width = first[1] if len(first) == 2 else 0
    if config.get("head", "linear") == "linear":
        return {"head.1.weight": (num_labels, width), "head.1.bias": (num_labels,)}
    hidden = int(config.get("head_hidden", 512))
    return {
        "head.1.weight": (hidden, width),
        "head.1.bias": (hidden,),
        "head.4.weight": (num_labels, hidden),
        "head.4.bias": (num_labels,),
    }


def check_tensors(state: Mapping[str, torch.Tensor], digest: str | None, name: str) -> None:
    """Every weight finite, and the weights digest the file records (if any) matching."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise invalid(name, f"the tensor {key[:80]} holds NaN or infinite values")
    if digest is not None and weights_digest(state) != digest:
        raise invalid(name, "its weights do not match the digest it records; it is damaged")
