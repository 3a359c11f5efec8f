"""The "Downloaded models" dialog: which backbones' weights are in the hub cache, how big,
and a Remove button. Listing and removing run in a worker (they import timm, touch disk)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.errors import show_error
from gui.tasks import TaskSlot
from gui.theme import set_muted
from gui.workers import TaskState, WorkerSet


def _list(_state: TaskState) -> list[tuple[str, str, int]]:
    from core.model.catalog import catalog

    return [(e.info.name, e.weights, e.downloaded_bytes) for e in catalog() if e.downloaded_bytes]


class DownloadedModelsDialog(QDialog):
    """Lists downloaded backbone weights (finished or partial) and removes the selected one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Downloaded models")
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Backbone", "State", "Size"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("Looking in the download cache…")
        set_muted(self.status)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected backbone's downloaded weights")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(520, 300)
        self.refresh()

    def refresh(self) -> None:
        self.tasks.start(
            _list, "downloaded-models", on_done=self._on_list_done, on_failed=self._on_task_failed
        )

    def selected_backbone(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.text() if item is not None else None

    def _on_list_done(self, rows: list[tuple[str, str, int]]) -> None:
        self.table.setRowCount(len(rows))
        for r, (name, state, nbytes) in enumerate(rows):
            for c, text in enumerate((name, state, f"{nbytes / 1e6:.1f} MB")):
                self.table.setItem(r, c, QTableWidgetItem(text))
        total = sum(row[2] for row in rows) / 1e6
        self.status.setText(
            f"{len(rows)} backbones, {total:.1f} MB" if rows else "Nothing is downloaded."
        )
        self._update_buttons()

    def _on_remove_clicked(self) -> None:
        name = self.selected_backbone()
        if name is None:
            return

        def remove(_state: TaskState) -> int:
            from core.model.downloaded import remove_downloaded

            return remove_downloaded(name)

        self.remove_button.setEnabled(False)
        self.tasks.start(
            remove, "remove-model", on_done=self._on_removed, on_failed=self._on_task_failed
        )

    def _on_removed(self, freed: int) -> None:
        self.status.setText(f"Removed {freed / 1e6:.1f} MB.")
        self.refresh()

    def _on_task_failed(self, message: str, details: str) -> None:
        show_error(self, message, details)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_backbone() is not None)

    def done(self, result: int) -> None:
        self.tasks.cancel()
        self.workers.release()  # closing never waits for a download to notice
        super().done(result)
