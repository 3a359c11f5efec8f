"""The model file's inference graph (core.model.graph): what runs after decoding, identical
on torch and in the ONNX file; `graph_for` builds it with the file's normalisation and TTA.
"""

from __future__ import annotations

from torch import nn

from core.inference.contract import INPUT_NAME, OUTPUT_NAME
from core.model.graph import InferenceGraph
from core.modelfile.checkpoint import ModelMeta

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "InferenceGraph", "graph_for"]


def graph_for(model: nn.Module, meta: ModelMeta, tta: bool | None = None) -> InferenceGraph:
    """The model file's inference graph; `tta` overrides what the file says."""
    use_tta = bool(meta.config.get("tta", False)) if tta is None else tta
    return InferenceGraph(model, meta.mean, meta.std, use_tta).eval()
