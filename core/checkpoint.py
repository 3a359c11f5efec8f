"""The model file: one .safetensors holding the weights and a JSON metadata document.

Loading never unpickles anything. Every metadata field is validated, so a damaged file
or one from a stranger gets a clear ModelFileError instead of a crash deep in torch.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.backbones import get_backbone_info
from core.errors import BackboneUnavailable, ModelFileError

if TYPE_CHECKING:
    from core.model import MultiLabelClassifier

FORMAT_VERSION = 1
METADATA_KEY = "marquee"
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}


@dataclass
class ModelMeta:
    backbone: str
    image_size: int
    label_names: list[str]
    thresholds: list[float]
    mean: list[float]
    std: list[float]
    metrics: dict[str, float | None] = field(default_factory=dict)
    per_label: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    app_version: str = __version__
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, source: str) -> ModelMeta:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{source}: its metadata is not valid JSON ({exc.msg}).") from exc
        if not isinstance(data, dict):
            raise ModelFileError(f"{source}: its metadata is not a JSON object.")
        return _validated(data, source)


def _fail(source: str, what: str) -> ModelFileError:
    return ModelFileError(f"{source}: invalid model file ({what}). Re-export it from Marquee.")


def _validated(data: dict, source: str) -> ModelMeta:
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(source, "missing format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} was written by a newer Marquee (model format {version}); update Marquee."
        )
    names = data.get("label_names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise _fail(source, "label_names must be a non-empty list of names")
    if len(set(names)) != len(names):
        raise _fail(source, "duplicate label names")
    _check_numbers(data.get("thresholds"), len(names), 0.0, 1.0, "thresholds", source)
    _check_numbers(data.get("mean"), 3, -10.0, 10.0, "mean", source)
    _check_numbers(data.get("std"), 3, 1e-6, 10.0, "std", source)
    size = data.get("image_size")
    if not isinstance(size, int) or not 16 <= size <= 2048:
        raise _fail(source, "image_size must be an integer between 16 and 2048")
    try:
        get_backbone_info(str(data.get("backbone")))
    except BackboneUnavailable as exc:
        raise _fail(source, str(exc)) from exc
    for key, kind in (("metrics", dict), ("per_label", list), ("config", dict)):
        if not isinstance(data.get(key, kind()), kind):
            raise _fail(source, f"{key} must be a JSON {kind.__name__}")
    known = set(ModelMeta.__dataclass_fields__)
    return ModelMeta(**{k: v for k, v in data.items() if k in known})


def _check_numbers(
    value: Any, length: int, low: float, high: float, name: str, source: str
) -> None:
    ok = (
        isinstance(value, list)
        and len(value) == length
        and all(isinstance(v, int | float) and low <= v <= high for v in value)
    )
    if not ok:
        raise _fail(source, f"{name} must be {length} numbers in [{low}, {high}]")


def save_model(path: str | Path, model: MultiLabelClassifier, meta: ModelMeta) -> Path:
    """Write the model atomically: a temp file in the same folder, then os.replace."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={METADATA_KEY: meta.to_json()})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_meta(path: str | Path) -> ModelMeta:
    """Read and validate only the metadata (fast: the header, not the weights)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    _refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path.name} is not a readable .safetensors model ({exc}). It may be damaged."
        ) from exc
    if METADATA_KEY not in header:
        raise ModelFileError(
            f"{path.name} is a safetensors file but not a Marquee model (no '{METADATA_KEY}' "
            "metadata). Train a model in Marquee, or export one with 'Save model...'."
        )
    return ModelMeta.from_json(header[METADATA_KEY], path.name)


def _refuse_non_safetensors(path: Path) -> None:
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    with path.open("rb") as handle:
        head = handle.read(9)
    looks_pickled = head[:2] == b"PK" or head[:1] == b"\x80"
    if path.suffix.lower() in _PICKLE_SUFFIXES or looks_pickled:
        raise ModelFileError(
            f"{path.name} looks like a PyTorch pickle; Marquee never loads pickles because "
            "they can run code. Use a .safetensors model saved by Marquee."
        )
    if len(head) < 9 or head[8:9] != b"{":
        raise ModelFileError(f"{path.name} is not a .safetensors file.")


def load_model(path: str | Path, device: str = "cpu") -> tuple[MultiLabelClassifier, ModelMeta]:
    """Rebuild the classifier from a model file (no download: weights come from the file)."""
    from safetensors.torch import load_file

    from core.model import create_model, head_options

    path = Path(path)
    meta = read_meta(path)
    try:
        options = head_options(meta.config)
        model = create_model(meta.backbone, len(meta.label_names), pretrained=False, **options)
    except (TypeError, ValueError) as exc:
        raise _fail(path.name, f"its head settings are not usable ({exc})") from exc
    try:
        model.load_state_dict(load_file(str(path), device="cpu"), strict=True)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{path.name}: its weights do not fit a {meta.backbone} with "
            f"{len(meta.label_names)} labels ({first[:200]})."
        ) from exc
    return model.to(device).eval(), meta
