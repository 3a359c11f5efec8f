"""Write back edits only the bytes of the cells a fix changes: the user's line endings,
byte-order mark, quoting, encoding and mode stay, and a file with no fix is left alone."""

from __future__ import annotations

import codecs
import difflib
import os
import stat
from pathlib import Path

from PIL import Image

from core.data.corrected import write_back
from core.data.csv_edit import CsvText
from core.data.fixes import Decision, FixLog

ROWS = [("a", "Action,Romance"), ("b", "Crime"), ("c", "Action,Crime"), ("d", "Romance")]


def _spreadsheet_csv(folder: Path) -> Path:
    """What a spreadsheet saves: a BOM, CRLF, every text cell quoted, mode 0644."""
    folder.mkdir(parents=True)
    for ident, _labels in ROWS:
        Image.new("RGB", (16, 16), (len(ident) * 40, 90, 120)).save(folder / f"{ident}.jpg")
    lines = ['"Id","Genre"'] + [f'"{ident}","{labels}"' for ident, labels in ROWS]
    path = folder / "labels.csv"
    path.write_bytes(codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    os.chmod(path, 0o644)
    return path


def _changed_ranges(old: bytes, new: bytes) -> list[tuple[bytes, bytes]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return [(old[a:b], new[c:d]) for op, a, b, c, d in matcher.get_opcodes() if op != "equal"]


def test_one_fix_changes_one_byte_range_and_keeps_the_file_as_it_was(tmp_path: Path) -> None:
    path = _spreadsheet_csv(tmp_path / "posters")
    original = path.read_bytes()
    log = FixLog.for_dataset(path)
    log.record(Decision("set_label", "b.jpg", label="Action", value=1))
    (written,) = write_back(path, log)
    new = path.read_bytes()
    assert written.backup.read_bytes() == original and written.changed == 1
    assert _changed_ranges(original, new) == [(b"", b"Action,")]
    assert new.startswith(codecs.BOM_UTF8) and new.count(b"\r\n") == len(ROWS) + 1
    assert b'"b","Action,Crime"\r\n' in new
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_dropped_row_goes_whole_and_nothing_else_moves(tmp_path: Path) -> None:
    path = _spreadsheet_csv(tmp_path / "posters")
    original = path.read_bytes()
    log = FixLog.for_dataset(path)
    log.record(Decision("drop", "c.jpg", reason="duplicate"))
    write_back(path, log)
    assert path.read_bytes() == original.replace(b'"c","Action,Crime"\r\n', b"")


def test_a_split_without_fixes_is_neither_rewritten_nor_backed_up(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 6, 3)
    val = root / "val" / "metadata.csv"
    before = (val.read_bytes(), val.stat().st_mtime_ns, val.stat().st_ino)
    first = (root / "train" / "metadata.csv").read_text().splitlines()[1].split(",")[0]
    log = FixLog.for_dataset(root)
    log.record(Decision("set_label", f"train/{first}.jpg", label="Crime", value=1))
    written = write_back(root, log)
    assert [w.file.parent.name for w in written] == ["train"]
    assert (val.read_bytes(), val.stat().st_mtime_ns, val.stat().st_ino) == before
    assert not list(val.parent.glob("*.bak"))


def test_cells_keep_their_quoting_and_other_encodings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    raw = 'Id;Genre;Note\n"x";Crime;"caf\xe9; ""best"""\ny;Drama;\n'.encode("latin-1")
    path.write_bytes(raw)
    text = CsvText.read(path, ";")
    assert [r.values for r in text.records][1] == ["x", "Crime", 'caf\xe9; "best"']
    text.set_cell(text.records[1], 1, "Crime|Drama")
    text.set_cell(text.records[2], 0, "a;b")  # must be quoted now: it holds the separator
    text.save()
    expected = 'Id;Genre;Note\n"x";Crime|Drama;"caf\xe9; ""best"""\n"a;b";Drama;\n'
    assert path.read_bytes() == expected.encode("latin-1")
