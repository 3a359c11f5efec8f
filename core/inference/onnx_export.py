"""Export a Marquee model to ONNX: `export_onnx(model_file, out)`.

The ONNX graph takes normalised float32 images (N x 3 x S x S, the batch size is dynamic)
and returns probabilities (N x labels, sigmoid included). Everything a client needs to use
it without Marquee is in the file's `metadata_props`: the label names, the tuned thresholds,
the image size and the normalisation (mean/std applied to pixels scaled to [0, 1]).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.base.errors import OutputError, UsageError
from core.base.files import replacing

INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
OPSET = 18


def onnx_metadata(meta: Any) -> dict[str, str]:
    """The metadata_props written into the ONNX file (all values are strings)."""
    return {
        "marquee.labels": json.dumps(list(meta.label_names)),
        "marquee.thresholds": json.dumps([float(t) for t in meta.thresholds]),
        "marquee.image_size": str(meta.image_size),
        "marquee.mean": json.dumps(list(meta.mean)),
        "marquee.std": json.dumps(list(meta.std)),
        "marquee.backbone": meta.backbone,
        "marquee.input": (
            f"{INPUT_NAME}: float32 N x 3 x {meta.image_size} x {meta.image_size}, RGB, "
            "pixels / 255 then (x - mean) / std per channel"
        ),
        "marquee.output": f"{OUTPUT_NAME}: float32 N x labels, sigmoid probabilities",
        "marquee.meta": meta.to_json(),
    }


def export_onnx(model_file: str | Path, out: str | Path | None = None) -> Path:
    """Write `model_file` as ONNX (default: beside it, with the .onnx suffix); returns the path.

    Raises ModelFileError for a bad model file, OutputError when `out` cannot be written.
    """
    from core.modelfile.checkpoint import load_model

    model_file = Path(model_file)
    out = Path(out) if out is not None else model_file.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise UsageError(f"{out}: give the ONNX file a .onnx suffix")
    if out.is_dir():
        raise OutputError(f"{out} is a folder; give a file name to write to.")
    model, meta = load_model(model_file)
    wrapped = _WithSigmoid(model).eval()
    size = meta.image_size
    example = torch.randn(2, 3, size, size)
    with replacing(out, "the ONNX file", suffix=".onnx") as tmp:
        _export(wrapped, example, str(tmp))
        _add_metadata(str(tmp), onnx_metadata(meta))
    return out


def _export(model: Any, example: Any, path: str) -> None:
    """The TorchScript-based exporter: self-contained (one file) and fast for a CNN."""
    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # deprecation notes about the legacy exporter
        torch.onnx.export(
            model,
            (example,),
            path,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _add_metadata(path: str, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The Marquee metadata of an exported file: labels, thresholds, image_size, mean, std."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    return {
        "labels": json.loads(props["marquee.labels"]),
        "thresholds": json.loads(props["marquee.thresholds"]),
        "image_size": int(props["marquee.image_size"]),
        "mean": json.loads(props["marquee.mean"]),
        "std": json.loads(props["marquee.std"]),
        "backbone": props["marquee.backbone"],
    }


class _WithSigmoid(torch.nn.Module):
    """Wraps the classifier so the graph's output is probabilities, not logits."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.inner(images))
