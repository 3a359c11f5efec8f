"""`fit`: a whole training as named phases, locally or inside a torchrun context.

    decode -> [embed] -> [auto-tune] -> epochs of (train_one_epoch, evaluate) -> finish

Every phase checks the context's one stop signal. A stop before the first training step
raises `Cancelled` (there is no model to keep); a stop during the epochs ends the run
after the current step and keeps the best model so far. Under torchrun the context shards
the data, wraps training passes in DDP, agrees on stops and broadcasts auto-tune's choice;
only the main process evaluates, reports events and returns a result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from core.base.config import TrainConfig
from core.base.device import amp_dtype, resolve_device
from core.base.errors import Cancelled, DataError
from core.base.runtime import torch_threads, training_running, training_threads
from core.data.cached import load_split_images
from core.data.datasets import Dataset, LabeledImages
from core.model.backbones import needs_download
from core.model.classifier import MultiLabelClassifier
from core.modelfile.checkpoint import ModelMeta
from core.training.context import StopFlag, TrainingContext
from core.training.continuing import StartingModel, initial_model, lineage_of, starting_model
from core.training.embedding import embed_splits
from core.training.events import (
    EpochEnded,
    Event,
    PreparingData,
    StepEnded,
    TrainingFinished,
    TrainingStarted,
)
from core.training.feature_views import sample_views
from core.training.losses import make_criterion, pos_weight
from core.training.metrics import compute_metrics, tune_thresholds
from core.training.speed import epoch_image_size, speed_options, to_memory_format
from core.training.steps import Evaluation, Setup, SplitData, evaluate, make_optimizer
from core.training.steps import train_one_epoch as run_epoch

EventSink = Callable[[Event], None]


@dataclass
class TrainResult:
    model: MultiLabelClassifier
    meta: ModelMeta
    history: list[EpochEnded]
    stopped_early: bool


@dataclass
class _Run:
    """One training's state between phases (the public steps take its parts)."""

    config: TrainConfig
    data: Dataset  # all of it (event counts); `train`/`val` hold this process's share
    context: TrainingContext
    emit: EventSink
    model: MultiLabelClassifier
    setup: Setup
    parent: StartingModel | None
    device_name: str
    share: Dataset  # this process's part of `data`
    train: SplitData | None = None
    val: SplitData | None = None
    history: list[EpochEnded] = field(default_factory=list)
    best: dict | None = None
    step: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def steps_per_epoch(self) -> int:
        assert self.train is not None
        return math.ceil(len(self.train) / self.config.batch_size)


def fit(
    config: TrainConfig,
    data: Dataset,
    on_event: EventSink | None = None,
    should_stop: StopFlag | None = None,
    *,
    start_from: TrainResult | None = None,
    start_from_path: str | None = None,
    context: TrainingContext | None = None,
) -> TrainResult | None:
    """Train a classifier on `data`; report progress through `on_event`.

    The model starts from ImageNet (or random, or `config.weights_file`) backbone weights
    and a new head, unless it continues a trained model: `start_from` (in memory; its
    model is copied, not changed; `start_from_path` names where it is saved, if anywhere)
    or `config.init_from` (a model file). Such a model needs the data's labels (a
    DataError names the difference) and the config's backbone (ConfigError); the result's
    `meta.lineage` lists every stage with its epochs.

    `context` says where the training runs (default: this process, stopped by
    `should_stop`); under torchrun only the main process gets a result (others: None).
    Problems the user can fix raise `MarqueeError` subclasses; events only report progress.
    """
    context = context or TrainingContext(should_stop)
    config = context.local_config(config)
    config.validate()
    if len(data.train) == 0 or len(data.val) == 0:
        raise DataError("Training needs at least one training and one validation image.")
    emit = (on_event or _ignore) if context.is_main else _ignore
    with training_running(), torch_threads(config.num_threads or default_training_threads()):
        earlier = (start_from.model, start_from.meta) if start_from is not None else None
        parent = starting_model(config, earlier, start_from_path)
        _download(config, emit, context, parent)
        run = _start(config, data, context, emit, parent)
        _decode(run)
        if _uses_embeddings(config):
            _embed(run)
        if config.auto_tune:
            _auto_tune(run)
        emit(_started_event(run))
        stopped = _train_epochs(run)
        return _finish(run, stopped) if context.is_main else None


def train_more(
    result: TrainResult,
    data: Dataset,
    epochs: int,
    on_event: EventSink | None = None,
    should_stop: StopFlag | None = None,
    *,
    source: str | None = None,
    **changes: object,
) -> TrainResult:
    """Continue a finished (or stopped) training for `epochs` more epochs ("Train more").

    Same settings as `result`'s run, except: the backbone stays frozen only if it was
    frozen throughout (else it keeps training: strategy no_freeze), and `changes`
    override any TrainConfig field. `source` is the path `result` was saved to, if any
    (recorded in the lineage). `result` itself is left as it is.
    """
    config = TrainConfig.from_dict(result.meta.config)
    config.strategy = "freeze" if config.strategy == "freeze" else "no_freeze"
    config = replace(config, **{"epochs": epochs, "init_from": None, **changes})
    outcome = fit(config, data, on_event, should_stop, start_from=result, start_from_path=source)
    assert outcome is not None  # a local training always has a result
    return outcome


