"""Where the Data page's data sets come from: the built-in sources and the loading job."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gui.health.tasks import Loaded
from gui.workers import Task, TaskState

if TYPE_CHECKING:
    from core.data.datasets import Dataset

SOURCES = {
    "sample": "Sample posters",
    "sample_hard": "Hard sample posters",
    "sample_print": "Print sample posters",
    "movie": "Movie posters",
    "folder": "Folder",
    "csv": "CSV file",
    "createml": "Create ML JSON",
}


SAMPLES = {
    "sample": "normal",
    "sample_hard": "hard",
    "sample_print": "print",
}  # source kind -> generated variant
BUILT_IN = (*SAMPLES, "movie")  # sources without a path


def load_task(kind: str, path: str, options: dict) -> Task:
    """The worker's job for one source (runs off the UI thread; imports happen there)."""

    def task(state: TaskState) -> Loaded:
        from core.data.datasets import load_dataset
        from gui.health.tasks import with_fixes

        root: Path
        if kind in SAMPLES:
            from core.data.samples import ensure_sample_data

            root = ensure_sample_data(variant=SAMPLES[kind])
        elif kind == "movie":
            from core.data.movie_posters import ensure_movie_posters

            root = ensure_movie_posters(
                progress=lambda d, t: state.progress(d, t, "download"),
                should_stop=state.should_stop,
            )
        else:
            root = Path(path)
        fmt = {"csv": "csv", "createml": "createml"}.get(kind, "auto")
        raw = load_dataset(
            root,
            fmt=fmt,
            progress=lambda d, t: state.progress(d, t, "load"),
            should_stop=state.should_stop,
            fixes=False,  # kept as on disk: the fix log is applied again after each decision
            **{k: v for k, v in options.items() if v},
        )
        return Loaded(raw, with_fixes(raw))

    return task


def default_labels(kind: str, dataset: Dataset) -> list[str]:
    """The movie posters start on the seed's five genres; other data sets on every label."""
    if kind == "movie":
        from core.data.movie_posters import MOVIE_POSTER_LABELS

        return [name for name in MOVIE_POSTER_LABELS if name in dataset.label_names]
    return list(dataset.label_names)
