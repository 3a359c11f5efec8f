"""A report's findings turned into fix-log decisions (what the app's buttons and
`marquee fixes DATA --accept REPORT` record)."""

from __future__ import annotations

from core.data.fixes import Decision, FixLog
from core.health.report import DuplicatePair, HealthReport, LabelIssue, Outlier

# Label issues are accepted in bulk from these scores, by direction. A missing label (given
# 0) that the out-of-fold model is sure of is nearly always a real slip; a given label it
# doubts is often one the image shows only faintly (a poster's second genre), so removing
# one needs a surer score. Chosen on the planted sample set's tuning seeds 0-9
# (bench/bench_health.py, which reports them on seeds never used for tuning): with the
# stacked probabilities (core.health.stacking) 94% of the flags these pass are planted
# flips, about 12 of the 32 per set, as the mean-combined scores' old 0.8 / 0.97 passed.
SURE_TO_ADD = 0.95
SURE_TO_REMOVE = 0.99


def to_drop(pair: DuplicatePair) -> str:
    """The file to drop when keeping one: a leak's training copy, else the second file."""
    if pair.cross_split and "train" in pair.splits:
        return pair.files[pair.splits.index("train")]
    return pair.files[1]


def sure(issue: LabelIssue, min_score: float | None = None) -> bool:
    """Whether bulk accept takes the issue: scored at least `min_score`, or by default
    SURE_TO_ADD for a missing label and SURE_TO_REMOVE for a given one."""
    if min_score is None:
        min_score = SURE_TO_ADD if issue.given == 0 else SURE_TO_REMOVE
    return issue.score >= min_score


def accept_issue(issue: LabelIssue) -> Decision:
    """Set the label to the suggested value."""
    return Decision("set_label", issue.file, label=issue.label, value=issue.suggested)


def keep_issue(issue: LabelIssue) -> Decision:
    """Reviewed: the given value stays (the issue is not shown again)."""
    return Decision("keep_label", issue.file, label=issue.label)


def keep_one(pair: DuplicatePair, drop: str | None = None) -> Decision:
    """Drop one file of the pair: `drop`, or a leak's training copy / the second file."""
    reason = "leak" if pair.cross_split else "duplicate"
    return Decision("drop", drop or to_drop(pair), reason=reason)


def keep_both(pair: DuplicatePair) -> Decision:
    return Decision("keep", pair.files[0], other=pair.files[1])


def drop_stray(outlier: Outlier) -> Decision:
    return Decision("drop", outlier.file, reason="stray")


def keep_stray(outlier: Outlier) -> Decision:
    return Decision("keep", outlier.file)


def accept_report(
    log: FixLog,
    report: HealthReport,
    *,
    labels: bool = True,
    duplicates: bool = True,
    strays: bool = False,
    min_score: float | None = None,
) -> list[Decision]:
    """Record the suggested fix for every finding chosen (one save); returns them.

    Label issues that are not `sure` (scored under `min_score`, when given) are left for a
    person to judge; for each duplicate pair one file is dropped (a leak's training copy);
    strays are dropped only when asked.
    """
    chosen = [accept_issue(i) for i in report.label_issues if labels and sure(i, min_score)]
    if duplicates:
        dropped: set[str] = set()
        for pair in report.duplicates:
            if dropped & set(pair.files):
                continue  # a group of copies: one of them goes already
            decision = keep_one(pair)
            dropped.add(decision.file)
            chosen.append(decision)
    if strays:
        chosen += [drop_stray(o) for o in report.outliers]
    log.record(*chosen)
    return chosen
