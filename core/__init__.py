"""Marquee's UI-free library: data sets, models, model files, training, inference, data
health, serving and the CLI.

Nothing in this package imports Qt. Heavy modules (torch, timm) are imported only by
the modules that need them, so `core.base`, `core.training.events` and `core.data.datasets` stay
cheap to import from the GUI's start-up path.
"""

__version__ = "0.1.0"
