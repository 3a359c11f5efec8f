"""Marquee's UI-free library, one package per part: base (errors, limits, files, device),
data (readers, validation, samples, the image cache), model (backbones, heads, the
classifier, the inference graph), modelfile (safetensors I/O and schema), training (the
loop, recipes, auto-tune, the distributed context), inference (the pipeline, runtimes,
predictions, explanations), serving (the HTTP server), health (the data doctor and
suggestions) and cli (the command line and the torchrun entry).

Nothing in this package imports Qt. Heavy modules (torch, timm) are imported only by
the modules that need them, so `core.base`, `core.training.events` and `core.data.datasets` stay
cheap to import from the GUI's start-up path.
"""

__version__ = "0.1.0"
