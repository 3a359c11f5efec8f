"""Label-issue precision of `doctor` settings on planted sample sets, per planting seed.

Used by bench/bench_health.py. Tuning and evaluation seeds are kept apart: every choice of
the ranking (the stacked combination, the bulk-accept thresholds) was made on planting
seeds TUNING_SEEDS; the bench reports on EVALUATION_SEEDS, which were never used for
tuning. "old" (the heads and the kNN vote averaged) and "new" (stacked) run on the same
planted copies in the same run, so their difference per seed is paired.

For each seed and setting: precision at K (K = the number of planted flips), in the top 10
and 20, recall among everything flagged, how many labels were flagged, what bulk accept
takes and how many of those are planted, how many of the false positives in the top K the
unplanted sample set is flagged for too (its own faintly drawn genres), duplicate
precision and recall, and seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

TUNING_SEEDS = tuple(range(10))
EVALUATION_SEEDS = tuple(range(1000, 1010))
SETTINGS = {
    "baseline": ("OOF linear probe on pooled features", dict(multi_stage=False, knn_vote=False)),
    "old": ("3 linear heads, two-stage features, mean with the kNN vote", dict(combine="mean")),
    "new": ("the same, stacked with the kNN vote and the other labels (default)", {}),
    "thorough": ("new + 2 MLP heads", dict(members="thorough")),
}
DEFAULT_SETTINGS = ("baseline", "old", "new")


def options(name: str):
    from core.health.doctor import DoctorOptions
    from core.health.oof import LINEAR, MLP, Member

    setting = dict(SETTINGS[name][1])
    members = {"baseline": (Member("linear", 0, epochs=5),), "thorough": LINEAR + MLP}.get(
        setting.pop("members", name), LINEAR
    )
    return DoctorOptions(members=members, **setting)


def scores(report, planted, clean_flags: set) -> dict:
    """Precision and recall of `report` against what was planted (see the docstring)."""
    from core.health.decisions import sure

    k = len(planted.flips)
    hits = [(i.file, i.label) in planted.flips for i in report.label_issues]
    misses = [
        (i.file, i.label) for i in report.label_issues[:k] if (i.file, i.label) not in planted.flips
    ]
    accepted = [h for h, i in zip(hits, report.label_issues, strict=True) if sure(i)]
    found = {frozenset(d.files) for d in report.duplicates}
    true = len(found & planted.leaks)
    return {
        "precision_at_k": sum(hits[:k]) / k,
        "top_10": sum(hits[:10]) / 10,
        "top_20": sum(hits[:20]) / 20,
        "recall": sum(hits) / k,
        "flagged": len(hits),
        "bulk_accepted": len(accepted),
        "bulk_planted": sum(accepted),
        "clean_set_flags_in_top_k": sum(m in clean_flags for m in misses),
        "k": k,
        "dup_precision": true / max(len(found), 1),
        "dup_recall": true / len(planted.leaks),
        "seconds": report.summary["seconds"],
    }


def clean_flags(names: list[str]) -> dict[str, set]:
    """Per setting, the (file, label) pairs `doctor` flags on the unplanted sample set."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.health.doctor import run_doctor

    data = load_dataset(ensure_sample_data())
    return {
        n: {(i.file, i.label) for i in run_doctor(data, options(n)).label_issues} for n in names
    }


def run_seed(seed: int, work: Path, names: list[str], clean: dict[str, set]) -> dict:
    """Each setting's scores on the sample set planted with `seed` (8% of rows flipped)."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.health.doctor import run_doctor
    from core.health.planted import plant_problems

    planted = plant_problems(ensure_sample_data(), work / f"planted-{seed}", seed=seed)
    row: dict = {"seed": seed}
    for name in names:
        report = run_doctor(load_dataset(planted.root), options(name))
        row[name] = scores(report, planted, clean[name])
        print(f"seed {seed} {name}: {row[name]}", file=sys.stderr, flush=True)
    return row


def print_precision(rows: list[dict], names: list[str]) -> None:
    """Per seed and setting, then mean ± sd per setting, then new against old, paired."""
    seeds = [r["seed"] for r in rows]
    tuned = "tuning seeds" if set(seeds) <= set(TUNING_SEEDS) else "seeds never used for tuning"
    print(f"Planting seeds {seeds} ({tuned}; the ranking was tuned on seeds 0-9).\n")
    cols = ("precision_at_k", "top_10", "top_20", "recall", "flagged")
    print("| seed | setting | precision@K | top 10 | top 20 | recall | flagged |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for n in names:
            print(f"| {r['seed']} | {n} | " + " | ".join(_cell(r[n][c]) for c in cols) + " |")
    print(
        "\n| setting | precision@K (mean ± sd, min) | top 10 | top 20 | recall | flagged "
        "| bulk accept: taken / planted | top-K misses the clean set also flags "
        "| dup P / R | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        print(_summary_row(n, [r[n] for r in rows]))
    if "old" in names and "new" in names:
        diff = np.array([r["new"]["precision_at_k"] - r["old"]["precision_at_k"] for r in rows])
        print(
            f"\nnew - old precision@K, paired per seed: {diff.mean():+.3f} ± "
            f"{diff.std() / np.sqrt(len(diff)):.3f} (standard error); new better on "
            f"{(diff > 0).sum()}, worse on {(diff < 0).sum()} of {len(diff)} seeds"
        )


def _summary_row(name: str, runs: list[dict]) -> str:
    def mean(key: str) -> float:
        return float(np.mean([s[key] for s in runs]))

    pk = np.array([s["precision_at_k"] for s in runs])
    taken, planted = mean("bulk_accepted"), mean("bulk_planted")
    misses = sum(s["k"] * (1 - s["precision_at_k"]) for s in runs)
    clean = sum(s["clean_set_flags_in_top_k"] for s in runs)
    return (
        f"| {name}: {SETTINGS[name][0]} | **{pk.mean():.3f}** ± {pk.std():.3f}, {pk.min():.3f} "
        f"| {mean('top_10'):.2f} | {mean('top_20'):.2f} | {mean('recall'):.2f} "
        f"| {mean('flagged'):.0f} | {taken:.1f} / {planted:.1f} "
        f"| {clean / max(misses, 1):.0%} | {mean('dup_precision'):.2f} / "
        f"{mean('dup_recall'):.2f} | {mean('seconds'):.1f} |"
    )


def _cell(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() and value > 1 else f"{value:.3f}"
