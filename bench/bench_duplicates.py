"""Near duplicates that are slightly cropped: recall and precision of `doctor`'s
duplicate finding, with and without the crop-aligned check of nearest neighbours.

Copies of the sample posters: 20 validation posters copied into train, each trimmed by a
random 0 to C of its size at every edge, resized to 80% and re-encoded as JPEG, for C in
0, 3, 6 and 10%. "without" turns the aligned check off (a threshold above 1), which is
how `doctor` found duplicates before it: plain thumbnail correlation or embedding cosine.

    python bench/bench_duplicates.py [--seeds 0,1]

Prints a Markdown table; asserts nothing. MARQUEE_HOME is set to a temporary folder
unless given (the sample posters are generated).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CROPS = (0.0, 0.03, 0.06, 0.10)


def score(found: set[frozenset[str]], planted: set[frozenset[str]]) -> tuple[float, float]:
    """(precision, recall) of the found pairs against the planted ones."""
    true = len(found & planted)
    return true / max(len(found), 1), true / len(planted)


def measure(seed: int, crop: float, work: Path) -> dict[str, tuple[float, float, float]]:
    """{"with"/"without": (precision, recall, seconds)} on one planted copy."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.health.doctor import DoctorOptions, run_doctor
    from core.health.planted import plant_problems

    planted = plant_problems(
        ensure_sample_data(), work / f"crop-{seed}-{crop}", 0.0, seed=seed, crop=crop
    )
    data = load_dataset(planted.root)
    row = {}
    for name, options in {
        "with": DoctorOptions(),
        "without": replace(DoctorOptions(), min_aligned=1.01),
    }.items():
        started = time.perf_counter()
        report = run_doctor(data, options)
        found = {frozenset(d.files) for d in report.duplicates}
        row[name] = (*score(found, planted.leaks), time.perf_counter() - started)
    return row


def warm_cache() -> None:
    """Embed the sample posters once, so every timed run reads the same warm cache."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.health.doctor import run_doctor

    run_doctor(load_dataset(ensure_sample_data()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as temp:
        os.environ.setdefault("MARQUEE_HOME", str(Path(temp) / "home"))
        warm_cache()
        rows = {c: [measure(s, c, Path(temp)) for s in seeds] for c in CROPS}
    print("| crop per edge up to | with the aligned check: P / R | without: P / R | doctor s |")
    print("|---|---|---|---|")
    for crop, runs in rows.items():
        mean = {k: [sum(r[k][i] for r in runs) / len(runs) for i in range(3)] for k in runs[0]}
        w, wo = mean["with"], mean["without"]
        print(
            f"| {crop:.0%} | {w[0]:.2f} / {w[1]:.2f} | {wo[0]:.2f} / {wo[1]:.2f} "
            f"| {w[2]:.1f} vs {wo[2]:.1f} |"
        )
    print(f"seeds {args.seeds}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
