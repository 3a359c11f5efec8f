"""Data health on planted problems (issue 19): label-issue precision at K, duplicate
precision and recall, and the mAP that accepting the fixes wins back.

A copy of the sample posters gets one flipped label in 8% of its training rows (seeded)
and 20 validation images, resized to 80% and re-encoded as JPEG, copied into train.
`doctor` runs in several settings (the plain out-of-fold linear probe on pooled features
with confident learning is the baseline). Then the CPU recipe trains on the clean set,
the planted one (8% and 25% of rows flipped) and the planted one with every suggested
fix accepted; each model is scored on 300 fresh posters (validation mAP would flatter
the planted set, whose train holds copies of validation images).

    python bench/bench_health.py [--seeds 0,1,2] [--no-train] [--json FILE]

Prints a Markdown table; asserts nothing. MARQUEE_HOME is set to a temporary folder
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

FLIP_FRACTIONS = (0.08, 0.25)
SETTINGS = {
    "baseline: OOF linear probe, pooled features": dict(
        multi_stage=False, knn_vote=False, members="baseline"
    ),
    "default: 3 linear heads, two-stage features, kNN vote": dict(members="default"),
    "thorough: + 2 MLP heads": dict(members="thorough"),
}


def options(setting: dict):
    from core.health.doctor import DoctorOptions
    from core.health.oof import LINEAR, MLP, Member

    members = {
        "baseline": (Member("linear", 0, epochs=5),),
        "default": LINEAR,
        "thorough": LINEAR + MLP,
    }[setting["members"]]
    rest = {k: v for k, v in setting.items() if k != "members"}
    return DoctorOptions(members=members, **rest)


def scores(report, planted) -> dict:
    k = len(planted.flips)
    top = report.label_issues[:k]
    hits = sum((i.file, i.label) in planted.flips for i in top)
    found = {frozenset(d.files) for d in report.duplicates}
    true = len(found & planted.leaks)
    return {
        "precision_at_k": hits / k,
        "k": k,
        "flagged": len(report.label_issues),
        "dup_precision": true / max(len(found), 1),
        "dup_recall": true / len(planted.leaks),
        "seconds": report.summary["seconds"],
    }


def test_map(path: Path, test: Path) -> float:
    """mAP on `test`'s val split (fresh posters nobody trained on) of the CPU recipe
    trained on `path` (its fix log applied)."""
    from core.data.datasets import load_dataset
    from core.inference.predictor import Predictor
    from core.training.loop import fit
    from core.training.metrics import compute_metrics
    from core.training.recipes import recipe_config

    data = load_dataset(path)
    result = fit(recipe_config("cpu"), data)
    held = load_dataset(test).val
    results = Predictor(result.model, result.meta).predict(held.paths)
    probs = [r.probabilities for r in results]
    metrics, _ = compute_metrics(np.stack(probs), held.labels, list(data.label_names))
    return float(metrics["map"])


POLICIES = {
    "fixed: every suggested fix": dict(min_score=0.0),
    "fixed: fixes scored >= 0.9": dict(min_score=0.9),
    "pruned: images with an issue scored >= 0.9 dropped": dict(min_score=0.9, prune=True),
}


def map_recovery(seed: int, work: Path, fraction: float) -> dict:
    """Clean / noisy / fixed test mAP with `fraction` of training rows flipped, for each
    way of acting on the report (POLICIES)."""
    from core.data.datasets import load_dataset
    from core.data.fixes import Decision, FixLog
    from core.data.samples import ensure_sample_data, generate_sample_data
    from core.health.decisions import accept_report
    from core.health.doctor import run_doctor
    from core.health.planted import plant_problems

    clean = ensure_sample_data()
    test = work / "test-posters"
    if not test.exists():
        generate_sample_data(test, n_train=1, n_val=300, seed=4321)
    planted = plant_problems(clean, work / f"noisy-{seed}-{fraction}", fraction, seed=seed)
    row = {"clean": test_map(clean, test), "noisy": test_map(planted.root, test)}
    report = run_doctor(load_dataset(planted.root))
    row["report"] = scores(report, planted)
    log = FixLog.for_dataset(planted.root)
    for name, policy in POLICIES.items():
        log.clear()
        if policy.get("prune"):
            chosen = {i.file for i in report.label_issues if i.score >= policy["min_score"]}
            accept_report(log, report, labels=False)  # the duplicates only
            log.record(*(Decision("drop", f, reason="label issue") for f in sorted(chosen)))
        else:
            accept_report(log, report, min_score=policy["min_score"])
        row[name] = test_map(planted.root, test)
    print(f"seed {seed} flips {fraction:.0%}: test mAP {row}", file=sys.stderr, flush=True)
    return row


def run_seed(seed: int, work: Path, train: bool) -> dict:
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.health.doctor import run_doctor
    from core.health.planted import plant_problems

    clean = ensure_sample_data()
    planted = plant_problems(clean, work / f"planted-{seed}", seed=seed)
    row: dict = {"seed": seed}
    for name, setting in SETTINGS.items():
        report = run_doctor(load_dataset(planted.root), options(setting))
        row[name] = scores(report, planted)
        print(f"seed {seed} {name}: {row[name]}", file=sys.stderr, flush=True)
    if train:
        row["map"] = {f: map_recovery(seed, work, f) for f in FLIP_FRACTIONS}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        os.environ.setdefault("MARQUEE_HOME", str(Path(temp) / "home"))
        started = time.perf_counter()
        rows = [run_seed(int(s), Path(temp), not args.no_train) for s in args.seeds.split(",")]
    print("| setting | precision@K | flagged | dup precision | dup recall | seconds |")
    print("|---|---|---|---|---|---|")
    for name in SETTINGS:
        mean = {k: sum(r[name][k] for r in rows) / len(rows) for k in rows[0][name]}
        print(
            f"| {name} | {mean['precision_at_k']:.3f} | {mean['flagged']:.0f} | "
            f"{mean['dup_precision']:.3f} | {mean['dup_recall']:.3f} | {mean['seconds']:.1f} |"
        )
    if not args.no_train:
        for r in rows:
            for fraction, m in r["map"].items():
                cost = m["clean"] - m["noisy"]
                print(
                    f"seed {r['seed']}, {fraction:.0%} of rows flipped (+ 20 leaks): test mAP "
                    f"clean {m['clean']:.4f}, noisy {m['noisy']:.4f}"
                )
                for name in POLICIES:
                    won = (m[name] - m["noisy"]) / cost if cost else float("nan")
                    print(f"  {name}: {m[name]:.4f} (recovered {won:.0%} of the cost)")
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
