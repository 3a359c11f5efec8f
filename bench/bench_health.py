"""Data health on planted problems: label-issue precision at K, duplicate
precision and recall, and the mAP that accepting the fixes wins back.

A copy of the sample posters gets one flipped label in 8% of its training rows (seeded)
and 20 validation images, resized to 80% and re-encoded as JPEG, copied into train.
`doctor` runs in several settings (bench/health_precision.py: the plain out-of-fold linear
probe on pooled features with confident learning is the baseline, "old" the heads and kNN
vote averaged, "new" stacked) on planting seeds 1000-1009, never used for tuning (the
ranking was tuned on 0-9), and prints per-seed and mean ± sd precision. Then, for each
planting seed, the CPU recipe trains (with each training seed) on the clean set, the
planted one (8% and 25% of rows flipped) and the planted one with the report acted on by
each rule of POLICIES (the default is `accept_report`'s; "reviewed" accepts exactly the
flags that are planted flips, a perfect reviewer of the report; "oracle" sets back every
planted flip, found or not, so its set is the clean one and it wins back all of the cost
by construction). Each model is scored on 300 fresh posters, through the training steps'
`evaluate` on their cached embeddings (the inference pipeline computes the same
probabilities to 1e-4, and validation mAP would flatter the planted set, whose train holds
copies of validation images). The noise costs only a few thousandths of mAP at 8%, about
what another training seed moves it, so the comparisons are paired (the same seeds for
clean, noisy and fixed) and averaged; "recovered" is the mean gain over the mean cost.

    python bench/bench_health.py [--seeds 1000,...,1009] [--settings baseline,old,new]
                                 [--retrain-seeds 0,1,2,3,4] [--train-seeds 0,1,2]
                                 [--no-train] [--no-settings] [--policies default,oracle]
                                 [--json FILE]

Prints Markdown tables; asserts nothing. MARQUEE_HOME is set to a temporary folder
unless given, so the run starts with an empty cache (the sample posters are generated).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from health_precision import (
    DEFAULT_SETTINGS,
    EVALUATION_SEEDS,
    SETTINGS,
    clean_flags,
    print_precision,
    run_seed,
    scores,
)

FLIP_FRACTIONS = (0.08, 0.25)


def fresh_posters(work: Path):
    """300 fresh posters nobody trains on, embedded once (plain and mirrored): a SplitData."""
    import torch

    from core.data.datasets import load_dataset
    from core.data.samples import generate_sample_data
    from core.health.embeddings import doctor_config, embed_dataset
    from core.training.steps import SplitData

    folder = work / "test-posters"
    generate_sample_data(folder, n_train=1, n_val=300, seed=4321)
    data = embed_dataset(load_dataset(folder), doctor_config(flip=True))
    val = torch.tensor([ref.split == "val" for ref in data.refs])
    targets = torch.from_numpy(data.targets)[val]
    return SplitData(None, targets, features=data.features[val], flipped=data.flipped[val]), data


def test_map(path: Path, test, seed: int) -> float:
    """mAP on the fresh posters of the CPU recipe trained (training seed `seed`) on `path`
    (its fix log applied)."""
    from core.data.datasets import load_dataset
    from core.health.embeddings import head_setup
    from core.health.oof import HeadOnly
    from core.training.loop import fit
    from core.training.recipes import recipe_config
    from core.training.steps import evaluate

    split, embedded = test
    result = fit(recipe_config("cpu", seed=seed), load_dataset(path))
    head = HeadOnly(result.model.head.cpu())
    setup = head_setup(head, embedded.config, embedded.context, steps=1)
    return float(evaluate(head, split, setup, embedded.label_names, frozen=True).metrics["map"])


def oracle(log, report, planted) -> list:
    """Every planted flip set back and every leak's training copy dropped, found or not:
    the clean set again, so (fit being deterministic per seed) it wins back all the cost;
    a check that the paired measurement itself is exact."""
    from core.data.datasets import load_dataset
    from core.data.fixes import Decision, dataset_folder, relative_file

    train = load_dataset(planted.root).train
    base = dataset_folder(planted.root.resolve())
    row_of = {relative_file(p, base): i for i, p in enumerate(train.paths)}
    chosen = [
        Decision(
            "set_label",
            file,
            label=label,
            value=int(train.labels[row_of[file], train.label_names.index(label)] < 0.5),
        )
        for file, label in sorted(planted.flips)
    ]
    copies = sorted(f for pair in planted.leaks for f in pair if f.startswith("train/"))
    chosen += [Decision("drop", f, reason="leak") for f in copies]
    log.record(*chosen)
    return chosen


def accepting(**policy):
    """A policy that records what accept_report(**policy) accepts (the duplicates are
    dropped in each)."""
    from core.health.decisions import accept_report

    return lambda log, report, planted: accept_report(log, report, **policy)


def reviewed(log, report, planted) -> list:
    """What a perfect reviewer of the report records: every flag that is a planted flip
    accepted, the others left, the duplicates dropped (the ceiling of the finder's recall)."""
    from core.health.decisions import accept_issue, accept_report

    chosen = accept_report(log, report, labels=False)
    fixes = [accept_issue(i) for i in report.label_issues if (i.file, i.label) in planted.flips]
    log.record(*fixes)
    return chosen + fixes


# Ways of acting on the report: (log, report, planted) -> decisions recorded. "default" is
# what the app, `doctor --accept` and `fixes --accept` do.
POLICIES = {
    "scored >= 0.9": accepting(min_score=0.9),
    "default": accepting(),
    "oracle": oracle,
    "reviewed": reviewed,
}


def map_recovery(
    seed: int, work: Path, fraction: float, test, train_seeds: list[int], policies: list[str]
) -> dict:
    """Noisy and fixed test mAP per training seed with `fraction` of training rows flipped,
    for each way of acting on the report named in `policies` (POLICIES)."""
    from core.data.datasets import load_dataset
    from core.data.fixes import FixLog
    from core.data.samples import ensure_sample_data
    from core.health.doctor import run_doctor
    from core.health.planted import plant_problems

    planted = plant_problems(
        ensure_sample_data(), work / f"noisy-{seed}-{fraction}", fraction, seed=seed
    )
    row: dict = {"noisy": [test_map(planted.root, test, t) for t in train_seeds]}
    report = run_doctor(load_dataset(planted.root))
    row["report"] = scores(report, planted, set())
    log = FixLog.for_dataset(planted.root)
    for name in policies:
        log.clear()
        row["accepted " + name] = len(POLICIES[name](log, report, planted))
        row[name] = [test_map(planted.root, test, t) for t in train_seeds]
    print(f"seed {seed} flips {fraction:.0%}: {row}", file=sys.stderr, flush=True)
    return row


def print_recovery(
    fraction: float, clean: list[float], rows: dict[int, dict], policies: list[str]
) -> None:
    """Per planting seed the mean over training seeds; then mean and spread over seeds."""
    columns = ["clean", "noisy", *policies]
    print(
        f"\n{fraction:.0%} of training rows flipped (+ 20 leaks): test mAP, mean of "
        f"{len(clean)} training seeds"
    )
    print("| planting seed | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    table = {
        s: {"clean": np.mean(clean), **{c: np.mean(r[c]) for c in columns[1:]}}
        for s, r in rows.items()
    }
    for s, m in table.items():
        print(f"| {s} | " + " | ".join(f"{m[c]:.4f}" for c in columns) + " |")
    mean = {c: np.mean([m[c] for m in table.values()]) for c in columns}
    spread = {c: np.std([m[c] for m in table.values()]) for c in columns}
    print("| mean ± sd | " + " | ".join(f"{mean[c]:.4f} ± {spread[c]:.4f}" for c in columns) + " |")
    cost = mean["clean"] - mean["noisy"]
    won = [f"{(mean[c] - mean['noisy']) / cost:.0%}" if cost else "n/a" for c in policies]
    accepted = [np.mean([r["accepted " + c] for r in rows.values()]) for c in policies]
    print("| recovered (mean gain / mean cost) | | | " + " | ".join(won) + " |")
    print("| decisions recorded | | | " + " | ".join(f"{a:.0f}" for a in accepted) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    seeds = ",".join(map(str, EVALUATION_SEEDS))
    parser.add_argument("--seeds", default=seeds, help="planting seeds (never used for tuning)")
    parser.add_argument(
        "--settings", default=",".join(DEFAULT_SETTINGS), help=f"of {list(SETTINGS)}"
    )
    parser.add_argument("--retrain-seeds", default="0,1,2,3,4", help="planting seeds, retraining")
    parser.add_argument("--train-seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--no-settings", action="store_true", help="skip the doctor settings")
    parser.add_argument("--policies", default=",".join(POLICIES), help="of " + ", ".join(POLICIES))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = args.settings.split(",")
    if unknown := set(names) - set(SETTINGS):
        parser.error(f"unknown settings {sorted(unknown)}")
    with tempfile.TemporaryDirectory() as temp:
        os.environ.setdefault("MARQUEE_HOME", str(Path(temp) / "home"))
        started = time.perf_counter()
        rows = [] if args.no_settings else precision(args.seeds, names, Path(temp))
        result: dict = {"settings": rows}
        if not args.no_train:
            policies = args.policies.split(",")
            if unknown := set(policies) - set(POLICIES):
                parser.error(f"unknown policies {sorted(unknown)}")
            retrain_seeds = [int(s) for s in args.retrain_seeds.split(",")]
            train_seeds = [int(s) for s in args.train_seeds.split(",")]
            result.update(retrain(Path(temp), retrain_seeds, train_seeds, policies))
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def precision(seeds: str, names: list[str], work: Path) -> list[dict]:
    clean = clean_flags(names)
    rows = [run_seed(int(s), work, names, clean) for s in seeds.split(",")]
    print_precision(rows, names)
    return rows


def retrain(work: Path, seeds: list[int], train_seeds: list[int], policies: list[str]) -> dict:
    from core.data.samples import ensure_sample_data

    test = fresh_posters(work)
    clean = [test_map(ensure_sample_data(), test, t) for t in train_seeds]
    result: dict = {"clean": clean}
    for fraction in FLIP_FRACTIONS:
        rows = {s: map_recovery(s, work, fraction, test, train_seeds, policies) for s in seeds}
        print_recovery(fraction, clean, rows, policies)
        result[str(fraction)] = rows
    return result


if __name__ == "__main__":
    main()
