"""The subcommands on trained models and the caches: predict, evaluate, info, backbones, cache,
serve, export (argparse namespaces in, exit codes out)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from core.base.errors import OutputError, one_line, shorten
from core.base.runtime import prediction_threads, use_torch_threads
from core.cli.console import UsageError, print_json
from core.cli.data_args import label_choice, load_data
from core.cli.output import bars_enabled, label_table, metrics_line
from core.data.datasets import Dataset, LabeledImages
from core.inference.predictions import PredictionSet, parse_label_thresholds
from core.modelfile.checkpoint import read_meta

if TYPE_CHECKING:  # torch loads only where a command predicts
    from core.inference.predictor import Predictor


# ------------------------------------------------------------------ predict
def _choose_thresholds(args: argparse.Namespace, predictions: PredictionSet, tuned: bool) -> None:
    """--threshold F for every label, --thresholds L=T,... per label (the rest tuned), else
    the tuned ones or 0.5, as the command prefers."""
    if args.threshold is not None:
        predictions.use_global(args.threshold, "--threshold")
    elif args.thresholds:
        predictions.use_tuned()
        predictions.use_custom(parse_label_thresholds(args.thresholds))
    elif tuned:
        predictions.use_tuned()


def _load_predictor(args: argparse.Namespace) -> Predictor:
    """The model file's predictor; torch gets the prediction thread count only where torch
    runs it (importing torch for nothing would cost seconds)."""
    from core.inference.predictor import Predictor

    predictor = Predictor.from_file(
        args.model, device=args.device, tta=args.tta, runtime=args.runtime
    )
    if predictor.runtime == "torch":
        use_torch_threads(prediction_threads())
    return predictor


def run_predict(args: argparse.Namespace) -> int:
    from core.inference.predictor import expand_inputs

    predictor = _load_predictor(args)
    predictions = predictor.new_set()
    _choose_thresholds(args, predictions, tuned=args.tuned)
    images, skipped = expand_inputs(args.inputs)
    for message in skipped:
        print(f"marquee: warning: {message}", file=sys.stderr)
    if not images:
        raise UsageError("no images to predict (give image files or folders holding images)")
    predictions.add(images)
    with tqdm(
        total=len(images), desc="predict", disable=not bars_enabled(args), leave=False
    ) as bar:
        predictor.predict(
            images,
            batch_size=args.batch_size,
            progress=lambda done, _: bar.update(done - bar.n),
            on_partial=predictions.record,
        )
    errors = [predictions.error(row) for row in range(len(predictions))]
    for error in filter(None, errors):
        print(f"marquee: warning: {error}", file=sys.stderr)
    if args.csv:
        predictions.write_csv(args.csv)
    if args.json:
        print_json({"model": str(args.model), **predictions.to_json()})
    else:
        _print_predictions(predictions)
    if all(errors):
        raise UsageError(f"none of the {len(errors)} images could be read (see the warnings above)")
    return 0


def _print_predictions(predictions: PredictionSet) -> None:
    names = predictions.label_names
    rows = [r for r in predictions.rows() if not r["error"]]
    width = max([4, *(len(Path(r["file"]).name) for r in rows)])
    print(f"{'file':<{width}}  " + "  ".join(f"{n[:9]:>9}" for n in names) + "  labels")
    for r in rows:
        probs = "  ".join(f"{r['probabilities'][n]:>9.3f}" for n in names)
        print(f"{Path(r['file']).name:<{width}}  {probs}  {', '.join(r['labels']) or '-'}")


# ------------------------------------------------------------------ evaluate / info / backbones
def _eval_split(dataset: Dataset) -> tuple[str, LabeledImages]:
    if dataset.test is not None and len(dataset.test):
        return "test", dataset.test
    return "val", dataset.val


def _evaluated_labels(args: argparse.Namespace, model_labels: list[str]) -> list[str]:
    """The model's labels, or the --labels among them; the data set's other columns are ignored."""
    chosen = label_choice(args) if args.labels is not None else None
    if chosen is None:
        return list(model_labels)
    unknown = [name for name in chosen if name not in model_labels]
    if unknown:
        raise UsageError(
            f"the model has no label(s) {', '.join(unknown)}; its labels: {', '.join(model_labels)}"
        )
    return list(dict.fromkeys(chosen))


def _predict_with_bar(
    args: argparse.Namespace, predictor: Predictor, paths: list, what: str
) -> list:
    with tqdm(total=len(paths), desc=what, disable=not bars_enabled(args), leave=False) as bar:
        return predictor.predict(
            paths, batch_size=args.batch_size, progress=lambda done, _: bar.update(done - bar.n)
        )


def run_evaluate(args: argparse.Namespace) -> int:
    from core.training.metrics import compute_metrics, label_reports, reports_to_json

    predictor = _load_predictor(args)
    names = _evaluated_labels(args, predictor.label_names)
    columns = [predictor.label_names.index(name) for name in names]
    dataset = load_data(args, names)  # its label columns are now exactly `names`
    split_name, split = _eval_split(dataset)
    results = _predict_with_bar(args, predictor, split.paths, "evaluate")
    ok = [i for i, r in enumerate(results) if r.ok]
    if not ok:
        raise UsageError("none of the evaluation images could be read")
    probs = np.stack([results[i].probabilities for i in ok])[:, columns]
    predictions = predictor.new_set()
    _choose_thresholds(args, predictions, tuned=True)
    metrics, per_label = compute_metrics(
        probs, split.labels[ok], names, predictions.thresholds[columns]
    )
    if args.json:
        print_json(
            {
                "split": split_name,
                "images": len(ok),
                "metrics": metrics,
                "per_label": [asdict(p) for p in per_label],
                # PR curve points, TP/FP/FN/TN and the most confident errors per label
                "label_reports": reports_to_json(
                    label_reports(
                        probs,
                        split.labels[ok],
                        names,
                        predictions.thresholds[columns],
                        [str(split.paths[i]) for i in ok],
                    )
                ),
            }
        )
        return 0
    print(f"{split_name} split, {len(ok)} images: {metrics_line(metrics)}")
    print(label_table(per_label))
    return 0


def run_info(args: argparse.Namespace) -> int:
    meta = read_meta(args.model)
    if args.json:
        print_json(asdict(meta))
        return 0
    print(f"model      {args.model}")
    print(f"backbone   {meta.backbone} at {meta.image_size}px")
    print(f"labels     {', '.join(meta.label_names)}")
    print(f"created    {meta.created} (Marquee {meta.app_version}, format {meta.format_version})")
    print(f"metrics    {metrics_line(meta.metrics)}")
    if meta.per_label:
        print(label_table(meta.per_label))
    return 0


def run_cache(args: argparse.Namespace) -> int:
    import sqlite3

    from core.data.cache import ImageCache
    from core.data.cache_files import cache_root

    try:
        cache = ImageCache()
        try:
            freed = cache.clear() if args.action == "clear" else None
            info = cache.info()
        finally:
            cache.close()
    except (OSError, sqlite3.Error) as exc:  # read-only, or something in the index's place
        raise OutputError(
            f"The image cache at {shorten(str(cache_root()), 200)} cannot be "
            f"{'cleared' if args.action == 'clear' else 'read'} ({one_line(str(exc))}).",
            "Check that the folder is yours and writable, or delete it: it is only a cache "
            "(training then decodes into memory).",
        ) from exc
    report = {
        "folder": str(info.folder),
        "bytes": info.nbytes,
        "max_bytes": info.max_bytes,
        "records": info.records,
        "files": info.files,
        "shards": info.shards,
        "families": info.families,
    }
    if freed is not None:
        report["freed_bytes"] = freed
    if args.json:
        print_json(report)
    elif freed is not None:
        print(f"cleared {freed / 1e6:.1f} MB from {info.folder}")
    else:
        print(f"image cache  {info.folder}")
        print(f"size         {info.nbytes / 1e6:.1f} MB of {info.max_bytes / 1e9:.1f} GB")
        print(f"records      {info.records} in {info.shards} shards, {info.files} files known")
    return 0


# ------------------------------------------------------------------ serve / export
def run_serve(args: argparse.Namespace) -> int:
    from core.serving.limits import default_options
    from core.serving.server import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not 0 < args.max_body_mb <= 1024:
        raise UsageError(f"--max-body-mb must be between 0 and 1024, got {args.max_body_mb}")
    # The batching options, checked before the model loads (the device's defaults wait).
    default_options("cpu", max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
    return serve(
        args.model,
        host=args.host,
        port=args.port,
        device=args.device,
        runtime=args.runtime,
        no_auth=args.no_auth,
        token=args.token,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
    )


def run_export(args: argparse.Namespace) -> int:
    from core.inference.onnx_export import export_onnx

    out = export_onnx(args.model, args.out)
    print(out)
    return 0
