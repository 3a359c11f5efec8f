"""The Predict page's one background task and the messages it sends to the page.

`predict_page_task` brings the page up to date in a worker: load the requested model,
find the images in what was dropped, and predict every input that has no result yet.
Each step reaches the page through `state.partial` as one of the small messages below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.inference.predictions import Prediction
from gui.workers import Task, TaskState

if TYPE_CHECKING:
    from core.inference.predictor import Predictor
    from core.training.loop import TrainResult

PREDICT_BATCH = 16  # cards fill in steps of this many images


@dataclass(frozen=True)
class ModelRequest:
    path: Path | None
    result: TrainResult | None = None  # a fresh model (no file needed)


@dataclass(frozen=True)
class ModelReady:
    predictor: Predictor
    path: Path | None


@dataclass(frozen=True)
class Expanded:
    images: list[Path]
    skipped: list[str]


@dataclass(frozen=True)
class Batch:
    generation: int
    predictions: list[Prediction]


def predict_page_task(
    request: ModelRequest | None,
    inputs: list[Path],
    predictor: Predictor | None,
    pending: list[str],
    generation: int,
) -> Task:
    """Bring the page up to date: load the requested model, find new images, predict
    everything without a result. Runs in a worker; reports through state.partial."""

    def task(state: TaskState) -> None:
        nonlocal predictor, pending, generation
        if request is not None:
            from core.inference.predictor import Predictor

            if request.result is not None:
                predictor = Predictor.for_model(request.result.model, request.result.meta)
            else:
                from gui.graph_warmup import warm_graph_cache

                assert request.path is not None  # a request without a fresh model names a file
                warm_graph_cache(request.path, state.should_stop)  # no GIL-bound export here
                predictor = Predictor.from_file(request.path)
            state.partial(ModelReady(predictor, request.path))
            generation += 1  # the page's set_model() does the same on the UI thread
        todo = list(pending)
        if inputs:
            from core.inference.predictor import expand_inputs

            images, skipped = expand_inputs(inputs)
            state.partial(Expanded(images, skipped))
            known = set(todo)
            todo += [str(p) for p in images if str(p) not in known]
        state.check_stop()
        if predictor is not None and todo:
            if predictor.runtime == "torch":
                from core.base.runtime import prediction_threads, use_torch_threads

                # Per thread: one while a training runs in this process, so the two do not
                # fight. (ONNX Runtime's session has its own count from the same policy.)
                use_torch_threads(prediction_threads())
            predictor.predict(
                todo,
                batch_size=PREDICT_BATCH,
                should_stop=state.should_stop,
                on_partial=lambda batch: state.partial(Batch(generation, batch)),
                progress=lambda done, total: state.progress(done, total, "predict"),
            )

    return task
