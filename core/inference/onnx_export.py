"""Export a Marquee model to ONNX: `export_onnx(model_file, out)`.

The file holds the inference graph (core.inference.graph): input `images`, uint8 RGB
N x S x S x 3 (NHWC, each image resized to S x S with bilinear filtering); output
`probabilities`, float32 N x labels. Normalisation, the flip test-time augmentation (when
the model uses it) and the sigmoid are inside the graph, so a client that feeds decoded
pixels gets Marquee's probabilities. Everything else a client needs is in the file's
`metadata_props`: labels, tuned thresholds, image size, normalisation, the input contract.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.base.errors import OutputError, UsageError
from core.base.files import replacing
from core.inference.graph import INPUT_NAME, OUTPUT_NAME, InferenceGraph, graph_for
from core.model.export_process import run_export
from core.model.onnx_runtime import export_module
from core.modelfile.checkpoint import ModelMeta, load_model


def input_contract(meta: ModelMeta, tta: bool) -> str:
    """The input the graph expects, in words (also in docs/serving.md)."""
    size = meta.image_size
    return (
        f"{INPUT_NAME}: uint8 N x {size} x {size} x 3 (NHWC), RGB, each image resized to "
        f"{size} x {size} with bilinear filtering; the graph normalises"
        f"{', averages the mirror image' if tta else ''} and applies the sigmoid"
    )


def onnx_metadata(meta: ModelMeta, tta: bool) -> dict[str, str]:
    """The metadata_props written into the ONNX file (all values are strings)."""
    return {
        "marquee.labels": json.dumps(list(meta.label_names)),
        "marquee.thresholds": json.dumps([float(t) for t in meta.thresholds]),
        "marquee.image_size": str(meta.image_size),
        "marquee.mean": json.dumps(list(meta.mean)),
        "marquee.std": json.dumps(list(meta.std)),
        "marquee.tta": json.dumps(tta),
        "marquee.backbone": meta.backbone,
        "marquee.input": input_contract(meta, tta),
        "marquee.output": f"{OUTPUT_NAME}: float32 N x labels, probabilities",
        "marquee.meta": meta.to_json(),
    }


def export_onnx(model_file: str | Path, out: str | Path | None = None) -> Path:
    """Write `model_file` as ONNX (default: beside it, with the .onnx suffix); returns the path.

    Raises ModelFileError for a bad model file, OutputError when `out` cannot be written.
    """
    model_file = Path(model_file)
    out = Path(out) if out is not None else model_file.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise UsageError(f"{out}: give the ONNX file a .onnx suffix")
    if out.is_dir():
        raise OutputError(f"{out} is a folder; give a file name to write to.")
    model, meta = load_model(model_file)
    with replacing(out, "the ONNX file", suffix=".onnx") as tmp:
        export_graph(graph_for(model, meta), meta, tmp)
    return out


def export_graph(graph: InferenceGraph, meta: ModelMeta, path: Path) -> None:
    """Write `graph` to `path` as ONNX with Marquee's metadata (in a child process in the
    desktop app: core.model.export_process)."""
    run_export(_write_graph, graph, meta, path)


def _write_graph(graph: InferenceGraph, meta: ModelMeta, path: Path) -> None:
    size = meta.image_size
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    export_module(graph, example, path, INPUT_NAME, OUTPUT_NAME)
    _add_metadata(str(path), onnx_metadata(meta, graph.tta))


def _add_metadata(path: str, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The Marquee metadata of an exported file: labels, thresholds, image_size, mean, std, tta."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    return {
        "labels": json.loads(props["marquee.labels"]),
        "thresholds": json.loads(props["marquee.thresholds"]),
        "image_size": int(props["marquee.image_size"]),
        "mean": json.loads(props["marquee.mean"]),
        "std": json.loads(props["marquee.std"]),
        "tta": json.loads(props.get("marquee.tta", "false")),
        "backbone": props["marquee.backbone"],
    }
