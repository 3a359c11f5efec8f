"""core.data.datasets: every layout, auto-detection, the validation report and the split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.datasets import (
    Cancelled,
    DataError,
    detect_format,
    load_dataset,
    preview_csv,
    split_train_val,
)

GENRES = ["Action", "Romance", "Crime"]


def make_image(path: Path, size: int = 8, noise: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[path.suffix.lower()]
    if noise:  # big scan data, so a cut lands in the pixels and the header still parses
        pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", (size, size), (200, 30, 30))
    image.save(path, fmt)
    return path


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def seed_split(folder: Path, rows: dict[str, list[int]], genres: list[str] = GENRES) -> None:
    """A seed-layout split: metadata.csv with Id, a free-text Genre column and 0/1 columns."""
    lines = ["Id,Genre," + ",".join(genres)]
    for ident, flags in rows.items():
        text = str([g for g, f in zip(genres, flags, strict=True) if f]).replace(",", ";")
        lines.append(f'{ident},"{text}",' + ",".join(map(str, flags)))
        make_image(folder / f"{ident}.jpg")
    write_text(folder / "metadata.csv", "\n".join(lines) + "\n")


def names_and_rows(images) -> dict[str, list[float]]:
    return {p.name: row.tolist() for p, row in zip(images.paths, images.labels, strict=True)}


def problems_at(dataset, severity: str) -> list[str]:
    return [f"{p.where}: {p.message}" for p in dataset.report.problems if p.severity == severity]


# --- layouts -------------------------------------------------------------------------


def test_seed_layout_reads_every_split_and_ignores_the_genre_text_column(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 1], "t2": [0, 1, 0], "t3": [1, 1, 0]})
    seed_split(tmp_path / "val", {"v1": [1, 0, 0], "v2": [0, 1, 1]})
    seed_split(tmp_path / "test", {"x1": [0, 0, 1]})

    data = load_dataset(tmp_path)

    assert detect_format(tmp_path) == "folders"
    assert data.label_names == GENRES
    assert not data.val_was_split
    assert names_and_rows(data.train) == {
        "t1.jpg": [1, 0, 1],
        "t2.jpg": [0, 1, 0],
        "t3.jpg": [1, 1, 0],
    }
    assert names_and_rows(data.val) == {"v1.jpg": [1, 0, 0], "v2.jpg": [0, 1, 1]}
    assert names_and_rows(data.test) == {"x1.jpg": [0, 0, 1]}
    assert data.train.labels.dtype == np.float32
    assert data.train.paths[0] == tmp_path / "train" / "t1.jpg"
    assert not data.report.errors


def test_seed_layout_without_val_is_split_off_train(tmp_path):
    rows = {f"m{i}": [i % 2, (i + 1) % 2, int(i % 3 == 0)] for i in range(10)}
    seed_split(tmp_path / "train", rows)

    data = load_dataset(tmp_path, val_fraction=0.3)

    assert data.val_was_split
    assert len(data.train) + len(data.val) == 10
    assert len(data.val) == 3
    assert not set(data.train.paths) & set(data.val.paths)
    assert data.test is None


def test_label_columns_must_match_across_splits(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 1], "t2": [0, 1, 0]})
    seed_split(tmp_path / "val", {"v1": [1, 0]}, genres=["Action", "Romance"])

    with pytest.raises(DataError, match=r"val/metadata\.csv.*missing: Crime"):
        load_dataset(tmp_path)


def test_image_id_with_extension_and_other_suffixes(tmp_path):
    make_image(tmp_path / "train" / "a.png")
    make_image(tmp_path / "train" / "b.webp")
    make_image(tmp_path / "train" / "c.jpeg")
    write_text(tmp_path / "train" / "metadata.csv", "Id,X,Y\na.png,1,0\nb,0,1\nc,1,1\n")
    make_image(tmp_path / "val" / "d.jpg")
    write_text(tmp_path / "val" / "metadata.csv", "Id,X,Y\nd,1,1\n")

    data = load_dataset(tmp_path)

    assert [p.name for p in data.train.paths] == ["a.png", "b.webp", "c.jpeg"]
    assert data.train.labels.tolist() == [[1, 0], [0, 1], [1, 1]]


def test_csv_onehot_with_images_subfolder(tmp_path):
    for name in ("a", "b", "c", "d"):
        make_image(tmp_path / "images" / f"{name}.jpg")
    csv = write_text(
        tmp_path / "labels.csv",
        "filename,cat,dog,year\na.jpg,1,0,1999\nb.jpg,0,1,2001\nc.jpg,1,1,2005\nd.jpg,0,0,2010\n",
    )

    data = load_dataset(csv, val_fraction=0.25)

    assert detect_format(csv) == "csv"
    assert detect_format(tmp_path) == "csv"
    assert data.label_names == ["cat", "dog"]
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.jpg": [1, 0], "b.jpg": [0, 1], "c.jpg": [1, 1], "d.jpg": [0, 0]}
    assert all(p.parent == tmp_path / "images" for p in data.train.paths)


@pytest.mark.parametrize(
    ("cells", "delimiter"),
    [
        (["Drama|Romance", "Action", "Action|Crime"], "|"),
        (['"Drama, Romance"', "Action", '"Action,Crime"'], ","),
        (["Drama;Romance", "Action", "Action; Crime"], ";"),
        (["Drama Romance", "Action", "Action Crime"], " "),
        (['"[""Drama"", ""Romance""]"', '"[""Action""]"', '"[""Action"", ""Crime""]"'], None),
        (["\"['Drama', 'Romance']\"", "['Action']", "\"['Action', 'Crime']\""], None),
    ],
    ids=["pipe", "comma", "semicolon", "space", "json-list", "python-list"],
)
def test_csv_delimited_labels(tmp_path, cells, delimiter):
    lines = ["image,tags"] + [f"{n}.jpg,{c}" for n, c in zip("abc", cells, strict=True)]
    csv = write_text(tmp_path / "data.csv", "\n".join(lines) + "\n")
    for name in "abc":
        make_image(tmp_path / f"{name}.jpg")

    preview = preview_csv(csv)
    data = load_dataset(csv, val_fraction=0.34, seed=3)

    assert preview.mode == "delimited"
    assert preview.label_column == "tags"
    assert preview.delimiter == delimiter
    assert preview.rows == [
        ("a.jpg", ["Drama", "Romance"]),
        ("b.jpg", ["Action"]),
        ("c.jpg", ["Action", "Crime"]),
    ]
    assert data.label_names == ["Action", "Crime", "Drama", "Romance"]
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.jpg": [0, 0, 1, 1], "b.jpg": [1, 0, 0, 0], "c.jpg": [1, 1, 0, 0]}


def test_label_column_delimiter_and_images_dir_overrides(tmp_path):
    pictures = tmp_path / "elsewhere"
    for name in "ab":
        make_image(pictures / f"{name}.png")
    csv = write_text(tmp_path / "meta.csv", "id,label,kind\na,x-y,Sci Fi/Drama\nb,x,Drama\n")

    preview = preview_csv(csv, label_column="kind", delimiter="/")
    data = load_dataset(csv, label_column="kind", delimiter="/", images_dir=pictures, seed=1)

    assert preview.label_names == ["Drama", "Sci Fi"]
    assert data.label_names == ["Drama", "Sci Fi"]
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.png": [1, 1], "b.png": [1, 0]}


def test_prefer_onehot_reads_a_lone_01_column_beside_a_text_label_column(tmp_path):
    for name in "ab":
        make_image(tmp_path / f"{name}.png")
    csv = write_text(tmp_path / "meta.csv", "id,labels,Action\na,Drama,1\nb,Comedy,0\n")

    assert preview_csv(csv).mode == "delimited"
    preview = preview_csv(csv, prefer_onehot=True)
    data = load_dataset(csv, prefer_onehot=True, seed=1)

    assert (preview.mode, preview.label_names) == ("onehot", ["Action"])
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.png": [1], "b.png": [0]}


def test_images_without_labels_are_kept(tmp_path):
    for name in "abc":
        make_image(tmp_path / f"{name}.jpg")
    csv = write_text(tmp_path / "d.csv", "image,labels\na.jpg,x|y\nb.jpg,\nc.jpg,x\n")

    data = load_dataset(csv, val_fraction=0.34)

    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every["b.jpg"] == [0, 0]
    assert not data.report.errors


def test_createml_json_file_and_folder(tmp_path):
    for name in ("a", "b", "c"):
        make_image(tmp_path / f"{name}.jpg")
    entries = [
        {"image": "a.jpg", "annotations": ["dog", "cat"]},
        {"image": "b.jpg", "annotations": []},
        {"imagefilename": "c.jpg", "label": "bird"},
    ]
    write_text(tmp_path / "annotations.json", json.dumps(entries))

    data = load_dataset(tmp_path / "annotations.json", val_fraction=0.34)

    assert detect_format(tmp_path) == "createml"
    assert load_dataset(tmp_path).label_names == ["dog", "cat", "bird"]  # first appearance
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.jpg": [1, 1, 0], "b.jpg": [0, 0, 0], "c.jpg": [0, 0, 1]}


def test_createml_bad_entries_are_errors_not_crashes(tmp_path):
    make_image(tmp_path / "a.jpg")
    make_image(tmp_path / "b.jpg")
    entries = [
        {"image": "a.jpg", "annotations": ["x"]},
        {"annotations": ["y"]},
        5,
        {"image": "b.jpg", "annotations": [1]},
        {"image": "a.jpg", "annotations": ["x"]},
    ]
    write_text(tmp_path / "set.json", json.dumps(entries))

    data = load_dataset(tmp_path / "set.json")

    wheres = [p.where for p in data.report.errors]
    assert wheres == ["set.json entry 2", "set.json entry 3", "set.json entry 4"]
    assert [p.where for p in data.report.warnings][:1] == ["set.json entry 5"]
    assert len(data.train) + len(data.val) == 1


def test_label_folders_merge_one_image_under_several_labels(tmp_path):
    make_image(tmp_path / "drama" / "p1.jpg")
    make_image(tmp_path / "romance" / "p1.jpg")
    make_image(tmp_path / "romance" / "p2.png")
    make_image(tmp_path / "action" / "p3.jpg")
    make_image(tmp_path / "action" / "p4.jpg")
    write_text(tmp_path / "action" / "notes.txt", "not an image")

    data = load_dataset(tmp_path, val_fraction=0.25)

    assert detect_format(tmp_path) == "labelfolders"
    assert data.label_names == ["action", "drama", "romance"]
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {
        "p1.jpg": [0, 1, 1],
        "p2.png": [0, 0, 1],
        "p3.jpg": [1, 0, 0],
        "p4.jpg": [1, 0, 0],
    }
    first = next(p for p in [*data.train.paths, *data.val.paths] if p.name == "p1.jpg")
    assert first == tmp_path / "drama" / "p1.jpg"
    assert any("1 entries" in p.message for p in data.report.warnings)


def test_label_folders_with_train_and_val_splits(tmp_path):
    make_image(tmp_path / "train" / "a" / "1.jpg")
    make_image(tmp_path / "train" / "b" / "2.jpg")
    make_image(tmp_path / "val" / "a" / "3.jpg")
    make_image(tmp_path / "val" / "b" / "4.jpg")

    data = load_dataset(tmp_path)

    assert detect_format(tmp_path) == "labelfolders"
    assert not data.val_was_split
    assert names_and_rows(data.train) == {"1.jpg": [1, 0], "2.jpg": [0, 1]}
    assert names_and_rows(data.val) == {"3.jpg": [1, 0], "4.jpg": [0, 1]}


def test_fmt_override_beats_detection(tmp_path):
    make_image(tmp_path / "images" / "a.jpg")
    make_image(tmp_path / "images" / "b.jpg")
    write_text(tmp_path / "labels.csv", "image,labels\na.jpg,x\nb.jpg,y\n")

    assert detect_format(tmp_path) == "csv"
    data = load_dataset(tmp_path, fmt="labelfolders")

    assert data.label_names == ["images"]
    assert "labelfolders" in data.source


# --- validation report ----------------------------------------------------------------


def test_truncated_jpeg_is_an_error_naming_the_file_and_the_rest_loads(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 1], "t2": [0, 1, 0], "t3": [1, 1, 1]})
    seed_split(tmp_path / "val", {"v1": [1, 1, 1]})
    make_image(tmp_path / "train" / "t2.jpg", size=64, noise=True)
    truncate(tmp_path / "train" / "t2.jpg")
    with Image.open(tmp_path / "train" / "t2.jpg") as img:
        assert img.size == (64, 64)  # the header is intact: only a full decode notices

    data = load_dataset(tmp_path)

    assert [p.where for p in data.report.errors] == ["train/t2.jpg"]
    assert "decode" in data.report.errors[0].message
    assert [p.name for p in data.train.paths] == ["t1.jpg", "t3.jpg"]


def test_missing_image_is_an_error_naming_the_row(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 1], "t2": [0, 1, 0], "t3": [1, 1, 1]})
    (tmp_path / "train" / "t2.jpg").unlink()

    data = load_dataset(tmp_path)

    (error,) = data.report.errors
    assert error.where == "train/metadata.csv row 3"
    assert "t2" in error.message and "not found" in error.message
    assert len(data.train) + len(data.val) == 2


def test_duplicate_id_keeps_the_first_row_and_warns(tmp_path):
    make_image(tmp_path / "a.jpg")
    make_image(tmp_path / "b.jpg")
    write_text(tmp_path / "d.csv", "Id,x,y\na,1,0\nb,0,1\na,0,1\n")

    data = load_dataset(tmp_path / "d.csv", val_fraction=0.5)

    warnings = [p for p in data.report.warnings if "listed again" in p.message]
    assert [p.where for p in warnings] == ["d.csv row 4"]
    every = {**names_and_rows(data.train), **names_and_rows(data.val)}
    assert every == {"a.jpg": [1, 0], "b.jpg": [0, 1]}


@pytest.mark.parametrize("bad", ["2", "yes"])
def test_value_other_than_0_or_1_skips_the_row_and_names_it(tmp_path, bad):
    rows = "".join(f"i{k},1,0\n" for k in range(5))
    write_text(tmp_path / "train" / "metadata.csv", f"Id,Action,Drama\n{rows}i5,{bad},1\n")
    for k in range(6):
        make_image(tmp_path / "train" / f"i{k}.jpg")

    data = load_dataset(tmp_path)

    (error,) = data.report.errors
    assert error.where == "train/metadata.csv row 7"
    assert f"'Action' has '{bad}'" in error.message and "header is row 1" in error.message
    assert all(p.name != "i5.jpg" for p in [*data.train.paths, *data.val.paths])
    assert len(data.train) + len(data.val) == 5


def test_label_without_positives_warns(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 0], "t2": [0, 1, 0]})
    seed_split(tmp_path / "val", {"v1": [1, 1, 0]})

    data = load_dataset(tmp_path)

    messages = problems_at(data, "warning")
    assert any(m.startswith("train split: label 'Crime' has no images") for m in messages)
    assert any(m.startswith("val split: label 'Crime'") for m in messages)
    assert data.label_names == GENRES


def test_empty_val_split_warns(tmp_path):
    seed_split(tmp_path / "train", {"t1": [1, 0, 1], "t2": [0, 1, 0]})
    write_text(tmp_path / "val" / "metadata.csv", "Id,Genre,Action,Romance,Crime\n")

    data = load_dataset(tmp_path)

    assert len(data.val) == 0
    assert any(
        p.where == "val split" and "no usable images" in p.message for p in data.report.warnings
    )


def test_decompression_bomb_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    make_image(tmp_path / "x" / "small.jpg", size=8)
    make_image(tmp_path / "x" / "big.png", size=12)
    make_image(tmp_path / "x" / "huge.png", size=16)  # over twice the limit: Pillow raises

    data = load_dataset(tmp_path)

    assert sorted(p.where for p in data.report.errors) == ["x/big.png", "x/huge.png"]
    assert all("decompression bomb" in p.message for p in data.report.errors)
    assert [p.name for p in data.train.paths] == ["small.jpg"]


# --- fatal errors ---------------------------------------------------------------------


def test_csv_without_label_columns_names_the_file_and_its_columns(tmp_path):
    make_image(tmp_path / "a.jpg")
    write_text(tmp_path / "movies.csv", "Id,title,year\na,Heat,1995\n")

    with pytest.raises(DataError, match=r"movies\.csv has no label columns.*'title'"):
        load_dataset(tmp_path / "movies.csv")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", r"d\.csv is empty"),
        ('Id,x\na,1,0,1\n"b,\n', r"d\.csv is not a well-formed CSV"),
        ("title,x,y\na,1,0\n", r"d\.csv has no image column.*'title'"),
    ],
    ids=["empty", "malformed", "no-id-column"],
)
def test_unusable_csv_raises(tmp_path, text, pattern):
    write_text(tmp_path / "d.csv", text)

    with pytest.raises(DataError, match=pattern):
        load_dataset(tmp_path / "d.csv")


def test_missing_path_and_unknown_layout(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    write_text(tmp_path / "readme.md", "hello")
    with pytest.raises(DataError, match="Supported layouts"):
        detect_format(tmp_path)


def test_no_usable_image_at_all(tmp_path):
    make_image(tmp_path / "a.jpg", size=64, noise=True)
    truncate(tmp_path / "a.jpg")
    write_text(tmp_path / "d.csv", "Id,x\na,1\nb,0\n")

    with pytest.raises(DataError, match=r"No usable training images.*a\.jpg"):
        load_dataset(tmp_path / "d.csv")


def test_no_labels_at_all(tmp_path):
    make_image(tmp_path / "a.jpg")
    write_text(tmp_path / "d.csv", "image,labels\na.jpg,\n")

    with pytest.raises(DataError, match="No labels"):
        load_dataset(tmp_path / "d.csv")


# --- split, progress, cancellation ------------------------------------------------------


def test_split_puts_every_label_in_val_and_keeps_it_in_train():
    rng = np.random.default_rng(7)
    labels = (rng.random((200, 12)) < 0.15).astype(np.float32)
    labels[:, :7] = 0
    for label in range(6):  # rare labels: exactly two positives each
        labels[[label * 30, label * 30 + 7], label] = 1
    labels[17, 6] = 1  # one positive: it must stay in train

    train, val = split_train_val(labels, 0.1, seed=0)

    assert len(val) == 20 and len(train) == 180
    assert sorted([*train, *val]) == list(range(200))
    with_two_or_more = labels.sum(axis=0) >= 2
    assert (labels[val].sum(axis=0)[with_two_or_more] >= 1).all()
    assert (labels[train].sum(axis=0)[labels.sum(axis=0) >= 1] >= 1).all()


def test_split_is_deterministic_for_a_seed():
    labels = (np.random.default_rng(1).random((50, 4)) < 0.3).astype(np.float32)

    first = split_train_val(labels, 0.2, seed=3)
    again = split_train_val(labels, 0.2, seed=3)
    other = split_train_val(labels, 0.2, seed=4)

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])


def test_load_dataset_split_is_deterministic(tmp_path):
    rows = {f"m{i}": [i % 2, int(i % 3 == 0), int(i % 5 == 0)] for i in range(15)}
    seed_split(tmp_path / "train", rows)

    one = load_dataset(tmp_path, seed=5)
    two = load_dataset(tmp_path, seed=5)

    assert one.val.paths == two.val.paths
    assert (one.val.positives() >= 1).all()


def test_progress_reports_to_the_total(tmp_path):
    seed_split(tmp_path / "train", {f"m{i}": [1, 0, 1] for i in range(6)})
    calls: list[tuple[int, int]] = []

    load_dataset(tmp_path, progress=lambda done, total: calls.append((done, total)))

    assert calls[0] == (0, 6)
    assert calls[-1] == (6, 6)


def test_should_stop_cancels_the_check(tmp_path):
    seed_split(tmp_path / "train", {f"m{i}": [1, 0, 1] for i in range(6)})
    polls = []

    def stop_after_two() -> bool:
        polls.append(1)
        return len(polls) > 2

    with pytest.raises(Cancelled):
        load_dataset(tmp_path, should_stop=stop_after_two)
    assert not issubclass(Cancelled, DataError)  # stopping is not a data problem


def test_preview_reports_row_problems_without_images(tmp_path):
    csv = write_text(tmp_path / "p.csv", "Id,A,B,C\nx,1,0,1\ny,0,2,0\nz,0,0,1\n")

    preview = preview_csv(csv, rows=1)

    assert preview.mode == "onehot"
    assert preview.label_names == ["A", "B", "C"]
    assert preview.rows == [("x", ["A", "C"])]
    assert preview.n_rows == 2
    assert [p.where for p in preview.problems] == ["p.csv row 3"]


def test_importing_datasets_loads_neither_torch_nor_qt():
    code = (
        "import sys, core.data.datasets; "
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_split_of_a_tiny_set_still_fills_val():
    labels = np.array([[1, 0], [0, 1]], dtype=np.float32)

    train, val = split_train_val(labels, 0.2, seed=0)

    assert len(train) == 1 and len(val) == 1
