"""Data health without a model: confident learning, the fix log, export and write back
(with a kill in the middle), duplicates' fingerprints."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.errors import DataError
from core.data.corrected import export_corrected, write_back
from core.data.datasets import load_dataset
from core.data.fixes import Decision, FixLog, sidecar_path
from core.health import confident
from core.health.neighbours import neighbour_votes, neighbourhood
from core.health.report import DuplicatePair, HealthReport, LabelIssue, Outlier
from core.health.stacking import combined_probabilities
from core.health.thumbnails import aligned_similarity, fingerprints, small_images

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- confident
def test_confident_learning_flags_the_planted_flips_first() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((300, 4)) < 0.3).astype(float)
    probs = np.clip(truth * 0.8 + 0.1 + rng.normal(0, 0.08, truth.shape), 0, 1)
    given = truth.copy()
    flipped = [(5, 0), (17, 2), (40, 3), (99, 1), (123, 0), (250, 2)]
    for i, j in flipped:
        given[i, j] = 1 - given[i, j]
    flags = confident.label_issues(probs, given)
    top = {(f.image, f.label) for f in flags[: len(flipped)]}
    assert top == set(flipped)
    assert all(f.given == given[f.image, f.label] for f in flags)
    assert [f.score for f in flags] == sorted((f.score for f in flags), reverse=True)


def test_thresholds_are_the_mean_confidence_per_given_value() -> None:
    probs = np.array([[0.9], [0.7], [0.2], [0.4]])
    given = np.array([[1], [1], [0], [0]])
    t1, t0 = confident.thresholds(probs, given)
    assert t1[0] == pytest.approx(0.8) and t0[0] == pytest.approx(0.7)


def _planted_witnesses() -> tuple[np.ndarray, np.ndarray, np.ndarray, set[tuple[int, int]]]:
    """Heads that know the truth, a kNN vote that knows nothing, labels with flips."""
    rng = np.random.default_rng(0)
    truth = (rng.random((400, 3)) < 0.35).astype(float)
    heads = np.clip(truth * 0.8 + 0.1 + rng.normal(0, 0.08, truth.shape), 0.001, 0.999)
    votes = rng.random(truth.shape)
    given = truth.copy()
    flipped = {(5, 0), (17, 2), (40, 1), (99, 1), (123, 0), (250, 2), (333, 0), (377, 1)}
    for i, j in flipped:
        given[i, j] = 1 - given[i, j]
    return heads, votes, given, flipped


def _top_pairs(probs: np.ndarray, given: np.ndarray, k: int) -> set[tuple[int, int]]:
    """The k pairs whose probability disagrees most with the given label."""
    disagreement = np.abs(given - probs)
    top = np.argsort(-disagreement, axis=None, kind="stable")[:k]
    return {(int(i), int(j)) for i, j in zip(*np.unravel_index(top, probs.shape), strict=True)}


def test_stacking_learns_to_ignore_a_vote_that_knows_nothing() -> None:
    heads, votes, given, flipped = _planted_witnesses()
    stacked = combined_probabilities(heads, votes, given)
    assert _top_pairs(stacked, given, len(flipped)) == flipped
    assert len(_top_pairs((heads + votes) / 2, given, len(flipped)) & flipped) < len(flipped)
    flags = confident.label_issues(stacked, given)
    assert flags and all((f.image, f.label) in flipped for f in flags)


def test_stacking_never_lets_an_image_own_label_decide_its_probability() -> None:
    heads, votes, given, _ = _planted_witnesses()
    before = combined_probabilities(heads, votes, given)
    changed = given.copy()
    changed[5, 0] = 1 - changed[5, 0]
    after = combined_probabilities(heads, votes, changed)
    assert after[5, 0] == before[5, 0]  # cross-fitted: image 5 is held out of its own fit
    assert np.abs(after - before).max() > 0  # while the label does move the others' fits


def test_stacking_keeps_the_average_where_a_label_has_too_few_examples() -> None:
    heads, votes, given, _ = _planted_witnesses()
    small = combined_probabilities(heads[:40], votes[:40], given[:40])  # ~14 positives a label
    assert np.allclose(small, (heads[:40] + votes[:40]) / 2)


def test_neighbour_votes_never_use_the_image_itself() -> None:
    features = torch.eye(4).repeat_interleave(2, dim=0) + 0.01 * torch.randn(8, 4)
    targets = np.array([[1], [0], [1], [1], [0], [0], [1], [1]], dtype=np.float32)
    near = neighbourhood(features, fingerprints(small_images(torch.zeros(8, 3, 8, 8), 8)), k=1)
    votes = neighbour_votes(near, targets)
    assert votes[:, 0].tolist() == [0, 1, 1, 1, 0, 0, 1, 1]  # each pair's other member


def test_a_resized_copy_has_the_same_fingerprint_and_another_image_does_not() -> None:
    rng = np.random.default_rng(1)

    def poster() -> torch.Tensor:  # blocks of colour, like shapes on a poster
        blocks = torch.from_numpy(rng.integers(0, 255, (1, 3, 8, 8)).astype(np.float32))
        return torch.nn.functional.interpolate(blocks, size=64)[0].byte()

    a = poster()
    small = torch.nn.functional.interpolate(a[None].float(), size=48, mode="bilinear")
    copy = torch.nn.functional.interpolate(small, size=64, mode="bilinear")[0].round().byte()
    other = poster()
    prints = fingerprints(small_images(torch.stack([a, copy, other]), 3))
    sims = prints @ prints.T
    assert sims[0, 1] > 0.985 > sims[0, 2]


def test_a_slightly_cropped_copy_lines_up_and_another_image_does_not() -> None:
    rng = np.random.default_rng(2)

    def poster() -> torch.Tensor:  # 96 px of colour blocks, 12 px each
        blocks = torch.from_numpy(rng.integers(0, 255, (1, 3, 8, 8)).astype(np.float32))
        return torch.nn.functional.interpolate(blocks, size=96)[0]

    a, other = poster(), poster()
    cut = a[:, 4:, 7:93]  # 4% off the top, 7% off the left and right
    copy = torch.nn.functional.interpolate(cut[None], size=96, mode="bilinear")[0]
    small = small_images(torch.stack([a, copy, other]).round().byte(), 3)
    prints = fingerprints(small)
    aligned = aligned_similarity(small, torch.tensor([0, 0]), torch.tensor([1, 2]))
    assert float(prints[0] @ prints[1]) < 0.975  # the plain fingerprint misses it
    assert aligned[0] >= 0.975 > aligned[1]


# ----------------------------------------------------------------------------- report
def test_report_json_round_trips(tmp_path: Path) -> None:
    report = HealthReport(
        [LabelIssue("train/a.jpg", "train", 0, "Crime", 0, 1, 0.9, 0.97)],
        [DuplicatePair(("train/b.jpg", "val/c.jpg"), 0.99, True, False, ("train", "val"))],
        [Outlier("val/d.jpg", 0.4, "val")],
        {"images": 3},
    )
    report.save(tmp_path / "r.json")
    document = report.to_dict()
    assert set(document) >= {"label_issues", "duplicates", "outliers", "summary"}
    assert set(document["label_issues"][0]) >= {
        "file", "split", "row", "label", "given", "suggested", "score"
    }  # fmt: skip
    assert document["duplicates"][0]["files"] == ["train/b.jpg", "val/c.jpg"]
    assert HealthReport.load(tmp_path / "r.json") == report
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(DataError, match=r"bad\.json"):
        HealthReport.load(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- fix log
def _first_ids(root: Path, split: str) -> list[str]:
    with (root / split / "metadata.csv").open(newline="") as handle:
        return [row["Id"] for row in csv.DictReader(handle)]


def test_fixes_apply_on_load_undo_and_never_touch_the_data(make_data_dir, tmp_path, marquee_home):
    root = make_data_dir(tmp_path / "data", 8, 4)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    a, b = (f"train/{i}.jpg" for i in _first_ids(root, "train")[:2])
    original = load_dataset(root)
    value = 1 - int(original.train.labels[0, 2])
    log = FixLog.for_dataset(root)
    log.record(Decision("set_label", a, label="Crime", value=value), Decision("drop", b))
    assert log.path == sidecar_path(root.resolve())
    assert log.path.is_relative_to(marquee_home / "data" / "fixes")
    fixed = load_dataset(root)
    assert fixed.fixes_applied == 2 and len(fixed.train) == len(original.train) - 1
    assert fixed.train.labels[0, 2] == value
    assert load_dataset(root, fixes=False).train.labels[0, 2] == 1 - value
    log.undo()
    assert len(FixLog.for_dataset(root).decisions) == 1
    assert len(load_dataset(root).train) == len(original.train)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_damaged_fix_log_is_a_warning_not_a_failure(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 6, 3)
    path = sidecar_path(root.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    dataset = load_dataset(root)
    assert any("fix log" in p.where for p in dataset.report.warnings)
    with pytest.raises(DataError, match="cannot be read"):
        FixLog.for_dataset(root)


def test_added_images_join_train_with_their_labels(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 6, 3)
    extra = make_data_dir(tmp_path / "more", 2, 1) / "train"
    image = sorted(extra.glob("*.jpg"))[0]
    FixLog.for_dataset(root).record(Decision("add", str(image), labels=("Romance",)))
    dataset = load_dataset(root)
    assert dataset.train.paths[-1] == image
    assert dataset.train.labels[-1].tolist() == [0, 1, 0]


def test_a_label_fix_on_an_added_image_is_applied(make_data_dir, tmp_path):
    """The doctor may flag a poster added in the labelling view: its fix must take effect."""
    root = make_data_dir(tmp_path / "data", 6, 3)
    extra = make_data_dir(tmp_path / "more", 2, 1) / "train"
    image, other = sorted(extra.glob("*.jpg"))[:2]
    log = FixLog.for_dataset(root)
    log.record(Decision("add", str(image), labels=("Romance",)))
    log.record(Decision("add", str(other), labels=("Action",)))
    log.record(Decision("set_label", image.resolve().as_posix(), label="Crime", value=1))
    log.record(Decision("drop", other.resolve().as_posix(), reason="stray"))
    dataset = load_dataset(root)
    assert dataset.train.paths[-1] == image and other not in dataset.train.paths
    assert dataset.train.labels[-1].tolist() == [0, 1, 1]
    assert not [p for p in dataset.report.problems if "skipped" in p.message]


def test_export_writes_a_seed_layout_copy_that_loads_with_the_fixes(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 8, 4)
    a = f"train/{_first_ids(root, 'train')[0]}.jpg"
    FixLog.for_dataset(root).record(Decision("set_label", a, label="Action", value=1))
    fixed = load_dataset(root)
    out = export_corrected(fixed, tmp_path / "out")
    copy = load_dataset(out)
    assert copy.label_names == fixed.label_names
    np.testing.assert_array_equal(copy.train.labels, fixed.train.labels)
    assert len(copy.val) == len(fixed.val)
    with pytest.raises(Exception, match="not empty"):
        export_corrected(fixed, out)


def test_export_leaves_a_folder_that_looks_like_its_temporary_one_alone(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 6, 3)
    theirs = tmp_path / ".out.partial"  # the user's, or another export's still running
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    export_corrected(load_dataset(root), tmp_path / "out")
    assert (theirs / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial") and p != theirs]


def test_write_back_backs_up_then_rewrites_the_metadata(make_data_dir, tmp_path):
    root = make_data_dir(tmp_path / "data", 8, 4)
    ids = _first_ids(root, "train")
    original = (root / "train" / "metadata.csv").read_bytes()
    log = FixLog.for_dataset(root)
    log.record(
        Decision("set_label", f"train/{ids[0]}.jpg", label="Crime", value=1),
        Decision("drop", f"train/{ids[1]}.jpg"),
        Decision("keep_label", f"train/{ids[2]}.jpg", label="Action"),
    )
    written = write_back(root, log)
    train = next(w for w in written if w.file.parent.name == "train")
    assert train.backup.read_bytes() == original
    assert (train.changed, train.removed) == (1, 1)
    rows = list(csv.DictReader((root / "train" / "metadata.csv").open(newline="")))
    assert [r["Id"] for r in rows] == [ids[0], *ids[2:]]
    assert rows[0]["Crime"] == "1"
    assert [d.kind for d in FixLog.for_dataset(root).decisions] == ["keep_label"]
    reloaded = load_dataset(root)
    assert reloaded.fixes_applied == 0 and len(reloaded.train) == len(ids) - 1


_KILLER = """
import os, signal, sys
from pathlib import Path
from core.data import corrected
from core.data.fixes import Decision, FixLog
root, when = Path(sys.argv[1]), sys.argv[2]
log = FixLog.for_dataset(root)
log.record(Decision("drop", sys.argv[3]))
real_replace = os.replace
def replace(src, dst):  # the backup is in place; the new file is about to take over
    if str(dst).endswith("metadata.csv"):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
