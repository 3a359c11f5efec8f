"""Training progress on a terminal: tqdm bars per phase and one line per epoch."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from core.cli.output import bars_enabled, metrics_line, say
from core.model.downloads import DownloadProgress
from core.training.events import (
    EpochEnded,
    Event,
    PreparingData,
    StepEnded,
    TrainingStarted,
)


class TrainProgress:
    """Turns engine events into tqdm bars and one line per epoch."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.enabled = args, bars_enabled(args)
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, event: Event) -> None:
        if isinstance(event, DownloadProgress):
            self._download(event)
        elif isinstance(event, PreparingData):
            what = "auto-tune trials" if event.stage == "tune" else f"{event.stage} images"
            self._advance(what, event.total, event.done)
        elif isinstance(event, TrainingStarted):
            self.close()
            say(
                self.args,
                f"training {event.config['backbone']} ({event.config['strategy']}) on "
                f"{event.n_train} train / {event.n_val} val images, {event.device_name}",
            )
        elif isinstance(event, StepEnded):
            self._advance("train", event.total_steps, event.step)
            if self.enabled:
                self.bar.set_postfix(loss=f"{event.loss:.3f}", img_s=f"{event.images_per_s:.0f}")
        elif isinstance(event, EpochEnded):
            summary = metrics_line({**event.metrics, "loss": event.val_loss})
            line = (
                f"epoch {event.epoch}/{event.epochs}  train_loss {event.train_loss:.4f}  {summary}"
            )
            tqdm.write(line, file=sys.stderr if self.args.json else sys.stdout)

    def _download(self, event: DownloadProgress) -> None:
        """A bytes bar (tqdm shows rate and ETA); without bars, the first and last lines."""
        if not self.enabled:
            if event.done_bytes in (0, event.total_bytes) or self.stage != "download":
                say(self.args, event.line())
                self.stage = "download"
            return
        if self.stage != "download":
            self.close()
            self.stage = "download"
            self.bar = tqdm(
                total=event.total_bytes,
                initial=event.done_bytes,
                desc=f"download {event.backbone}",
                unit="B",
                unit_scale=True,
                leave=False,
            )
        self.bar.update(event.done_bytes - self.bar.n)

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
