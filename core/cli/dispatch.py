"""Which function runs which subcommand: one explicit table (imported after parsing: heavy)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.cli.commands import (
    run_backbones,
    run_cache,
    run_evaluate,
    run_export,
    run_info,
    run_predict,
    run_serve,
)
from core.cli.model_commands import run_explain, run_thresholds
from core.cli.train_command import run_train

Handler = Callable[[argparse.Namespace], int]

HANDLERS: dict[str, Handler] = {
    "train": run_train,
    "predict": run_predict,
    "evaluate": run_evaluate,
    "explain": run_explain,
    "thresholds": run_thresholds,
    "info": run_info,
    "backbones": run_backbones,
    "cache": run_cache,
    "serve": run_serve,
    "export": run_export,
}
