"""What `marquee doctor` finds, as plain dataclasses and the JSON document of docs/health.md.

Files are named relative to the data set's folder (the folder of a CSV or JSON file), with
forward slashes: the same names the fix log (core.data.fixes) records decisions under.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.base.files import write_text

REPORT_FORMAT = 1


@dataclass(frozen=True)
class LabelIssue:
    """One (image, label) pair whose given value the out-of-fold model confidently disputes.

    `row` is the image's position in its split as loaded (0-based); `given` and
    `suggested` are 0/1; `score` in [0, 1] ranks issues (higher: surer); `probability` is
    the out-of-fold probability of the label.
    """

    file: str
    split: str
    row: int
    label: str
    given: int
    suggested: int
    score: float
    probability: float = 0.0


@dataclass(frozen=True)
class DuplicatePair:
    """Two images that hold the same picture. `cross_split` (train vs val/test) is a leak."""

    files: tuple[str, str]
    similarity: float  # max(embedding cosine, fingerprint); 1.0 for identical bytes
    cross_split: bool
    exact: bool = False  # identical file contents
    splits: tuple[str, str] = ("", "")
    fingerprint: float = 0.0  # 16 x 16 colour-thumbnail correlation (best crop lined up)

    @property
    def leak(self) -> bool:
        return self.cross_split


@dataclass(frozen=True)
class Outlier:
    """An image far from all others in embedding space; higher `score`: stranger."""

    file: str
    score: float
    split: str = ""


@dataclass
class HealthReport:
    """Everything `doctor` found; `summary` holds counts and settings."""

    label_issues: list[LabelIssue] = field(default_factory=list)
    duplicates: list[DuplicatePair] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """docs/health.md's JSON document (plus a few extra fields)."""
        dups = [
            {**asdict(d), "files": list(d.files), "splits": list(d.splits)} for d in self.duplicates
        ]
        return {
            "format": REPORT_FORMAT,
            "label_issues": [asdict(issue) for issue in self.label_issues],
            "duplicates": dups,
            "outliers": [asdict(o) for o in self.outliers],
            "summary": dict(self.summary),
        }

    @classmethod
    def from_dict(cls, data: dict) -> HealthReport:
        """A report read back from `to_dict`'s document (unknown keys are ignored)."""
        issues = [LabelIssue(**_known(LabelIssue, d)) for d in data.get("label_issues", [])]
        dups = []
        for d in data.get("duplicates", []):
            values = _known(DuplicatePair, d)
            values["files"] = tuple(values["files"])
            values["splits"] = tuple(values.get("splits", ("", "")))
            dups.append(DuplicatePair(**values))
        outliers = [Outlier(**_known(Outlier, d)) for d in data.get("outliers", [])]
        return cls(issues, dups, outliers, dict(data.get("summary", {})))

    def save(self, path: Path) -> None:
        """Write the JSON document atomically."""
        write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n", "the health report")

    @classmethod
    def load(cls, path: Path) -> HealthReport:
        """Read a report written by `save`; DataError for a file that is not one."""
        from core.base.errors import DataError

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DataError(f"{path} is not a Marquee health report ({exc}).") from exc


def _known(kind: type, data: dict) -> dict:
    names = set(kind.__dataclass_fields__)
    return {key: value for key, value in data.items() if key in names}
