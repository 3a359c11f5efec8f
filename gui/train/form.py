"""The hyperparameter form of the Train page, mapped to and from core.base.config.TrainConfig."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.base.config import TrainConfig
from core.model.backbones import get_backbone_info, list_backbones
from core.model.catalog import explain
from core.training.recipes import Recommendation
from gui.theme import set_muted
from gui.widgets.cards import hbox

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
HEADS = {"linear": "Linear", "mlp": "MLP (one hidden layer)"}
LOSSES = {"bce": "Binary cross-entropy", "asl": "Asymmetric loss (ASL)"}


class TrainFormWidget(QWidget):
    device_refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = TrainConfig()  # fields the form does not show travel through unchanged
        self._recommendation: Recommendation | None = None
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        # The default window shows every setting and the result card without scrolling:
        # the options a recipe sets are folded under "More options".
        form.setVerticalSpacing(7)
        form.setHorizontalSpacing(12)
        self._build_model_choice()
        self._build_numbers()
        self.balance = QCheckBox("Weight rare labels more")
        self.balance.setToolTip("Give labels with few positive images a larger weight in the loss")
        self._build_device()
        self._build_accuracy_options()
        self._build_recommendation()
        form.addRow(hbox(self.recommended, self.use_recommended, stretch_last=True))  # one line
        form.addRow("Backbone", self.backbone)
        form.addRow("", self.backbone_note)
        form.addRow("", self.downloads_button)
        form.addRow("Strategy", self.strategy)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Image size", self.image_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Device", self.device)
        form.addRow(self._build_advanced())

    def _build_model_choice(self) -> None:
        """The backbone and which of its layers train."""
        self.backbone = QComboBox()
        for info in list_backbones():
            ready = "ready offline" if info.offline else "needs download"
            self.backbone.addItem(f"{info.title} · {ready}", info.name)
            self.backbone.setItemData(
                self.backbone.count() - 1,
                f"{info.name}: {explain(info)}",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.backbone.setToolTip(
            "The pretrained network to fine-tune. 'needs download' ones fetch their weights "
            "from the Hugging Face hub the first time (progress and Cancel below; a cancelled "
            "download resumes)."
        )
        self.backbone_note = QLabel("")
        self.backbone_note.setWordWrap(True)
        set_muted(self.backbone_note)
        self.backbone.currentIndexChanged.connect(self._on_backbone_current_index_changed)
        self._on_backbone_current_index_changed()
        self.downloads_button = QPushButton("Downloaded models…")
        self.downloads_button.setToolTip("See and remove the backbone weights downloaded so far")
        self.downloads_button.clicked.connect(self._on_downloads_button_clicked)
        self.strategy = QComboBox()
        for key, (title, tip) in STRATEGIES.items():
            self.strategy.addItem(title, key)
            self.strategy.setItemData(self.strategy.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip("Which layers are trained")

    def _on_backbone_current_index_changed(self, _index: int = 0) -> None:
        name = self.backbone.currentData()
        if name:
            self.backbone_note.setText(explain(get_backbone_info(name)))

    def _on_downloads_button_clicked(self) -> None:
        from gui.train.downloads import DownloadedModelsDialog

        DownloadedModelsDialog(self).open()

    def _build_numbers(self) -> None:
        """Epochs, batch size, image size and learning rate."""
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

    def _build_device(self) -> None:
        """Where to train; the Automatic entry names the device it would pick."""
        self.device = QComboBox()
        for key, title in DEVICES.items():
            self.device.addItem(title, key)
        self.device.setItemText(0, f"{DEVICES['auto']} (detecting…)")
        self.device.setToolTip("Where to train; Automatic picks a GPU when there is one")
        # A long GPU name is elided rather than widening the settings column.
        self.device.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device.setMinimumContentsLength(12)

    def _build_recommendation(self) -> None:
        """The device's recipe, in one sentence, and a button to use it."""
        self.recommended = QLabel("")
        self.recommended.setWordWrap(True)
        self.recommended.setToolTip("The recipe measured best for this kind of device")
        set_muted(self.recommended)
        self.use_recommended = QPushButton("Use recommended")
        self.use_recommended.setToolTip("Set the recipe's values (every one stays editable)")
        self.use_recommended.setEnabled(False)
        self.use_recommended.clicked.connect(self.apply_recommendation)

    def _build_advanced(self) -> QWidget:
        """The options a recipe sets, folded away; experts can change them."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("More options: rare labels, head, loss, TTA…")
        self.advanced_toggle.setToolTip("Show the accuracy options the recipe chose")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced = QWidget()
        rows = QFormLayout(self.advanced)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setVerticalSpacing(9)
        rows.setHorizontalSpacing(12)
        rows.addRow("", self.balance)
        rows.addRow("Head", self.head)
        rows.addRow("Loss", self.loss)
        rows.addRow("Feature views", self.feature_views)
        rows.addRow("", self.multi_stage)
        rows.addRow("", self.auto_tune)
        rows.addRow("", self.tta)
        self.advanced.hide()
        self.advanced_toggle.toggled.connect(self._on_advanced_toggled)
        column.addWidget(self.advanced_toggle)
        column.addWidget(self.advanced)
        return box

    def _on_advanced_toggled(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.advanced_toggle.setArrowType(arrow)
        if shown:  # once the layout has grown: scroll the opened options into view
            QTimer.singleShot(0, self, self._reveal_advanced)

    def _reveal_advanced(self) -> None:
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if parent is not None:
            parent.ensureWidgetVisible(self.advanced, 0, 0)

    def _build_accuracy_options(self) -> None:
        self.head = QComboBox()
        for key, title in HEADS.items():
            self.head.addItem(title, key)
        self.head.setToolTip("The classifier on top of the backbone's features")
        self.loss = QComboBox()
        for key, title in LOSSES.items():
            self.loss.addItem(title, key)
        self.loss.setToolTip(
            "ASL down-weights easy negatives: helps when each image has few of many labels"
        )
        self.feature_views = self._spin(
            0,
            16,
            1,
            "Frozen backbone: embed this many augmented copies of each training image once; "
            "every epoch trains on one of them (augmentation at little cost)",
        )
        self.multi_stage = QCheckBox("Two-stage features")
        self.multi_stage.setToolTip(
            "Also pool an earlier stage of the backbone (more detail for small objects)"
        )
        self.auto_tune = QCheckBox("Auto-tune")
        self.auto_tune.setToolTip(
            "Frozen backbone: try learning rates, weight decays and epoch counts on the cached "
            "embeddings first (seconds), then train with the best"
        )
        self.tta = QCheckBox("Test-time augmentation (flip)")
        self.tta.setToolTip(
            "Average each image's prediction with its mirror image's; stored in the model, "
            "so prediction and serving do the same"
        )
        self.strategy.currentIndexChanged.connect(self._on_strategy_changed)

    def _on_strategy_changed(self) -> None:
        frozen = self.strategy.currentData() == "freeze"
        self.auto_tune.setEnabled(frozen)
        if not frozen:
            self.auto_tune.setChecked(False)

    def set_recommendation(self, recommendation: Recommendation) -> None:
        """Show which recipe suits this device and why; `apply_recommendation` uses it."""
        self._recommendation = recommendation
        # One line (the rest in its tooltip), so the settings and the result card fit the
        # default window without scrolling.
        headline, _, detail = recommendation.reason.partition(":")
        self.recommended.setText(headline if detail else recommendation.reason)
        self.recommended.setToolTip(recommendation.reason)
        self.use_recommended.setEnabled(True)

    def apply_recommendation(self) -> None:
        if self._recommendation is not None:
            chosen = self._recommendation.config
            self.set_config(
                replace(chosen, backbone=self.backbone.currentData() or chosen.backbone)
            )

    @staticmethod
    def _spin(low: int, high: int, step: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setToolTip(tip)
        return spin

    def set_detected_device(self, name: str) -> None:
        """Name the device Automatic uses (full name in the tooltip: the box may elide it)."""
        self.device.setItemText(0, f"{DEVICES['auto']}: {name}")
        self.device.setItemData(0, f"Automatic uses {name}", Qt.ItemDataRole.ToolTipRole)

    def detected_device(self) -> str:
        """The Automatic entry's text: "Automatic: <device>"."""
        return self.device.itemText(0)

    def set_config(self, config: TrainConfig) -> None:
        self._base = config
        self._select(self.backbone, config.backbone)
        self._select(self.strategy, config.strategy)
        self._select(self.device, config.device)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.image_size.setValue(config.image_size)
        self.lr.setValue(config.lr)
        self.balance.setChecked(config.balance)
        self._select(self.head, config.head)
        self._select(self.loss, config.loss)
        self.feature_views.setValue(config.feature_views)
        self.multi_stage.setChecked(config.multi_stage)
        self.tta.setChecked(config.tta)
        self._on_strategy_changed()
        self.auto_tune.setChecked(config.auto_tune and self.auto_tune.isEnabled())

    def config(self) -> TrainConfig:
        return replace(
            self._base,
            backbone=self.backbone.currentData(),
            strategy=self.strategy.currentData(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            image_size=self.image_size.value(),
            lr=self.lr.value(),
            balance=self.balance.isChecked(),
            device=self.device.currentData(),
            head=self.head.currentData(),
            loss=self.loss.currentData(),
            feature_views=self.feature_views.value(),
            multi_stage=self.multi_stage.isChecked(),
            auto_tune=self.auto_tune.isChecked(),
            tta=self.tta.isChecked(),
        )

    @staticmethod
    def _select(combo: QComboBox, key: str) -> None:
        index = combo.findData(key)
        if index >= 0:
            combo.setCurrentIndex(index)


def epochs_suffix(count: int) -> str:
    """A spin box's unit: "1 epoch", "3 epochs"."""
    return " epoch" if count == 1 else " epochs"
