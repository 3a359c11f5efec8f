"""The Train page's live progress: what is being prepared, steps, speed and time left."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QProgressBar, QWidget

from core.base.errors import BackboneUnavailable
from core.model.backbones import get_backbone_info
from core.model.downloads import DownloadProgress
from core.training.events import PreparingData, StepEnded, TrainingStarted
from gui.theme import set_muted
from gui.widgets.cards import CardWidget

if TYPE_CHECKING:
    from core.runs.record import RunRecord

STALL_S = 3.0  # a download this long without bytes shows as waiting, not at its last rate


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainProgressCard(CardWidget):
    """A progress bar over all steps and a line of detail; `started` is the current run's
    TrainingStarted once it came (None before)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.started: TrainingStarted | None = None
        self._last_step: StepEnded | None = None
        self._download: tuple[DownloadProgress, float] | None = None  # and when it came
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("Not started")
        self.bar.setToolTip("Training progress over all steps")
        self.detail = QLabel("Load a data set, choose settings, then press Start.")
        self.detail.setWordWrap(True)  # a long line (a download) takes two, never cut off
        set_muted(self.detail)
        self.body.addWidget(self.bar)
        self.body.addWidget(self.detail)

    def begin(self) -> None:
        """A run starts: nothing is known yet."""
        self.started, self._last_step, self._download = None, None, None
        self.bar.setRange(0, 0)
        self.bar.setFormat("Preparing…")
        self.detail.setText("Building the model…")

    def show_download(self, event: DownloadProgress) -> None:
        """Pretrained weights arriving: MB on the bar; what, rate and time left below."""
        total_mb = max(1, round((event.total_bytes or 0) / 1e6))
        self.bar.setRange(0, total_mb)
        self.bar.setValue(min(total_mb, round(event.done_bytes / 1e6)))
        self.bar.setFormat("Downloading %v / %m MB")
        self.detail.setText(download_text(event))
        self._download = (event, time.monotonic())

    def show_preparing(self, event: PreparingData) -> None:
        self._download = None
        if event.stage == "decode":
            what = "Decoding images into the image cache"
        elif event.stage == "tune":
            what = "Auto-tuning the head on the cached embeddings"
        else:  # a frozen backbone: embedded once, later epochs only train the head
            what = "Computing backbone embeddings (once; later epochs reuse them)"
        self.detail.setText(f"{what}: {event.done} / {event.total}")
        if self.started is None:  # before the step count is known the bar shows this phase
            self.bar.setRange(0, max(1, event.total))
            self.bar.setValue(event.done)
            self.bar.setFormat("Preparing %v / %m")

    def show_started(self, event: TrainingStarted) -> None:
        self.started = event
        self.bar.setRange(0, max(1, event.total_steps))
        self.bar.setValue(0)
        self.bar.setFormat("%p%")

    def record_step(self, event: StepEnded) -> None:
        """Remember the latest step; `refresh` shows it (at most a few times a second)."""
        self._last_step = event

    def refresh(self, stopping: bool) -> None:
        if self._download is not None:  # no bytes for a while: say so, not a stale rate
            event, at = self._download
            quiet = time.monotonic() - at
            if quiet >= STALL_S and not stopping:
                self.detail.setText(download_text(event, quiet))
            return
        step, started = self._last_step, self.started
        if step is None or started is None:
            return
        self.bar.setValue(step.step)
        epoch, epochs = _epoch_of(started, step)
        eta = step.elapsed_s / step.step * (step.total_steps - step.step) if step.step else 0
        self.detail.setText(
            f"Epoch {epoch}/{epochs}  ·  step {step.step}/{step.total_steps}  ·  "
            f"{step.images_per_s:.0f} images/s  ·  ETA {format_eta(eta)}"
            + ("  ·  stopping…" if stopping else "")
        )

    def show_stopping(self) -> None:
        self.detail.setText("Stopping after the current step…")

    def show_finished(self, text: str, complete: bool) -> None:
        """The run ended: a full bar with `text` when a model came out, else an empty one;
        the detail line says where it ended (no time left to show any more)."""
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if complete else 0)
        self.bar.setFormat(text)
        step, started = self._last_step, self.started
        if step is None or started is None:
            self.detail.setText(f"{text} before the first training step.")
            return
        epoch, epochs = _epoch_of(started, step)
        self.detail.setText(
            f"{text} in epoch {epoch}/{epochs} at step {step.step}/{step.total_steps}, "
            f"after {format_eta(step.elapsed_s)}."
        )

    def show_saved_run(self, record: RunRecord) -> None:
        """After a restart: the run drawn below is a saved one, not "not started"."""
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if record.status == "finished" else 0)
        self.bar.setFormat(f"Last run: {record.status}")
        when = record.ended or record.started
        self.detail.setText(
            f"Saved run {record.id}, ended {when[:16].replace('T', ' ')} UTC. Start trains "
            "a new model; Train more continues this one."
        )


def _epoch_of(started: TrainingStarted, step: StepEnded) -> tuple[int, int | str]:
    """The step's epoch and the last epoch, counted from the first run (as the plots and
    "Best epoch" count them after Train more)."""
    previous, epochs = started.previous_epochs, started.config.get("epochs")
    return previous + step.epoch, previous + epochs if isinstance(epochs, int) else "?"


def download_text(event: DownloadProgress, quiet_s: float = 0.0) -> str:
    """The detail line under a download's bar, in words a user reads at a glance;
    `quiet_s`: seconds since the last bytes came (from STALL_S on, said instead of a rate)."""
    try:
        name = get_backbone_info(event.backbone).title
    except BackboneUnavailable:
        name = event.backbone
    done = f"{event.done_bytes / 1e6:.1f}"
    size = f"{done} of {event.total_bytes / 1e6:.1f} MB" if event.total_bytes else f"{done} MB"
    left = f", about {_duration(event.eta_s)} left" if event.eta_s is not None else ""
    speed = f"at {event.bytes_per_s / 1e6:.1f} MB/s{left}"
    if quiet_s >= STALL_S:
        speed = f"waiting for the server (nothing for {_duration(quiet_s)})"
    return (
        f"Downloading the {name} weights (only once): {size} {speed}. "
        "A cancelled download resumes next time."
    )


def _duration(seconds: float) -> str:
    """ "40 s", "1 min 46 s", "2 h 05 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def outcome_text(metrics: dict, stopped: bool, previous_epochs: int = 0) -> str:
    """The result card's lines for a run that produced a model. `best_epoch` 0 means no
    epoch was evaluated before a stop: the model is kept as it was when stopped."""
    best, score, f1 = (metrics.get(k) for k in ("best_epoch", "map", "f1_macro"))
    scores = f"validation mAP {score or 0:.3f}, F1 {f1 or 0:.3f} (tuned thresholds)."
    if not isinstance(best, int) or best < 1:
        return f"Stopped before the first epoch ended; kept the model as it was.\n{scores}"
    how = "Stopped early; kept the best model so far." if stopped else "Done."
    return f"{how}\nBest epoch {best + previous_epochs}: {scores}"
