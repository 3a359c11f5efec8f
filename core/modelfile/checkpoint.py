"""The model file: one .safetensors holding the weights and a JSON metadata document.

Loading never unpickles anything. Every metadata field is validated, so a damaged file
or one from a stranger gets a clear ModelFileError instead of a crash deep in torch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.base.errors import BackboneUnavailable, ModelFileError, UsageError, shorten
from core.base.files import replacing
from core.base.limits import loads_json
from core.model.backbones import get_backbone_info
from core.modelfile import schema as _meta_schema
from core.modelfile.weights import (
    MAX_HEADER_BYTES,
    check_table,
    check_tensors,
    read_header,
    tensor_table,
)
from core.modelfile.weights import short_digest as short_digest  # re-exported
from core.modelfile.weights import weights_digest as weights_digest  # re-exported

if TYPE_CHECKING:
    from core.model.classifier import MultiLabelClassifier

FORMAT_VERSION = 1
METADATA_KEY = "marquee"
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}
MAX_METADATA_CHARS = 1_000_000  # Marquee's own: a few kB, about 200 kB with 1,000 labels


@dataclass
class ModelMeta:
    """The model file's contract: everything needed to rebuild, run and describe the model.

    Stored as one JSON document in the safetensors header (key `marquee`). `label_names`
    fixes the order of every probability vector; `thresholds` are the per-label values
    tuned on validation data; `mean`/`std` normalise images of `image_size` pixels;
    `metrics`/`per_label` are the validation results; `config` is the TrainConfig used.
    """

    backbone: str
    image_size: int
    label_names: list[str]
    thresholds: list[float]
    mean: list[float]
    std: list[float]
    metrics: dict[str, float | None] = field(default_factory=dict)
    per_label: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    # The thresholds training tuned, kept once the user edits `thresholds` (None: unedited).
    tuned_thresholds: list[float] | None = None
    # Training stages, oldest first: {"epochs", "best_epoch", "strategy", "init_from"}.
    lineage: list[dict[str, Any]] = field(default_factory=list)
    # SHA-256 of the weights (`weights_digest`), written on save and checked on load.
    weights_sha256: str | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    app_version: str = __version__
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)

    @classmethod
    def from_json(cls, text: str, source: str) -> ModelMeta:
        """Parse and validate a metadata document; ModelFileError names `source` and why."""
        if len(text) > MAX_METADATA_CHARS:
            raise _fail(source, f"its metadata is over {MAX_METADATA_CHARS // 1_000_000} MB")
        try:
            data = loads_json(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{source}: its metadata is not valid JSON ({exc.msg}).") from exc
        except ValueError as exc:  # too deep, NaN or Infinity
            raise _fail(source, f"its metadata: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelFileError(f"{source}: its metadata is not a JSON object.")
        return _validated(data, source)


def _fail(source: str, what: str) -> ModelFileError:
    return ModelFileError(f"{source}: invalid model file ({what}). Re-export it from Marquee.")


def _validated(data: dict, source: str) -> ModelMeta:
    try:
        fields = _meta_schema.validate(data, FORMAT_VERSION)
    except _meta_schema.NewerFormat as exc:
        raise ModelFileError(
            f"{source} was written by a newer Marquee (model format {exc.args[0]}); update Marquee."
        ) from exc
    except _meta_schema.Invalid as exc:
        raise _fail(source, str(exc)) from exc
    try:
        get_backbone_info(fields["backbone"])
    except BackboneUnavailable as exc:
        raise _fail(source, str(exc)) from exc
    return ModelMeta(**fields)


def save_model(path: str | Path, model: MultiLabelClassifier, meta: ModelMeta) -> Path:
    """Write the model atomically: a temp file in the same folder, then os.replace."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    stored = replace(meta, weights_sha256=weights_digest(tensors))
    with replacing(path, "the model") as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: stored.to_json()})
    return path


