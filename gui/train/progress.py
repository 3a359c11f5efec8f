"""The Train page's live progress: what is being prepared, steps, speed and time left."""

from __future__ import annotations

from core.model.downloads import DownloadProgress
from core.training.events import (
    PreparingData,
    TrainingStarted,
)


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainProgressView:
    """The Train page's live progress: what is being prepared, steps, speed and time left."""

    def _on_download(self, event: DownloadProgress) -> None:
        """Pretrained weights arriving: MB on the bar, rate and time left, Cancel."""
        self.stop_button.setText("Cancel download")
        total_mb = max(1, round((event.total_bytes or 0) / 1e6))
        self.progress.setRange(0, total_mb)
        self.progress.setValue(min(total_mb, round(event.done_bytes / 1e6)))
        self.progress.setFormat("Downloading %v / %m MB")
        self.progress_detail.setText(f"{event.line()}  ·  a cancelled download resumes next time")

    def _on_preparing(self, event: PreparingData) -> None:
        self.stop_button.setText("Stop")
        if event.stage == "decode":
            what = "Decoding images into the image cache"
        elif event.stage == "tune":
            what = "Auto-tuning the head on the cached embeddings"
        else:  # a frozen backbone: embedded once, later epochs only train the head
            what = "Computing backbone embeddings (once; later epochs reuse them)"
        self.progress_detail.setText(f"{what}: {event.done} / {event.total}")
        if self._started is None:  # before the step count is known the bar shows this phase
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress.setFormat("Preparing %v / %m")

    def _on_training_started(self, event: TrainingStarted) -> None:
        self._started = event
        if self._continuing:
            self.plots.continue_run(event.previous_epochs, event.steps_per_epoch)
        else:
            self.plots.reset(event.steps_per_epoch)
        self.progress.setRange(0, max(1, event.total_steps))
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.form.set_detected_device(event.device_name)

    def _on_timer_timeout(self) -> None:
        self.plots.refresh()
        step, started = self._last_step, self._started
        if step is None or started is None:
            return
        self.progress.setValue(step.step)
        epochs = started.config.get("epochs", "?")
        eta = step.elapsed_s / step.step * (step.total_steps - step.step) if step.step else 0
        stopping = self.tasks.stop_requested()
        self.progress_detail.setText(
            f"Epoch {step.epoch}/{epochs}  ·  step {step.step}/{step.total_steps}  ·  "
            f"{step.images_per_s:.0f} images/s  ·  ETA {format_eta(eta)}"
            + ("  ·  stopping…" if stopping else "")
        )
