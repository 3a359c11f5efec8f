"""Experiment tracking settings: the TensorBoard folder and MLflow URI the app's trainings
also log to (core.runs.trackers), kept in the preferences."""

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
        return f"{MLFLOW_ENV} is used: {from_env}"
    return f"Off; {MLFLOW_ENV} is used when set"


class TrackingDialog(QDialog):
    """Two fields, each empty for off; saved to the preferences on OK. Checking that the
    extra is installed and the server answers happens when a training starts."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.setWindowTitle("Experiment tracking")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        board, uri = prefs.tracking()
        self.tensorboard_edit = QLineEdit(board)
        self.tensorboard_edit.setPlaceholderText("Off")
        self.tensorboard_edit.setToolTip("Each training writes its event files to a subfolder")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.mlflow_edit = QLineEdit(uri)
        self.mlflow_edit.setPlaceholderText(_mlflow_placeholder())
        self.mlflow_edit.setToolTip(
            "An MLflow server (http://127.0.0.1:5000) or store (sqlite:///mlflow.db)"
        )
        note = QLabel(
            "Every training in the app is also logged here. They need the optional extras: "
            "pip install marquee[tensorboard] or marquee[mlflow]."
        )
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow(
            "TensorBoard folder:",
            hbox(self.tensorboard_edit, self.browse_button, stretch_last=True),
        )
        form.addRow("MLflow tracking URI:", self.mlflow_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

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
