"""What each CLI subcommand does (argparse namespaces in, exit codes out)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.backbones import list_backbones
from core.checkpoint import read_meta, save_model
from core.commands_model import run_explain as run_explain  # re-exported for core.cli
from core.commands_model import run_thresholds as run_thresholds
from core.config import TrainConfig
from core.console import UsageError, print_json
from core.datasets import Dataset, LabeledImages, load_dataset
from core.download import MOVIE_POSTER_LABELS
from core.events import EpochEnded, Event, LabelMetrics, PreparingData, StepEnded, TrainingStarted
from core.predictions import PredictionSet, parse_label_thresholds
from core.runs import save_run
from core.runtime import prediction_threads, training_threads, use_torch_threads

MAX_PROBLEMS_SHOWN = 15


# ------------------------------------------------------------------ shared helpers
def _say(args: argparse.Namespace, text: str = "") -> None:
    """Human-readable output: stdout normally, stderr when stdout carries JSON."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def _bars_enabled(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _resolve_data_path(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return args.data
    if args.movie_posters:
        from core.download import ensure_movie_posters

        with tqdm(
            unit="B", unit_scale=True, desc="download", disable=not _bars_enabled(args)
        ) as bar:

            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return ensure_movie_posters(progress=progress)
    from core.sample_data import ensure_sample_data

    return ensure_sample_data(variant=getattr(args, "sample", None) or "normal")


def _label_choice(args: argparse.Namespace) -> list[str] | None:
    """--labels as a list; None for every label ('all', or no --labels but --movie-posters)."""
    if args.labels is None:
        return list(MOVIE_POSTER_LABELS) if args.movie_posters else None
    if args.labels.strip().lower() == "all":
        return None
    names = [name.strip() for name in args.labels.split(",") if name.strip()]
    if not names:
        raise UsageError("--labels needs label names separated by commas, or 'all'")
    return names


