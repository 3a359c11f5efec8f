"""Choosing labels: the core rule, --labels on train/evaluate, the movie-posters default.

The data is a seed-layout folder with 20 genre columns and a free-text Genre column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from seed_layout import GENRES, SEED_FIVE, make_seed_folder

from core.cli.main import main
from core.data.datasets import DataError, load_dataset, select_labels
from core.modelfile.checkpoint import read_meta

TRAIN = ("--epochs", 1, "--image-size", 32, "--batch-size", 8, "--strategy", "freeze", "--quiet")


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_seed_folder(tmp_path_factory.mktemp("seed-posters"))


@pytest.fixture(scope="module")
def full(seed_dir: Path):
    return load_dataset(seed_dir)


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def label_warnings(dataset) -> set[tuple[str, str]]:
    return {(p.where, p.label) for p in dataset.report.problems if p.label is not None}


# ------------------------------------------------------------------ the core rule
def test_every_genre_column_is_a_label_and_the_free_text_column_is_not(full) -> None:
    assert full.label_names == list(GENRES)
    assert full.all_label_names == list(GENRES)
    assert ("train split", "Western") in label_warnings(full)


def test_a_choice_keeps_its_order_and_every_row(seed_dir: Path, full) -> None:
    chosen = load_dataset(seed_dir, labels=["Crime", "Action"])
    assert chosen.label_names == ["Crime", "Action"]
    assert chosen.all_label_names == list(GENRES)
    assert len(chosen.train) == len(full.train) and len(chosen.val) == len(full.val)
    assert chosen.train.paths == full.train.paths
    columns = [GENRES.index("Crime"), GENRES.index("Action")]
    np.testing.assert_array_equal(chosen.train.labels, full.train.labels[:, columns])
    # Rows with none of the chosen labels stay (Drama-only posters, for instance).
    assert (chosen.train.labels.sum(axis=1) == 0).any()


def test_a_chosen_label_without_positives_gets_the_usual_warning(seed_dir: Path) -> None:
    five = load_dataset(seed_dir, labels=SEED_FIVE)
    assert label_warnings(five) == {("val split", "Thriller")}
    (problem,) = five.report.problems
    assert "label 'Thriller' has no images" in problem.message


def test_select_labels_on_a_loaded_data_set_matches_loading_with_labels(
    seed_dir: Path, full
) -> None:
    narrowed = select_labels(full, SEED_FIVE)
    loaded = load_dataset(seed_dir, labels=SEED_FIVE)
    assert narrowed.label_names == loaded.label_names == SEED_FIVE
    np.testing.assert_array_equal(narrowed.val.labels, loaded.val.labels)
    assert narrowed.report.problems == loaded.report.problems
    assert label_warnings(select_labels(full, GENRES)) == label_warnings(full)


def test_a_typo_names_itself_suggests_a_fix_and_lists_the_labels(seed_dir: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_dataset(seed_dir, labels=["Action", "romance", "Acton"])
    message = str(caught.value)
    assert "'romance', 'Acton' are not labels of this data set" in message
    assert "Did you mean 'Romance' for 'romance', 'Action' for 'Acton'?" in message
    assert "Available labels: " + ", ".join(GENRES) in message


def test_an_empty_choice_is_refused(full) -> None:
    with pytest.raises(DataError, match="Choose at least one label"):
        select_labels(full, [" ", ""])


# ------------------------------------------------------------------ the command line
def test_movie_posters_default_to_the_seeds_five_through_evaluate(
    capsys: pytest.CaptureFixture[str],
    seed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("core.data.movie_posters.ensure_movie_posters", lambda **_: seed_dir)
    model = tmp_path / "five.safetensors"
    code, out, err = run_cli(capsys, "train", "--movie-posters", *TRAIN, "--out", model)
    assert code == 0, err
    assert "labels: Action, Romance, Crime, Thriller, Adventure (5 of 20;" in out
    assert "val split: label 'Thriller' has no images" in err
    assert "Western" not in err  # warnings only for the chosen labels
    assert read_meta(model).label_names == SEED_FIVE

    # evaluate on the full 20-column folder: the model's five, the other columns ignored
    code, out, err = run_cli(capsys, "evaluate", model, "--data", seed_dir, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [row["name"] for row in document["per_label"]] == SEED_FIVE
    assert document["images"] == 10
    thriller = next(row for row in document["per_label"] if row["name"] == "Thriller")
    assert thriller["support"] == 0 and thriller["ap"] is None

    code, out, err = run_cli(capsys, "evaluate", model, "--data", seed_dir, "--labels", "Crime")
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("label "))
    assert [line.split()[0] for line in lines[header + 1 :]] == ["Crime"]


def test_an_explicit_choice_trains_those_labels_in_that_order(
    capsys: pytest.CaptureFixture[str], seed_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "two.safetensors"
    code, out, err = run_cli(
        capsys, "train", "--data", seed_dir, "--labels", "Romance, Action", *TRAIN, "--out", model
    )
    assert code == 0, err
    assert "labels: Romance, Action (2 of 20;" in out
    assert read_meta(model).label_names == ["Romance", "Action"]
    code, _, err = run_cli(capsys, "evaluate", model, "--data", seed_dir, "--labels", "Drama")
    assert code == 2
    assert "the model has no label(s) Drama; its labels: Romance, Action" in err


def test_labels_all_takes_every_column_even_for_the_movie_posters(
    capsys: pytest.CaptureFixture[str],
    seed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("core.data.movie_posters.ensure_movie_posters", lambda **_: seed_dir)
    model = tmp_path / "all.safetensors"
    code, out, err = run_cli(
        capsys, "train", "--movie-posters", "--labels", "all", *TRAIN, "--out", model, "--json"
    )
    assert code == 0, err
    assert read_meta(model).label_names == list(GENRES)
    assert [row["name"] for row in json.loads(out)["per_label"]] == list(GENRES)


def test_a_typo_in_labels_is_one_error_line_before_any_training(
    capsys: pytest.CaptureFixture[str], seed_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*_a, **_k):
        raise AssertionError("training started")

    monkeypatch.setattr("core.training.loop.fit", no_training)
    code, _, err = run_cli(capsys, "train", "--data", seed_dir, "--labels", "Action,Thriler")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("marquee: error: 'Thriler' is not a label of this data set.")
    assert "Did you mean 'Thriller'?" in line and "Available labels: Action, Adventure" in line
    code, _, err = run_cli(capsys, "train", "--data", seed_dir, "--labels", " , ")
    assert code == 2 and "--labels needs label names" in err