def read_meta(path: str | Path) -> ModelMeta:
    """Read and validate only the metadata (fast: the header, not the weights)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    _refuse_non_safetensors(path)
    try:
        # numpy, not "pt": only the header is read, and torch's import costs seconds
        with safe_open(str(path), framework="numpy") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{_name(path)} is not a readable .safetensors model ({shorten(str(exc), 200)}). "
            "It may be damaged."
        ) from exc
    if METADATA_KEY not in header:
        raise ModelFileError(
            f"{_name(path)} is a safetensors file but not a Marquee model (no "
            f"'{METADATA_KEY}' metadata). Train a model in Marquee, or export one with "
            "'Save model...'."
        )
    return ModelMeta.from_json(header[METADATA_KEY], _name(path))


def _name(path: Path) -> str:
    return shorten(path.name, 120)


def _refuse_non_safetensors(path: Path) -> None:
    """Judge the file by its first bytes: a safetensors header, else say what it is."""
    head, size = _head(path)
    header_bytes = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    if len(head) == 9 and head[8:9] == b"{" and 2 <= header_bytes <= size - 8:
        if header_bytes > MAX_HEADER_BYTES:
            raise ModelFileError(
                f"{_name(path)}: its header is over {MAX_HEADER_BYTES // 1_000_000} MB, far "
                "more than a Marquee model needs; refusing to read it."
            )
        return
    # A safetensors header length can start with 0x80 too; its JSON starts at byte 8.
    looks_pickled = (head[:2] == b"PK" or head[:1] == b"\x80") and head[8:9] != b"{"
    if path.suffix.lower() in _PICKLE_SUFFIXES or looks_pickled:
        raise ModelFileError(
            f"{_name(path)} looks like a PyTorch pickle; Marquee never loads pickles because "
            "they can run code. Use a .safetensors model saved by Marquee."
        )
    raise ModelFileError(f"{_name(path)} is not a .safetensors file.")


def _head(path: Path) -> tuple[bytes, int]:
    """The first 9 bytes and the size of a regular file; ModelFileError naming it if not."""
    shown = shorten(str(path), 300)
    try:
        if not path.exists():
            raise ModelFileError(f"Model file not found: {shown}")
        if not path.is_file():
            raise ModelFileError(f"{shown} is not a model file (it is a folder or a device).")
        with path.open("rb") as handle:
            return handle.read(9), os.fstat(handle.fileno()).st_size
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ModelFileError(f"Cannot open the model file {shown}: {reason}.") from exc


def check_file(path: Path, meta: ModelMeta) -> None:
    """The header's tensor table against the metadata (dtypes, the head's shapes), from the
    header alone: before anything is built, or a cached graph is looked up."""
    check_table(tensor_table(path), meta.backbone, len(meta.label_names), meta.config, _name(path))


def load_model(path: str | Path, device: str = "cpu") -> tuple[MultiLabelClassifier, ModelMeta]:
    """Rebuild the classifier from a model file (no download: weights come from the file)."""
    from safetensors.torch import load_file

    from core.model.classifier import create_model, head_options

    path = Path(path)
    meta = read_meta(path)
    check_file(path, meta)
    try:
        options = head_options(meta.config)
        model = create_model(
            meta.backbone,
            len(meta.label_names),
            pretrained=False,
            image_size=meta.image_size,
            **options,
        )
    except (TypeError, ValueError) as exc:
        raise _fail(path.name, f"its head settings are not usable ({exc})") from exc
    state = load_file(str(path), device="cpu")
    check_tensors(state, meta.weights_sha256, _name(path))
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{_name(path)}: its weights do not fit a {meta.backbone} with "
            f"{len(meta.label_names)} labels ({first[:200]})."
        ) from exc
    return model.to(device).eval(), meta


# ------------------------------------------------------------------ editing thresholds


def write_thresholds(
    path: str | Path, thresholds: Mapping[str, float] | Sequence[float]
) -> ModelMeta:
    """Store new per-label thresholds in the model file; only its metadata is rewritten.

    `thresholds` is a full list (one per label) or a mapping for some labels (the others
    keep theirs). The tensors' bytes are copied unchanged into a temp file that replaces
    the original atomically. The first edit keeps the tuned values in `tuned_thresholds`,
    so "reset to tuned" still works later. Returns the new metadata.
    """
    path = Path(path)
    meta = read_meta(path)
    values = _merged_thresholds(meta, thresholds)
    if meta.tuned_thresholds is None:
        meta.tuned_thresholds = list(meta.thresholds)
    meta.thresholds = values
    return _rewrite_meta(path, meta)


def reset_thresholds(path: str | Path) -> ModelMeta:
    """Put the thresholds tuned at training back (metadata only, atomically)."""
    path = Path(path)
    meta = read_meta(path)
    if meta.tuned_thresholds is not None:
        meta.thresholds, meta.tuned_thresholds = list(meta.tuned_thresholds), None
    return _rewrite_meta(path, meta)


def _merged_thresholds(
    meta: ModelMeta, thresholds: Mapping[str, float] | Sequence[float]
) -> list[float]:
    names = meta.label_names
    if isinstance(thresholds, Mapping):
        values = list(meta.thresholds)
        for name, value in thresholds.items():
            if name not in names:
                raise UsageError(f"'{name}' is not one of the model's labels: {', '.join(names)}")
            values[names.index(name)] = value
    else:
        values = list(thresholds)
        if len(values) != len(names):
            raise UsageError(f"give {len(names)} thresholds, one per label ({', '.join(names)})")
    for name, value in zip(names, values, strict=True):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not (ok and math.isfinite(value) and 0.0 <= value <= 1.0):
            raise UsageError(f"the threshold for {name} must be between 0 and 1, got {value!r}")
    return [float(v) for v in values]


def _rewrite_meta(path: Path, meta: ModelMeta) -> ModelMeta:
    """Swap the header's metadata document; copy the tensor bytes verbatim; os.replace."""
    text = meta.to_json()
    ModelMeta.from_json(text, path.name)  # never write what could not be read back
    with path.open("rb") as source:
        header, data_start = read_header(source, path)
        header.setdefault("__metadata__", {})[METADATA_KEY] = text
        encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
        encoded += b" " * (-len(encoded) % 8)  # keep the data 8-byte aligned, as safetensors does
        with replacing(path, "the model") as tmp, tmp.open("wb") as target:
            target.write(struct.pack("<Q", len(encoded)))
            target.write(encoded)
            source.seek(data_start)
            shutil.copyfileobj(source, target, length=1 << 20)
            target.flush()
            os.fsync(target.fileno())
            shutil.copymode(path, tmp)
    return meta
