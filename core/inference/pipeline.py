"""The one inference pipeline: decode -> resize -> normalise -> model -> TTA -> sigmoid.

Decoding and resizing run in Python (Pillow, JPEG draft mode); everything after them is
one graph (core.inference.graph) taking uint8 RGB N x S x S x 3. torch runs that module;
ONNX Runtime runs the same module exported (core.inference.onnx_export), so the predictor,
both server runtimes, evaluation, Grad-CAM's displayed probability and the exported file
give the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.base.device import resolve_device
from core.base.errors import ConfigError, ImageDecodeError
from core.base.runtime import decode_threads
from core.data.decode import ImageSource, load_rgb
from core.inference.contract import INPUT_NAME
from core.inference.onnx_cache import cached_file_session, onnx_session
from core.modelfile.checkpoint import ModelMeta, check_file, load_model, read_meta

if TYPE_CHECKING:  # torch is imported only where torch runs the graph or exports it
    from torch import nn

    from core.inference.graph import InferenceGraph

RUNTIMES = ("auto", "torch", "onnx")
log = logging.getLogger("marquee.inference")


class InferencePipeline:
    """A model file ready to turn images into probabilities on one runtime and device.

    `runtime="auto"` (the default) is ONNX Runtime on the CPU, where it runs this graph
    about three times as fast as torch, and torch on a GPU (CUDA, MPS). Where the graph
    cannot be exported or ONNX Runtime is missing, the CPU falls back to torch with one
    log line: both run the same graph, so the numbers do not change.

    Build one with `for_model` (a torch model in memory) or `from_file`.
    """

    def __init__(
        self,
        meta: ModelMeta,
        tta: bool,
        device: tuple[str, str],
        *,
        graph: InferenceGraph | None = None,
        session: Any | None = None,
        model_file: Path | None = None,
    ) -> None:
        """`graph` (torch) or `session` (ONNX Runtime) runs the model; `model_file` is
        where the torch model comes from when only a session was given."""
        if graph is None and (session is None or model_file is None):
            raise ValueError("a pipeline needs a graph, or a session and its model file")
        self.meta, self._tta, self._model_file = meta, tta, model_file
        self.device, self.device_name = device
        self.graph, self._session = graph, session
        self.runtime = "onnx" if session is not None else "torch"

    @classmethod
    def for_model(
        cls,
        model: nn.Module,
        meta: ModelMeta,
        device: str = "auto",
        tta: bool | None = None,
        runtime: str = "auto",
        *,
        cache_key: str | None = None,
    ) -> InferencePipeline:
        """A torch model in memory; on the CPU its graph is exported (or taken from the
        cache, under `cache_key` or its weights' digest) for ONNX Runtime."""
        from core.inference.graph import graph_for

        where = _device_for(runtime, device)
        graph = graph_for(model, meta, tta).to(where[0])
        session = None
        if runtime == "onnx" or (runtime == "auto" and where[0] == "cpu"):
            session = _session_or_none(graph, meta, runtime == "onnx", cache_key)
        return cls(meta, graph.tta, where, graph=graph, session=session)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        device: str = "auto",
        tta: bool | None = None,
        runtime: str = "auto",
    ) -> InferencePipeline:
        """Load a .safetensors model file (ModelFileError with a clear message if bad).

        On the CPU a graph exported earlier runs straight from the cache, without building
        the torch model or even importing torch (it is loaded only if something asks for
        `model`)."""
        key = None
        where = _device_for(runtime, device)
        if runtime != "torch" and where[0] == "cpu":
            meta = read_meta(path)
            check_file(Path(path), meta)  # before the cache: a file that would not load cold
            use_tta = bool(meta.config.get("tta", False)) if tta is None else tta
            key, session = cached_file_session(Path(path), meta, use_tta)
            if session is not None:
                return cls(meta, use_tta, where, session=session, model_file=Path(path))
        model, meta = load_model(path)
        return cls.for_model(model, meta, device, tta, runtime, cache_key=key)

    @property
    def tta(self) -> bool:
        return self._tta

    @property
    def model(self) -> nn.Module:
        """The torch model (loaded from the model file on first use when ONNX runs it)."""
        if self.graph is None:
            from core.inference.graph import graph_for

            assert self._model_file is not None
            model, _ = load_model(self._model_file)
            self.graph = graph_for(model, self.meta, self._tta)
        return self.graph.model

    def decode(self, source: ImageSource) -> np.ndarray:
        """One image as the graph's input row: S x S x 3 uint8 (ImageDecodeError if bad)."""
        return load_rgb(source, self.meta.image_size)

    def decode_many(self, sources: Sequence[ImageSource]) -> list[np.ndarray | ImageDecodeError]:
        """Decode in parallel threads (Pillow releases the GIL); an error in place of each
        image that cannot be read."""
        if len(sources) < 2:
            return [self._decode_or_error(s) for s in sources]
        workers = min(decode_threads(), len(sources))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._decode_or_error, sources))

    def _decode_or_error(self, source: ImageSource) -> np.ndarray | ImageDecodeError:
        try:
            return self.decode(source)
        except ImageDecodeError as exc:
            return exc

    def run(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N x labels) for decoded S x S x 3 uint8 arrays."""
        batch = np.ascontiguousarray(np.stack(arrays), dtype=np.uint8)
        if self._session is not None:
            return self._session.run(None, {INPUT_NAME: batch})[0]
        import torch

        assert self.graph is not None
        with torch.inference_mode():
            return self.graph(torch.from_numpy(batch).to(self.device)).cpu().numpy()


def _device_for(runtime: str, device: str) -> tuple[str, str]:
    if runtime not in RUNTIMES:
        raise ConfigError(f"Unknown runtime '{runtime}'.", "Use auto, torch or onnx.")
    if runtime == "onnx" and device not in ("auto", "cpu"):
        raise ConfigError("The onnx runtime runs on the CPU.", "Use --device cpu or torch.")
    return resolve_device("cpu" if runtime == "onnx" else device)


def _session_or_none(
    graph: InferenceGraph, meta: ModelMeta, required: bool, key: str | None
) -> Any:
    """The graph on ONNX Runtime; None (torch runs it) when that is not possible and the
    user did not ask for ONNX explicitly."""
    try:
        return onnx_session(graph, meta, key=key)
    except Exception as exc:  # no onnxruntime, or an operator the exporter does not know
        if required:
            raise ConfigError(f"This model cannot run on ONNX Runtime ({exc}).") from exc
        log.warning("ONNX Runtime is not available for this model (%s); using torch", exc)
        return None