def load_data(args: argparse.Namespace, labels: list[str] | None = None) -> Dataset:
    """The data set of --data/--sample/--movie-posters, narrowed to ``labels`` if given."""
    path = _resolve_data_path(args)
    with tqdm(desc="checking images", disable=not _bars_enabled(args), leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        dataset = load_dataset(
            path,
            fmt=args.format,
            label_column=args.label_column,
            delimiter=args.delimiter,
            images_dir=args.images_dir,
            labels=labels,
            progress=progress,
        )
    _report_problems(dataset)
    if len(dataset.label_names) < len(dataset.all_label_names):
        _say(
            args,
            f"labels: {', '.join(dataset.label_names)} ({len(dataset.label_names)} of "
            f"{len(dataset.all_label_names)}; --labels all uses every one)",
        )
    return dataset


def _report_problems(dataset: Dataset) -> None:
    problems = dataset.report.problems
    # The run goes on without the skipped items, so every problem is a warning here.
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"marquee: warning: {problem.where}: {problem.message}", file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(
            f"marquee: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems", file=sys.stderr
        )


def _label_table(per_label: tuple[LabelMetrics, ...] | list[dict]) -> str:
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


def _metrics_line(metrics: dict) -> str:
    keys = ("map", "f1_micro", "f1_macro", "loss")
    return "  ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), float))


# ------------------------------------------------------------------ train
class _TrainProgress:
    """Turns engine events into tqdm bars and one line per epoch."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.enabled = args, _bars_enabled(args)
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, event: Event) -> None:
        if isinstance(event, PreparingData):
            what = "auto-tune trials" if event.stage == "tune" else f"{event.stage} images"
            self._advance(what, event.total, event.done)
        elif isinstance(event, TrainingStarted):
            self.close()
            _say(
                self.args,
                f"training {event.config['backbone']} ({event.config['strategy']}) on "
                f"{event.n_train} train / {event.n_val} val images, {event.device_name}",
            )
        elif isinstance(event, StepEnded):
            self._advance("train", event.total_steps, event.step)
            if self.enabled:
                self.bar.set_postfix(loss=f"{event.loss:.3f}", img_s=f"{event.images_per_s:.0f}")
        elif isinstance(event, EpochEnded):
            summary = _metrics_line({**event.metrics, "loss": event.val_loss})
            line = (
                f"epoch {event.epoch}/{event.epochs}  train_loss {event.train_loss:.4f}  {summary}"
            )
            tqdm.write(line, file=sys.stderr if self.args.json else sys.stdout)

    def _advance(self, stage: str, total: int, done: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, disable=not self.enabled, leave=False)
        if self.enabled:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.stage = None, ""


_RECIPE_OPTIONS = (
    "strategy",
    "epochs",
    "batch_size",
    "image_size",
    "lr",
    "weight_decay",
    "augment",
    "loss",
    "head",
    "multi_stage",
    "feature_views",
    "auto_tune",
    "tta",
)


def _head_settings(config: dict) -> dict:
    """The head a saved model was built with: a model trained on from it needs the same."""
    keys = ("head", "head_hidden", "multi_stage", "dropout")
    return {key: config[key] for key in keys if key in config}


def _train_config(args: argparse.Namespace) -> tuple[TrainConfig, str]:
    """The recipe (--recipe; auto: by device) with every option the user gave on top."""
    from core.recipes import recipe_config, recipe_for_device

    recipe = args.recipe
    if recipe == "auto":
        from core.device import resolve_device

        recipe = recipe_for_device(resolve_device(args.device)[0])
    given = {k: getattr(args, k) for k in _RECIPE_OPTIONS if getattr(args, k) is not None}
    backbone = args.backbone or TrainConfig().backbone
    if args.init_from:  # the starting model fixes the backbone, size and head
        start = read_meta(args.init_from)
        backbone = args.backbone or start.backbone
        given.setdefault("image_size", start.image_size)
        given.update(_head_settings(start.config))
    config = recipe_config(
        recipe,
        **given,
        backbone=backbone,
        pretrained=not args.no_pretrained,
        weights_file=str(args.weights) if args.weights else None,
        balance=args.balance,
        device=args.device,
        seed=args.seed,
        # No UI to keep responsive: every usable core, less those other programs are using.
        num_threads=training_threads(keep_ui_core=False),
        init_from=str(args.init_from) if args.init_from else None,
    )
    config.validate()
    return config, recipe


def run_train(args: argparse.Namespace) -> int:
    from core.backbones import get_backbone_info
    from core.engine import fit
    from core.recipes import describe

    config, recipe = _train_config(args)
    get_backbone_info(config.backbone)  # fail on a typo before loading any data
    _say(args, describe(recipe, config) + " (options on the command line override it)")
    dataset = load_data(args, _label_choice(args))
    if args.export_job:
        return _export_job(args, config, dataset)
    progress = _TrainProgress(args)
    try:
        result = fit(config, dataset, progress)
    finally:
        progress.close()
    folder = save_run(result)
    out = (
        save_model(args.out, result.model, result.meta)
        if args.out
        else folder / "model.safetensors"
    )
    if args.json:
        print_json(
            {
                "model": str(out),
                "run": str(folder),
                "metrics": result.meta.metrics,
                "per_label": result.meta.per_label,
                "stopped_early": result.stopped_early,
                "lineage": result.meta.lineage,
            }
        )
        return 0
    best = result.meta.metrics.get("best_epoch")
    print(f"\nbest epoch {best}: {_metrics_line(result.meta.metrics)} (F1 at tuned thresholds)")
    print(_label_table(result.meta.per_label))
    if len(result.meta.lineage) > 1:
        print(f"\n{_lineage_line(result.meta.lineage)}")
    print(f"\nmodel saved to {out}")
    return 0


def _lineage_line(lineage: list[dict]) -> str:
    start = lineage[-1].get("init_from") or {}
    where = start.get("path") or "a model in memory"
    epochs = " + ".join(str(stage.get("epochs", "?")) for stage in lineage)
    return f"trained on from {where} ({start.get('weights_sha256', '?')}); epochs: {epochs}"


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


def run_predict(args: argparse.Namespace) -> int:
    from core.predictor import Predictor, expand_inputs

    predictor = Predictor.from_file(args.model, device=args.device, tta=args.tta)
    use_torch_threads(prediction_threads())
    predictions = predictor.new_set()
    _choose_thresholds(args, predictions, tuned=args.tuned)
    images, skipped = expand_inputs(args.inputs)
    for message in skipped:
        print(f"marquee: warning: {message}", file=sys.stderr)
    if not images:
        raise UsageError("no images to predict (give image files or folders holding images)")
    predictions.add(images)
    with tqdm(
        total=len(images), desc="predict", disable=not _bars_enabled(args), leave=False
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
    chosen = _label_choice(args) if args.labels is not None else None
    if chosen is None:
        return list(model_labels)
    unknown = [name for name in chosen if name not in model_labels]
    if unknown:
        raise UsageError(
            f"the model has no label(s) {', '.join(unknown)}; its labels: {', '.join(model_labels)}"
        )
    return list(dict.fromkeys(chosen))


def run_evaluate(args: argparse.Namespace) -> int:
    from core.metrics import compute_metrics, label_reports, reports_to_json
    from core.predictor import Predictor

    predictor = Predictor.from_file(args.model, device=args.device, tta=args.tta)
    use_torch_threads(prediction_threads())
    names = _evaluated_labels(args, predictor.label_names)
    columns = [predictor.label_names.index(name) for name in names]
    dataset = load_data(args, names)  # its label columns are now exactly `names`
    split_name, split = _eval_split(dataset)
    with tqdm(
        total=len(split), desc="evaluate", disable=not _bars_enabled(args), leave=False
    ) as bar:
        results = predictor.predict(
            split.paths,
            batch_size=args.batch_size,
            progress=lambda done, _: bar.update(done - bar.n),
        )
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
    print(f"{split_name} split, {len(ok)} images: {_metrics_line(metrics)}")
    print(_label_table(per_label))
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
    print(f"metrics    {_metrics_line(meta.metrics)}")
    if meta.per_label:
        print(_label_table(meta.per_label))
    return 0


def run_backbones(args: argparse.Namespace) -> int:
    infos = list_backbones()
    if args.json:
        print_json(
            [
                {"name": b.name, "title": b.title, "offline": b.offline, "notes": b.notes}
                for b in infos
            ]
        )
        return 0
    width = max(len(b.name) for b in infos)
    for b in infos:
        where = "offline" if b.offline else "needs download"
        print(f"{b.name:<{width}}  {where:<14}  {b.notes}")
    return 0


# ------------------------------------------------------------------ cluster job / cache
def _export_job(args: argparse.Namespace, config: TrainConfig, dataset: Dataset) -> int:
    from core.distributed import export_job

    config.num_threads = None  # the job's machines decide
    folder = export_job(args.export_job, config, dataset)
    if args.json:
        print_json({"job": str(folder)})
    else:
        print(f"cluster job written to {folder}; see {folder / 'README.md'} for the torchrun lines")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    from core.image_cache import ImageCache

    cache = ImageCache()
    try:
        freed = cache.clear() if args.action == "clear" else None
        info = cache.info()
    finally:
        cache.close()
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
    from core.serving.server import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not 0 < args.max_body_mb <= 1024:
        raise UsageError(f"--max-body-mb must be between 0 and 1024, got {args.max_body_mb}")
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
    from core.export import export_onnx

    out = export_onnx(args.model, args.out)
    print(out)
    return 0
