"""The hyperparameter form of the Train page, mapped to and from core.config.TrainConfig."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from core.backbones import list_backbones
from core.config import TrainConfig
from gui.theme import set_muted

STRATEGIES = {
    "freeze": ("Frozen backbone", "Train only the classifier head: fastest, good on a CPU"),
    "freeze_unfreeze": (
        "Freeze, then unfreeze",
        "Head first, then fine-tune the whole network at a lower rate",
    ),
    "no_freeze": (
        "Fine-tune everything",
        "Train all layers from the start: slowest, best on a GPU",
    ),
}
DEVICES = {"auto": "Automatic", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (MPS)"}


class TrainFormWidget(QWidget):
    device_refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(9)
        form.setHorizontalSpacing(12)
        self.backbone = QComboBox()
        for info in list_backbones():
            ready = "ready offline" if info.offline else "needs download"
            self.backbone.addItem(f"{info.title} · {ready}", info.name)
            self.backbone.setItemData(
                self.backbone.count() - 1, f"{info.name}: {info.notes}", Qt.ItemDataRole.ToolTipRole
            )
        self.backbone.setToolTip(
            "The pretrained network to fine-tune. 'needs download' ones fetch ImageNet weights "
            "from the internet the first time."
        )
        self.strategy = QComboBox()
        for key, (title, tip) in STRATEGIES.items():
            self.strategy.addItem(title, key)
            self.strategy.setItemData(self.strategy.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip("Which layers are trained")
        self.epochs = self._spin(1, 500, 1, "Passes over the training images")
        self.batch_size = self._spin(1, 1024, 8, "Images per optimisation step")
        self.image_size = self._spin(32, 1024, 32, "Images are resized to this square size")
        self.image_size.setSuffix(" px")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 1.0)
        self.lr.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr.setToolTip(
            f"Learning rate of the head (an unfrozen backbone trains at "
            f"{TrainConfig().backbone_lr_factor:g} times it)"
        )
        self.balance = QCheckBox("Weight rare labels more")
        self.balance.setToolTip("Give labels with few positive images a larger weight in the loss")
        self.device = QComboBox()
        for key, title in DEVICES.items():
            self.device.addItem(title, key)
        self.device.setToolTip("Where to train; Automatic picks a GPU when there is one")
        self.detected = QLabel("Detecting…")
        self.detected.setToolTip("The device Automatic would use")
        self.detected.setWordWrap(True)
        set_muted(self.detected)
        form.addRow("Backbone", self.backbone)
        form.addRow("Strategy", self.strategy)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Image size", self.image_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("", self.balance)
        form.addRow("Device", self.device)
        form.addRow("", self.detected)

    @staticmethod
    def _spin(low: int, high: int, step: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setToolTip(tip)
        return spin

    def set_detected_device(self, name: str) -> None:
        self.detected.setText(f"Detected: {name}")

    def set_config(self, config: TrainConfig) -> None:
        self._select(self.backbone, config.backbone)
        self._select(self.strategy, config.strategy)
        self._select(self.device, config.device)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.image_size.setValue(config.image_size)
        self.lr.setValue(config.lr)
        self.balance.setChecked(config.balance)

    def config(self) -> TrainConfig:
        return TrainConfig(
            backbone=self.backbone.currentData(),
            strategy=self.strategy.currentData(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            image_size=self.image_size.value(),
            lr=self.lr.value(),
            balance=self.balance.isChecked(),
            device=self.device.currentData(),
        )

    @staticmethod
    def _select(combo: QComboBox, key: str) -> None:
        index = combo.findData(key)
        if index >= 0:
            combo.setCurrentIndex(index)
