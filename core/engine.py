"""The training engine: `fit` runs a whole training, reporting events and honouring a stop flag.

Shape (after timm / torchvision's reference scripts): images are decoded once into a uint8
tensor; each epoch is `train_one_epoch` then `evaluate`; a frozen backbone without
augmentation has its embeddings computed once so later epochs only train the head.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from core.backbones import IMAGENET_MEAN, IMAGENET_STD
from core.checkpoint import ModelMeta
from core.config import TrainConfig
from core.continuing import StartingModel, head_in_data_order, lineage_of, starting_model
from core.datasets import Dataset
from core.device import resolve_device
from core.errors import Cancelled, DataError
from core.events import (
    EpochEnded,
    Event,
    PreparingData,
    StepEnded,
    TrainingFinished,
    TrainingStarted,
)
from core.feature_views import gather_views, sample_views, view_augment
from core.image_cache import cached_embeddings, embedding_family, load_split_images
from core.losses import make_criterion
from core.metrics import compute_metrics, tune_thresholds
from core.model import MultiLabelClassifier, create_model, head_options
from core.runtime import training_running, training_threads
from core.transforms import augment, normalize

EventSink = Callable[[Event], None]
StopFlag = Callable[[], bool]
TRAIN, VAL = 0, 1  # indices into the per-split lists (images, targets, features)
VAL_FLIPPED = 2  # key of the flipped validation embeddings (test-time augmentation)


@dataclass
class TrainResult:
    model: MultiLabelClassifier
    meta: ModelMeta
    history: list[EpochEnded]
    stopped_early: bool


class Stopped(Exception):
    """Raised inside the loop when the stop flag is seen."""


def fit(
    config: TrainConfig,
    data: Dataset,
    on_event: EventSink | None = None,
    should_stop: StopFlag | None = None,
    *,
    start_from: TrainResult | None = None,
    start_from_path: str | None = None,
) -> TrainResult:
    """Train a classifier on `data`; report progress through `on_event`.

    The model starts from ImageNet (or random, or `config.weights_file`) backbone weights
    and a new head, unless it continues a trained model: `start_from` (in memory; its
    model is copied, not changed; `start_from_path` names where it is saved, if anywhere)
    or `config.init_from` (a model file). Such a model needs the data's labels (a
    DataError names the difference) and the config's backbone (ConfigError); the result's
    `meta.lineage` lists every stage with its epochs.

    Stopping (via `should_stop`) ends the run after the current step and still returns the
    best model so far; stopping before the first training step (decoding, embedding)
    raises `Cancelled`, as there is no trained model yet. Problems the user can fix raise
    `MarqueeError` subclasses; events only report progress, never failure.
    """
    emit = on_event or (lambda event: None)
    threads = config.num_threads or default_training_threads()
    with training_running(), torch_threads(threads):
        parent = starting_model(config, start_from, start_from_path)
        return _Trainer(config, data, emit, should_stop or (lambda: False), parent).run()


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
    return fit(config, data, on_event, should_stop, start_from=result, start_from_path=source)


def default_training_threads() -> int:
    """Every usable core but one, which stays free for the UI (fewer when others compete)."""
    return training_threads(keep_ui_core=True)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use `count` intra-op threads inside the block; restore the caller's setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Trainer:
    def __init__(
        self,
        config: TrainConfig,
        data: Dataset,
        emit: EventSink,
        stop: StopFlag,
        parent: StartingModel | None = None,
    ):
        config.validate()
        if len(data.train) == 0 or len(data.val) == 0:
            raise DataError("Training needs at least one training and one validation image.")
        self.config, self.data, self.emit, self.stop = config, data, emit, stop
        self.parent = parent
        torch.manual_seed(config.seed)
        self.device, self.device_name = resolve_device(config.device)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model = self._initial_model().to(self.device)
        if self.device == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.amp_dtype = _amp_dtype(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.images: list[torch.Tensor] = []  # decoded uint8 images per split, once prepared
        self.features: dict[int, torch.Tensor] = {}  # split -> embeddings of a frozen backbone
        self.view_choice: torch.Tensor | None = None  # per training image: this epoch's view
        self.step = 0

    # ----------------------------------------------------------------- set-up
    def _initial_model(self) -> MultiLabelClassifier:
        labels = list(self.data.label_names)
        if self.parent is None:
            return create_model(
                self.config.backbone,
                len(labels),
                pretrained=self.config.pretrained,
                weights_file=self.config.weights_file,
                **head_options(self.config.to_dict()),
            )
        where = self.parent.origin["path"] or "The model to train on"
        state = head_in_data_order(self.parent.state, self.parent.meta.label_names, labels, where)
        model = create_model(  # the parent's head: its weights must fit
            self.config.backbone,
            len(labels),
            pretrained=False,
            **head_options(self.parent.meta.config),
        )
        model.load_state_dict(state)
        return model

    def _previous_lineage(self) -> list[dict]:
        return lineage_of(self.parent.meta) if self.parent is not None else []

    def _prepare(self) -> None:
        size = self.config.image_size

        def progress(done: int, total: int) -> None:
            self.emit(PreparingData("decode", done, total))

        splits = (self.data.train, self.data.val)
        self.images = [  # memory-mapped from the image cache; Cancelled when stopped
            load_split_images(s.paths, size, progress=progress, should_stop=self.stop)
            for s in splits
        ]
        self.targets = [torch.from_numpy(np.asarray(s.labels, dtype=np.float32)) for s in splits]
        self.steps_per_epoch = math.ceil(len(self.data.train) / self.config.batch_size)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        self.criterion = make_criterion(self.config, self._pos_weight())
        self.optimizer, self.scheduler = _make_optimizer(self.model, self.config, self.total_steps)

    def _pos_weight(self) -> torch.Tensor | None:
        if not self.config.balance:
            return None
        labels = self.targets[TRAIN]
        positives = labels.sum(0).clamp(min=1)
        return ((len(labels) - positives) / positives).clamp(max=100).to(self.device)

    # ----------------------------------------------------------------- the run
    def run(self) -> TrainResult:
        self.started = time.perf_counter()
        self.history: list[EpochEnded] = []
        self.best: dict | None = None
        stopped = False
        try:
            self._prepare()
            if self.config.auto_tune:
                self._auto_tune()
            self.emit(self._started_event())
            for epoch in range(1, self.config.epochs + 1):
                self._run_epoch(epoch)
        except Stopped:
            stopped = True
        if self.step == 0:
            raise Cancelled("Training was stopped before its first step; no model was kept.")
        if self.best is None:  # stopped before the first evaluation: judge the model as is
            self._keep_if_best(self._evaluate(self._is_frozen(1)), epoch=0)
        return self._finish(stopped, time.perf_counter() - self.started)

    def _started_event(self) -> TrainingStarted:
        return TrainingStarted(
            config=self.config.to_dict(),
            label_names=tuple(self.data.label_names),
            n_train=len(self.data.train),
            n_val=len(self.data.val),
            device=self.device,
            device_name=self.device_name,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
            previous_epochs=sum(int(s.get("epochs") or 0) for s in self._previous_lineage()),
        )

    def _is_frozen(self, epoch: int) -> bool:
        first = self.config.first_unfrozen_epoch
        return first is None or epoch < first

    def _run_epoch(self, epoch: int) -> None:
        t0 = time.perf_counter()
        frozen = self._is_frozen(epoch)
        self.model.set_backbone_trainable(not frozen)
        if frozen and not self.config.use_augmentation and TRAIN not in self.features:
            self._compute_features()
        if frozen and TRAIN in self.features and self.features[TRAIN].dim() == 3:
            self.view_choice = sample_views(
                len(self.data.train), self.features[TRAIN].shape[0], self.generator
            )
        train_loss = self._train_one_epoch(epoch, frozen)
        evaluation = self._evaluate(frozen)
        is_best = self._keep_if_best(evaluation, epoch)
        event = EpochEnded(
            epoch=epoch,
            epochs=self.config.epochs,
            train_loss=train_loss,
            val_loss=evaluation["loss"],
            metrics=evaluation["metrics"],
            per_label=evaluation["per_label"],
            is_best=is_best,
            seconds=time.perf_counter() - t0,
            backbone_frozen=frozen,
        )
        self.history.append(event)
        self.emit(event)

    def _batches(self, n: int, shuffle: bool) -> Iterator[torch.Tensor]:
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        yield from order.split(self.config.batch_size)

    def _inputs(self, split: int, idx: torch.Tensor, train: bool) -> torch.Tensor:
        """A normalised (and, when training with augmentation, augmented) image batch."""
        batch = self.images[split][idx].to(self.device, non_blocking=True)
        x = normalize(batch, IMAGENET_MEAN, IMAGENET_STD)
        if train and self.config.use_augmentation:
            x = augment(x, self.generator)
        if self.device == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _forward(
        self, split: int, idx: torch.Tensor, frozen: bool, train: bool, flip: bool = False
    ) -> torch.Tensor:
        key = VAL_FLIPPED if flip else split
        if frozen and key in self.features:
            return self.model.head(self._cached(key, idx).to(self.device))
        x = self._inputs(split, idx, train)
        if flip:
            x = x.flip(-1)
        with torch.autocast(self.device, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            if frozen:
                with torch.no_grad():
                    feats = self.model.embed(x)
                return self.model.head(feats.float())
            return self.model(x).float()

    def _cached(self, key: int, idx: torch.Tensor) -> torch.Tensor:
        """Cached embeddings; training views (views, n, dims) give each image its chosen view."""
        feats = self.features[key]
        if feats.dim() == 3:
            assert self.view_choice is not None
            return gather_views(feats, self.view_choice, idx)
        return feats[idx]

    def _train_one_epoch(self, epoch: int, frozen: bool) -> float:
        self.model.train()
        if frozen:
            self.model.backbone.eval()  # keep BatchNorm statistics of a frozen backbone
        total, count = 0.0, 0
        rate = 0.0
        for idx in self._batches(len(self.data.train), shuffle=True):
            if self.stop():
                raise Stopped
            t0 = time.perf_counter()
            loss = self.criterion(
                self._forward(TRAIN, idx, frozen, train=True),
                self.targets[TRAIN][idx].to(self.device),
            )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            value = loss.item()
            total, count, self.step = total + value * len(idx), count + len(idx), self.step + 1
            instant = len(idx) / max(time.perf_counter() - t0, 1e-9)
            rate = instant if rate == 0 else 0.8 * rate + 0.2 * instant
            self.emit(self._step_event(epoch, value, rate))
        return total / max(count, 1)

    def _step_event(self, epoch: int, loss: float, rate: float) -> StepEnded:
        return StepEnded(
            epoch=epoch,
            step=self.step,
            total_steps=self.total_steps,
            loss=loss,
            lr=self.optimizer.param_groups[0]["lr"],
            images_per_s=rate,
            elapsed_s=time.perf_counter() - self.started,
        )

    @torch.inference_mode()
    def _evaluate(self, frozen: bool) -> dict:
        """Validation loss, probabilities and metrics (threshold 0.5), in eval + inference mode."""
        self.model.eval()
        logits = [
            self._forward(VAL, idx, frozen, train=False)
            for idx in self._batches(len(self.data.val), False)
        ]
        all_logits = torch.cat(logits).float()
        loss = self.criterion(all_logits, self.targets[VAL].to(all_logits.device)).item()
        probs = torch.sigmoid(all_logits).cpu().numpy()
        if self.config.tta:  # the flip average, exactly as Predictor does it
            flipped = [
                self._forward(VAL, idx, frozen, train=False, flip=True)
                for idx in self._batches(len(self.data.val), False)
            ]
            probs = (probs + torch.sigmoid(torch.cat(flipped).float()).cpu().numpy()) / 2
        metrics, per_label = compute_metrics(
            probs, self.targets[VAL].numpy(), self.data.label_names
        )
        return {"loss": loss, "probs": probs, "metrics": metrics, "per_label": per_label}

    @torch.inference_mode()
    def _compute_features(self) -> None:
        """Embed every image once with the frozen backbone; the head then trains on these.

        The plain embeddings go through the image cache (the next run reads them back).
        With `feature_views` K, training images are also embedded in K augmented views;
        with `tta` the validation images are embedded flipped too.
        """
        self.model.eval()
        family = embedding_family(
            self.model.backbone,
            self.config.image_size,
            IMAGENET_MEAN,
            IMAGENET_STD,
            self.device,
            str(self.amp_dtype),
            "multi-stage" if self.config.multi_stage else "pooled",
        )
        extra = [(TRAIN, view, False) for view in range(1, 1 + self.config.feature_views)]
        if self.config.tta:
            extra.append((VAL, 0, True))
        total = sum(len(self.images[split]) for split in (TRAIN, VAL))
        total += sum(len(self.images[split]) for split, _, _ in extra)
        done = 0

        def progress(count: int, _total: int, before: int = 0) -> None:
            self.emit(PreparingData("embed", before + count, total))

        for split in (TRAIN, VAL):
            self.features[split] = cached_embeddings(
                self.images[split],
                family,
                lambda idx, s=split: self._embed_batch(s, idx, 0, flip=False),
                self.config.batch_size,
                progress=lambda count, t, before=done: progress(count, t, before),
            ).to(self.device)
            done += len(self.images[split])
        views = [self.features[TRAIN]]
        for split, view, flip in extra:
            chunks = []
            for idx in self._batches(len(self.images[split]), shuffle=False):
                chunks.append(self._embed_batch(split, idx, view, flip).to(self.device))
                done += len(idx)
                self.emit(PreparingData("embed", done, total))
            if flip:
                self.features[VAL_FLIPPED] = torch.cat(chunks)
            else:
                views.append(torch.cat(chunks))
        if len(views) > 1:
            self.features[TRAIN] = torch.stack(views)

    def _embed_batch(self, split: int, idx: torch.Tensor, view: int, flip: bool) -> torch.Tensor:
        if self.stop():
            raise Stopped
        x = self._inputs(split, idx, train=False)
        if view > 0:
            x = view_augment(x, IMAGENET_MEAN, IMAGENET_STD, self.generator)
        if flip:
            x = x.flip(-1)
        with torch.autocast(self.device, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            return self.model.embed(x).float()

    def _auto_tune(self) -> None:
        """Sweep the head's lr / weight decay / epochs on the cached embeddings, then train
        with the winner (it is recorded in the model file's config)."""
        from core.autotune import tune_head

        self._compute_features()
        choice = tune_head(
            self.features[TRAIN],
            self.targets[TRAIN],
            lambda: _fresh_head(self.model),
            lambda: make_criterion(self.config, self._pos_weight()),
            self.config,
            on_progress=lambda done, total: self.emit(PreparingData("tune", done, total)),
            should_stop=self.stop,
        )
        self.config = replace(
            self.config, lr=choice.lr, weight_decay=choice.weight_decay, epochs=choice.epochs
        )
        self.steps_per_epoch = math.ceil(len(self.data.train) / self.config.batch_size)
        self.total_steps = self.steps_per_epoch * self.config.epochs
        self.optimizer, self.scheduler = _make_optimizer(self.model, self.config, self.total_steps)

    def _keep_if_best(self, evaluation: dict, epoch: int) -> bool:
        score = (evaluation["metrics"]["map"], -evaluation["loss"])
        if self.best is not None and score <= self.best["score"]:
            return False
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        self.best = {"score": score, "epoch": epoch, "state": state, **evaluation}
        return True

    # ----------------------------------------------------------------- wrap-up
    def _finish(self, stopped: bool, seconds: float) -> TrainResult:
        best = self.best
        assert best is not None
        self.model.load_state_dict(best["state"])
        self.model.eval()
        targets = self.targets[VAL].numpy()
        thresholds = tune_thresholds(best["probs"], targets)
        metrics, per_label = compute_metrics(
            best["probs"], targets, self.data.label_names, thresholds
        )
        metrics["loss"] = best["loss"]
        meta = ModelMeta(
            backbone=self.config.backbone,
            image_size=self.config.image_size,
            label_names=list(self.data.label_names),
            thresholds=[float(t) for t in thresholds],
            mean=list(IMAGENET_MEAN),
            std=list(IMAGENET_STD),
            metrics={**metrics, "best_epoch": best["epoch"]},
            per_label=[asdict(p) for p in per_label],
            config=self.config.to_dict(),
            lineage=[*self._previous_lineage(), self._stage(best["epoch"])],
        )
        self.emit(
            TrainingFinished(
                best_epoch=best["epoch"],
                epochs_run=len(self.history),
                stopped_early=stopped,
                metrics=metrics,
                per_label=per_label,
                seconds=seconds,
            )
        )
        return TrainResult(self.model.cpu(), meta, self.history, stopped)

    def _stage(self, best_epoch: int) -> dict:
        return {
            "epochs": len(self.history),
            "best_epoch": best_epoch,
            "strategy": self.config.strategy,
            "init_from": self.parent.origin if self.parent is not None else None,
        }


def _fresh_head(model: MultiLabelClassifier) -> nn.Module:
    """An untrained copy of the model's head (for the tuner's trials)."""
    head = copy.deepcopy(model.head)
    for layer in head.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return head


def _amp_dtype(device: str) -> torch.dtype | None:
    if device != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _make_optimizer(
    model: MultiLabelClassifier, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW with the head at `lr` and the backbone at `lr * backbone_lr_factor`."""
    backbone_lr = config.lr * config.backbone_lr_factor
    groups = [
        {"params": list(model.head.parameters()), "lr": config.lr},
        {"params": list(model.backbone.parameters()), "lr": backbone_lr},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    if config.schedule == "onecycle":
        total = max(total_steps, 1)
        # OneCycleLR divides by pct_start * total - 1 (a ZeroDivisionError at 4 steps).
        pct_start = 0.25 if abs(0.25 * total - 1) > 1e-6 else 0.3
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[config.lr, backbone_lr], total_steps=total, pct_start=pct_start
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return optimizer, scheduler