if when == "replace":
    os.replace = replace
else:  # half-way through writing the new file
    def half(self, data, **kwargs):
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    Path.write_bytes = half
corrected.write_back(root, log)
"""


@pytest.mark.parametrize("when", ["replace", "write"])
def test_a_kill_during_write_back_never_loses_the_original(make_data_dir, tmp_path, when):
    root = make_data_dir(tmp_path / "data", 6, 3)
    metadata = root / "train" / "metadata.csv"
    original = metadata.read_bytes()
    drop = f"train/{_first_ids(root, 'train')[0]}.jpg"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLER, str(root), when, drop], env=env, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    assert metadata.read_bytes() == original
    backups = list(metadata.parent.glob("metadata.csv.*.bak"))
    assert all(b.read_bytes() == original for b in backups)
    assert len(backups) == 1
    assert len(load_dataset(root).train) == 5  # the data set still loads, the fix applied


# ----------------------------------------------------------------------------- decisions
def test_bulk_accept_takes_sure_fixes_and_the_training_copy_of_a_leak(tmp_path) -> None:
    from core.health.decisions import accept_report

    report = HealthReport(
        [
            LabelIssue("train/a.jpg", "train", 0, "Crime", 0, 1, 0.96),
            LabelIssue("train/b.jpg", "train", 1, "Action", 1, 0, 0.5),
        ],
        [
            DuplicatePair(("val/v.jpg", "train/t.jpg"), 0.99, True, False, ("val", "train")),
            DuplicatePair(("train/t.jpg", "train/u.jpg"), 0.99, False, False, ("train", "train")),
            DuplicatePair(("train/x.jpg", "train/y.jpg"), 0.99, False, False, ("train", "train")),
        ],
        [Outlier("train/blank.jpg", 0.5)],
    )
    log = FixLog.for_dataset(tmp_path)
    made = accept_report(log, report)
    assert [(d.kind, d.file, d.label, d.value) for d in made] == [
        ("set_label", "train/a.jpg", "Crime", 1),
        ("drop", "train/t.jpg", None, None),
        ("drop", "train/y.jpg", None, None),
    ]
    assert len(FixLog.for_dataset(tmp_path).decisions) == 3
    assert len(accept_report(log, report, min_score=0.0, strays=True)) == 5


def test_bulk_accept_needs_a_surer_score_to_remove_a_label_than_to_add_one(tmp_path) -> None:
    from core.health.decisions import accept_report

    def issue(name: str, given: int, score: float) -> LabelIssue:
        return LabelIssue(f"train/{name}.jpg", "train", 0, "Crime", given, 1 - given, score)

    report = HealthReport(
        [
            issue("add_sure", 0, 0.96),
            issue("add_unsure", 0, 0.85),
            issue("remove_sure", 1, 0.995),
            issue("remove_unsure", 1, 0.97),
        ]
    )
    log = FixLog.for_dataset(tmp_path)
    made = accept_report(log, report)
    assert [(d.file, d.value) for d in made] == [
        ("train/add_sure.jpg", 1),
        ("train/remove_sure.jpg", 0),
    ]
    log.clear()
    chosen = accept_report(log, report, min_score=0.965)  # one threshold for both ways
    assert [d.file for d in chosen] == ["train/remove_sure.jpg", "train/remove_unsure.jpg"]


def test_suggestion_scores_peak_at_the_threshold() -> None:
    from core.health.suggest import uncertainty

    probs = np.array([[0.3, 0.0, 1.0, 0.65]])
    closeness = uncertainty(probs, np.array([0.3, 0.3, 0.3, 0.5]))
    assert closeness[0].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.7])


def test_write_back_into_a_csv_with_a_label_column(tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "csvdata"
    folder.mkdir()
    rows = [("a.jpg", "Action|Crime"), ("b.jpg", "Romance"), ("c.jpg", "Action")]
    for i, (name, _) in enumerate(rows):
        Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(folder / name)
    table = folder / "labels.csv"
    table.write_text("image,labels\n" + "".join(f"{name},{labels}\n" for name, labels in rows))
    log = FixLog.for_dataset(table)
    log.record(
        Decision("set_label", "a.jpg", label="Crime", value=0),
        Decision("set_label", "b.jpg", label="Action", value=1),
    )
    (written,) = write_back(table, log)
    assert written.changed == 2 and written.backup.is_file()
    assert table.read_text().splitlines() == [
        "image,labels", "a.jpg,Action", "b.jpg,Action|Romance", "c.jpg,Action"
    ]  # fmt: skip


def test_a_home_without_a_data_folder_still_loads_data_sets(make_data_dir, tmp_path, monkeypatch):
    from core.data import fixes

    def unwritable() -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fixes, "data_dir", unwritable)
    dataset = load_dataset(make_data_dir(tmp_path / "data", 6, 3))
    assert len(dataset.train) == 6 and dataset.fixes_applied == 0
