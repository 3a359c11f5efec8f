"""Editing a user's CSV in place, cell by cell: every byte not edited stays as it was.

A label file is the user's: their spreadsheet wrote its line endings (CRLF), a byte-order
mark, its quoting and encoding, and they chose its mode and owner. `CsvText` keeps the raw
text with the span of every record and field, so an edit replaces exactly the bytes of
the cells (or records) it changes; `save` keeps the BOM, the encoding, the mode and, where
the OS allows, the owner.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.base.errors import DataError, shorten
from core.base.files import replacing

Span = tuple[int, int]


@dataclass
class CsvRecord:
    """One record: its span in the text (terminator included) and its fields' spans."""

    span: Span
    fields: list[Span]
    values: list[str]


@dataclass
class CsvText:
    """A CSV file's text with record and field spans, and the edits made so far."""

    path: Path
    text: str
    bom: bytes
    encoding: str
    delimiter: str
    records: list[CsvRecord]
    _edits: dict[Span, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, delimiter: str) -> CsvText:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(f"Cannot read {shorten(str(path), 200)}: {exc.strerror}.") from exc
        bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
        body = raw[len(bom) :]
        try:
            text, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:  # latin-1 maps every byte to itself: nothing is lost
            text, encoding = body.decode("latin-1"), "latin-1"
        return cls(path, text, bom, encoding, delimiter, _records(text, delimiter))

    def set_cell(self, record: CsvRecord, column: int, value: str) -> None:
        """Replace one field's bytes; the value is quoted as the old one was, or where it
        must be."""
        start, end = record.fields[column]
        quoted = self.text[start:end].startswith('"') or any(
            ch in value for ch in (self.delimiter, '"', "\n", "\r")
        )
        self._edits[(start, end)] = '"' + value.replace('"', '""') + '"' if quoted else value

    def remove(self, record: CsvRecord) -> None:
        self._edits[record.span] = ""

    @property
    def edited(self) -> bool:
        return bool(self._edits)

    def new_text(self) -> str:
        parts, at = [], 0
        for (start, end), replacement in sorted(self._edits.items()):
            if start < at:
                continue  # a field inside a record that is removed
            parts += [self.text[at:start], replacement]
            at = end
        return "".join([*parts, self.text[at:]])

    def save(self, what: str = "the label file") -> None:
        """Write the edited text over the file atomically, with its BOM, encoding, mode
        and owner."""
        data = self.bom + self.new_text().encode(self.encoding)
        stat = self.path.stat()
        with replacing(self.path, what) as tmp:
            tmp.write_bytes(data)
            os.chmod(tmp, stat.st_mode & 0o7777)
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(tmp, stat.st_uid, stat.st_gid)


def _records(text: str, delimiter: str) -> list[CsvRecord]:
    """Every record of `text` with its span and its fields' spans (quotes respected)."""
    records, start, field_start, quoted = [], 0, 0, False
    fields: list[Span] = []
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted  # a doubled quote inside a quoted field toggles twice
        elif quoted:
            continue
        elif ch == delimiter:
            fields.append((field_start, i))
            field_start = i + 1
        elif ch == "\n":
            end = i - 1 if i > start and text[i - 1] == "\r" else i
            records.append(_record(text, (start, i + 1), [*fields, (field_start, end)]))
            start, field_start, fields = i + 1, i + 1, []
    if start < len(text):
        end = len(text) - 1 if text.endswith("\r") else len(text)
        records.append(_record(text, (start, len(text)), [*fields, (field_start, end)]))
    return records


def _record(text: str, span: Span, fields: list[Span]) -> CsvRecord:
    values = [_unquote(text[a:b]) for a, b in fields]
    return CsvRecord(span, fields, values)


def _unquote(raw: str) -> str:
    if raw.startswith('"'):
        return next(csv.reader(io.StringIO(raw, newline="")), [""])[0]
    return raw
