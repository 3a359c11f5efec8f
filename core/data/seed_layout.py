"""The seed's label file: `<split>/metadata.csv` with Id, the genres as text, and one 0/1
column per label. Written by the sample generators and by the corrected-data-set export."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

Row = tuple[str, Sequence[str]]  # an image's Id (its file's stem) and its labels


def write_metadata(path: Path, rows: Sequence[Row], label_names: Sequence[str]) -> None:
    """Write `rows` as a seed-layout metadata.csv (labels not in `label_names` are ignored)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Genre", *label_names])
        for ident, labels in rows:
            writer.writerow([ident, str(list(labels)), *(int(n in labels) for n in label_names)])
