"""The training loss read at a log interval, not every step.

Reading a loss (`.item()`) makes the host wait for the GPU, so a step that reads it cannot
overlap the next one. As timm's reference loop does, the losses stay on the device and are
read every `every` steps and at the epoch's last step: one mean over the steps since the
last report, with the throughput over the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

# Steps done in this epoch, the mean loss and the images per second since the last report.
StepCallback = Callable[[int, float, float], None]


class StepLog:
    """Collects the per-step losses of one epoch and reports them to `on_step` at the
    interval; `epoch_loss` is the epoch's mean loss (one read, at its end)."""

    def __init__(self, every: int, steps: int, on_step: StepCallback | None) -> None:
        self.every, self.steps, self.on_step = max(1, every), steps, on_step
        self.done = 0
        self._weighted: torch.Tensor | None = None  # sum of loss x images, on the device
        self._images = 0
        self._pending: list[torch.Tensor] = []
        self._pending_images = 0
        self._since = time.perf_counter()

    def add(self, loss: torch.Tensor, images: int) -> None:
        """One optimiser step's loss (a device tensor; not read here unless it reports)."""
        loss = loss.detach()
        self.done += 1
        weighted = loss * images
        self._weighted = weighted if self._weighted is None else self._weighted + weighted
        self._images += images
        if self.on_step is None:
            return
        self._pending.append(loss)
        self._pending_images += images
        if self.done % self.every == 0 or self.done == self.steps:
            self._report()

    def epoch_loss(self) -> float:
        """The mean training loss per image over the epoch's steps (0 with none)."""
        if self._weighted is None:
            return 0.0
        return float(self._weighted.item()) / max(self._images, 1)

    def _report(self) -> None:
        assert self.on_step is not None
        mean = float(torch.stack(self._pending).float().mean().item())  # the one sync
        now = time.perf_counter()
        rate = self._pending_images / max(now - self._since, 1e-9)
        self.on_step(self.done, mean, rate)
        self._pending, self._pending_images, self._since = [], 0, now
