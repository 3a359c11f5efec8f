"""Label tables in CSV files: 0/1 columns ("onehot") or one column of labels ("delimited").

Row numbers in problems count like a spreadsheet: the header is row 1, the first data
row is row 2 (blank lines are kept by the reader so numbers match what the user sees).
"""

from __future__ import annotations

import ast
import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.errors import shorten
from core.base.limits import MAX_LABELS, json_depth
from core.data.types import DataError, ValidationReport

# File-name columns win over plain ids: in "id,filename,labels" the file name is the image.
ID_COLUMNS = (
    "image", "imagefilename", "filename", "file_name", "image_path", "path", "file",
    "image_name", "img", "id", "image_id", "imageid", "name",
)  # fmt: skip
LABEL_COLUMNS = (
    "labels", "label", "tags", "tag", "genres", "genre", "classes", "class",
    "categories", "category", "annotations",
)  # fmt: skip
DELIMITERS = ("|", ";", ",")
ROW_NOTE = "rows count as in a spreadsheet: the header is row 1"
_MAX_LIST_CHARS = 10_000  # longer cells are not parsed as list literals
MAX_HEADER_CHARS = 1_000_000  # 1,000 labels of 200 characters need a fifth of this
MAX_COLUMNS = MAX_LABELS + 20  # the labels plus an id and a few other columns
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", re.DOTALL)

if TYPE_CHECKING:
    import pandas as pd


def _pandas():
    """pandas, imported on first use: it costs ~0.5 s, too much for the GUI's start-up."""
    import pandas

    return pandas


@dataclass
class CsvRow:
    row: int  # spreadsheet row number (header = 1)
    ident: str
    labels: list[str]


@dataclass
class CsvLabels:
    """The usable rows of one CSV and how its labels were read."""

    columns: list[str]
    id_column: str
    mode: str  # "onehot" | "delimited"
    label_column: str | None
    delimiter: str | None
    label_names: list[str]
    rows: list[CsvRow]


