"""The inference graph exported when a model is saved, so its first prediction is as fast as
any other: `warm_graph_cache(model_file)`.

Predicting from a model file on the CPU runs its ONNX graph from the cache, keyed by the
file's weights (core.inference.onnx_cache). Without this the first prediction pays for
importing torch, rebuilding the model and exporting the graph (several times a later
one); every place that writes a model file (training's run folder, `marquee train --out`,
`thresholds --set/--reset`, the app's training and Save) calls this right after.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.inference.onnx_cache import file_graph_key
from core.model.export_process import run_export
from core.model.onnx_runtime import cache_graph
from core.modelfile.checkpoint import read_meta

log = logging.getLogger("marquee.inference")


def warm_graph_cache(model_file: str | Path, tta: bool | None = None) -> Path | None:
    """Export `model_file`'s inference graph into the graph cache unless it is there (`tta`:
    the flip averaging, default the model's own setting). The cached file's path, or None
    when it cannot be made here (no ONNX Runtime or exporter, a read-only cache): then the
    first prediction exports it as before, so saving a model never fails because of this."""
    path = Path(model_file)
    try:
        meta = read_meta(path)
        use_tta = bool(meta.config.get("tta", False)) if tta is None else tta
        key = file_graph_key(path, meta, use_tta)
        # In the app the whole job (reading the file too) runs in the export process.
        return cache_graph(key, lambda out: run_export(_export_file_graph, path, use_tta, out))
    except Exception as exc:  # the exporter's and ONNX's own errors too: never fail a save
        log.warning("the inference graph of %s was not cached (%s)", path, exc)
        return None


def _export_file_graph(model_file: Path, tta: bool, out: Path) -> None:
    """The graph of the weights as the file holds them (which may be an earlier epoch's than
    the model in memory), exactly what a later `from_file` would export."""
    from core.inference.graph import graph_for
    from core.inference.onnx_export import export_graph
    from core.modelfile.checkpoint import load_model

    model, meta = load_model(model_file)
    export_graph(graph_for(model, meta, tta), meta, out)
