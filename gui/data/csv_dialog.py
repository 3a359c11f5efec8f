"""Import options for a CSV: one-hot columns or one delimited label column, with a live preview."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.theme import set_muted
from gui.workers import FunctionWorker, TaskState, WorkerSet

DELIMITERS = ["|", ",", ";", "space", "tab"]
_DELIMITER_CHARS = {"space": " ", "tab": "\t"}


class CsvOptions(TypedDict):
    """How to read the CSV: keyword arguments for core.data.datasets.load_dataset."""

    label_column: str | None
    delimiter: str | None
    images_dir: str | None
    prefer_onehot: bool


# The preview before the user chooses anything: core detects the layout itself.
_DETECTED = CsvOptions(label_column=None, delimiter=None, images_dir=None, prefer_onehot=False)


class CsvImportDialog(QDialog):
    def __init__(self, csv_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {csv_path.name}")
        self.setMinimumSize(620, 520)
        self.csv_path = csv_path
        self.preview = None
        self.workers = WorkerSet()
        self._generation = 0
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self._run_preview)
        self._build()
        self.refresh(auto=True)

    def _build(self) -> None:
        browse = self._build_controls()
        form = QFormLayout()
        form.addRow("Labels are in", self._column(self.onehot_radio, self.delimited_radio))
        form.addRow("Label column", self.column_combo)
        form.addRow("Delimiter", self.delimiter_combo)
        images_row = QHBoxLayout()
        images_row.addWidget(self.images_edit, 1)
        images_row.addWidget(browse)
        form.addRow("Images folder", images_row)
        self.summary = QLabel("Reading…")
        self.summary.setWordWrap(True)
        set_muted(self.summary)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Image", "Labels"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setToolTip("The first rows as they will be read")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Load")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def _build_controls(self) -> QPushButton:
        """The label layout, column, delimiter and images folder; returns the Browse button."""
        self.onehot_radio = QRadioButton("One 0/1 column per label")
        self.onehot_radio.setToolTip("Columns such as Action, Comedy… holding 0 or 1")
        self.delimited_radio = QRadioButton("One column listing the labels")
        self.delimited_radio.setToolTip("A column such as 'genres' holding e.g. Action|Comedy")
        group = QButtonGroup(self)
        group.addButton(self.onehot_radio)
        group.addButton(self.delimited_radio)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip("The column that holds the labels")
        self.delimiter_combo = QComboBox()
        self.delimiter_combo.setEditable(True)
        self.delimiter_combo.addItems(DELIMITERS)
        self.delimiter_combo.setToolTip("The character between labels in one cell")
        self.images_edit = QLineEdit()
        self.images_edit.setPlaceholderText("Next to the CSV, or an images/ folder beside it")
        self.images_edit.setToolTip("Where the image files are, if not next to the CSV")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the images folder")
        browse.clicked.connect(self._on_browse_clicked)
        for signal in (
            self.onehot_radio.toggled,
            self.column_combo.currentIndexChanged,
            self.delimiter_combo.currentTextChanged,
        ):
            signal.connect(lambda *_: self.refresh())
        self.onehot_radio.toggled.connect(lambda *_: self._on_mode_changed())
        return browse

    @staticmethod
    def _column(*widgets: QWidget) -> QVBoxLayout:
        box = QVBoxLayout()
        for widget in widgets:
            box.addWidget(widget)
        return box

    def options(self) -> CsvOptions:
        """Keyword arguments for core.data.datasets.load_dataset."""
        delimited = self.delimited_radio.isChecked()
        column = self.column_combo.currentText() if delimited else None
        text = self.delimiter_combo.currentText()
        delimiter = _DELIMITER_CHARS.get(text, text) if delimited and text else None
        return CsvOptions(
            label_column=column or None,
            delimiter=delimiter,
            images_dir=self.images_edit.text().strip() or None,
            prefer_onehot=not delimited,
        )

    def refresh(self, auto: bool = False) -> None:
        self._auto = auto
        self._debounce.start()

    def _run_preview(self) -> None:
        self._generation += 1
        generation = self._generation
        opts = _DETECTED if self._auto else self.options()
        path = self.csv_path

        def task(_state: TaskState):
            from core.data.datasets import preview_csv

            return preview_csv(
                path,
                label_column=opts["label_column"],
                delimiter=opts["delimiter"],
                prefer_onehot=opts["prefer_onehot"],
            )

        worker = FunctionWorker(task, name="csv-preview")
        worker.succeeded.connect(lambda p: self._on_preview(generation, p, ""))
        worker.failed.connect(lambda message, _d: self._on_preview(generation, None, message))
        self.workers.start(worker)

    def _on_preview(self, generation: int, preview, error: str) -> None:
        if generation != self._generation:
            return
        self.preview = preview
        self.ok_button.setEnabled(preview is not None)
        if preview is None:
            self.summary.setText(error)
            self.table.setRowCount(0)
            return
        if self._auto:
            self._adopt_detected(preview)
        problems = f"; {len(preview.problems)} rows with problems" if preview.problems else ""
        self.summary.setText(
            f"{preview.n_rows} rows, {len(preview.label_names)} labels: "
            f"{', '.join(preview.label_names[:12])}{'…' if len(preview.label_names) > 12 else ''}"
            f"{problems}"
        )
        self.table.setRowCount(len(preview.rows))
        for r, (ident, labels) in enumerate(preview.rows):
            self.table.setItem(r, 0, QTableWidgetItem(str(ident)))
            self.table.setItem(r, 1, QTableWidgetItem(", ".join(labels) or "(none)"))

    def _adopt_detected(self, preview) -> None:
        """Show what auto-detection chose, without triggering another preview."""
        widgets = (self.onehot_radio, self.column_combo, self.delimiter_combo)
        for widget in widgets:
            widget.blockSignals(True)
        self.column_combo.clear()
        self.column_combo.addItems([c for c in preview.columns if c != preview.id_column])
        delimited = preview.mode == "delimited"
        (self.delimited_radio if delimited else self.onehot_radio).setChecked(True)
        if preview.label_column:
            self.column_combo.setCurrentText(preview.label_column)
        if preview.delimiter:
            shown = {v: k for k, v in _DELIMITER_CHARS.items()}.get(preview.delimiter)
            self.delimiter_combo.setCurrentText(shown or preview.delimiter)
        for widget in widgets:
            widget.blockSignals(False)
        self._auto = False
        self._on_mode_changed()

    def _on_mode_changed(self) -> None:
        delimited = self.delimited_radio.isChecked()
        self.column_combo.setEnabled(delimited)
        self.delimiter_combo.setEnabled(delimited)

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Images folder", str(self.csv_path.parent))
        if folder:
            self.images_edit.setText(folder)

    def done(self, result: int) -> None:
        self.workers.release()
        super().done(result)
