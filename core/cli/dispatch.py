"""Which function runs which subcommand: one explicit table.

Each entry imports its command's module when it runs, so `marquee predict` never pays for
the training or serving imports (timm, FastAPI) it does not use.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def _train(args: argparse.Namespace) -> int:
    from core.cli.train_command import run_train

    return run_train(args)


def _explain(args: argparse.Namespace) -> int:
    from core.cli.model_commands import run_explain

    return run_explain(args)


def _thresholds(args: argparse.Namespace) -> int:
    from core.cli.model_commands import run_thresholds

    return run_thresholds(args)


def _on_models(name: str) -> Handler:
    """The handler `run_<name>` of core.cli.commands (predict, evaluate, info, ...)."""

    def handler(args: argparse.Namespace) -> int:
        from core.cli import backbone_commands, commands

        return {
            "predict": commands.run_predict,
            "evaluate": commands.run_evaluate,
            "info": commands.run_info,
            "backbones": backbone_commands.run_backbones,
            "cache": commands.run_cache,
            "serve": commands.run_serve,
            "export": commands.run_export,
        }[name](args)

    return handler


def _on_health(name: str) -> Handler:
    """The handler `run_<name>` of core.cli.health_commands (doctor, fixes, suggest)."""

    def handler(args: argparse.Namespace) -> int:
        from core.cli import health_commands

        return getattr(health_commands, f"run_{name}")(args)

    return handler


def _runs(args: argparse.Namespace) -> int:
    from core.cli.runs_command import run_runs

    return run_runs(args)


HANDLERS: dict[str, Handler] = {
    "train": _train,
    "runs": _runs,
    "explain": _explain,
    "thresholds": _thresholds,
    **{
        name: _on_models(name)
        for name in ("predict", "evaluate", "info", "backbones", "cache", "serve", "export")
    },
    **{name: _on_health(name) for name in ("doctor", "fixes", "suggest")},
}
