"""`marquee train`: the recipe plus the user's options, the run, the saved model."""

from __future__ import annotations

import argparse

from core.base.config import TrainConfig
from core.base.runtime import training_threads
from core.cli.console import print_json
from core.cli.data_args import label_choice, load_data
from core.cli.output import label_table, metrics_line, say
from core.cli.recording import train_and_record
from core.data.datasets import Dataset
from core.modelfile.checkpoint import read_meta, save_model

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
    from core.training.recipes import recipe_config, recipe_for_device

    recipe = args.recipe
    if recipe == "auto":
        from core.base.device import resolve_device

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
    from core.model.backbones import get_backbone_info
    from core.training.loop import fit
    from core.training.recipes import describe, describe_settings, follows_recipe

    config, recipe = _train_config(args)
    get_backbone_info(config.backbone)  # fail on a typo before loading any data
    if follows_recipe(recipe, config):
        say(args, describe(recipe, config) + " (options on the command line override it)")
    else:
        say(args, describe_settings(config))
    dataset = load_data(args, label_choice(args))
    if args.export_job:
        return _export_job(args, config, dataset)
    record = train_and_record(args, config, dataset, lambda sink: fit(config, dataset, sink))
    result = record.result
    folder = record.writer.folder
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
                "run_id": record.writer.id,
                "metrics": result.meta.metrics,
                "per_label": result.meta.per_label,
                "stopped_early": result.stopped_early,
                "lineage": result.meta.lineage,
            }
        )
        return 0
    best = result.meta.metrics.get("best_epoch")
    print(f"\nbest epoch {best}: {metrics_line(result.meta.metrics)} (F1 at tuned thresholds)")
    print(label_table(result.meta.per_label))
    if len(result.meta.lineage) > 1:
        print(f"\n{_lineage_line(result.meta.lineage)}")
    print(f"\nmodel saved to {out}")
    print(f"run {record.writer.id} ({record.writer.record.status}); 'marquee runs show latest'")
    return 0


def _lineage_line(lineage: list[dict]) -> str:
    start = lineage[-1].get("init_from") or {}
    where = start.get("path") or "a model in memory"
    epochs = " + ".join(str(stage.get("epochs", "?")) for stage in lineage)
    return f"trained on from {where} ({start.get('weights_sha256', '?')}); epochs: {epochs}"


# ------------------------------------------------------------------ cluster job / cache
def _export_job(args: argparse.Namespace, config: TrainConfig, dataset: Dataset) -> int:
    from core.training.job import export_job

    config.num_threads = None  # the job's machines decide
    folder = export_job(args.export_job, config, dataset)
    if args.json:
        print_json({"job": str(folder)})
    else:
        print(f"cluster job written to {folder}; see {folder / 'README.md'} for the torchrun lines")
    return 0