def default_training_threads() -> int:
    """Every usable core but one, which stays free for the UI (fewer when others compete)."""
    return training_threads(keep_ui_core=True)


def _ignore(event: Event) -> None:
    pass


# ---------------------------------------------------------------------- phases
def _start(
    config: TrainConfig,
    data: Dataset,
    context: TrainingContext,
    emit: EventSink,
    parent: StartingModel | None,
) -> _Run:
    """The model (new, or the parent's) on the device, and the optimiser for the run."""
    torch.manual_seed(config.seed)
    device, device_name = resolve_device(config.device)
    speed = speed_options(device)
    model = to_memory_format(
        initial_model(config, list(data.label_names), parent).to(device), speed
    )
    share = context.shard(data)
    total_steps = math.ceil(len(share.train) / config.batch_size) * config.epochs
    setup = _setup(config, context, model, device, share.train.labels, total_steps)
    return _Run(config, data, context, emit, model, setup, parent, device_name, share)


def _setup(
    config: TrainConfig,
    context: TrainingContext,
    model: MultiLabelClassifier,
    device: str,
    train_labels: np.ndarray,
    total_steps: int,
) -> Setup:
    speed = speed_options(device)
    optimizer, scheduler = make_optimizer(model, config, total_steps, speed.foreach or None)
    criterion = make_criterion(config, pos_weight(config, train_labels, device))
    generator = torch.Generator().manual_seed(config.seed)
    amp = amp_dtype(device)
    return Setup(config, context, device, generator, criterion, optimizer, scheduler, amp, speed)


def _download(
    config: TrainConfig, emit: EventSink, context: TrainingContext, parent: StartingModel | None
) -> None:
    """Phase download: pretrained weights into the hub cache, with progress, Cancel and
    resume (a no-op when they are cached, bundled, local, or not wanted)."""
    if parent is None and needs_download(config.backbone, config.pretrained, config.weights_file):
        from core.model.downloads import fetch_weights

        fetch_weights(config.backbone, emit, context.stop_requested)


def _decode(run: _Run) -> None:
    """Phase decode: this process's images, memory-mapped from the image cache."""
    size = run.config.image_size

    def progress(done: int, total: int) -> None:
        run.emit(PreparingData("decode", done, total))

    def split(part: LabeledImages) -> SplitData:
        images = load_split_images(
            part.paths, size, progress=progress, should_stop=run.context.stop_requested
        )
        return SplitData(images, torch.from_numpy(np.asarray(part.labels, dtype=np.float32)))

    run.train, run.val = split(run.share.train), split(run.share.val)


def _embed(run: _Run) -> None:
    """Phase embed: the frozen backbone's features, so frozen epochs only run the head."""
    assert run.train is not None and run.val is not None
    embed_splits(
        run.model,
        run.train,
        run.val,
        run.setup,
        progress=lambda done, total: run.emit(PreparingData("embed", done, total)),
    )


def _auto_tune(run: _Run) -> None:
    """Phase auto-tune: sweep the head's lr / weight decay / epochs on the main process's
    embeddings; every process trains with its choice (recorded in the model file)."""
    from core.training.autotune import fresh_head, tune_head

    assert run.train is not None and run.train.features is not None
    choice = None
    if run.context.is_main:
        choice = tune_head(
            run.train.features,
            run.train.targets,
            lambda: fresh_head(run.model.head),
            lambda: make_criterion(run.config, _pos_weight_of(run)),
            run.config,
            on_progress=lambda done, total: run.emit(PreparingData("tune", done, total)),
            should_stop=run.context.stop_requested,
        )
    choice = run.context.from_main(choice)
    run.config = replace(
        run.config, lr=choice.lr, weight_decay=choice.weight_decay, epochs=choice.epochs
    )
    total_steps = run.steps_per_epoch * run.config.epochs
    run.setup = _setup(
        run.config, run.context, run.model, run.setup.device, run.train.targets.numpy(), total_steps
    )


def _train_epochs(run: _Run) -> bool:
    """Phases train + evaluate, once per epoch; True when a stop ended them early."""
    try:
        for epoch in range(1, run.config.epochs + 1):
            _run_epoch(run, epoch)
    except Cancelled as stop:
        if run.step == 0:
            message = "Training was stopped before its first step; no model was kept."
            raise Cancelled(message) from stop
        return True
    return False


