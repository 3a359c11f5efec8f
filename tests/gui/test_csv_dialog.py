from __future__ import annotations

from gui.data.csv_dialog import CsvImportDialog


def test_csv_dialog_previews_a_delimited_label_column(qtbot, tmp_path):
    csv_path = tmp_path / "posters.csv"
    csv_path.write_text("Id,genres\na.jpg,Action|Crime\nb.jpg,Romance\nc.jpg,Crime\n")
    dialog = CsvImportDialog(csv_path)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20_000)
    assert dialog.delimited_radio.isChecked()
    assert dialog.column_combo.currentText() == "genres"
    assert dialog.table.rowCount() == 3
    assert dialog.table.item(0, 1).text() == "Action, Crime"
    assert dialog.options()["label_column"] == "genres"
    assert dialog.options()["delimiter"] == "|"
    assert "3 rows, 3 labels" in dialog.summary.text()
