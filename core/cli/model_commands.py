"""CLI commands that work on one model file: `explain` (Grad-CAM overlays) and `thresholds`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.base.errors import OutputError
from core.cli.console import UsageError, print_json
from core.inference.predictions import parse_label_thresholds
from core.inference.warm import warm_graph_cache
from core.modelfile.checkpoint import read_meta, reset_thresholds, write_thresholds

if TYPE_CHECKING:
    from PIL import Image


# ------------------------------------------------------------------ explain
def label_file(out: Path, label: str) -> Path:
    """out.png + "Sci-Fi" -> out-Sci-Fi.png (characters unsafe in file names become _)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "label"
    return out.with_name(f"{out.stem}-{safe}{out.suffix or '.png'}")


def run_explain(args: argparse.Namespace) -> int:
    from core.inference.explain import Explainer, open_image, overlay

    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {args.alpha}")
    explainer = Explainer.from_file(args.model, device=args.device)
    image = open_image(args.image)
    if args.all:
        explanations = explainer.explain_all(image)
        files = [label_file(args.out, e.label) for e in explanations]
    elif args.label is not None:
        explanations = [explainer.explain(image, args.label)]
        files = [args.out]
    else:
        explanations = [explainer.explain_top(image)]
        files = [args.out]
    for explanation, path in zip(explanations, files, strict=True):
        _save_image(overlay(image, explanation.heatmap, alpha=args.alpha), path)
    rows: list[dict[str, Any]] = [
        {"label": e.label, "probability": round(e.probability, 4), "file": str(path)}
        for e, path in zip(explanations, files, strict=True)
    ]
    if args.json:
        print_json({"model": str(args.model), "image": str(args.image), "explanations": rows})
        return 0
    width = max(len(r["label"]) for r in rows)
    for r in rows:
        print(f"{r['label']:<{width}}  p={r['probability']:.3f}  {r['file']}")
    return 0


def _save_image(image: Image.Image, path: Path) -> None:
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a .png file name to write to.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG")
    except OSError as exc:
        raise OutputError(f"Cannot write {path}: {exc.strerror or exc}.") from exc


# ------------------------------------------------------------------ thresholds
def run_thresholds(args: argparse.Namespace) -> int:
    if args.set and args.reset:
        raise UsageError("give either --set or --reset, not both")
    if args.set:
        changes: dict[str, float] = {}
        for item in args.set:
            changes.update(parse_label_thresholds(item))
        meta = write_thresholds(args.model, changes)
    elif args.reset:
        meta = reset_thresholds(args.model)
    else:
        meta = read_meta(args.model)
    if args.set or args.reset:
        warm_graph_cache(args.model)  # a no-op when the graph is cached: weights are unchanged
    tuned = meta.tuned_thresholds or meta.thresholds
    if args.json:
        print_json(
            {
                "model": str(args.model),
                "edited": meta.tuned_thresholds is not None,
                "thresholds": dict(zip(meta.label_names, meta.thresholds, strict=True)),
                "tuned": dict(zip(meta.label_names, tuned, strict=True)),
            }
        )
        return 0
    width = max([5, *(len(n) for n in meta.label_names)])
    print(f"{'label':<{width}}  threshold  tuned")
    for name, value, tuned_value in zip(meta.label_names, meta.thresholds, tuned, strict=True):
        mark = "" if abs(value - tuned_value) < 1e-9 else "  (edited)"
        print(f"{name:<{width}}  {value:>9.3f}  {tuned_value:>5.3f}{mark}")
    if args.set or args.reset:
        print(f"saved in {args.model} (weights unchanged)")
    return 0