def _run_epoch(run: _Run, epoch: int) -> None:
    assert run.train is not None and run.val is not None
    started = time.perf_counter()
    frozen = _is_frozen(run.config, epoch)
    run.model.set_backbone_trainable(not frozen)
    run.setup.train_size = epoch_image_size(run.config, epoch, run.setup.speed)
    if frozen and run.train.features is not None and run.train.features.dim() == 3:
        views = run.train.features.shape[0]
        run.train.view_choice = sample_views(len(run.train), views, run.setup.generator)
    stats = run_epoch(
        run.model, run.train, run.setup, frozen=frozen, on_step=lambda *a: _on_step(run, epoch, *a)
    )
    if not run.context.is_main:
        return  # only the main process holds the validation images
    evaluation = evaluate(run.model, run.val, run.setup, list(run.data.label_names), frozen=frozen)
    event = EpochEnded(
        epoch=epoch,
        epochs=run.config.epochs,
        train_loss=stats.loss,
        val_loss=evaluation.loss,
        metrics=evaluation.metrics,
        per_label=evaluation.per_label,
        is_best=_keep_if_best(run, evaluation, epoch),
        seconds=time.perf_counter() - started,
        backbone_frozen=frozen,
    )
    run.history.append(event)
    run.emit(event)


def _on_step(run: _Run, epoch: int, loss: float, _size: int, rate: float) -> None:
    run.step += 1
    total = run.steps_per_epoch * run.config.epochs
    lr = run.setup.optimizer.param_groups[0]["lr"]
    elapsed = time.perf_counter() - run.started
    run.emit(StepEnded(epoch, run.step, total, loss, lr, rate, elapsed))


def _keep_if_best(run: _Run, evaluation: Evaluation, epoch: int) -> bool:
    score = (evaluation.metrics["map"], -evaluation.loss)
    if run.best is not None and score <= run.best["score"]:
        return False
    state = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}
    run.best = {"score": score, "epoch": epoch, "state": state, "evaluation": evaluation}
    return True


def _finish(run: _Run, stopped: bool) -> TrainResult:
    """Phase finish: the best model, thresholds tuned on validation, its metadata."""
    assert run.val is not None
    if run.best is None:  # stopped before the first evaluation: judge the model as is
        frozen = _is_frozen(run.config, 1)
        labels = list(run.data.label_names)
        _keep_if_best(run, evaluate(run.model, run.val, run.setup, labels, frozen=frozen), 0)
    best = run.best
    assert best is not None
    run.model.load_state_dict(best["state"])
    run.model.eval()
    evaluation: Evaluation = best["evaluation"]
    targets = run.val.targets.numpy()
    thresholds = tune_thresholds(evaluation.probs, targets)
    metrics, per_label = compute_metrics(
        evaluation.probs, targets, run.data.label_names, thresholds
    )
    metrics["loss"] = evaluation.loss
    meta = _meta(run, thresholds, {**metrics, "best_epoch": best["epoch"]}, per_label)
    seconds = time.perf_counter() - run.started
    run.emit(
        TrainingFinished(best["epoch"], len(run.history), stopped, metrics, per_label, seconds)
    )
    # The layout a loaded model file has, so the model in memory and its saved file give
    # bit-identical outputs (training may have run channels-last).
    model = run.model.cpu().to(memory_format=torch.contiguous_format)
    return TrainResult(model, meta, run.history, stopped)


def _meta(run: _Run, thresholds: np.ndarray, metrics: dict, per_label: tuple) -> ModelMeta:
    previous = lineage_of(run.parent.meta) if run.parent is not None else []
    stage = {
        "epochs": len(run.history),
        "best_epoch": metrics["best_epoch"],
        "strategy": run.config.strategy,
        "init_from": run.parent.origin if run.parent is not None else None,
    }
    return ModelMeta(
        backbone=run.config.backbone,
        image_size=run.config.image_size,
        label_names=list(run.data.label_names),
        thresholds=[float(t) for t in thresholds],
        mean=list(run.setup.mean),
        std=list(run.setup.std),
        metrics=metrics,
        per_label=[asdict(p) for p in per_label],
        config=run.context.run_config(run.config.to_dict()),
        lineage=[*previous, stage],
    )


# ---------------------------------------------------------------------- small helpers
def _started_event(run: _Run) -> TrainingStarted:
    previous = lineage_of(run.parent.meta) if run.parent is not None else []
    return TrainingStarted(
        config=run.context.run_config(run.config.to_dict()),
        label_names=tuple(run.data.label_names),
        n_train=len(run.data.train),
        n_val=len(run.data.val),
        device=run.setup.device,
        device_name=run.device_name,
        steps_per_epoch=run.steps_per_epoch,
        total_steps=run.steps_per_epoch * run.config.epochs,
        previous_epochs=sum(int(s.get("epochs") or 0) for s in previous),
    )


def _uses_embeddings(config: TrainConfig) -> bool:
    """Frozen at the start and no image augmentation: the head trains on cached features."""
    return _is_frozen(config, 1) and not config.use_augmentation


def _is_frozen(config: TrainConfig, epoch: int) -> bool:
    first = config.first_unfrozen_epoch
    return first is None or epoch < first


def _pos_weight_of(run: _Run) -> torch.Tensor | None:
    assert run.train is not None
    return pos_weight(run.config, run.train.targets.numpy(), run.setup.device)