def read_table(path: Path, rel: str) -> pd.DataFrame:
    """The whole CSV as stripped strings; DataError when it cannot be parsed."""
    pd = _pandas()
    separator = sniff_separator(path)
    _check_header(path, rel, separator)  # before pandas reads what could be a huge body
    try:
        frame = pd.read_csv(
            path,
            sep=separator,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{rel} is empty: it needs a header row and one row per image.") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(
            f"{rel} is not a well-formed CSV file ({detail}). "
            "Look for unbalanced quotes or rows with more fields than the header."
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{rel} is not UTF-8 text; save it as CSV UTF-8.") from exc
    except OSError as exc:
        raise DataError(f"Cannot read {rel}: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("").apply(lambda col: col.str.strip())


def _check_header(path: Path, rel: str, separator: str) -> None:
    """Refuse, in milliseconds, a header no label table has: too long or too many columns."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = handle.readline(MAX_HEADER_CHARS + 1)
    except OSError:
        return  # read_table reports it
    if len(header) > MAX_HEADER_CHARS:
        raise DataError(
            f"The header row of {rel} is over {MAX_HEADER_CHARS:,} characters long; it "
            f"cannot be a table of at most {MAX_LABELS:,} labels. Check the file."
        )
    columns = next(csv.reader([header], delimiter=separator), [])
    if len(columns) > MAX_COLUMNS:
        raise DataError(
            f"{rel} has {len(columns):,} columns; Marquee handles at most {MAX_LABELS:,} "
            "labels. Keep the image column and the label columns you need."
        )
    _refuse_repeated_columns(columns, rel)


def _refuse_repeated_columns(columns: list[str], rel: str) -> None:
    """A column named twice would become a label 'Action.1' (pandas renames repeats)."""
    names = [name.strip() for name in columns if name.strip()]
    repeated = list(dict.fromkeys(name for name in names if names.count(name) > 1))
    if repeated:
        shown = shorten(", ".join(repeated), 200)
        raise DataError(
            f"{rel} names the column(s) {shown} more than once; every column needs its own "
            "name. Remove or rename the repeats."
        )


def sniff_separator(path: Path) -> str:
    """The separator of a label file: a tab for .tsv, else the first of , tab ; in its header."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline(MAX_HEADER_CHARS)
    except OSError:
        return ","
    return next((sep for sep in (",", "\t", ";") if sep in header), ",")


def parse_labels(
    path: Path,
    rel: str,
    report: ValidationReport,
    *,
    label_column: str | None = None,
    delimiter: str | None = None,
    prefer_onehot: bool = False,
) -> CsvLabels:
    """Read a CSV's ids and labels; bad rows become errors in ``report`` and are left out."""
    frame = read_table(path, rel)
    id_column = find_id_column(frame, rel)
    if label_column is not None:
        _check_label_column(frame, label_column, id_column, rel)
        table = _delimited_table(frame, id_column, label_column, delimiter, rel, report)
    else:
        table = _auto_table(frame, id_column, delimiter, prefer_onehot, rel, report)
    table.rows = drop_duplicates(table.rows, rel, report)
    return table


def _auto_table(
    frame: pd.DataFrame,
    id_column: str,
    delimiter: str | None,
    prefer_onehot: bool,
    rel: str,
    report: ValidationReport,
) -> CsvLabels:
    onehot = onehot_columns(frame, id_column)
    text_column = _named_label_column(frame, id_column)
    # A lone 0/1 column next to a 'labels' column is more likely a flag than a label.
    if onehot and (prefer_onehot or len(onehot) >= 2 or text_column is None):
        rows = _onehot_rows(frame, id_column, onehot, rel, report)
        return CsvLabels(list(frame.columns), id_column, "onehot", None, None, onehot, rows)
    if text_column is not None:
        return _delimited_table(frame, id_column, text_column, delimiter, rel, report)
    if not len(frame):  # its columns may well be labels: no row says they are not
        raise DataError(f"{rel} has a header but no rows: add one row per image.")
    raise DataError(
        f"{rel} has no label columns. {_columns_note(frame)} Expected one 0/1 column "
        "per label, or one column of labels such as 'labels' or 'tags' (choose it as "
        "the label column)."
    )


def _check_label_column(frame: pd.DataFrame, column: str, id_column: str, rel: str) -> None:
    if column not in frame.columns:
        raise DataError(f"{rel} has no column '{column}'. {_columns_note(frame)}")
    if column == id_column:
        raise DataError(f"'{column}' in {rel} names the images; choose another label column.")


def find_id_column(frame: pd.DataFrame, rel: str) -> str:
    by_lower = {c.lower(): c for c in reversed(frame.columns)}
    for name in ID_COLUMNS:
        if name in by_lower:
            return by_lower[name]
    raise DataError(
        f"{rel} has no image column. {_columns_note(frame)} Name the column of image "
        "file names 'Id' (or 'image', 'filename', 'path')."
    )


def onehot_columns(frame: pd.DataFrame, id_column: str) -> list[str]:
    """Columns whose non-empty values are mostly 0/1; stray values are reported per row."""
    found = []
    for column in frame.columns:
        values = frame[column]
        values = values[values != ""]
        if column == id_column or values.empty:
            continue
        binary = _pandas().to_numeric(values, errors="coerce").isin([0, 1])
        if binary.sum() * 2 > len(values):
            found.append(column)
    return found


def _named_label_column(frame: pd.DataFrame, id_column: str) -> str | None:
    names = set(LABEL_COLUMNS)
    return next((c for c in frame.columns if c != id_column and c.lower() in names), None)


def _columns_note(frame: pd.DataFrame) -> str:
    return "Its columns: " + (", ".join(repr(c) for c in frame.columns) or "none") + "."


def _onehot_rows(
    frame: pd.DataFrame, id_column: str, columns: list[str], rel: str, report: ValidationReport
) -> list[CsvRow]:
    numbers = frame[columns].apply(_pandas().to_numeric, errors="coerce").to_numpy()
    raw = frame[columns].to_numpy()
    blank = _blank_rows(frame)
    rows = []
    for i, ident in enumerate(frame[id_column]):
        row = i + 2
        if blank[i] or not _has_id(ident, id_column, rel, row, report):
            continue
        bad = [j for j, value in enumerate(numbers[i]) if value not in (0.0, 1.0)]
        if bad:
            shown = repr(raw[i, bad[0]]) if raw[i, bad[0]] else "nothing (empty cell)"
            report.add(
                "error",
                f"{rel} row {row}",
                f"column '{columns[bad[0]]}' has {shown}; labels must be 0 or 1 ({ROW_NOTE}). "
                "Fix the value; the row is skipped until then.",
            )
            continue
        rows.append(CsvRow(row, ident, [columns[j] for j in range(len(columns)) if numbers[i, j]]))
    return rows


def _blank_rows(frame: pd.DataFrame) -> list[bool]:
    return (frame == "").all(axis=1).tolist()


def _has_id(ident: str, id_column: str, rel: str, row: int, report: ValidationReport) -> bool:
    if ident:
        return True
    report.add(
        "error",
        f"{rel} row {row}",
        f"column '{id_column}' is empty ({ROW_NOTE}); name the image file. The row is skipped.",
    )
    return False


def _delimited_table(
    frame: pd.DataFrame,
    id_column: str,
    column: str,
    delimiter: str | None,
    rel: str,
    report: ValidationReport,
) -> CsvLabels:
    cells = list(frame[column])
    if delimiter is None:
        delimiter = detect_delimiter(cells)
    blank = _blank_rows(frame)
    rows = []
    for i, (ident, cell) in enumerate(zip(frame[id_column], cells, strict=True)):
        row = i + 2
        if blank[i] or not _has_id(ident, id_column, rel, row, report):
            continue
        try:
            rows.append(CsvRow(row, ident, split_labels(cell, delimiter)))
        except ValueError as exc:
            report.add(
                "error",
                f"{rel} row {row}",
                f"column '{column}' cannot be read as labels ({exc}; {ROW_NOTE}). "
                'Write labels like Action|Drama or ["Action", "Drama"]; the row is skipped.',
            )
    names = sorted({label for r in rows for label in r.labels})
    return CsvLabels(list(frame.columns), id_column, "delimited", column, delimiter, names, rows)


def detect_delimiter(cells: list[str]) -> str | None:
    """The separator used in most cells; a space only when no other one appears."""
    plain = [c for c in cells if c and not _is_list_literal(c)]
    counts = {d: sum(d in c for c in plain) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best]:
        return best
    return " " if any(" " in c for c in plain) else None


def split_labels(cell: str, delimiter: str | None) -> list[str]:
    """Label names in one cell; ValueError when a list literal is malformed."""
    cell = cell.strip()
    if not cell:
        return []
    if _is_list_literal(cell):
        parts = _parse_list_literal(cell)
    elif delimiter is None:
        parts = [cell]
    elif not delimiter.strip():
        parts = cell.split()
    else:
        parts = cell.split(delimiter)
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _is_list_literal(cell: str) -> bool:
    return cell.startswith("[") and cell.endswith("]")


def _parse_list_literal(cell: str) -> list[str]:
    if len(cell) > _MAX_LIST_CHARS:
        raise ValueError("the list is too long")
    if json_depth(_QUOTED.sub("", cell)) > 1:
        raise ValueError("it holds lists inside the list")
    try:
        value = json.loads(cell)
    except ValueError:
        try:
            value = ast.literal_eval(cell)  # Python lists such as ['Drama', 'Romance']
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            # [Drama, Romance] without quotes: read the inside as comma-separated names
            return [p.strip().strip("'\"") for p in cell[1:-1].split(",")]
    if not isinstance(value, list | tuple):
        raise ValueError("not a list")
    if not all(isinstance(v, str | int | float) for v in value):
        raise ValueError("the list must hold label names only")
    return [str(v) for v in value]


def drop_duplicates(
    rows: list[CsvRow], rel: str, report: ValidationReport, unit: str = "row"
) -> list[CsvRow]:
    """Keep the first row of each image; warn about the others."""
    first_row: dict[str, int] = {}
    kept = []
    for row in rows:
        if row.ident in first_row:
            report.add(
                "warning",
                f"{rel} {unit} {row.row}",
                f"image '{row.ident}' is listed again (first in {unit} {first_row[row.ident]}); "
                f"this {unit} is ignored. Merge or remove the duplicate.",
            )
            continue
        first_row[row.ident] = row.row
        kept.append(row)
    return kept
