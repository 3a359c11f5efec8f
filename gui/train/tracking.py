"""Experiment tracking settings: the TensorBoard folder and MLflow address the app's
trainings are also sent to (core.runs.trackers), kept in the preferences."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.settings import Preferences
from gui.theme import set_muted
from gui.widgets.cards import hbox
from gui.workers import Tracking

MLFLOW_ENV = "MLFLOW_TRACKING_URI"


def tracking_in(prefs: Preferences) -> Tracking | None:
    """Where trainings are also logged: the preferences' folder and URI (an empty URI
    means MLFLOW_TRACKING_URI when that is set); None when neither is set."""
    board, uri = prefs.tracking()
    uri = uri or os.environ.get(MLFLOW_ENV, "").strip()
    if not board and not uri:
        return None
    return Tracking(tensorboard_dir=board or None, mlflow_uri=uri or None)


def _mlflow_placeholder() -> str:
    from_env = os.environ.get(MLFLOW_ENV, "").strip()
    if from_env:
        return f"Empty: {from_env} (from {MLFLOW_ENV})"
    return "Empty: not used"


INTRO = (
    "Marquee keeps every training on its Runs page. If your team follows its experiments "
    "in TensorBoard or MLflow, each training can be sent there too: its settings, its "
    "scores after every epoch and, for MLflow, the finished model. Leave a field empty "
    "to skip it."
)
ADD_ON = (
    'Each needs an add-on: <code>pip install "marquee[tensorboard]"</code> or '
    '<code>pip install "marquee[mlflow]"</code>. If one is missing, or the MLflow '
    "server does not answer, the training does not start and says why."
)


def _muted_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    set_muted(label)
    return label


class TrackingDialog(QDialog):
    """Two fields, each empty for off; saved to the preferences on OK. Checking that the
    extra is installed and the server answers happens when a training starts."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.setWindowTitle("Send trainings to TensorBoard or MLflow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        board, uri = prefs.tracking()
        self.tensorboard_edit = QLineEdit(board)
        self.tensorboard_edit.setPlaceholderText("Empty: not used")
        self.tensorboard_edit.setToolTip("Each training writes its logs to a subfolder here")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.mlflow_edit = QLineEdit(uri)
        self.mlflow_edit.setPlaceholderText(_mlflow_placeholder())
        self.mlflow_edit.setToolTip(
            "Where MLflow keeps the runs: a server's address (http://127.0.0.1:5000) "
            "or a local database file (sqlite:///mlflow.db)"
        )
        form = QFormLayout()
        form.addRow(
            "TensorBoard log folder:",
            hbox(self.tensorboard_edit, self.browse_button, stretch_last=True),
        )
        form.addRow("", _muted_label("See them with: tensorboard --logdir FOLDER"))
        form.addRow("MLflow server address:", self.mlflow_edit)
        form.addRow(
            "", _muted_label("Such as http://127.0.0.1:5000, or sqlite:///mlflow.db for a file")
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        add_on = _muted_label(ADD_ON)
        add_on.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(add_on)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "TensorBoard folder", self.tensorboard_edit.text()
        )
        if folder:
            self.tensorboard_edit.setText(folder)

    def accept(self) -> None:
        self.prefs.set_tracking(self.tensorboard_edit.text(), self.mlflow_edit.text())
        self.prefs.sync()
        super().accept()
