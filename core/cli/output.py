"""Terminal output shared by the subcommands: where text goes, metric lines, label tables."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from core.training.events import (
    LabelMetrics,
)


def say(args: argparse.Namespace, text: str = "") -> None:
    """Human-readable output: stdout normally, stderr when stdout carries JSON."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def bars_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def label_table(per_label: tuple[LabelMetrics, ...] | list[dict]) -> str:
    rows = [asdict(p) if isinstance(p, LabelMetrics) else p for p in per_label]
    width = max([5, *(len(r["name"]) for r in rows)])
    lines = [
        f"{'label':<{width}}  {'AP':>6}  {'prec':>6}  {'recall':>6}  {'F1':>6}  {'thr':>5}  support"
    ]
    for r in rows:
        ap = "n/a" if r["ap"] is None else f"{r['ap']:.3f}"
        lines.append(
            f"{r['name']:<{width}}  {ap:>6}  {r['precision']:>6.3f}  {r['recall']:>6.3f}  "
            f"{r['f1']:>6.3f}  {r['threshold']:>5.2f}  {r['support']:>7}"
        )
    return "\n".join(lines)


def metrics_line(metrics: dict) -> str:
    keys = ("map", "f1_micro", "f1_macro", "loss")
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), float))
